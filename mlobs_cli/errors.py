"""Exit codes and the errors that carry them: the one place that decides how mlobs exits."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FINDINGS = 1  # findings at or above --fail-on
    USAGE = 2  # usage, input, config or internal error
    BACKEND = 3  # backend unreachable, or the result is incomplete
    INTERRUPTED = 130  # Ctrl-C
    BROKEN_PIPE = 141  # stdout closed by its reader (`| head`): 128 + SIGPIPE, as a shell reports it


class MlobsError(Exception):
    """An error the user can act on: one line on stderr, then exit with `exit_code`."""

    exit_code: ExitCode = ExitCode.USAGE


class InputError(MlobsError):
    """A file or argument the user gave cannot be used."""


class ConfigError(MlobsError):
    """The configuration (file, environment or flags) is invalid."""


class BackendUnavailable(MlobsError):
    """An external system could not be reached or refused the request."""

    exit_code = ExitCode.BACKEND


def interrupted(error: BaseException) -> bool:
    """Whether `error` is, or was raised because of, Ctrl-C: DuckDB turns the SIGINT that arrives while it works
    into its own InterruptException ("Query interrupted"), which the backends wrap in an InputError like any
    other DuckDB error; the user pressed Ctrl-C all the same (130, not 2)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, KeyboardInterrupt) or type(current).__name__ == "InterruptException":
            return True
        current = current.__cause__ or current.__context__
    return False


def combine(*, has_findings: bool, has_backend_errors: bool) -> ExitCode:
    """Exit code of a run that finished: a finding outranks a partial result, which never exits 0."""
    if has_findings:
        return ExitCode.FINDINGS
    if has_backend_errors:
        return ExitCode.BACKEND
    return ExitCode.OK
