"""How runbooks look: the walk's evidence tables and verdicts, the causes and mitigations, the Markdown incident
timeline (`--report`), the readable page of `runbook show`, and the terminal side of an interactive walk."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from rich.console import Console, Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from mlobs_cli.errors import InputError
from mlobs_cli.render import stderr_console, stdout_console
from mlobs_cli.metrics.common import VERSION, scope_of
from mlobs_cli.runbook.checks.base import NOT_APPLICABLE, NOT_COLLECTED, OK, Evidence, Row
from mlobs_cli.runbook.expr import FORMATS
from mlobs_cli.runbook.model import Question, Step
from mlobs_cli.runbook.reports import LintReport, RunbookList, RunbookPage, TestReport
from mlobs_cli.runbook.result import Plan, StepOutcome, WalkResult
from mlobs_cli.runbook.walk import BACK, NOTE, QUIT, RUN, SKIP

STYLE = {"OK": "green", "INFO": "cyan", "WARN": "yellow", "ALERT": "bold red", "UNKNOWN": "magenta",
         "skipped": "dim", "not_run": "dim", "NOT_COLLECTED": "dim"}
ROW_LIMIT = 12  # rows of one evidence table shown in the terminal (all are in -o json)


def _badge(status: str | None) -> Text:
    label = status or "—"
    return Text(f"[{label}]", style=STYLE.get(label, ""))


def fmt(value: Any, name: str, formats: Mapping[str, str]) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    chosen = formats.get(name)
    if chosen:
        return FORMATS[chosen](value)
    return FORMATS["num"](value)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


# -- the evidence of a step --------------------------------------------------------------------------------------


def _evidence(e: Evidence, console: Console) -> None:
    """One check's evidence: its title, then its table (or why there is none: UNKNOWN is never shown as OK)."""
    title = (f"  {e.title or e.check}", "bold")
    if e.state == NOT_APPLICABLE:  # an extra source not given (no --source, no samples): nothing to show
        return
    if e.state == NOT_COLLECTED:  # the platform has no such metric: listed with what to install at the end
        console.print(Text.assemble(title, ": ", (e.digest, STYLE["NOT_COLLECTED"])))
        return
    if e.state != OK:
        console.print(Text.assemble(title, ": ", (f"UNKNOWN: {e.error or e.digest or e.state}", STYLE["UNKNOWN"])))
        return
    if not e.rows:  # an empty answer that means nothing is happening (`empty_means`)
        console.print(Text.assemble(title, ": ", (f"OK: {e.digest}", STYLE["OK"])))
        return
    console.print(Text.assemble(title))
    columns = e.columns or tuple(dict.fromkeys(k for r in e.rows for k in (*r.labels, *r.values)))
    t = Table(box=None, pad_edge=False, header_style="bold", padding=(0, 2, 0, 0))
    for c in columns:
        t.add_column(c, no_wrap=True)
    limit = min(e.limit or ROW_LIMIT, ROW_LIMIT)
    for row in e.rows[:limit]:
        names = row.names()
        t.add_row(*(fmt(names.get(c), c, e.formats) for c in columns))
    console.print(Padding(t, (0, 0, 0, 4), expand=False))
    if len(e.rows) > limit:
        console.print(Text(f"    {len(e.rows) - limit} more rows in -o json", style="dim"))


MODEL_WIDE = "ᵐ"  # a version's row showing the whole model's number (metrics.common.scope_of)


