"""Dict literals `{name: expr, ...}`: parsing, formatting, checking and parse recovery."""

from __future__ import annotations

import pytest

from nndsl.check.values import DictVal, describe
from nndsl.frontend import check_source
from nndsl.syntax import ast, parse
from nndsl.syntax.printer import format_source

MODEL = """model M() {
    input x: f32[B, 2]
    price = x |> Dense(1)
    label = x |> Dense(3)
    return price, label
}
data d = npz("d.npz", x = "x", y = ["price", "label"])
"""


def _train(loss: str) -> str:
    return MODEL + f"train M on d {{\n    loss = {loss}\n    optimizer = adam\n}}\n"


def _loss(src: str) -> ast.Expr:
    result = parse(src)
    assert not result.diagnostics, [d.message for d in result.diagnostics]
    train = result.module.items[-1]
    assert isinstance(train, ast.TrainDef)
    return train.settings[0].value


def test_entries_keys_and_spans() -> None:
    src = _train('{price: mse, "label": cross_entropy(from_logits = true),}')
    value = _loss(src)
    assert isinstance(value, ast.DictLit)
    assert [e.key.name for e in value.entries] == ["price", "label"]
    assert src[value.span.start : value.span.end].startswith("{price") and src[
        value.span.start : value.span.end
    ].endswith("}")
    quoted = value.entries[1].key
    assert src[quoted.span.start : quoted.span.end] == '"label"'
    assert isinstance(value.entries[1].value, ast.Call)


def test_empty_dict_and_dicts_next_to_bodies() -> None:
    assert _loss(_train("{}")) == ast.DictLit((), _loss(_train("{}")).span)
    # `{` after `if`/`repeat` heads and in a call stays unambiguous (LALR, no conflict)
    src = (
        "model M() {\n    input x: f32[B, 2]\n    n = f({a: 1})\n"
        "    if x { repeat 2 { x = x } }\n    return x\n}\n"
    )
    assert not parse(src).diagnostics


@pytest.mark.parametrize(
    ("written", "printed"),
    [
        ('{price: mse, "label": mae,}', "{price: mse, label: mae}"),
        ("{ }", "{}"),
        ('{"my-key": 1, "input": [1, 2]}', '{"my-key": 1, "input": [1, 2]}'),
        ("{a: {b: 1 + 2}}", "{a: {b: 1 + 2}}"),
    ],
)
def test_printer_round_trip(written: str, printed: str) -> None:
    once = format_source(_train(written))
    assert once is not None and f"loss = {printed}\n" in once
    assert format_source(once) == once


def test_multi_line_dict_keeps_its_comments() -> None:
    src = _train("{\n        price: mse,  # the price\n        label: mae,\n    }")
    assert not parse(src).diagnostics
    out = format_source(src)
    assert out is not None and "    # the price\n    loss = {price: mse, label: mae}\n" in out


def test_checker_value_and_duplicate_key() -> None:
    assert describe(DictVal(())) == "an empty dict"
    assert describe(DictVal((("a", DictVal(())),))) == "a dict"
    src = (
        MODEL.replace('x = "x"', 'x = "x", sample_weight = {a: "w", "a": "v"}')
        + "train M on d {\n    loss = {price: mse}\n    optimizer = adam\n}\n"
    )
    errors = [d for d in check_source(src, "m.nn").diagnostics if d.is_error]
    assert errors[0].code == "E0106" and "`a` is given twice" in errors[0].message
    assert src[errors[0].primary.span.start : errors[0].primary.span.end] == '"a"'
    first = errors[0].secondary[0].span
    assert src[first.start : first.end] == "a"
    assert len(errors) == 1  # the error value reports nothing more


@pytest.mark.parametrize(
    ("loss", "message"),
    [
        ("{price = mse}", "expected `:`, found `=`"),
        ("{price: }", "expected an expression"),
        ("{1: mse}", "expected `}`, a name or a string, found number `1`"),
        ("{price: mse label: mae}", "expected `}` or `,` after the entry"),
        ("{price: mse,, label: mae}", "found `,`"),
        ("{price: mse", "unclosed `{`"),
        ("{price", "unclosed `{`"),
    ],
)
def test_one_syntax_error_per_mistake(loss: str, message: str) -> None:
    src = _train(loss)
    syntax = [d for d in parse(src).diagnostics if d.code.startswith("E000")]
    assert len(syntax) == 1, [d.message for d in syntax]
    assert message in syntax[0].message
    if "unclosed" in message:
        assert src[syntax[0].primary.span.start] == "{"
        assert syntax[0].primary.span.start > src.index("loss")  # the dict's, not train's
    # the setting after the mistake is still read
    train = parse(src).module.items[-1]
    assert isinstance(train, ast.TrainDef)
    assert [s.name.name for s in train.settings] == ["loss", "optimizer"]


def test_a_dict_where_a_value_is_expected_is_named() -> None:
    src = "model M() {\n    input x: f32[B, 2]\n    return x |> Dense({units: 4})\n}\n"
    errors = [d for d in check_source(src, "m.nn").diagnostics if d.is_error]
    assert [d.code for d in errors] == ["E0403"]
    assert "found a dict" in errors[0].message
