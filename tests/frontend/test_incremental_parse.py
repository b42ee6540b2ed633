"""The editor's piecewise parse gives exactly `parse`'s trees and syntax diagnostics, also for
text with syntax errors, and says when its item trees depend on their own text only."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from nndsl.syntax import parse
from nndsl.syntax.incremental import IncrementalParser
from tests.frontend.mutations import FILES, mutate


def _outcome(result: object) -> object:
    diagnostics = [
        (d.code, d.message, d.primary.span, d.primary.text, d.help)
        for d in result.diagnostics  # type: ignore[attr-defined]
    ]
    return repr(result.module), diagnostics  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_broken_text_parses_as_a_whole_file_parse(path: Path) -> None:
    rng = random.Random("pieces " + path.name)
    source = path.read_text(encoding="utf-8")
    pieces = IncrementalParser()
    pieces.parse(source, "m.nn")
    text = source
    for _ in range(25):  # an editing session: each text from the one before or the source
        text = mutate(rng, text if rng.random() < 0.5 else source)
        assert _outcome(pieces.parse(text, "m.nn")) == _outcome(parse(text, "m.nn")), text


def test_an_error_recovered_inside_its_item_keeps_the_other_items_isolated() -> None:
    source = (Path(__file__).resolve().parents[2] / "stdlib" / "blocks.nn").read_text()
    pieces = IncrementalParser()
    pieces.parse(source, "m.nn")
    assert pieces.isolated["m.nn"]
    at = source.index("|> Dense(") + len("|> Dense(")
    broken = source[:at] + "64 x, " + source[at:]  # `Dense(64 x, ...`: a missing comma
    result = pieces.parse(broken, "m.nn")
    assert result.diagnostics and pieces.isolated["m.nn"]
    assert _outcome(result) == _outcome(parse(broken, "m.nn"))


def test_a_block_left_open_is_closed_where_the_next_item_starts() -> None:
    """The recovery closes it before the next item's keyword, inside the piece: isolated."""
    source = (Path(__file__).resolve().parents[2] / "stdlib" / "blocks.nn").read_text()
    pieces = IncrementalParser()
    pieces.parse(source, "m.nn")
    at = source.index("\nblock ") + 1
    broken = source[:at] + "block Open(x: int) {\n    input y: f32[B, 4]\n" + source[at:]
    result = pieces.parse(broken, "m.nn")
    assert result.diagnostics and pieces.isolated["m.nn"]
    assert _outcome(result) == _outcome(parse(broken, "m.nn"))


def test_an_error_recovered_at_the_end_makes_the_trees_depend_on_what_follows() -> None:
    source = (Path(__file__).resolve().parents[2] / "stdlib" / "blocks.nn").read_text()
    pieces = IncrementalParser()
    pieces.parse(source, "m.nn")
    broken = source + "\nconst K = f(1,\n"  # `(` open at the end of the file
    result = pieces.parse(broken, "m.nn")
    assert not pieces.isolated["m.nn"]
    assert _outcome(result) == _outcome(parse(broken, "m.nn"))


def test_only_the_parser_reports_syntax_codes() -> None:
    """The checker's memos leave syntax errors out of their keys (`SYNTAX_CODES`): that is
    sound only while nothing but the parser and its repairs reports those codes."""
    from nndsl.syntax.parser import SYNTAX_CODES

    root = Path(__file__).resolve().parents[2] / "nndsl"
    for source in root.rglob("*.py"):
        if source.parent.name == "syntax" or source.name in ("codes.py", "examples.py"):
            continue  # examples.py: `nnrun explain`'s table of examples, keyed by code
        text = source.read_text(encoding="utf-8")
        assert not [c for c in SYNTAX_CODES if f'"{c}"' in text], source
