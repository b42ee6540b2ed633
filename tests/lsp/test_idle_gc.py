"""The server's garbage-collection policy: off from a check until idle, then collected."""

from __future__ import annotations

import asyncio
import gc

import pytest

from nndsl.lsp import server as lsp


async def _scenario(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lsp, "IDLE_GC_S", 0.05)
    monkeypatch.setattr(lsp, "GC_EVERY", 3)
    ls = lsp.NNLanguageServer()
    collected: list[int] = []

    def collect(*args: object) -> int:
        collected.append(1)
        return 0

    monkeypatch.setattr(gc, "collect", collect)
    gc.disable()  # as `publish_later` does before a check
    ls.collect_when_idle()
    ls.collect_when_idle()  # a second publication pushes the collection back
    await asyncio.sleep(0)
    assert not collected and not gc.isenabled()
    await asyncio.sleep(0.1)
    assert collected == [1] and gc.isenabled() and ls.since_gc == 0
    gc.disable()
    for _ in range(3):  # publications without a pause: collected at the third, at once
        ls.collect_when_idle()
    await asyncio.sleep(0.01)
    assert collected == [1, 1] and gc.isenabled()


def test_garbage_is_collected_when_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        asyncio.run(_scenario(monkeypatch))
    finally:
        gc.enable()