def _side_by_side(outcome: StepOutcome) -> Group:
    """One row per `join` value; joined on the model, one per (model, version) wherever a check's series carry a
    version, and a check whose series do not shows the model's number on each version's row, marked."""
    join = outcome.join or "model"
    shown = [e for e in outcome.evidence if e.state != NOT_APPLICABLE]

    def version(r: Row) -> str:
        return r.labels.get("version", "") if join == "model" and scope_of(r.labels) == VERSION else ""

    versioned = {r.labels.get(join, "") for e in shown for r in e.rows if version(r)}
    keys = dict.fromkeys((r.labels.get(join, ""), version(r)) for e in shown for r in e.rows
                         if version(r) or r.labels.get(join, "") not in versioned)
    t = Table(box=None, pad_edge=False, header_style="bold", padding=(0, 2, 0, 0))
    t.add_column(join, no_wrap=True)
    if versioned:
        t.add_column("version", no_wrap=True)
    for e in shown:
        t.add_column(e.title or e.check, no_wrap=True, justify="right")
    marked: dict[str, None] = {}
    for key, ver in keys:
        cells = []
        for e in shown:
            if e.state != OK:
                cells.append("not collected" if e.state == NOT_COLLECTED else "UNKNOWN")
                continue
            rows = [r for r in e.rows if r.labels.get(join, "") == key]
            own = next((r for r in rows if version(r) == ver), None)
            wide = None if own or not ver or any(version(r) for r in rows) else next(iter(rows), None)
            value = next(iter(e.formats), "value")  # the check's first formatted field, else its value
            row = own or wide
            cells.append("—" if row is None else fmt(row.values.get(value), value, e.formats)
                         + (f" {MODEL_WIDE}" if wide else ""))
            if wide:
                marked[e.title or e.check] = None
        t.add_row(key, *([ver or "—"] if versioned else []), *cells)
    notes = [Text(f"{MODEL_WIDE} model-wide: no version label on the series of {', '.join(marked)}", style="dim")]
    return Group(t, *notes[:bool(marked)])


def show_step(outcome: StepOutcome, console: Console, number: int | None = None) -> None:
    head = Text.assemble((f"{number}. " if number else "", "bold"), (outcome.title, "bold"))
    if outcome.state != "done":
        console.print(head.append("  ").append_text(_badge(outcome.state)))
        for note in outcome.notes:
            console.print(f"  note: {note}", markup=False)
        return
    console.print(head.append("  ").append_text(_badge(outcome.verdict)))
    if outcome.layout == "side_by_side":
        console.print(Padding(_side_by_side(outcome), (0, 0, 0, 4), expand=False))
        for e in outcome.evidence:
            if e.state != OK:
                _evidence(e, console)
    else:
        for e in outcome.evidence:
            _evidence(e, console)
    for f in outcome.findings:
        console.print(Text.assemble("  ", _badge(f.status), (f" {f.subject}: ", "bold"), f.message))
    for p in outcome.problems:
        console.print(Text(f"  could not judge: {p}", style=STYLE["UNKNOWN"]))
    for c in outcome.commands:
        console.print(Text.assemble(("  run yourself: ", "dim"), (c, "")))
    for q, a in outcome.answers.items():
        console.print(f"  {q}: {a}", markup=False)
    for note in outcome.notes:
        console.print(f"  note: {note}", markup=False)
    console.print()


def show_conclusion(result: WalkResult, console: Console) -> None:
    if result.causes:
        t = Table(title="Likely causes", title_justify="left", box=None, pad_edge=False, header_style="bold")
        for c in ("#", "cause", "model", "score", "steps"):
            t.add_column(c, no_wrap=c != "cause")
        for i, c in enumerate(result.causes, 1):
            t.add_row(str(i), c.title, c.model or "—", f"{c.score:.2f}", ", ".join(c.steps))
        console.print(t)
    else:
        console.print(Text("No likely cause: no finding supports one.", style="bold"))
    if result.plans:
        console.print(Text("Mitigations, best first (mlobs runs none of them by itself):", style="bold"))
        for i, p in enumerate(result.plans, 1):
            about = f" ({p.model or 'all'}: {p.cause}, score {p.score:.2f})"
            console.print(Text.assemble((f"{i}. {p.title}", "bold"), about))
            if p.command:
                console.print(Text.assemble(("   command: ", "dim"), (p.command, "")))
            if p.change:
                console.print(Text.assemble(("   change:  ", "dim"), (p.change, "")))
            if p.undo:
                console.print(Text.assemble(("   undo:    ", "dim"), (p.undo, "")))
            if p.unresolved:
                console.print(Text(f"   unknown: {', '.join(p.unresolved)} (no data, or an input left empty: "
                                   "see `mlobs runbook show`)", style=STYLE["UNKNOWN"]))
    if result.escalation is not None:
        style = "bold red" if result.escalation.due else ""
        console.print(Text.assemble(("Escalation: ", "bold"), (result.escalation.message, style)))
    _not_collected(result, console)


def _not_collected(result: WalkResult, console: Console) -> None:
    missing = result.not_collected
    if not missing:
        return
    console.print(Text("Not collected here (not counted against the walk; install to see them):", style="bold"))
    for u in missing:
        console.print(Text.assemble(f"  {u.metric}: ", (u.install, ""), (f"  ({', '.join(u.checks)})", "dim")))


