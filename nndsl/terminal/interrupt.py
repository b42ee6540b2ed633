"""Ctrl-C around `fit`, for `nnrun train` and the REPL's `:train`.

The first Ctrl-C asks training to stop at the next step boundary (the CLI then writes a
checkpoint); a second one acts at once. The first is a flag, not a KeyboardInterrupt: raised
inside a finalizer or a callback, that prints "Exception ignored ..." with a traceback.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any


def _raise_interrupt() -> None:
    raise KeyboardInterrupt


class StopOnCtrlC:
    """A SIGINT handler for the duration of a `with` block; `requested` is `fit`'s `stop`.

    `on_first` runs at the first Ctrl-C (a message, say), `on_again` at each later one (by
    default a KeyboardInterrupt). Off the main thread no handler can be set, and Ctrl-C stays
    the caller's. `keep_after_stop` leaves the handler in place when the block ends after a
    Ctrl-C: the CLI's process is ending, and a second Ctrl-C while it saves must still end it
    quietly.
    """

    def __init__(
        self,
        *,
        on_first: Callable[[], None] | None = None,
        on_again: Callable[[], None] = _raise_interrupt,
        keep_after_stop: bool = False,
    ) -> None:
        self.requested = False
        self._on_first = on_first
        self._on_again = on_again
        self._keep_after_stop = keep_after_stop
        self._restore = False
        self._previous: Any = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            self._on_again()
            return
        self.requested = True
        if self._on_first is not None:
            self._on_first()

    def __enter__(self) -> StopOnCtrlC:
        try:
            previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread
            return self
        # None: the previous handler was not set from Python, and cannot be put back
        self._restore = previous is not None
        self._previous = previous
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._restore and not (self._keep_after_stop and self.requested):
            signal.signal(signal.SIGINT, self._previous)
