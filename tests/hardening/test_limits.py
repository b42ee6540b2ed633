"""The documented limits (nndsl/limits.py, docs/language.md "Limits"): each one is an ordinary
diagnostic naming what crossed it, every tree walker copes at the nesting limit, and the
formatter is idempotent around comments inside expressions. In process and fast; the
subprocess bounds on time and memory are in test_pathological.py."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from nndsl.cli.main import main
from nndsl.diagnostics import render_plain
from nndsl.frontend import check_file, check_source
from nndsl.ide.workspace import Workspace
from nndsl.limits import (
    MAX_BLOCK_DEPTH,
    MAX_IMPORT_DEPTH,
    MAX_NESTING,
    MAX_PARAMS_ENV,
    MAX_SOURCE_CHARS,
)
from nndsl.syntax import parse
from nndsl.syntax.incremental import IncrementalParser
from nndsl.syntax.printer import format_source

T = TypeVar("T")
MODEL = "model M() {{\n    input x: f32[B, 4]\n{body}\n}}\n"


def codes(text: str) -> set[str]:
    return {d.code for d in check_source(text).diagnostics}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("const A = " + "1" * 4301 + "\n", "E0815"),  # over Python's int-string limit
        ("const A = 1.0 * 1" + "0" * 400 + "\n", "E0815"),
        ("const A = 1e400\n", "E0815"),
        ("const A = 1e300 * 1e300\n", "E0815"),
        ("const A = 4611686018427387904 * 4\n", "E0815"),
        ("const A = 1.5 % 0.0\n", "E0205"),
        (MODEL.format(body="    return x |> Dense(1" + "0" * 400 + ")"), "E0815"),
        ("model M(r: float = 1" + "0" * 400 + ") {\n input x: f32[B, 4]\n return x }\n", "E0815"),
        (  # copied: the body reads another tensor (`x`)
            MODEL.format(
                body="    h = x\n    repeat 1000000000000 { h = h + (x |> Dense(4)) }\n    return h"
            ),
            "E0813",
        ),
        (MODEL.format(body="    return x |> repeat 10001 add(x)"), "E0813"),
        # collapsed into one node (issue 17): the parameter budget refuses the count
        (
            MODEL.format(body="    repeat 1000000000000 { x = x |> Dense(4) }\n    return x"),
            "E0818",
        ),
        (MODEL.format(body="    return x |> repeat 1000000000000 Dense(4)"), "E0818"),
        ("model M() {\n    input x: f32[B, 0 - 5]\n    return x\n}\n", "E0816"),
        ("model M() {\n    input x: f32[B, 1" + "0" * 400 + "]\n    return x\n}\n", "E0815"),
        ("model M() {\n    input x: f32[B, 100000, 100000]\n    return x\n}\n", "E0817"),
        (MODEL.format(body="    return x |> Dense(1000000000) |> Dense(1000000000)"), "E0817"),
        (
            "model M() {\n    input x: f32[B, 40000]\n"
            "    return x |> Dense(40000) |> Dense(40000)\n}\n",
            "E0818",
        ),
        # T * 2^300 in a shape rule: a size out of range, not an internal error.
        (
            "block K() {\n    input x: f32[B, T, 4]\n"
            "    return x |> repeat 300 UpSampling1D(2)\n}\n",
            "E0815",
        ),
        # (c + d + e + f + g)^10 has 1001 terms as a polynomial: refused, not expanded.
        (
            "model M() {\n    input x: f32[B, " + " * ".join(["(C + D + E + F + G)"] * 10) + "]\n"
            "    return x\n}\n",
            "E0815",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and v.startswith("E") else "",
)
def test_each_limit_is_an_ordinary_diagnostic(text: str, code: str) -> None:
    found = codes(text)
    assert code in found
    assert "E9999" not in found


def test_a_shape_symbol_compared_with_a_float() -> None:
    generic = (
        "block K(D: int) {\n    input x: f32[B, D]\n    if D > 0.5 { x = x }\n    return x\n}\n"
    )
    assert "E9999" not in codes(generic)
    fixed = "model M(D: int = 3) {\n    input x: f32[B, D]\n    if D > 0.5 { x = x |> relu }\n"
    assert codes(fixed + "    return x\n}\n") == set()
    free = "model M() {\n    input x: f32[B, D]\n    if D > 0.5 { x = x |> relu }\n"
    assert codes(free + "    return x\n}\n") == {"E0501"}


def test_the_graph_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """E0814, with the budget lowered: reaching the real one takes seconds (tests/ui has it)."""
    monkeypatch.setattr("nndsl.check.elaborate.MAX_GRAPH_NODES", 300)
    body = "    h = x\n    repeat 100 { repeat 100 { h = relu(h) + x } }\n    return h"
    diags = check_source(MODEL.format(body=body)).diagnostics
    assert [d.code for d in diags] == ["E0814"]
    assert diags[0].message == "`M` has more than 300 layers and ops here"
    # the same nest carrying one tensor is one node (issue 17), counted once
    text = MODEL.format(body="    repeat 100 { repeat 100 { x = relu(x) } }\n    return x")
    result = check_source(text)
    assert result.diagnostics == [] and result.program is not None
    assert result.program.graphs["M"].node_total() == 100 * 100
    block = "block R() {\n    input x: f32[B, 4]\n    return x |> repeat 100 relu\n}\n"
    # Copies of an op that reads another tensor are unrolled and counted ...
    text = MODEL.format(body="    return x |> repeat 2 R() |> repeat 400 add(x)") + block
    assert [d.code for d in check_source(text).diagnostics] == ["E0814"]
    # ... a block mapping a type to itself is one repeat node, its body counted once.
    text = MODEL.format(body="    return x |> repeat 100 R()") + block
    result = check_source(text)
    assert result.diagnostics == []
    assert result.program is not None
    assert result.program.graphs["M"].node_total() == 100 * 100


def test_the_parameter_budget_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    text = MODEL.format(body="    return x |> Dense(100)")  # 500 parameters
    assert codes(text) == set()
    monkeypatch.setenv(MAX_PARAMS_ENV, "499")
    diags = check_source(text).diagnostics
    assert [d.code for d in diags] == ["E0818"]
    assert "model `M` has 500 parameters, over the budget of 499" in diags[0].message
    monkeypatch.setenv(MAX_PARAMS_ENV, "500")
    assert codes(text) == set()


def test_a_source_over_the_size_limit() -> None:
    text = "const A = 1\n" + "#" * MAX_SOURCE_CHARS + "\n"
    result = check_source(text, "big.nn")
    assert [d.code for d in result.diagnostics] == ["E0810"]
    assert len(render_plain(result.diagnostics)) < 2000
    assert IncrementalParser().parse(text, "big.nn") == parse(text, "big.nn")
    assert format_source(text) is None


def test_block_depth_is_reported_once() -> None:
    n = MAX_BLOCK_DEPTH + 5
    text = "block B0() {\n    input x: f32[B, 4]\n    return x |> Dense(4)\n}\n"
    for i in range(1, n):
        text += f"block B{i}() {{ input x: f32[B, 4]; return x |> B{i - 1}() }}\n"
    text += f"model M() {{\n    input x: f32[B, 4]\n    return x |> B{n - 1}()\n}}\n"
    assert [d.code for d in check_source(text).diagnostics] == ["E0812"]


def test_a_long_chain_of_imports(tmp_path: Path) -> None:
    for i in range(300):
        nxt = f'import "m{i + 1}.nn"\n' if i < 299 else ""
        (tmp_path / f"m{i}.nn").write_text(nxt + f"const C{i} = {i}\n")
    diags = check_file(tmp_path / "m0.nn").diagnostics
    assert [d.code for d in diags] == ["E0819"]
    assert diags[0].file.path.endswith(f"m{MAX_IMPORT_DEPTH - 1}.nn")


# -- nesting ---------------------------------------------------------------------------------
def _sum(n: int) -> str:
    return "const A = " + " + ".join(["1"] * n) + "\n"


def _pipe(n: int) -> str:
    return MODEL.format(body="    return x" + " |> relu" * n)


def _ifs(n: int) -> str:
    return MODEL.format(body="    " + "if true { " * n + "x = x" + " }" * n + "\n    return x")


def _lists(n: int) -> str:
    return "const A = " + "[" * n + "1" + "]" * n + "\n"


def _calls(n: int) -> str:
    return MODEL.format(body="    return x" + "(x)" * n)


def _nots(n: int) -> str:
    return "const A = " + "not " * n + "true\n"


def _else_ifs(n: int) -> str:
    return MODEL.format(body="    " + "if false { x = x } else " * n + "{ x = x }\n    return x")


SHAPES = [_sum, _pipe, _ifs, _lists, _calls, _nots, _else_ifs]


def _at_limit(make: Callable[[int], str]) -> int:
    """The largest size of this shape under the nesting limit."""
    n = MAX_NESTING - 5
    while not any(d.code == "E0811" for d in parse(make(n + 1)).diagnostics):
        n += 1
    return n


def _with_frames(depth: int, fn: Callable[[], T]) -> T:
    """`fn()` called from `depth` frames deeper: editors and tests call in from deep stacks."""
    if depth == 0:
        return fn()
    return _with_frames(depth - 1, fn)


@pytest.mark.parametrize("make", SHAPES, ids=lambda f: f.__name__.strip("_"))
def test_every_walker_copes_at_the_nesting_limit(make: Callable[[int], str]) -> None:
    n = _at_limit(make)
    assert n >= MAX_NESTING - 5
    text = make(n)
    # Checker, formatter and every editor feature, from 250 frames down (pytest + LSP).
    assert "E9999" not in _with_frames(250, lambda: codes(text))
    formatted = _with_frames(250, lambda: format_source(text))
    assert formatted is not None and format_source(formatted) == formatted
    ws = Workspace()
    ws.open("/p/m.nn", text)
    mid = len(text) // 2

    def ide() -> None:
        ws.diagnostics("/p/m.nn")
        ws.document_symbols("/p/m.nn")
        ws.inlay_hints("/p/m.nn")
        ws.semantic_tokens("/p/m.nn")
        ws.hover("/p/m.nn", mid)
        ws.completions("/p/m.nn", mid)
        ws.definition("/p/m.nn", mid)
        ws.references("/p/m.nn", mid)
        ws.format("/p/m.nn")

    _with_frames(250, ide)


@pytest.mark.parametrize("make", SHAPES, ids=lambda f: f.__name__.strip("_"))
def test_beyond_the_nesting_limit(make: Callable[[int], str]) -> None:
    text = make(500)
    result = check_source(text)
    assert [d.code for d in result.diagnostics] == ["E0811"]
    assert IncrementalParser().parse(text) == parse(text)
    assert format_source(text) is None
    ws = Workspace()
    ws.open("/p/m.nn", text)
    assert [d.code for d in ws.diagnostics("/p/m.nn")] == ["E0811"]
    ws.document_symbols("/p/m.nn")
    ws.semantic_tokens("/p/m.nn")


def test_a_cut_item_leaves_the_rest_checked() -> None:
    text = _sum(300) + "const Q = C\n" + MODEL.format(body="    return x |> Dense(4)")
    result = check_source(text)
    assert [d.code for d in result.diagnostics] == ["E0811", "E0101"]
    assert result.program is not None and "M" in result.program.graphs


def test_an_edit_keeps_the_incremental_parse_equal() -> None:
    parser = IncrementalParser()
    ok = _sum(10) + MODEL.format(body="    return x")
    deep = _sum(200) + MODEL.format(body="    return x")
    for text in (ok, deep, ok, deep + "const Z = 1\n"):
        assert parser.parse(text, "m.nn") == parse(text, "m.nn")


# -- output size, memory per byte, the formatter -----------------------------------------
def test_frames_are_clipped_around_the_caret() -> None:
    text = "const A = " + "1 + " * 1000 + "$ + " + "1 + " * 100_000 + "1\n"  # a 400 kB line
    diags = check_source(text).diagnostics
    assert "E0002" in {d.code for d in diags}
    assert len(render_plain(diags)) < 10_000
    out = render_plain([d for d in diags if d.code == "E0002"])
    assert "$" in out and "..." in out
    caret = next(line for line in out.splitlines() if "^" in line)
    source = next(line for line in out.splitlines() if "$" in line and "|" in line)
    assert source.index("$") == caret.index("^")


def test_a_long_string_costs_little() -> None:
    import tracemalloc

    text = 'const S = "' + "a" * 400_000 + '"\n'
    tracemalloc.start()
    try:
        result = check_source(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.diagnostics == []
    assert peak < 40 * len(text)  # was ~380 bytes per byte in the lexer's regex


COMMENTED = [
    "const A = 1 #c\n+ 2\n",
    "const B = 3\n",
    "# top\n",
    "model M() {\n    input x: f32[B, 4] #i\n    h = x #a\n    |> Dense(4) #b\n"
    "    return h #r\n}\n",
    "const C = [1, #x\n 2,\n\n #y\n 3]\n",
    "const D = (1 #p\n)\n",
    "model N(a: int = 1, #h\n b: int = 2) { #k\n input x: f32[B, a] #i\n if a > 0 #q\n"
    " and b > 0 { #z\n x = x #w\n } #v\n return x\n}\n",
    'data d = npz("a.npz", #d\n x = "x")\ntrain M on d {\n loss = mse #l\n'
    " optimizer = adam( #o\n lr = 1)\n}\n",
    "\n\n#e\n\n",
]


def test_formatting_is_idempotent_with_comments_inside_expressions() -> None:
    for n in (1, 2, 3):
        for combo in itertools.permutations(COMMENTED, n):
            text = "".join(combo)
            once = format_source(text)
            assert once is not None, text
            assert format_source(once) == once, text
            assert sorted(c for c in once.split() if c.startswith("#")) == sorted(
                c for c in text.split() if c.startswith("#")
            )
    assert format_source("const A = 1 #c\n+ 2\n") == "#c\nconst A = 1 + 2\n"


def test_fmt_reports_an_unreadable_or_too_deep_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "latin1.nn"
    bad.write_bytes(b"model M() {\xff\xfe}\n")
    deep = tmp_path / "deep.nn"
    deep.write_text(_pipe(600))
    for path, code in ((bad, "E0103"), (deep, "E0811")):
        assert main(["fmt", str(path)]) == 1
        err = capsys.readouterr().err
        assert f"error[{code}]" in err and "Traceback" not in err
    assert deep.read_text() == _pipe(600)  # not rewritten


def test_recursion_limit_is_untouched() -> None:
    before = sys.getrecursionlimit()
    codes(_sum(500))
    assert sys.getrecursionlimit() == before