def _walk_report(result: WalkResult, console: Console) -> None:
    console.print(Text(result.title, style="bold underline"))
    narrowed = f" · model {result.inputs['model']}" if result.inputs.get("model") else ""
    console.print(f"at {result.at}{narrowed}" + (f" · walk {result.walk_id}" if result.walk_id else ""),
                  markup=False)
    console.print()
    for number, outcome in enumerate(result.steps, 1):
        show_step(outcome, console, number)
    show_conclusion(result, console)


# -- the other results -------------------------------------------------------------------------------------------


def _page(page: RunbookPage, console: Console) -> None:
    rb = page.runbook
    console.print(Text(f"{rb.title} ({rb.name})", style="bold underline"))
    if rb.aliases:
        console.print(f"aliases: {', '.join(rb.aliases)}", markup=False)
    if rb.description:
        console.print(rb.description, markup=False)
    if rb.symptoms:
        console.print(Text("\nSymptoms", style="bold"))
        for s in rb.symptoms:
            console.print(f"- {s}", markup=False)
    if rb.inputs:
        console.print(Text("\nInputs (--set NAME=VALUE)", style="bold"))
        for name, spec in rb.inputs.items():
            default = f" [default: {spec.default}]" if spec.default not in (None, "") else ""
            console.print(f"  {name}: {spec.description}{default}", markup=False)
    for number, step in enumerate(rb.steps, 1):
        console.print(Text.assemble((f"\n{number}. {step.title}", "bold"), (f"  ({step.id})", "dim")))
        if step.why:
            console.print(f"   {step.why}", markup=False)
        for c in step.checks:
            what = c.spec.get("query") or " ".join(f"{k}={c.spec[k]}" for k in ("reference", "current")
                                                   if k in c.spec)
            extra = f" over {c.spec['range']}" if "range" in c.spec else ""
            console.print(Text.assemble((f"   - {c.title}", ""), (f" [{c.kind}{extra}]", "dim")))
            console.print(Text(f"       {' '.join(str(what).split())}", style="dim"))
        for r in step.rules:
            console.print(Text.assemble("   → ", _badge(r.status), f" when {r.when.source}",
                                        (f"  ({r.check})", "dim")))
        for q in step.questions:
            console.print(f"   ? {q.ask}", markup=False)
        for cmd in step.commands:
            console.print(Text.assemble(("   $ ", "dim"), (cmd.run.source, "")))
    if rb.mitigations:
        console.print(Text("\nMitigations", style="bold"))
        for m in rb.mitigations:
            causes = ", ".join(m.fits)
            flag = " (executable after a dry run and a typed confirmation)" if m.executable else ""
            console.print(Text.assemble((f"- {m.title}", "bold"), (f" for {causes}{flag}", "")))
            for key in ("command", "change", "undo"):
                template = getattr(m, key)
                if template is not None:
                    console.print(Text.assemble((f"    {key}: ", "dim"), " ".join(template.source.split())))
    if rb.escalation:
        e = rb.escalation
        text = f"after {e.after / 60:g} minutes without resolution: {e.page}"
        if e.customer_impact:
            text += f"; with customer-facing impact: {e.customer_impact}"
        console.print(Text.assemble(("\nEscalation: ", "bold"), (text, "")))


def _lint(report: LintReport, console: Console) -> None:
    for f in report.files:
        if not f.problems:
            console.print(Text.assemble((f"{f.path}: ", "bold"), ("valid", "green")))
        for line, message in f.problems:
            console.print(Text.assemble((f"{f.path}:{line}: ", "bold"), (message, "")))


def _tests(report: TestReport, console: Console) -> None:
    for r in report.results:
        label = Text("pass", style="green") if r.passed else Text("FAIL", style="bold red")
        console.print(Text(f"{r.fixture} ({r.runbook}): ").append_text(label)
                      .append(f"  first cause: {r.top_cause or 'none'}", style="dim"))
        for d in r.differences:
            console.print(f"    {d}", markup=False)
    passed = sum(r.passed for r in report.results)
    console.print(f"{passed} passed, {len(report.results) - passed} failed", markup=False)


