"""What a model file may touch on disk: its project, regular files, bounded reads.

A `.nn` file is data anyone may hand over (a model zoo, a pull request checked in CI), so the
paths it names are confined. Imports and data paths resolve (symlinks followed) under the
*project root*: the nearest folder, from the entry file's own upwards, holding `nndsl.toml`
or `pyproject.toml`, else the entry file's folder; the standard library is always readable.
`--allow-outside-project` lifts that (`allow_outside_project`). Paths a training run writes
are relative to the run directory and stay inside it (`write_path_problem`). Whatever is read
must be a regular file (`stat` before `open`: a FIFO would block, `/dev/zero` never ends) and,
for source files, at most `MAX_SOURCE_BYTES`.

The permission is a context variable, set once by the command line around a command: a
checker in another thread (the language server's) sees the default, confinement.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path, PurePosixPath, PureWindowsPath

PROJECT_MARKERS = ("nndsl.toml", "pyproject.toml")
MAX_SOURCE_BYTES = 16 * 2**20  # a .nn file or an import; far above any real model file

_OUTSIDE_ALLOWED: ContextVar[bool] = ContextVar("nndsl_outside_project_allowed", default=False)


@contextmanager
def allow_outside_project(allowed: bool = True) -> Iterator[None]:
    """Within the block, imports and data may name files outside the project."""
    token = _OUTSIDE_ALLOWED.set(allowed)
    try:
        yield
    finally:
        _OUTSIDE_ALLOWED.reset(token)


def outside_allowed() -> bool:
    return _OUTSIDE_ALLOWED.get()


def project_root(entry_dir: str | Path) -> Path:
    """The project of a program whose entry file is in `entry_dir` (resolved, absolute)."""
    start = Path(entry_dir).absolute()
    for folder in (start, *start.parents):
        if any((folder / marker).is_file() for marker in PROJECT_MARKERS):
            return _real(folder)
    return _real(start)


def is_inside(path: str | Path, root: Path) -> bool:
    """Whether `path`, symlinks resolved, is `root` or lies under it (`root` resolved)."""
    return _real(Path(path)).is_relative_to(root)


def write_path_problem(path: str) -> str | None:
    """Why a path a model file gives for writing cannot stay inside the run directory."""
    if "\0" in path:
        return "it contains a NUL character"
    if not path.strip():
        return "it is empty"
    if PurePosixPath(path).is_absolute() or PureWindowsPath(path).is_absolute() or path[0] in "\\/":
        return "it is absolute"
    if ".." in PurePosixPath(path.replace("\\", "/")).parts:
        return "it contains `..`"
    return None


def not_regular(path: str | Path) -> str | None:
    """None for a regular file (symlinks followed), else what it is, in words."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file"
    except (OSError, ValueError) as err:
        return f"cannot be read ({getattr(err, 'strerror', None) or err})"
    return kind_problem(mode)


def kind_problem(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder, not a regular file"
    if stat.S_ISFIFO(mode):
        return "is a FIFO, not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    return "is not a regular file"


class UnreadableSource(OSError):
    """A source file that is not a regular file, or too large; the message says which."""

    def __str__(self) -> str:
        return str(self.args[0])


def read_source(path: Path, limit: int = MAX_SOURCE_BYTES) -> str:
    """A `.nn` file as UTF-8 text: stat first (never open a FIFO or a device), then open
    without blocking, check the opened file again and read at most `limit` bytes."""
    problem = not_regular(path)
    if problem == "no such file":
        raise FileNotFoundError(2, "No such file or directory", str(path))
    if problem is not None:
        raise UnreadableSource(problem)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        problem = kind_problem(info.st_mode)  # swapped between stat and open
        if problem is not None:
            raise UnreadableSource(problem)
        if info.st_size > limit:
            raise UnreadableSource(_too_large(limit))
        chunks: list[bytes] = []
        total, want = 0, info.st_size + 1  # the size, and one byte more if it grew
        while chunk := f.read(min(want, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise UnreadableSource(_too_large(limit))
            want = 2**20
    return b"".join(chunks).decode("utf-8")


def _too_large(limit: int) -> str:
    return f"is larger than {limit // 2**20} MiB, the limit for a source file"


def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop: keep the literal path
        return Path(os.path.abspath(path))
