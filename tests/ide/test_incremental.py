"""The editor's incremental analysis (item trees and item checks reused across edits) gives
exactly the diagnostics, types and trees of a full check, whatever the edit sequence."""

from __future__ import annotations

import random
import re
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from nndsl.check.program import Analysis, CheckMemo, analyze
from nndsl.ide import Workspace
from nndsl.ir import Graph
from nndsl.source import SourceFile
from nndsl.syntax.incremental import IncrementalParser, item_starts, item_starts_after_edit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from check_speed import generate  # noqa: E402

SOURCES = {
    "generated": generate(12),
    **{p.name: p.read_text(encoding="utf-8") for p in sorted(ROOT.glob("examples/*.nn"))},
    **{p.name: p.read_text(encoding="utf-8") for p in sorted(ROOT.glob("stdlib/*.nn"))[:3]},
}
TARGET = re.compile(
    r'\b\d+\b|\bh\d+\b|\bDense\d*\b|"\w+"|\bx\b|##[^\n]*|\n|[(){}\[\],=]|\bblock\b'
    r"|\b(?:relu|gelu|tanh)\b"
)
REPLACEMENTS = ["7", "0", "h3", "x", "Dense", '"tanh"', "D", "zz", "", "\n", "## doc\n", "(", "}"]
REPLACEMENTS += ["\nblock", " 12", "model", "# c", "3", "gelu", "relu", "\n\n", "Dense1"]


def _graph(g: Graph | None, file: SourceFile) -> object:
    """Everything the backend and the editor read from a graph; a node's file must be the
    analysis's own (same text), as in a fresh check."""
    if g is None:
        return None
    nodes = [
        (
            n.id,
            n.op.name,
            repr(sorted(n.attrs.items())),
            n.inputs,
            n.output,
            str(n.type),
            n.path,
            n.scope,
            n.tensor_name,
            n.file.path,
            n.file.text if n.file.path != file.path else n.file is file,
            n.span,
            n.weights,
            n.extra_outputs,
            n.scope_name,
        )
        for n in g.nodes
    ]
    values = sorted((k, str(v)) for k, v in g.values.items())
    return g.name, repr(g.args), g.inputs, g.outputs, nodes, values


def _program(a: Analysis) -> object:
    file = a.scope.file
    graphs = {name: _graph(g, file) for name, g in a.program.graphs.items()}
    train = a.program.train
    config = None
    if train is not None:
        config = (_graph(train.graph, file), repr(replace(train, graph=None)))  # type: ignore[arg-type]
    return graphs, config


def _outcome(a: Analysis) -> object:
    hover = sorted((f.path, span.start, span.end, t) for f, span, t in a.hover)  # type: ignore[attr-defined]
    docs = [getattr(i, "doc", None) for i in a.scope.module.items]
    diagnostics = [(d, d.file.text) for d in a.diagnostics]
    return diagnostics, hover, repr(a.scope.module), docs, _program(a)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_random_edits_match_a_full_check(name: str, tmp_path: Path) -> None:
    rng = random.Random(name)
    path = str(tmp_path / "m.nn")
    text = SOURCES[name]
    memo = CheckMemo()
    analyze(text, path, memo=memo)
    for _ in range(40 if name == "generated" else 20):
        m = rng.choice(list(TARGET.finditer(text)))
        edited = text[: m.start()] + rng.choice(REPLACEMENTS) + text[m.end() :]
        incremental = analyze(edited, path, memo=memo)
        assert _outcome(incremental) == _outcome(analyze(edited, path, reuse=False)), edited
        if rng.random() < 0.7:
            text = edited  # keep most edits; the others are undone, as while typing


# Edits that mostly keep the file valid (numbers, activations): the memos then replay most
# of the work, around the edited block.
VALUE_TARGET = re.compile(r"\b\d+\b|\b(?:relu|gelu|tanh|silu|sigmoid)\b")
VALUE_REPLACEMENTS = ["1", "2", "7", "16", "0", "gelu", "relu", "tanh"]


@pytest.mark.parametrize("name", ["generated", *sorted(SOURCES)[:3]])
def test_random_value_edits_match_a_full_check(name: str, tmp_path: Path) -> None:
    rng = random.Random(f"values-{name}")
    path = str(tmp_path / "m.nn")
    text = SOURCES[name]
    memo = CheckMemo()
    analyze(text, path, memo=memo)
    for _ in range(25):
        m = rng.choice(list(VALUE_TARGET.finditer(text)))
        edited = text[: m.start()] + rng.choice(VALUE_REPLACEMENTS) + text[m.end() :]
        incremental = analyze(edited, path, memo=memo)
        assert _outcome(incremental) == _outcome(analyze(edited, path, reuse=False)), edited
        if rng.random() < 0.8:
            text = edited


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


