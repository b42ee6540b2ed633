"""The editor's incremental analysis (item trees and item checks reused across edits) gives
exactly the diagnostics, types and trees of a full check, whatever the edit sequence."""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

import pytest

from nndsl.check.program import Analysis, CheckMemo, analyze
from nndsl.ide import Workspace
from nndsl.syntax.incremental import IncrementalParser

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from check_speed import generate  # noqa: E402

SOURCES = {
    "generated": generate(12),
    **{p.name: p.read_text(encoding="utf-8") for p in sorted(ROOT.glob("examples/*.nn"))},
    **{p.name: p.read_text(encoding="utf-8") for p in sorted(ROOT.glob("stdlib/*.nn"))[:3]},
}
TARGET = re.compile(r'\b\d+\b|\bh\d+\b|\bDense\d*\b|"\w+"|\bx\b|##[^\n]*|\n|[(){}\[\],=]|\bblock\b')
REPLACEMENTS = ["7", "0", "h3", "x", "Dense", '"tanh"', "D", "zz", "", "\n", "## doc\n", "(", "}"]
REPLACEMENTS += ["\nblock", " 12", "model", "# c"]


def _outcome(a: Analysis) -> object:
    hover = sorted((f.path, span.start, span.end, t) for f, span, t in a.hover)  # type: ignore[attr-defined]
    docs = [getattr(i, "doc", None) for i in a.scope.module.items]
    return [(d, d.file.text) for d in a.diagnostics], hover, repr(a.scope.module), docs


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_random_edits_match_a_full_check(name: str, tmp_path: Path) -> None:
    rng = random.Random(name)
    path = str(tmp_path / "m.nn")
    text = SOURCES[name]
    memo = CheckMemo()
    analyze(text, path, memo=memo)
    for _ in range(14):
        m = rng.choice(list(TARGET.finditer(text)))
        edited = text[: m.start()] + rng.choice(REPLACEMENTS) + text[m.end() :]
        incremental = analyze(edited, path, memo=memo)
        assert _outcome(incremental) == _outcome(analyze(edited, path)), edited
        if rng.random() < 0.7:
            text = edited  # keep most edits; the others are undone, as while typing


def test_an_edit_inside_one_block_reparses_only_that_block(tmp_path: Path) -> None:
    text = generate(12)
    parser = IncrementalParser()
    path = str(tmp_path / "m.nn")
    before = parser.parse(text, path).module.items
    at = text.index("rate: float = 0.3") + len("rate: float = 0.")
    after = parser.parse(text[:at] + "7" + text[at + 1 :], path).module.items
    changed = [a for a, b in zip(before, after, strict=True) if a is not b]
    assert len(changed) == 1  # the edited block; every other item's tree is reused


def test_workspace_diagnostics_follow_edits(tmp_path: Path) -> None:
    path = str(tmp_path / "m.nn")
    ws = Workspace()
    text = generate(6)
    ws.open(path, text)
    assert ws.diagnostics(path) == []
    broken = text.replace("|> Dropout(rate)", "|> Dropout(rat)", 1)
    ws.update(path, broken)
    expected = [d for d in analyze(broken, path).diagnostics if d.file.path == path]
    assert expected and ws.diagnostics(path) == expected
    ws.update(path, text)
    assert ws.diagnostics(path) == []
