"""Ctrl-C around `fit` (`nndsl.terminal.interrupt`): a flag first, then the second action, and
the previous handler back afterwards."""

from __future__ import annotations

import signal
import threading

import pytest

from nndsl.terminal.interrupt import StopOnCtrlC


def test_the_first_ctrl_c_is_a_flag_and_the_second_interrupts() -> None:
    before = signal.getsignal(signal.SIGINT)
    firsts: list[bool] = []
    with pytest.raises(KeyboardInterrupt), StopOnCtrlC(on_first=lambda: firsts.append(True)) as c:
        signal.raise_signal(signal.SIGINT)
        assert c.requested and firsts == [True]
        signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def test_the_handler_can_stay_after_a_stop() -> None:
    before = signal.getsignal(signal.SIGINT)
    again: list[bool] = []
    try:
        with StopOnCtrlC(on_again=lambda: again.append(True), keep_after_stop=True) as c:
            signal.raise_signal(signal.SIGINT)
        assert c.requested and signal.getsignal(signal.SIGINT) is not before
        signal.raise_signal(signal.SIGINT)  # after the block: still the second action
        assert again == [True]
    finally:
        signal.signal(signal.SIGINT, before)


def test_without_a_ctrl_c_the_handler_is_put_back_even_when_kept() -> None:
    before = signal.getsignal(signal.SIGINT)
    with StopOnCtrlC(keep_after_stop=True) as c:
        pass
    assert not c.requested and signal.getsignal(signal.SIGINT) is before


def test_off_the_main_thread_no_handler_is_set() -> None:
    before = signal.getsignal(signal.SIGINT)
    seen: list[bool] = []

    def body() -> None:
        with StopOnCtrlC() as c:
            seen.append(c.requested)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == [False] and signal.getsignal(signal.SIGINT) is before