def _list(result: RunbookList, console: Console) -> None:
    t = Table(box=None, pad_edge=False, header_style="bold")
    for c in ("name", "title", "steps", "aliases", "origin"):
        t.add_column(c)
    for e in result.entries:
        title = e.title if e.error is None else Text(f"invalid: {e.error}", style="red")
        t.add_row(e.name, title, str(e.steps), ", ".join(e.aliases), e.origin)
    console.print(t)


def table(result: Any, console: Console) -> None:
    views = {WalkResult: _walk_report, RunbookPage: _page, LintReport: _lint, TestReport: _tests,
             RunbookList: _list}
    views[type(result)](result, console)


# -- markdown: -o markdown, and the incident timeline of --report --------------------------------------------------


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_header(result: Any) -> str:
    if isinstance(result, WalkResult):
        return f"# {result.title}\n\nat {result.at}" + (f", walk `{result.walk_id}`" if result.walk_id else "")
    if isinstance(result, RunbookPage):
        return f"# {result.runbook.title} (`{result.runbook.name}`)\n\n{result.runbook.description}"
    return ""


def markdown_footer(result: Any) -> str:
    return _conclusion_md(result) if isinstance(result, WalkResult) else ""


def _conclusion_md(result: WalkResult) -> str:
    out = ["## Likely causes", ""]
    if result.causes:
        out += ["| # | cause | model | score | steps |", "|---|---|---|---|---|"]
        out += [f"| {i} | {_md(c.title)} | {c.model or '—'} | {c.score:.2f} | {', '.join(c.steps)} |"
                for i, c in enumerate(result.causes, 1)]
    else:
        out.append("No finding supports a cause.")
    out += ["", "## Recommended mitigations", ""]
    for i, p in enumerate(result.plans, 1):
        out.append(f"{i}. **{_md(p.title)}** ({p.model or 'all'}: {p.cause}, score {p.score:.2f})")
        for key in ("command", "change", "undo"):
            value = getattr(p, key)
            if value:
                out.append(f"   - {key}: `{value}`")
        if p.unresolved:
            out.append(f"   - unknown (no data, or an input left empty): {', '.join(p.unresolved)}")
    if not result.plans:
        out.append("None.")
    if result.escalation is not None:
        out += ["", f"**Escalation:** {result.escalation.message}"]
    if result.not_collected:
        out += ["", "## Not collected here", ""]
        out += [f"- `{u.metric}`: {_md(u.install)} ({', '.join(u.checks)})" for u in result.not_collected]
    return "\n".join(out)


def report_markdown(result: WalkResult) -> str:
    """The incident timeline: every event with its time, each step's queries with a digest of their result,
    evidence, verdicts, findings, answers, notes, commands shown or run, and the recommended mitigations."""
    out = [f"# Incident timeline: {result.title}", "",
           f"- runbook: `{result.runbook}`" + (f", walk `{result.walk_id}`" if result.walk_id else ""),
           f"- evaluated at: {result.at}",
           f"- inputs: {', '.join(f'{k}={v}' for k, v in result.inputs.items() if v not in ('', None)) or 'defaults'}",
           f"- active problem: {'yes' if result.active else 'no'}", "", "## Timeline", "",
           "| time | event | step | detail |", "|---|---|---|---|"]
    for e in result.timeline:
        detail = {k: v for k, v in e.items() if k not in ("event", "time", "step", "next", "causes", "mitigations",
                                                          "escalation", "inputs", "title")}
        text = ", ".join(f"{k}={v}" for k, v in detail.items())
        out.append(f"| {e['time']} | {e['event']} | {e.get('step', '')} | {_md(text)} |")
    out += ["", "## Steps", ""]
    for number, s in enumerate(result.steps, 1):
        out.append(f"### {number}. {s.title} — {s.verdict or s.state}")
        out.append("")
        if s.time:
            out.append(f"- time: {s.time}")
        for e in s.evidence:
            if e.state == "not_applicable":
                continue
            digest = e.error or e.digest
            out.append(f"- **{_md(e.title or e.check)}** ({e.kind}, {e.state}): {_md(digest)}")
            if e.query:
                out.append(f"  - query: `{' '.join(e.query.split())}`")
        for f in s.findings:
            out.append(f"- {f.status} {_md(f.subject)}: {_md(f.message)}")
        for c in s.commands:
            out.append(f"- shown to run: `{c}`")
        for q, a in s.answers.items():
            out.append(f"- answer {q}: {a}")
        for n in s.notes:
            out.append(f"- note: {_md(n)}")
        out.append("")
    out.append(_conclusion_md(result))
    return "\n".join(out) + "\n"


