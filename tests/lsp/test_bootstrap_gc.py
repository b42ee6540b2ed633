"""`nnrun lsp` imports and checks the first document with the collector off (nndsl.cli.main,
nndsl.lsp.bootstrap); it must be on again whenever the bootstrap returns or hands over."""

from __future__ import annotations

import gc
import io

import pytest

from nndsl.cli import main as cli
from nndsl.lsp import bootstrap


def _initialize() -> bytes:
    return bootstrap.frame(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"processId": None, "capabilities": {}},
        }
    )


def test_nnrun_lsp_starts_the_bootstrap_with_the_collector_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[bool] = []

    def fake_main() -> int:
        seen.append(gc.isenabled())
        gc.enable()
        return 0

    monkeypatch.setattr(bootstrap, "main", fake_main)
    try:
        assert cli.main(["lsp"]) == 0
    finally:
        gc.enable()
    assert seen == [False]


def test_the_collector_is_on_again_after_input_closed_early() -> None:
    gc.disable()  # as `nnrun lsp` starts it
    out = io.BytesIO()
    try:
        assert bootstrap.main(io.BytesIO(_initialize()), out) == 0
        assert gc.isenabled()
    finally:
        gc.enable()
    assert bootstrap.parse_frames(out.getvalue())[0]["id"] == 1  # it answered, then returned
