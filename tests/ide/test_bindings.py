"""Each binding of a local name is its own symbol: rename, references, definition and tokens
follow the bindings that reach a use, merging those that reach one use together."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nndsl.ide import Workspace
from nndsl.ide.index import SymbolKey
from nndsl.resources import stdlib_dir
from nndsl.source import Span
from nndsl.syntax.ast import DataDef

PATH = "/project/model.nn"
ROOT = Path(__file__).resolve().parents[2]


def _no_disk(path: Path) -> str:
    if "stdlib" in str(path):
        return path.read_text(encoding="utf-8")
    raise FileNotFoundError(path)


def workspace(src: str) -> Workspace:
    ws = Workspace(read=_no_disk)
    ws.open(PATH, src)
    return ws


def nth(src: str, marker: str, n: int = 0) -> int:
    """The offset of the `n`th occurrence of `marker`."""
    return [m.start() for m in re.finditer(re.escape(marker), src)][n]


def renamed(ws: Workspace, src: str, offset: int, new: str) -> str:
    result = ws.rename(PATH, offset, new)
    assert result.error is None, result.error
    [fe] = result.changes
    out = src
    for e in sorted(fe.edits, key=lambda e: -e.span.start):
        assert out[e.span.start : e.span.end].isidentifier()
        out = out[: e.span.start] + e.text + out[e.span.end :]
    return out


def check_clean(src: str) -> None:
    ws = workspace(src)
    assert ws.diagnostics(PATH) == [], src


SHADOW = """\
model M() {
    input x: f32[B, 8]
    h = x |> Dense(4)
    h = h |> Dropout(0.1)
    return h |> Dense(2)
}
"""


def test_renaming_the_first_of_two_shadowed_bindings_changes_only_it_and_its_uses() -> None:
    check_clean(SHADOW)
    ws = workspace(SHADOW)
    out = renamed(ws, SHADOW, nth(SHADOW, "h = x"), "dense")
    assert out == SHADOW.replace("h = x", "dense = x").replace("h |> Dropout", "dense |> Dropout")
    check_clean(out)
    # from the use, the same symbol
    assert renamed(ws, SHADOW, nth(SHADOW, "h |> Dropout"), "dense") == out


def test_renaming_the_second_binding_leaves_the_first() -> None:
    ws = workspace(SHADOW)
    out = renamed(ws, SHADOW, nth(SHADOW, "h |> Dense(2)"), "dropped")
    assert out == SHADOW.replace("h = h |>", "dropped = h |>").replace("return h", "return dropped")
    check_clean(out)


def test_references_and_definition_follow_the_binding() -> None:
    ws = workspace(SHADOW)
    first = [r.span.start for r in ws.references(PATH, nth(SHADOW, "h |> Dropout"))]
    assert first == [nth(SHADOW, "h = x"), nth(SHADOW, "h |> Dropout")]
    second = [r.span.start for r in ws.references(PATH, nth(SHADOW, "h = h"))]
    assert second == [nth(SHADOW, "h = h"), nth(SHADOW, "h |> Dense(2)")]
    uses = ws.references(PATH, nth(SHADOW, "h = h"), include_declaration=False)
    assert [r.span.start for r in uses] == [nth(SHADOW, "h |> Dense(2)")]
    loc = ws.definition(PATH, nth(SHADOW, "h |> Dropout"))
    assert loc is not None and loc.span.start == nth(SHADOW, "h = x")
    loc = ws.definition(PATH, nth(SHADOW, "h |> Dense(2)"))
    assert loc is not None and loc.span.start == nth(SHADOW, "h = h")


def test_hover_on_a_use_shows_the_type_of_the_binding_that_reaches_it() -> None:
    ws = workspace(SHADOW)
    hover = ws.hover(PATH, nth(SHADOW, "h |> Dropout"))
    assert hover is not None and "f32[B, 4]" in hover.markdown


def test_every_binding_is_a_declaration_token() -> None:
    ws = workspace(SHADOW)
    declared = {t.start for t in ws.semantic_tokens(PATH) if "declaration" in t.modifiers}
    assert {nth(SHADOW, "h = x"), nth(SHADOW, "h = h")} <= declared
    assert nth(SHADOW, "h |> Dropout") not in declared


BRANCHES = """\
model M(wide: bool = true) {
    input x: f32[B, 8]
    h = x |> Dense(8)
    if wide {
        h = h |> Dense(8)
    } else {
        h = h |> relu
    }
    return h
}
"""


def test_bindings_in_both_branches_are_renamed_together() -> None:
    check_clean(BRANCHES)
    ws = workspace(BRANCHES)
    out = renamed(ws, BRANCHES, nth(BRANCHES, "h\n}"), "y")
    assert out == (
        BRANCHES.replace("h = h |> Dense", "y = h |> Dense")
        .replace("h = h |> relu", "y = h |> relu")
        .replace("return h", "return y")
    )
    check_clean(out)
    # from a branch's own binding: the same group; the binding before the `if` is apart
    assert renamed(ws, BRANCHES, nth(BRANCHES, "h = h |> relu"), "y") == out
    before = renamed(ws, BRANCHES, nth(BRANCHES, "h = x"), "z")
    assert before == BRANCHES.replace("h = x", "z = x").replace("= h |>", "= z |>")
    check_clean(before)
    loc = ws.definition(PATH, nth(BRANCHES, "h\n}"))
    assert loc is not None and loc.span.start == nth(BRANCHES, "h = h |> relu")


def test_an_if_without_else_merges_with_the_binding_before_it() -> None:
    src = BRANCHES.replace("    } else {\n        h = h |> relu\n", "")
    check_clean(src)
    ws = workspace(src)
    out = renamed(ws, src, nth(src, "h\n}"), "y")
    assert "h" not in re.findall(r"\b\w\b", out[out.index("{") :])  # every `h` is renamed
    check_clean(out)


def test_a_binding_after_a_repeat_stays_apart_and_the_loop_merges() -> None:
    src = """\
