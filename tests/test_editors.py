"""Editor support stays in step with the language: keywords, dtypes, and every example lexes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pygments.token import Error

from nndsl.resources import grammar_path
from nndsl.shapes import DTYPES
from nndsl.syntax import KEYWORDS
from nndsl.terminal.lexer import NNLexer

ROOT = Path(__file__).resolve().parents[1]
TM = json.loads((ROOT / "editors/vscode/syntaxes/nndsl.tmLanguage.json").read_text())


def _pattern(scope: str) -> str:
    return next(p["match"] for p in TM["patterns"] if p["name"] == scope)


def test_parser_keywords_are_the_grammars() -> None:
    literals = set(re.findall(r'"([a-z]+)"', grammar_path().read_text()))
    assert literals == set(KEYWORDS)


def test_textmate_keywords_match_the_parser() -> None:
    words = set(re.search(r"\((.*)\)", _pattern("keyword.control.nndsl")).group(1).split("|"))
    assert words == set(KEYWORDS) - {"true", "false", "none"}


def test_textmate_dtypes_match_the_language() -> None:
    words = set(re.search(r"\((.*)\)", _pattern("storage.type.nndsl")).group(1).split("|"))
    assert set(DTYPES) <= words


def test_vscode_manifest_points_at_existing_files() -> None:
    manifest = json.loads((ROOT / "editors/vscode/package.json").read_text())
    base = ROOT / "editors/vscode"
    assert manifest["main"] == "./dist/extension.js"  # esbuild's bundle of extension.js
    assert (base / "extension.js").exists() and "build" in manifest["scripts"]
    assert (base / manifest["contributes"]["grammars"][0]["path"]).exists()
    assert (base / manifest["contributes"]["languages"][0]["configuration"]).exists()


@pytest.mark.parametrize(
    "path", sorted([*ROOT.glob("examples/*.nn"), *ROOT.glob("stdlib/*.nn")]), ids=lambda p: p.name
)
def test_examples_lex_without_errors(path: Path) -> None:
    tokens = list(NNLexer().get_tokens(path.read_text()))
    assert not [t for t in tokens if t[0] is Error]
    kinds = {str(t[0]) for t in tokens}
    assert "Token.Keyword" in kinds and "Token.Name.Class" in kinds
