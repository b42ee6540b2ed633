"""The parser's fast path (`nndsl.syntax.fastpath`) is guarded: a tested Lark version range,
the same as `pyproject.toml`'s, and an off switch (`NNDSL_FAST_PARSER=0`) under which Lark's
own lexer and loop give exactly the same trees and diagnostics."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tomllib

import pytest

from nndsl.syntax import fastpath, parser
from tests.frontend.mutations import FILES, ROOT, mutate, outcome

_CHILD = """
import json, sys
from lark.lexer import ContextualLexer
from nndsl.syntax import parser
from tests.frontend.mutations import outcome
lexer = parser.lark_parser().parser.lexer
assert type(lexer) is ContextualLexer, type(lexer)
print(json.dumps([outcome(text) for text in json.load(sys.stdin)]))
"""


def _texts() -> list[str]:
    rng = random.Random(14)
    originals = [p.read_text() for p in FILES if "limits_" not in p.name][::7]
    return [*originals, *(mutate(rng, t) for t in originals for _ in range(3))]


def test_off_switch_gives_the_same_parses() -> None:
    texts = _texts()
    env = {**os.environ, fastpath.ENV: "0"}
    child = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    slow = [(module, [tuple(d) for d in diags]) for module, diags in json.loads(child.stdout)]
    assert isinstance(parser.lark_parser().parser.lexer, fastpath.FastContextualLexer)
    assert [outcome(t) for t in texts] == slow


def test_switch_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(fastpath.ENV, raising=False)
    assert fastpath.enabled()
    for value, on in [("1", True), ("0", False), ("off", False), (" No ", False)]:
        monkeypatch.setenv(fastpath.ENV, value)
        assert fastpath.enabled() is on, value


def test_version_range() -> None:
    assert fastpath.supported("1.3.1")
    assert not fastpath.supported("1.2.2")  # no `TextSlice`: nndsl needs 1.3
    assert not fastpath.supported("1.1.9")
    assert not fastpath.supported("1.4.0")
    assert not fastpath.supported("2.0.0a1")


def test_pyproject_caps_lark_to_the_tested_range() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    spec = next(d for d in deps if re.match(r"lark\b", d))
    low, high = fastpath.LARK_VERSIONS
    assert spec.replace(" ", "") == f"lark>={low[0]}.{low[1]},<{high[0]}.{high[1]}"
