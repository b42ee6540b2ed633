"""The parser: valid programs, spans, error recovery, the grammar itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from lark import Lark

from nndsl.resources import grammar_path
from nndsl.syntax import ast, parse
from nndsl.syntax.lower import ToAst

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.nn")) + sorted((ROOT / "stdlib").glob("*.nn"))

PROGRAM = """\
import std.blocks
import "other.nn"
const HIDDEN = 1_000

## The doc line.
model Net(hidden: int = HIDDEN, rate: float = 0.5, name: str = "n",) {
    input x: f32[B, 64]
    h: f32[B, hidden] = x |> Dense(hidden, activation = "relu") |> repeat 2 Dropout(rate)
    a, b = Split(h)
    if hidden > 10 and not false { h = h * 2 } else if hidden < 3 { h = -h } else { h = h }
    repeat 3 { h = h @ h; }
    return h + Foo([1, 2.5, .5, 1e-3]) - (h / 2) % 3, b
}

data d = npz("d.npz", x = "images")

train Net(hidden = 4) on d {
    loss = mse
    optimizer = adam(lr = 1e-3)
    metrics = [accuracy, top_k_accuracy(k = 3)]
}
"""


def _spans(node: object, out: list[tuple[object, ast.Span]]) -> None:
    if isinstance(node, tuple):
        for n in node:
            _spans(n, out)
        return
    if not isinstance(node, ast.Node):
        return
    span = getattr(node, "span", None)
    if isinstance(span, ast.Span):
        out.append((node, span))
    for name in node.FIELDS:
        if name != "span":
            _spans(getattr(node, name), out)


def test_valid_program_has_no_diagnostics_and_expected_items() -> None:
    result = parse(PROGRAM, "p.nn")
    assert result.diagnostics == []
    items = result.module.items
    assert [type(i).__name__ for i in items] == [
        "Import",
        "Import",
        "Const",
        "Definition",
        "DataDef",
        "TrainDef",
    ]
    std, rel, const, model, data, train = items
    assert isinstance(std, ast.Import) and std.path == "std.blocks" and not std.is_file
    assert isinstance(rel, ast.Import) and rel.path == "other.nn" and rel.is_file
    assert isinstance(const, ast.Const) and const.value == ast.IntLit(1000, const.value.span)
    assert isinstance(model, ast.Definition)
    assert model.kind == "model" and model.name.name == "Net" and model.doc == "The doc line."
    assert [p.name.name for p in model.params] == ["hidden", "rate", "name"]
    assert [p.type.name for p in model.params] == ["int", "float", "str"]
    kinds = [type(s).__name__ for s in model.body]
    assert kinds == ["InputStmt", "Assign", "Assign", "If", "Repeat", "Return"]
    assign = model.body[1]
    assert isinstance(assign, ast.Assign)
    assert assign.targets[0].annotation is not None
    pipe = assign.value
    assert isinstance(pipe, ast.Pipe) and isinstance(pipe.stage, ast.RepeatStage)
    assert isinstance(pipe.value, ast.Pipe) and isinstance(pipe.value.stage, ast.Call)
    unpack = model.body[2]
    assert isinstance(unpack, ast.Assign) and [t.name.name for t in unpack.targets] == ["a", "b"]
    cond = model.body[3]
    assert isinstance(cond, ast.If) and isinstance(cond.cond, ast.BinOp)
    assert cond.cond.op == "and"
    assert cond.orelse is not None and isinstance(cond.orelse[0], ast.If)  # else if
    ret = model.body[-1]
    assert isinstance(ret, ast.Return) and len(ret.values) == 2
    assert isinstance(data, ast.DataDef) and data.name.name == "d"
    assert isinstance(train, ast.TrainDef) and isinstance(train.model, ast.Call)
    assert [s.name.name for s in train.settings] == ["loss", "optimizer", "metrics"]


def test_spans_map_back_to_source() -> None:
    result = parse(PROGRAM, "p.nn")
    nodes: list[tuple[object, ast.Span]] = []
    _spans(result.module, nodes)
    assert len(nodes) > 50
    for node, span in nodes:
        assert 0 <= span.start <= span.end <= len(PROGRAM), node
        text = PROGRAM[span.start : span.end]
        if isinstance(node, ast.Ident):
            assert text == node.name
        elif isinstance(node, ast.Name):
            assert text == node.ident.name
        elif isinstance(node, ast.StrLit):
            assert text == f'"{node.value}"'
        elif isinstance(node, ast.Definition):
            assert text.startswith(f"{node.kind} {node.name.name}(") and text.endswith("}")
        elif isinstance(node, ast.Call):
            assert text.endswith(")")
        elif isinstance(node, ast.InputStmt):
            assert text.startswith("input ")
        elif isinstance(node, ast.BinOp):
            assert PROGRAM[node.op_span.start : node.op_span.end].strip() == node.op


def test_literal_values() -> None:
    src = 'const A = 1_000\nconst B = 1.\nconst C = .5\nconst D = 2.5E+2\nconst E = "a\\"b"\n'
    items = parse(src).module.items
    values = [i.value for i in items]  # type: ignore[union-attr]
    assert [v.value for v in values] == [1000, 1.0, 0.5, 250.0, 'a"b']


def test_pipe_binds_loosest() -> None:
    src = "model M() { input x: f32[B, 2]\n return x + x |> relu }"
    ret = parse(src).module.items[0].body[-1]  # type: ignore[union-attr]
    assert isinstance(ret, ast.Return)
    pipe = ret.values[0]
    assert isinstance(pipe, ast.Pipe) and isinstance(pipe.value, ast.BinOp)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_parse_cleanly(path: Path) -> None:
    assert parse(path.read_text(), str(path)).diagnostics == []


def test_recovery_reports_several_independent_errors() -> None:
    src = """\