# Edits of one block of `generate(12)` that a model chaining the blocks sees: same types (the
# model is replayed around its block calls), other output types or a new error in the block
# (the replay gives up and the model is elaborated afresh), a default the caller relies on.
BLOCK_EDITS = [
    ("rate: float = 0.3", "rate: float = 0.7"),
    ("return relu(g2 + x) * 1.02", "return relu(g2 + x) * 1.02 |> Dense(5)"),
    ("return relu(g2 + x) * 1.02", "return relu(g2 + x) * 1.02 |> Dropout(2.0)"),
    ("return relu(g2 + x) * 1.02", "return relu(g2 + zz) * 1.02"),
    ("block Dense2(units: int = 18,", "block Dense2(units: int = 18, extra: int,"),
    ("block Dense2(units: int = 18,", "block Dense2(units: str = 18,"),
    ('activation = "tanh"', 'activation = "tanhh"'),
    ("h3 = h2 |> Dense2(", "h3 = h2 |> Dense2(units = 3, "),
]


@pytest.mark.parametrize(("old", "new"), BLOCK_EDITS)
def test_block_edits_replay_the_model_exactly(old: str, new: str, tmp_path: Path) -> None:
    path = str(tmp_path / "m.nn")
    text = generate(12)
    assert old in text
    memo = CheckMemo()
    analyze(text, path, memo=memo)
    for edited in (text.replace(old, new, 1), text, text.replace(old, new, 1)):
        hits = memo.instances.hits
        incremental = analyze(edited, path, memo=memo)
        assert _outcome(incremental) == _outcome(analyze(edited, path, reuse=False))
        assert memo.instances.hits > hits  # the other blocks' instances were replayed


def test_one_analysis_replays_a_model_the_train_section_instantiates_again(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "m.nn")
    text = generate(12)
    reused, fresh = analyze(text, path), analyze(text, path, reuse=False)
    assert _outcome(reused) == _outcome(fresh)
    assert reused.program.train is not None and fresh.program.train is not None
    assert reused.program.train.graph.nodes == fresh.program.train.graph.nodes


@pytest.mark.parametrize(
    "anchor",
    [
        "block Dense0(",
        "    h3 = h2 |> Dense2(",
        "block Dense5(",
        "## Chains every dense block.",
        "model BigMLP(",
        "data fake",
        "train BigMLP",
    ],
)
def test_insertions_and_deletions_move_replayed_results_exactly(
    anchor: str, tmp_path: Path
) -> None:
    """An edit that moves what follows: replayed items, instances and models are moved."""
    path = str(tmp_path / "m.nn")
    text = generate(12)
    at = text.index(anchor)
    memo = CheckMemo()
    analyze(text, path, memo=memo)
    for edited in (
        text[:at] + "\n" + text[at:],  # a blank line
        text[:at] + "# note\n" + text[at:],  # a comment line
        text,  # and back
        text[:at] + "  " + text[at:] if anchor.startswith(" ") else text[:at] + "\n\n" + text[at:],
        text[: at - 1] + text[at:],  # the newline before it deleted (may break the syntax)
    ):
        incremental = analyze(edited, path, memo=memo)
        assert _outcome(incremental) == _outcome(analyze(edited, path, reuse=False)), edited


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_item_starts_after_an_edit_are_those_of_a_full_scan(name: str) -> None:
    rng = random.Random(f"starts-{name}")
    pieces = [*"()[]{}\"#\n'ab =|>", "\nblock", "\nmodel", "##", "\ntrain", "import", ""]
    text = SOURCES[name]
    starts = item_starts(text)
    for _ in range(60):
        i = rng.randrange(len(text) + 1)
        j = min(len(text), i + rng.choice([0, 0, 1, 2, 5, 30]))
        edited = text[:i] + rng.choice(pieces) + text[j:]
        expected = item_starts(edited)
        assert item_starts_after_edit(text, starts, edited) == expected, (i, j)
        text, starts = edited, expected


def test_moved_item_trees_are_shifted_lazily_and_equal_a_fresh_parse() -> None:
    """Items below an inserted line keep their trees, moved: a moved tree is made node by node
    when read (`ast.shifted`), after any number of moves, and then equals a fresh parse."""
    from nndsl.syntax import ast, parse

    parser = IncrementalParser()
    text = generate(12)
    parser.parse(text, "m.nn")
    for edit in range(3):  # three moves, nothing read in between
        text = f"# edit {edit}\n" + text
        result = parser.parse(text, "m.nn")
    middle = result.module.items[len(result.module.items) // 2]
    statement = middle.__dict__["body"][0]  # the parser read the item's span, not its body
    assert ast._LAZY in statement.__dict__  # not read yet: not made yet
    fresh = parse(text, "m.nn")
    assert repr(result.module) == repr(fresh.module)
    assert result.module == fresh.module
    assert ast._LAZY not in statement.__dict__
    twin = fresh.module.items[len(result.module.items) // 2]
    assert isinstance(middle, ast.Definition) and isinstance(twin, ast.Definition)
    assert middle.doc == twin.doc
