"""docs/architecture.md and CONTRIBUTING.md stay true: the paths and names they give exist,
the import rules they state are the contracts, and the checklists match the code."""

from __future__ import annotations

import re
import tomllib
import typing
from pathlib import Path

import pytest

from nndsl.ops.registry import FAMILIES
from nndsl.syntax import KEYWORDS, ast

ROOT = Path(__file__).resolve().parents[2]
MAPS = [ROOT / "docs" / "architecture.md", ROOT / "CONTRIBUTING.md"]
PATH = re.compile(r"^[\w.\-/*]+$")
SUFFIXES = (".py", ".md", ".toml", ".lark", ".json", ".nn", ".yaml", ".npz", ".stderr")


def _code_spans(text: str) -> list[str]:
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)  # fenced blocks: commands
    return re.findall(r"`([^`\n]+)`", text)


def _paths(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    found = [link for link in re.findall(r"\]\(([^)#\s]+)\)", text) if "://" not in link]
    found = [str((page.parent / link).resolve().relative_to(ROOT)) for link in found]
    for span in _code_spans(text):
        for word in span.split():
            if word.startswith((".venv", "./.venv", "nndsl.")) or not PATH.match(word):
                continue  # the venv is made by `make`; dotted names: `_names`
            if word.startswith(".") and "/" not in word:
                continue  # a file extension
            if "/" in word or word.endswith(SUFFIXES):
                found.append(word)
    return sorted(set(found))


def _names(page: Path) -> list[str]:
    spans = _code_spans(page.read_text(encoding="utf-8"))
    return sorted({s for s in spans if re.fullmatch(r"nndsl(\.\w+)+", s)})


@pytest.mark.parametrize("page", MAPS, ids=lambda p: p.name)
def test_every_path_named_exists(page: Path) -> None:
    missing = [
        p for p in _paths(page) if not (any(ROOT.glob(p)) if "*" in p else (ROOT / p).exists())
    ]
    assert not missing, f"{page.name} names paths that do not exist: {missing}"


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:n])
        module = (
            base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"
        )
        if module.exists():
            rest = parts[n:]
            if not rest:
                return True
            source = module.read_text(encoding="utf-8")
            return len(rest) == 1 and re.search(rf"\b{re.escape(rest[0])}\b", source) is not None
    return False


@pytest.mark.parametrize("page", MAPS, ids=lambda p: p.name)
def test_every_module_named_exists(page: Path) -> None:
    missing = [name for name in _names(page) if not _resolves(name)]
    assert not missing, f"{page.name} names modules or attributes that do not exist: {missing}"


def test_architecture_states_the_import_contracts() -> None:
    """The layer list in docs/architecture.md is the import-linter contract, in order."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    layers = next(c for c in contracts["contracts"] if c["type"] == "layers")["layers"]
    block = "\n".join(layers)
    assert f"```text\n{block}\n```" in text, "copy the layers contract into docs/architecture.md"
    light = next(c for c in contracts["contracts"] if c["type"] == "forbidden")
    section = text[text.index("front end stays light") :]
    section = section[: section.index("\n\n")]
    for module in [*light["source_modules"], *light["forbidden_modules"]]:
        assert f"`{module}`" in section, f"docs/architecture.md: {module} missing from the rule"


def test_language_doc_lists_every_keyword() -> None:
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    match = re.search(r"\*\*Keywords\*\* \(not usable as names\): `([^`]+)`", text)
    assert match, "docs/language.md lost its keyword list"
    assert set(match.group(1).split()) == set(KEYWORDS)


def _checklist(title: str) -> list[str]:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    section = text[text.index(f"## Checklist: {title}") :]
    section = section[: section.index("\n## ", 1)]
    return re.findall(r"^\d+\. (.*)$", section, re.M)


@pytest.mark.parametrize("title", ["add a layer or op", "add a language construct"])
def test_checklist_steps_are_one_line_each(title: str) -> None:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    section = text[text.index(f"## Checklist: {title}") :]
    section = section[: section.index("\n## ", 1)]
    steps = re.findall(r"^\d+\. .*\n(?:[ \t]+\S.*\n)*", section, re.M)
    assert steps and all(s.count("\n") == 1 for s in steps), "one line per step"
    assert [int(s.split(".")[0]) for s in steps] == list(range(1, len(steps) + 1))


def test_every_statement_is_handled_where_the_construct_checklist_says() -> None:
    """Steps 5-9 of "add a language construct" name the files that handle each statement."""
    steps = _checklist("add a language construct")[4:9]
    files = [re.search(r"`([\w/]+\.py)`", step).group(1) for step in steps]  # type: ignore[union-attr]
    for cls in typing.get_args(ast.Stmt):
        for file in files:
            source = (ROOT / file).read_text(encoding="utf-8")
            assert re.search(rf"\b{cls.__name__}\b", source), f"{file} never names {cls.__name__}"


def test_every_family_has_its_three_modules() -> None:
    """The op checklist's steps 1-3: one module per family in the specs and each backend."""
    from nndsl.backend.onnx.registry import GRAPH_FAMILIES

    for family in FAMILIES:
        assert (ROOT / "nndsl" / "ops" / f"{family}.py").exists()
        assert (ROOT / "nndsl" / "backend" / "jax" / "impls" / f"{family}.py").exists()
    for family in GRAPH_FAMILIES:
        assert (ROOT / "nndsl" / "backend" / "onnx" / "lowerings" / f"{family}.py").exists()
