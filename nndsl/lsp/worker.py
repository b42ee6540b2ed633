"""One thread for every check and editor query, with a time and memory budget per job
(standard library only: the bootstrap uses it before pygls is imported).

Why a thread, not a process: hover, completion and the incremental re-check after a keystroke
need the warm `nndsl.ide.Workspace` (memos, indexes) in the server's memory; a process would
have to re-check from scratch or ship that state across. Why one thread: the Workspace is not
thread-safe, and one queue keeps edits and queries in the order they arrived. The event loop
keeps reading, answering errors, cancellations and `shutdown` while a job runs.

Why it still cannot block the server: a watchdog stops a job that runs past `budget_s` seconds
or grows the resident memory by more than `memory_mb` MiB. The checker is pure Python, so the
stop is an exception raised in the worker at its next bytecode (`Stopped`, a BaseException so
no `except Exception` in the checker swallows it). A job stuck in one C call (a read from a
FIFO or `/dev/zero`) never reaches a bytecode: after `GRACE_S` more the thread is abandoned
(daemon; what it touches is thrown away) and a new one serves the queue. After any stop,
`on_stop` runs first on the worker, before the next job: the server replaces the Workspace,
whose caches the interrupted job may have left half-updated.
"""

from __future__ import annotations

import ctypes
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

log = logging.getLogger(__name__)

BUDGET_ENV = "NNDSL_LSP_CHECK_BUDGET_S"
MEMORY_ENV = "NNDSL_LSP_CHECK_MEMORY_MB"
DEFAULT_BUDGET_S = 5.0
DEFAULT_MEMORY_MB = 2048.0
GRACE_S = 1.0  # after the stop, how long a job may take to unwind before it is abandoned
POLL_S = 0.05


class Stopped(BaseException):
    """Raised in (or for) a job that ran over its budget."""

    def __init__(self, reason: str = "stopped") -> None:
        super().__init__(reason)
        self.reason = reason


def _env_float(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 else default


def budget_s() -> float:
    return _env_float(BUDGET_ENV, DEFAULT_BUDGET_S)


def memory_mb() -> float:
    return _env_float(MEMORY_ENV, DEFAULT_MEMORY_MB)


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb() -> float | None:
    """This process's resident memory (Linux; None elsewhere: no memory budget there)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE / 2**20
    except (OSError, ValueError, IndexError):
        return None


def _interrupt(thread_id: int, exc: type[BaseException] | None) -> None:
    """Raise `exc` in the thread at its next bytecode (None: clear a pending one)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None
    )


class _Job:
    def __init__(self, fn: Callable[[], Any], label: str) -> None:
        self.fn = fn
        self.label = label
        self.future: Future[Any] = Future()
        self.started = 0.0
        self.rss0: float | None = None
        self.stop_reason: str | None = None
        self.stopped_at = 0.0
        self.thread_id = 0


class _StopJob(Stopped):
    """What the watchdog raises in the thread (a class: the C API takes a type)."""


class Worker:
    """Runs submitted callables one at a time on its own thread, each under the budget."""

    def __init__(
        self,
        on_stop: Callable[[str], None] | None = None,
        budget: float | None = None,
        memory: float | None = None,
    ) -> None:
        self.on_stop = on_stop
        self.budget_s = budget if budget is not None else budget_s()
        self.memory_mb = memory if memory is not None else memory_mb()
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._current: _Job | None = None
        self._thread: threading.Thread | None = None
        self._generation = 0
        self._stop_pending: str | None = None  # on_stop still to run (on the next thread)
        self.stops = 0
        self._closed = False
        self._start_thread()
        threading.Thread(target=self._watch, name="nndsl-watchdog", daemon=True).start()

    # -- the public side ------------------------------------------------------------------------
    def submit(self, fn: Callable[[], Any], label: str = "job") -> Future[Any]:
        job = _Job(fn, label)
        self._queue.put(job)
        return job.future

    def close(self) -> None:
        self._closed = True
        self._queue.put(None)
        with self._wake:
            self._wake.notify_all()

    # -- the worker thread -----------------------------------------------------------------------
    def _start_thread(self) -> None:
        self._generation += 1
        self._thread = threading.Thread(
            target=self._serve, args=(self._generation,), name="nndsl-check", daemon=True
        )
        self._thread.start()

    def _serve(self, generation: int) -> None:
        tid = threading.get_ident()
        while generation == self._generation:
            try:
                if self._stop_pending is not None:
                    reason, self._stop_pending = self._stop_pending, None
                    if self.on_stop is not None:
                        self.on_stop(reason)
                job = self._queue.get()
                if job is None:
                    return
                if generation != self._generation:  # abandoned meanwhile: hand it on
                    self._queue.put(job)
                    return
                if not job.future.set_running_or_notify_cancel():
                    continue
                self._run(job, tid, generation)
            except Stopped:
                continue  # a stop that arrived after its job ended: nothing to undo
            except Exception as e:
                log.error(
                    "the check worker failed unexpectedly (%s: %s); continuing", type(e).__name__, e
                )

    def _run(self, job: _Job, tid: int, generation: int) -> None:
        with self._wake:
            job.thread_id = tid
            job.started = time.monotonic()
            job.rss0 = rss_mb() if self.memory_mb else None
            self._current = job
            self._wake.notify_all()
        result: Any = None
        error: BaseException | None = None
        try:
            result = job.fn()
        except Stopped as e:  # the watchdog's, or the job's own (a known-slow document)
            error = Stopped(job.stop_reason) if job.stop_reason is not None else e
        except BaseException as e:  # handed to the caller, as a concurrent future does
            error = e
        finally:
            with self._wake:
                if self._current is job:
                    self._current = None
                if job.stop_reason is not None:
                    _interrupt(tid, None)  # a stop raised too late to land in the job
        if generation != self._generation:
            return  # abandoned: the watchdog has answered for this job
        if job.stop_reason is not None:
            error = Stopped(job.stop_reason)
            self._stop_pending = job.stop_reason
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)

    # -- the watchdog ----------------------------------------------------------------------------
    def _watch(self) -> None:
        while not self._closed:
            with self._wake:
                while self._current is None and not self._closed:
                    self._wake.wait()
                job = self._current
                if job is None:
                    continue
                self._check(job)
            time.sleep(POLL_S)

    def _check(self, job: _Job) -> None:
        """Under the lock, with `job` running: stop it, or abandon its thread."""
        now = time.monotonic()
        if job.stop_reason is not None:
            if now - job.stopped_at > GRACE_S:
                log.warning("%s did not stop within %g s; abandoning it", job.label, GRACE_S)
                self._current = None
                self._stop_pending = job.stop_reason
                job.future.set_exception(Stopped(job.stop_reason))
                self._start_thread()
            return
        reason = None
        if now - job.started > self.budget_s:
            reason = f"took longer than {self.budget_s:g} s (set {BUDGET_ENV} to change)"
        elif job.rss0 is not None:
            rss = rss_mb()
            if rss is not None and rss - job.rss0 > self.memory_mb:
                reason = (
                    f"needed more than {self.memory_mb:g} MiB of memory "
                    f"(set {MEMORY_ENV} to change)"
                )
        if reason is not None:
            log.warning("stopping %s: it %s", job.label, reason)
            job.stop_reason, job.stopped_at = reason, now
            self.stops += 1
            _interrupt(job.thread_id, _StopJob)
