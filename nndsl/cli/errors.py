"""How `nnrun` ends: its exit statuses and the usage error every command may raise. Apart from
`main` so that the commands import it without importing the entry point."""

from __future__ import annotations

from pathlib import Path

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 70
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C


class UsageError(Exception):
    """A bad command line or a missing file: one line to the user, no traceback."""


def require_file(path: str) -> Path:
    """An existing regular file (stat, never opened here: a FIFO would block)."""
    from nndsl.check.paths import not_regular

    p = Path(path)
    problem = not_regular(p)
    if problem == "no such file":
        raise UsageError(f"no such file: {path}")
    if problem == "is a folder, not a regular file":
        raise UsageError(f"{path} is a directory, not a file")
    if problem is not None:
        raise UsageError(f"{path} {problem}")
    return p