model M() {
    input x: f32[B, 8]
    h = x |> Dense(8)
    repeat 2 {
        t = h |> Dense(8)
        h = t + h
    }
    h = h |> relu
    return h
}
"""
    check_clean(src)
    ws = workspace(src)
    # the `h` read in the loop is reached by the binding before it and by the loop's own
    out = renamed(ws, src, nth(src, "h |> Dense(8)\n        h"), "y")
    assert out == (
        src.replace("h = x", "y = x")
        .replace("t = h |>", "t = y |>")
        .replace("h = t + h", "y = t + y")
        .replace("h = h |> relu", "h = y |> relu")
    )
    check_clean(out)
    # the binding after the loop and its use are a symbol of their own
    after = renamed(ws, src, nth(src, "return h") + len("return "), "z")
    assert after == src.replace("h = h |> relu", "z = h |> relu").replace("return h", "return z")
    # `t` is rebound every round but never read before it is bound: one symbol per binding
    refs = ws.references(PATH, nth(src, "t = h"))
    assert [r.span.start for r in refs] == [nth(src, "t = h"), nth(src, "t + h")]


def test_nested_repeat_carries_bindings_out_of_the_inner_loop() -> None:
    src = """\
model M() {
    input x: f32[B, 8]
    h = x
    repeat 2 {
        repeat 2 {
            g = h |> Dense(8)
            h = g
        }
    }
    return h
}
"""
    check_clean(src)
    ws = workspace(src)
    keys = {occ.key for occ in ws._index(PATH).occurrences if occ.key.name == "h"}  # type: ignore[union-attr]
    assert len(keys) == 1  # `h = x` reaches the inner read, so does `h = g` (both loops)
    out = renamed(ws, src, nth(src, "h = x"), "y")
    assert not re.search(r"\bh\b", out)
    check_clean(out)


def test_a_use_before_the_local_binding_is_the_top_level_name() -> None:
    src = """\
const width = 8
model M() {
    input x: f32[B, 8]
    y = x |> Dense(width)
    width = y |> relu
    return width
}
"""
    check_clean(src)
    ws = workspace(src)
    refs = ws.references(PATH, nth(src, "width)"))
    assert [r.span.start for r in refs] == [nth(src, "width = 8"), nth(src, "width)")]
    local = ws.references(PATH, nth(src, "width = y"))
    assert [r.span.start for r in local] == [nth(src, "width = y"), nth(src, "width\n}")]


def test_a_parameter_reassigned_stays_the_parameter_where_they_merge() -> None:
    src = """\
block Scale(units: int) {
    input x: f32[B, 8]
    if units > 4 {
        units = 4
    }
    return x |> Dense(units)
}

