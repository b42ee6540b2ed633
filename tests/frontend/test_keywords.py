"""Keywords are read once from the grammar (`nndsl.syntax.keywords`); every other list of them
is built from those sets or equals them (a drift test: adding a keyword fails here until each
list has it)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from nndsl.resources import grammar_path
from nndsl.syntax import KEYWORDS, parser
from nndsl.syntax.keywords import (
    BODY_STATEMENT_KEYWORDS,
    ITEM_KEYWORDS,
    STATEMENT_KEYWORDS,
)

ROOT = Path(__file__).resolve().parents[2]


def _accepted_keywords(prefix: str) -> set[str]:
    """The keywords Lark's parser accepts after `prefix`."""
    ip = parser.lark_parser().parse_interactive(prefix)
    ip.exhaust_lexer()
    return {t.lower() for t in ip.accepts() if t.lower() in KEYWORDS}


def test_keywords_are_larks_keyword_terminals() -> None:
    terminals = parser.lark_parser().terminals
    words = {t.pattern.value for t in terminals if t.pattern.type == "str"}
    assert {w for w in words if w.isalpha()} == KEYWORDS


def test_item_and_statement_keywords_are_what_the_parser_accepts_there() -> None:
    assert _accepted_keywords("") == ITEM_KEYWORDS
    assert _accepted_keywords("model m() {") == STATEMENT_KEYWORDS
    assert BODY_STATEMENT_KEYWORDS == {"if", "repeat"}


def test_names_exclude_exactly_the_keywords() -> None:
    grammar = grammar_path().read_text()
    lookahead = re.search(r"NAME: /\(\?!\(([a-z|]+)\)\\b\)", grammar)
    assert lookahead is not None
    assert set(lookahead.group(1).split("|")) == KEYWORDS


def test_textmate_keywords_and_constants_are_the_keywords() -> None:
    tm = json.loads((ROOT / "editors/vscode/syntaxes/nndsl.tmLanguage.json").read_text())
    found: dict[str, set[str]] = {}
    for p in tm["patterns"]:
        if p["name"] in ("keyword.control.nndsl", "constant.language.nndsl"):
            found[p["name"]] = set(re.search(r"\((.*)\)", p["match"]).group(1).split("|"))  # type: ignore[union-attr]
    assert found["constant.language.nndsl"] == {"true", "false", "none"}
    assert found["keyword.control.nndsl"] | found["constant.language.nndsl"] == KEYWORDS
    assert not found["keyword.control.nndsl"] & found["constant.language.nndsl"]


def test_other_keyword_lists_are_the_keywords() -> None:
    from tests.hardening import fuzzing

    assert set(fuzzing.KEYWORDS) == KEYWORDS


def test_the_terminal_lexer_reads_the_keywords() -> None:
    """The lexer the CLI and the REPL share uses this set, not a copy."""
    from nndsl.terminal import lexer

    assert lexer.KEYWORDS is KEYWORDS