def write_report(result: WalkResult, path: Path) -> None:
    try:
        # "x": never over a file that appeared since the walk began (refuse_existing checked before it)
        with path.open("x", encoding="utf-8") as f:
            f.write(report_markdown(result))
    except FileExistsError:
        raise InputError(f"--report {path}: the file exists; not overwritten") from None
    except OSError as e:
        raise InputError(f"--report {path}: cannot write: {e}") from e
    stderr_console().print(f"wrote {path}", markup=False)


# -- the interactive walk ------------------------------------------------------------------------------------------


class InteractiveUI:
    """The terminal side of `runbook walk` on a TTY: prompts read stdin, everything else goes to stdout."""

    CHOICES: ClassVar[dict[str, str]] = {"": RUN, "r": RUN, "s": SKIP, "b": BACK, "n": NOTE, "q": QUIT}

    def __init__(self) -> None:
        self.console = stdout_console()

    def _input(self, prompt: str) -> str | None:
        """A line typed by the engineer; None at the end of input (the terminal closed)."""
        self.console.print(prompt, end="", markup=False)
        line = sys.stdin.readline()
        return line.rstrip("\n") if line else None

    def step_prompt(self, walk: Any, index: int) -> str:
        step: Step = walk.runbook.steps[index]
        escalation = walk.escalation_now()
        if escalation is not None and escalation.due:
            self.console.print(Text(f"ESCALATE: {escalation.message}", style="bold red"))
        total = len(walk.runbook.steps)
        self.console.print(Text.assemble((f"[{_clock(walk.elapsed())} elapsed] ", "dim"),
                                         (f"Step {index + 1}/{total}: {step.title}", "bold")))
        if step.why:
            self.console.print(f"  {step.why}", markup=False)
        while True:
            typed = self._input("(r)un, (s)kip, (b)ack, (n)ote, (q)uit [r]: ")
            if typed is None:  # no one to answer: quit, with the state saved
                return QUIT
            answer = typed.strip().lower()
            if answer in self.CHOICES:
                return self.CHOICES[answer]
            self.console.print("answer r, s, b, n or q", markup=False)

    def show_outcome(self, walk: Any, step: Step, outcome: StepOutcome) -> None:
        show_step(outcome, self.console)

    def ask(self, question: Question) -> str | None:
        choices = f" ({'/'.join(question.choices)})" if question.choices else ""
        while True:
            answer = (self._input(f"{question.ask}{choices} [skip]: ") or "").strip()
            if not answer or not question.choices or answer in question.choices:
                return answer or None
            self.console.print(f"answer one of {', '.join(question.choices)}, or Enter to skip", markup=False)

    def note(self) -> str:
        return self._input("note: ") or ""

    def show_result(self, result: WalkResult) -> None:
        show_conclusion(result, self.console)

    def choose(self, plans: tuple[Plan, ...]) -> Plan | None:
        self.console.print(Text("Executable mitigations:", style="bold"))
        for i, p in enumerate(plans, 1):
            self.console.print(f"  {i}. {p.title} ({p.model})", markup=False)
        answer = (self._input("run one? number, or Enter for none: ") or "").strip()
        if answer.isdigit() and 1 <= int(answer) <= len(plans):
            return plans[int(answer) - 1]
        return None

    def show_dry_run(self, plan: Plan, dry_run_only: bool) -> None:
        self.console.print(Text.assemble(("dry run: ", "bold"), (plan.command or "", "")))
        if plan.undo:
            self.console.print(Text.assemble(("undo:    ", "dim"), (plan.undo, "")))
        if dry_run_only:
            self.console.print("--dry-run: nothing is executed", markup=False)

    def confirm(self, plan: Plan) -> str:
        return self._input(f"type the deployment's name ({plan.target}) to run it, anything else to cancel: ") or ""

    def show_executed(self, plan: Plan, returncode: int | None, output: str) -> None:
        status = "failed to start" if returncode is None else f"exit {returncode}"
        self.console.print(Text(f"ran: {plan.command} ({status})", style="bold"))
        if output:
            self.console.print(output, markup=False)