model M() {
    input x: f32[B, 8]
    return x |> Scale(units = 8)
}
"""
    check_clean(src)
    ws = workspace(src)
    [occ] = [o for o in ws._index(PATH).occurrences if o.span.start == nth(src, "units = 4")]  # type: ignore[union-attr]
    assert occ.key == SymbolKey(PATH, "units", 0, "param")
    out = renamed(ws, src, nth(src, "units)\n}"), "n")
    assert not re.search(r"\bunits\b", out)
    check_clean(out)


def test_a_clash_with_another_local_name_is_refused() -> None:
    ws = workspace(SHADOW)
    error = ws.rename(PATH, nth(SHADOW, "h = x"), "x").error
    assert error is not None and "already defined" in error


# -- every tensor binding of the examples and the standard library ------------------------------
# A rename follows into the `train` section (its loss expression, `y_<output>` labels,
# `per_output` keys), but not into an npz key list: its strings name the file's arrays, so a
# renamed input or output they name changes exactly the data's diagnostics (key mismatches,
# reported on the `data` declaration, with a did-you-mean).


def _files() -> list[Path]:
    return sorted((ROOT / "examples").glob("*.nn")) + sorted(stdlib_dir().glob("*.nn"))


@pytest.mark.parametrize("nn", _files(), ids=lambda p: p.name)
def test_renaming_any_binding_keeps_the_diagnostics(nn: Path) -> None:
    """Renaming each tensor binding alone to a fresh name changes no diagnostic."""
    src = nn.read_text(encoding="utf-8")
    # not read-only as the stdlib is; an example stays beside its data
    std = nn.parent == stdlib_dir()
    path = f"/project/std_{nn.name}" if std else str(nn.parent / f"renamed_{nn.name}")

    def read(p: Path) -> str:
        return p.read_text(encoding="utf-8")

    ws = Workspace(read=read)
    ws.open(path, src)

    def codes() -> list[str]:
        return sorted(f"{d.code}:{d.severity}" for d in ws.diagnostics(path))

    before = codes()

    def data_spans() -> list[Span]:
        tree = ws._tree(path)
        assert tree is not None
        return [item.span for item in tree[1].items if isinstance(item, DataDef)]

    def outside_data() -> list[str]:
        """The diagnostics but those on a `data` declaration (an npz key naming an array)."""
        spans = data_spans()
        return sorted(
            f"{d.code}:{d.severity}"
            for d in ws.diagnostics(path)
            if not any(s.start <= d.primary.span.start < s.end for s in spans)
        )

    keys_named = set(re.findall(r'"(\w+)"', " ".join(src[s.start : s.end] for s in data_spans())))
    index = ws._index(path)
    assert index is not None
    bindings = sorted(
        {o.key: o.span.start for o in index.occurrences if o.key.kind == "tensor"}.items(),
        key=lambda kv: kv[1],
    )
    assert bindings or nn.name in ("blocks.nn",)
    for key, offset in bindings:
        ws.update(path, src)
        result = ws.rename(path, offset, f"{key.name}_r{offset}")
        assert result.error is None, (key, result.error)
        [fe] = result.changes
        out = src
        for e in sorted(fe.edits, key=lambda e: -e.span.start):
            assert out[e.span.start : e.span.end] == key.name
            out = out[: e.span.start] + e.text + out[e.span.end :]
        ws.update(path, out)
        if key.name in keys_named and codes() != before:
            assert outside_data() == before, (key, out)
            continue
        assert codes() == before, (key, out)


def test_a_use_that_is_local_on_one_path_and_top_level_on_another_is_not_renamed() -> None:
    src = """\
const width = 8
model M(big: bool = false) {
    input x: f32[B, 8]
    if big {
        width = 16
    }
    return x |> Dense(width)
}
"""
    check_clean(src)
    ws = workspace(src)
    for offset in (nth(src, "width = 16"), nth(src, "width)"), nth(src, "width = 8")):
        error = ws.rename(PATH, offset, "w").error
        assert error is not None and "line 7 of model.nn" in error, offset
    # the local binding still goes to itself, the use to the local binding
    loc = ws.definition(PATH, nth(src, "width)"))
    assert loc is not None and loc.span.start == nth(src, "width = 16")
    # a name bound before the branch on every path is safe
    safe = src.replace("    if big", "    width = 8\n    if big")
    check_clean(safe)
    ws = workspace(safe)
    assert ws.rename(PATH, nth(safe, "width)"), "w").error is None