model M() {
    input x: f32[B, 64]
    h = x |> Dense(64 activation = "relu")
    k = h |> Dense(32) )
    return k
}

model N() {
    input y f32[B, 8]
    return y
}

block C(n: int) {
    input z: f32[B, 4]
    return z |> Dense(n
}
"""
    result = parse(src, "r.nn")
    lines = [result.file.position(d.primary.span.start).line for d in result.diagnostics]
    assert lines == [3, 4, 9, 15]
    assert [d.code for d in result.diagnostics] == ["E0001", "E0001", "E0001", "E0003"]
    # The recovered tree still holds all three definitions.
    names = [i.name.name for i in result.module.items if isinstance(i, ast.Definition)]
    assert names == ["M", "N", "C"]


def test_missing_comma_is_inserted_not_skipped() -> None:
    src = 'model M() {\n input x: f32[B, 4]\n return x |> Dense(4 activation = "relu")\n}\n'
    result = parse(src)
    assert [d.code for d in result.diagnostics] == ["E0001"]
    assert "`)` or `,`" in result.diagnostics[0].message
    call = result.module.items[0].body[-1].values[0].stage  # type: ignore[union-attr]
    assert isinstance(call, ast.Call) and len(call.args) == 2


def test_unclosed_brace_at_eof() -> None:
    result = parse("model M() {\n input x: f32[B, 4]\n return x\n")
    assert [d.code for d in result.diagnostics] == ["E0003"]
    assert result.diagnostics[0].primary.span == ast.Span(10, 11)


def test_empty_and_comment_only_files() -> None:
    assert parse("").diagnostics == []
    assert parse("# only a comment").diagnostics == []
    assert parse(";;\n").diagnostics == []


def test_errors_are_capped() -> None:
    src = "\n".join("model M() { input x f32[B] }" for _ in range(60))
    result = parse(src)
    assert 1 <= len(result.diagnostics) <= 20


def test_grammar_is_lalr_strict() -> None:
    pytest.importorskip("interegular")
    Lark(grammar_path().read_text(), parser="lalr", strict=True)


def _tree_rule_names() -> set[str]:
    parser = Lark(grammar_path().read_text(), parser="lalr")
    names: set[str] = set()
    for rule in parser.rules:
        if rule.alias:
            names.add(str(rule.alias))
            continue
        name = rule.origin.name
        name = name.value if hasattr(name, "value") else str(name)
        if name.startswith("_"):
            continue
        if rule.options.expand1:
            kept = [s for s in rule.expansion if not getattr(s, "filter_out", False)]
            if len(kept) <= 1:
                continue
        names.add(name)
    return names


def test_every_rule_has_a_lowering_method() -> None:
    names = _tree_rule_names()
    assert {"start", "model_item", "call", "pipe", "binary", "keyword_arg"} <= names
    missing = sorted(n for n in names if not callable(getattr(ToAst, n, None)))
    assert not missing, f"ToAst lacks methods for {missing}"


def test_trailing_operator_reports_one_error_at_the_operator() -> None:
    from nndsl.frontend import check_source

    src = (
        "model M() {\n    input x: f32[B, 8]\n    g = x +\n    k = x |> Dense(4)\n    return k\n}\n"
    )
    result = check_source(src, "t.nn")
    errors = result.errors
    assert [d.code for d in errors] == ["E0001"]
    assert result.file.position(errors[0].primary.span.start).line == 3


def test_single_quoted_string_gives_one_diagnostic() -> None:
    from nndsl.frontend import check_source

    src = "model M() {\n    input x: f32[B, 8]\n    return x |> Dense(10, activation = 'relu')\n}\n"
    diags = check_source(src, "t.nn").diagnostics
    assert [d.code for d in diags] == ["E0002"]
    assert diags[0].help and "double quotes" in diags[0].help


def test_pipeline_may_continue_on_the_next_line() -> None:
    from nndsl.frontend import check_source

    src = (
        "model M() {\n    input x: f32[B, 8]\n    h = x |>\n        repeat 2 Dense(8) |>\n"
        "        relu\n    k = h +\n        x\n    return k\n}\n"
    )
    assert check_source(src, "t.nn").diagnostics == []


def test_a_name_alone_on_its_line_is_one_error_not_a_cascade() -> None:
    """`z` being typed above other statements: one error, and the statements after it (and
    the items after its block) still parse."""
    body = "\n".join(f"    h{i} = x |> Dense({i + 1})" for i in range(30))
    text = f"block B() {{\n    input x: f32[N, 4]\n    z\n{body}\n    return h29\n}}\n"
    text += "model M() {\n    input x: f32[N, 4]\n    return x |> B()\n}\n"
    result = parse(text, "t.nn")
    assert [d.message for d in result.diagnostics] == ["expected `,`, `=` or `:`, found name `h0`"]
    block, model = result.module.items
    assert isinstance(block, ast.Definition) and isinstance(model, ast.Definition)
    assert len(block.body) == 33 and model.name.name == "M"


def test_recovery_trials_leave_the_parsed_items_alone() -> None:
    """Recovery tries tokens on a copy of the parser that shares the parsed values; Lark
    extends its repetition lists in place, so those must not be shared (an item parsed once
    came out twice)."""
    text = (
        "model M() {\n    input x: f32[B, 8]\n    return x |> Dense(2)\n}\n\n"
        'data d = npz("d.npz"train M on d {\n    optimizer =sgd\n}\n'
    )
    items = parse(text, "t.nn").module.items
    assert [type(i).__name__ for i in items] == ["Definition", "DataDef", "TrainDef"]


# Line breaks (and comments) before a line that reads like a statement but continues an
# expression: `repeat` as a pipeline stage, `name, name =` / `name, name:` inside brackets.
# The grammar ignores them, so each must parse as its one-line form does.
_CONTINUED = [
    "{kw} D(a: A = A |>{br}repeat 0 A) {{ }}",
    "{kw} D(a: A = x |>{br}repeat (2) f(1), b: B = 1) {{ }}",
    "{kw} D(a: A = x |>{br}repeat n relu) {{ return a }}",
    '{kw} D(a: A = x |>{br}repeat "s" f |> repeat 1e-3 g) {{ }}',
    "{kw} D(a: A = x |>{br}g, b: B) {{ }}",
    "{kw} D(a: A = x +{br}y, b: B = 2) {{ }}",
    "{kw} D() {{ h = f(x |>{br}g, k = 3) }}",
    "{kw} D() {{ h = [x *{br}y, k = 3] }}",
    "{kw} D() {{ if x |>{br}repeat 2 relu {{ return 1 }} }}",
    "{kw} D() {{ repeat x |>{br}repeat [1, 2] relu {{ h = 1 }} }}",
]
_BREAKS = ["\n", "\n    ", " # c\n ", "\n\n  # a note\n  "]


def _shape(node: object) -> object:
    """A tree without its spans: what a layout must not change."""
    if isinstance(node, ast.Node):
        fields = (f for f in node.FIELDS if f != "span")
        return (type(node).__name__, *(_shape(getattr(node, f)) for f in fields))
    if isinstance(node, tuple):
        return tuple(_shape(x) for x in node)
    return node


def _continued_texts(kw: str, template: str) -> list[str]:
    return [template.format(kw=kw, br=br) for br in _BREAKS]


@pytest.mark.parametrize("template", _CONTINUED)
@pytest.mark.parametrize("kw", ["block", "model"])
def test_an_expression_continues_on_a_line_that_looks_like_a_statement(
    kw: str, template: str
) -> None:
    from nndsl.syntax.incremental import IncrementalParser

    one_line = parse(template.format(kw=kw, br=" "), "f.nn")
    assert one_line.diagnostics == []
    for text in _continued_texts(kw, template):
        result = parse(text, "f.nn")
        assert result.diagnostics == [], text
        assert _shape(result.module) == _shape(one_line.module), text
        incremental = IncrementalParser().parse(text, "f.nn")
        assert incremental.diagnostics == [] and incremental.module == result.module, text


_SHAPES_CHILD = """
import json, sys
from nndsl.syntax import parse
print(json.dumps([[d.message for d in parse(t, "f.nn").diagnostics] for t in json.load(sys.stdin)]))
"""


def test_an_expression_continues_so_without_the_fast_path_too() -> None:
    import json
    import os
    import subprocess
    import sys

    from nndsl.syntax import fastpath

    texts = [t for kw in ("block", "model") for c in _CONTINUED for t in _continued_texts(kw, c)]
    child = subprocess.run(
        [sys.executable, "-c", _SHAPES_CHILD],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        env={**os.environ, fastpath.ENV: "0"},
        cwd=ROOT,
        check=True,
    )
    assert json.loads(child.stdout) == [[] for _ in texts]


@pytest.mark.parametrize(
    ("line", "messages"),
    [
        ("repeat 3 {\n    }", ["expected an expression after `|>`, found the end of the line"]),
        ("return h", ["expected an expression after `|>`, found the end of the line"]),
        ("a, b = g(1)", ["expected an expression after `|>`, found the end of the line"]),
    ],
)
def test_an_operator_before_a_statement_still_has_no_operand(
    line: str, messages: list[str]
) -> None:
    """A line that can only start a statement (`repeat 3 {` is no stage: no name follows
    its count) still ends the expression before it."""
    text = f"model M() {{\n    input x: f32[B, 8]\n    h = x |>\n    {line}\n    return h\n}}\n"
    assert [d.message for d in parse(text, "t.nn").diagnostics] == messages
