"""All output: rich tables for people on stdout, JSON, CSV and Markdown for machines and incident channels.

The only package that imports rich. Messages and progress go to stderr, so stdout stays clean for pipes. JSON is
written with the json module, never through rich, so no width or markup can leak into it.

Text from servers and devices (label values, alert annotations, error messages, NVML strings) reaches the terminal
only through here, and may hold terminal escape sequences: `\x1b[2J` clears the screen, `\x1b]0;...\x07` retitles
the window, others rewrite what was printed before. Every console below drops control characters from the text it
writes (see `printable`), CSV and Markdown cells the same; JSON escapes them (`\u001b`).
"""

from __future__ import annotations

import csv
import importlib
import json
import math
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType
    from rich.segment import Segment

JSON_VERSION = 1
LINT_CI_FORMATS = ("github", "sarif", "junit")  # what CI systems read, for `alerts validate` only


class Result(Protocol):
    columns: tuple[str, ...]

    @property
    def complete(self) -> bool: ...

    @property
    def findings(self) -> tuple: ...

    @property
    def errors(self) -> tuple: ...

    def rows(self) -> list[list[Any]]: ...

    def to_dict(self) -> dict[str, Any]: ...


# The view of each domain package (mlobs_cli/<domain>/) in this package (render/<view>.py). A view module may
# define table(result, console), markdown_header(result) and markdown_footer(result); what it leaves out gets the
# generic form. Looked up by the result's package, so rendering one command's result imports no other view.
VIEWS = {"drift": "drift", "alerts": "lint", "gpu": "gpu", "metrics": "metrics", "logs": "logs", "runbook": "runbook",
         "trace": "trace", "experiment": "experiment", "quality": "quality"}


