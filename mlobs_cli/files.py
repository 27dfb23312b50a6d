"""Writing a file the user named (`--output-file`, `--html`): whole or not at all, and never over an existing
file unless they said --force."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from mlobs_cli.errors import InputError


def refuse_existing(path: Path, option: str, force: bool) -> None:
    """Before any work: an existing `path` without `force` is an InputError (write_new checks again at the end)."""
    if not force and os.path.lexists(path):
        raise InputError(f"{option} {path} exists: give --force to replace it, or choose another path")


def write_new(path: Path, text: str, *, option: str, force: bool) -> None:
    """Write `text` to a temporary file beside `path`, then put it in place in one step: an interrupted or failed
    write leaves the old file (or none), never half of one. Without `force` a file at `path`, even one that
    appeared meanwhile, is left as it is.

    Raises:
        InputError: `path` exists and not `force`, or it cannot be written.
    """
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise InputError(f"{option} {path}: cannot write: {e.strerror or e}") from e
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; the result is as readable as any new file
        if force:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path)
    except FileExistsError:
        raise InputError(f"{option} {path} exists: give --force to replace it, or choose another path") from None
    except OSError as e:
        raise InputError(f"{option} {path}: cannot write: {e.strerror or e}") from e
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def _link_new(tmp: str, path: Path) -> None:
    """Put `tmp` at `path` only if nothing is there: a hard link fails atomically on an existing name."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: claim the name, then replace what we created
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        os.replace(tmp, path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
