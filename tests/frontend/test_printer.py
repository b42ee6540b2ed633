"""The formatter: idempotent, keeps comments, and never changes the meaning."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from nndsl.syntax import ast, parse
from nndsl.syntax.printer import format_source

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(
    [*ROOT.glob("examples/*.nn"), *ROOT.glob("stdlib/*.nn"), *ROOT.glob("tests/ui/*.nn")]
)


def _shape(node: object) -> object:
    """The tree without spans: what formatting must preserve."""
    if isinstance(node, tuple):
        return tuple(_shape(n) for n in node)
    if isinstance(node, ast.Node):
        return (
            type(node).__name__,
            tuple(_shape(getattr(node, f)) for f in node.FIELDS if not f.endswith("span")),
        )
    return node


@pytest.mark.parametrize(
    "path",
    [p for p in FILES if "ui" not in p.parts or format_source(p.read_text()) is not None],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_idempotent_and_meaning_preserving(path: Path) -> None:
    text = path.read_text()
    once = format_source(text)
    assert once is not None
    assert format_source(once) == once
    assert _shape(parse(once).module) == _shape(parse(text).module)
    assert [ln.strip() for ln in text.splitlines() if ln.strip().startswith("#")] == [
        ln.strip() for ln in once.splitlines() if ln.strip().startswith("#")
    ]


@pytest.mark.parametrize(
    "path", [p for p in FILES if "ui" not in p.parts], ids=lambda p: str(p.relative_to(ROOT))
)
def test_shipped_files_are_formatted(path: Path) -> None:
    assert format_source(path.read_text()) == path.read_text()


def test_parentheses_follow_precedence() -> None:
    src = (
        "model M() {\n    input x: f32[B, 2*(H+1)]\n"
        "    y = relu((x |> Dense(4)) + -x * (2 - 1)) |> Dropout(0.5)\n"
        "    if not (1 < 2) and (true or false) { y = y }\n    return y\n}\n"
    )
    out = format_source(src)
    assert out is not None
    assert "input x: f32[B, 2 * (H + 1)]" in out
    assert "y = relu((x |> Dense(4)) + -x * (2 - 1)) |> Dropout(0.5)" in out
    assert "if not 1 < 2 and (true or false) {" in out
    assert _shape(parse(out).module) == _shape(parse(src).module)


def test_comments_stay_with_their_statements() -> None:
    src = (
        "# head\n\nmodel M() {   # trailing on header\n  # before input\n  input x: f32[B, 4] "
        "# after input\n\n\n  return x\n  # at the end\n}\n"
    )
    out = format_source(src)
    assert out == (
        "# head\n\nmodel M() {  # trailing on header\n    # before input\n"
        "    input x: f32[B, 4]  # after input\n\n    return x\n    # at the end\n}\n"
    )


def test_syntax_errors_are_not_formatted() -> None:
    assert format_source("model M( {") is None


from tests.frontend.test_fuzz import programs  # noqa: E402


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_generated_programs_round_trip(src: str) -> None:
    out = format_source(src)
    if out is None:
        return
    assert _shape(parse(out).module) == _shape(parse(src).module), out
    assert format_source(out) == out


def test_comments_stay_in_their_if_or_else_block() -> None:
    src = (
        "model M(s: int = 1) {\n    input x: f32[B, 4]\n    if s == 1 {\n"
        "        h = x  # trailing\n"
        "        # end of then\n    } else {\n        # start of else\n        h = x + x\n"
        "        # end of else\n    }\n    if s == 2 {\n        # only then\n        h = h\n"
        "    } else if s == 3 {\n        # in else-if\n        h = h\n    }\n    return h\n}\n"
    )
    assert format_source(src) == src