# C0 controls but tab and newline, DEL, C1 controls (U+009B is a CSI to some terminals), and the bidirectional
# overrides and isolates that make a terminal show text in another order than it reads ("Trojan Source").
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` without control characters: what is left of an escape sequence (`[2J`) shows that one was there."""
    return CONTROL.sub("", text)


def _console(**kwargs: Any) -> Console:
    """A rich Console that drops control characters from every piece of text it writes.

    Done on the segments rich renders, after it measured them: rich gives a control character no width, so
    dropping it moves no column. Segments rich marks as control (Live's cursor moves) are its own, and kept.
    """
    from rich.console import Console
    from rich.segment import Segment

    class PrintableConsole(Console):
        def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterator[Segment]:
            for segment in super().render(renderable, options):
                if segment.control or not CONTROL.search(segment.text):
                    yield segment
                else:
                    yield Segment(printable(segment.text), segment.style)

    return PrintableConsole(**kwargs)


def _view_name(result: object) -> str | None:
    parts = type(result).__module__.split(".")
    return VIEWS.get(parts[1]) if len(parts) > 1 and parts[0] == "mlobs_cli" else None


def view(result: object) -> Any:
    """The render module of the result's domain, or None for the generic table."""
    name = _view_name(result)
    return importlib.import_module(f"mlobs_cli.render.{name}") if name else None


def _width() -> int | None:
    """COLUMNS when it is a positive number; else the terminal's width on a TTY (None: rich follows a resize), and
    120 columns off one (a pipe, CI)."""
    given = os.environ.get("COLUMNS")
    try:
        columns = int(given or "0")
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    if not sys.stdout.isatty():
        return 120
    # rich reads COLUMNS itself when given no width, and takes `0` for no columns at all
    return None if given is None else shutil.get_terminal_size().columns


def stdout_console() -> Console:
    # rich is imported on first use: machine formats never load it. It honours NO_COLOR itself, and writes no
    # colour when stdout is not a terminal.
    console = _console(width=_width(), highlight=False, soft_wrap=False)
    console.on_broken_pipe = _reader_gone  # rich would exit 1 itself; the app gives the one exit code for it
    return console


def bar(share: float | None, width: int) -> str:
    """A bar of `width` characters filled to `share` (0 to 1, clipped; None: empty)."""
    filled = round(min(max(share or 0.0, 0.0), 1.0) * width)
    return "█" * filled + "░" * (width - filled)


def fitting_columns(columns: Sequence[tuple[Any, ...]], rows: Sequence[Sequence[Any]], width: int) -> list[int]:
    """Indexes of the columns a table can show in `width`: each column is (title, ..., rank), where rank 0 is
    never dropped and the highest rank goes first; a column takes its widest cell and 2 of padding."""
    widths = [max(len(str(columns[i][0])), *(len(str(r[i])) for r in rows)) + 2 for i in range(len(columns))]
    shown = list(range(len(columns)))
    for i in sorted(shown, key=lambda i: -columns[i][-1]):
        if sum(widths[j] for j in shown) <= width or columns[i][-1] == 0:
            break
        shown.remove(i)
    return shown


def _reader_gone() -> None:
    raise BrokenPipeError


def stderr_console() -> Console:
    return _console(stderr=True, highlight=False)


def error(message: str) -> None:
    """One line on stderr: what went wrong, for a person."""
    stderr_console().print(f"mlobs: error: {message}", markup=False, highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    stderr_console().print(f"mlobs: warning: {message}", markup=False, highlight=False, soft_wrap=True)


def emit(result: Result, fmt: str) -> None:
    """Write a result to stdout in the format the user chose; what made it incomplete also goes to stderr."""
    for e in result.errors:
        warn(f"{e.backend}: {e.message}")
    if _view_name(result) == "lint":
        if fmt != "table":  # the table lists them itself; the machine formats keep stdout for the machine
            for fe in result.file_errors:
                warn(f"{fe.path}: {fe.message}")
        if fmt in LINT_CI_FORMATS:
            from mlobs_cli.render import lint as lint_view

            text = lint_view.ci_format(result, fmt)
            # SARIF is JSON, escaped; a CI log shows the GitHub lines as a terminal would, and XML forbids controls
            sys.stdout.write(text if fmt == "sarif" else printable(text))
            return
    if fmt == "json":
        sys.stdout.write(to_json(result) + "\n")
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([["" if v is None else _plain(v) for v in row] for row in result.rows()])
    elif fmt == "markdown":
        sys.stdout.write(printable(_markdown(result)))  # its errors and footers hold servers' text too
    else:
        _table(result)


def to_json(result: Result) -> str:
    body = {
        "version": JSON_VERSION,
        "complete": result.complete,
        "findings": [f.to_dict() for f in result.findings],
        "errors": [e.to_dict() for e in result.errors],
        **result.to_dict(),
    }
    return json.dumps(_finite(body), sort_keys=True, indent=2, allow_nan=False)


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: a number that is not finite becomes null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return ";".join(_plain(v) for v in value)
    return printable(str(value))


def _markdown(result: Result) -> str:
    from mlobs_cli.render import lint as lint_view

    domain = view(result)
    lint = domain is lint_view
    header = domain.markdown_header(result) if hasattr(domain, "markdown_header") else ""
    lines = ["| " + " | ".join(result.columns) + " |", "|" + "---|" * len(result.columns)]
    for row in result.rows():
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    # a lint report's rows are its findings already
    findings = [] if lint else [f"- **{f.subject}** ({f.severity}): {f.message}" for f in result.findings]
    errors = [f"- {e.backend}: {e.message}" for e in result.errors]
    footer = domain.markdown_footer(result) if hasattr(domain, "markdown_footer") else ""
    parts = [header, "\n".join(lines), "\n".join(findings), "\n".join(errors), footer]
    return "\n\n".join(p for p in parts if p) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ";".join(_cell(v) for v in value)
    return printable(str(value)).replace("|", "\\|").replace("\n", " ")  # a newline would end the table row


def _table(result: Result) -> None:
    console = stdout_console()
    domain = view(result)
    if hasattr(domain, "table"):
        domain.table(result, console)
        return
    from rich.table import Table

    table = Table(*result.columns, box=None, pad_edge=False)
    for row in result.rows():
        table.add_row(*(_cell(v) for v in row))
    console.print(table)


@contextmanager
def progress(label: str, after: float = 1.0) -> Iterator[Callable[[int, int, str], None]]:
    """A progress callback that shows a bar on stderr once the work has taken `after` seconds.

    Nothing is shown when stdout or stderr is not a terminal (pipes, CI, `-o json > file`).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    interactive = sys.stdout.isatty() and sys.stderr.isatty()
    started = time.monotonic()
    bar: Progress | None = None
    task = None

    def update(done: int, total: int, item: str) -> None:
        nonlocal bar, task
        if not interactive:
            return
        if bar is None:
            if time.monotonic() - started < after:
                return
            bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                           TimeElapsedColumn(), console=stderr_console(), transient=True)
            bar.start()
            task = bar.add_task(item, total=total)
        bar.update(task, completed=done, description=item)

    try:
        yield update
    finally:
        if bar is not None:
            bar.stop()


def html_report(report: Any, path: Any, force: bool = False) -> None:
    """--html: the report as one self-contained page (over an existing file only with `force`)."""
    from mlobs_cli.render import html

    html.write_report(report, path, force=force)
    stderr_console().print(f"wrote {path}", markup=False)


def plots(report: Any, names: tuple[str, ...]) -> None:
    """--plot: each feature's reference and current distributions, side by side, after the table."""
    from mlobs_cli.render import drift as drift_view

    for name in names:
        drift_view.plot(report, name, stdout_console())
