"""The checker on valid programs: inferred types, static control flow, imports, IR counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from nndsl.diagnostics import render_plain
from nndsl.frontend import CheckResult, check_file, check_source
from nndsl.ir import Graph

ROOT = Path(__file__).resolve().parents[2]


def ok(src: str, path: str = "t.nn") -> CheckResult:
    result = check_source(src, path)
    assert result.diagnostics == [], render_plain(result.diagnostics)
    return result


def graph(src: str, model: str | None = None) -> Graph:
    g = ok(src).graph(model)
    assert g is not None
    return g


def out_types(src: str, model: str | None = None) -> list[str]:
    return [str(o.type) for o in graph(src, model).outputs]


def one(input_type: str, expr: str) -> str:
    src = f"model M() {{\n    input x: {input_type}\n    return {expr}\n}}\n"
    (t,) = out_types(src)
    return t


@pytest.mark.parametrize(
    ("input_type", "expr", "expected"),
    [
        ("f32[B, 64]", "x |> Dense(10)", "f32[B, 10]"),
        ("f32[B, T, 8]", "x |> Dense(16)", "f32[B, T, 16]"),
        ("f32[B, 28, 28, 1]", 'x |> Conv2D(8, 3, padding = "same")', "f32[B, 28, 28, 8]"),
        ("f32[B, 28, 28, 1]", "x |> Conv2D(8, 3)", "f32[B, 26, 26, 8]"),
        ("f32[B, 28, 28, 1]", "x |> Conv2D(8, 3, strides = 2)", "f32[B, 13, 13, 8]"),
        (
            "f32[B, 28, 28, 1]",
            'x |> Conv2D(8, 3, strides = 2, padding = "same")',
            "f32[B, 14, 14, 8]",
        ),
        ("f32[B, 28, 28, 1]", "x |> Conv2D(8, [3, 5])", "f32[B, 26, 24, 8]"),
        ("f32[B, 28, 28, 1]", "x |> Conv2D(8, 3, dilation_rate = 2)", "f32[B, 24, 24, 8]"),
        ("f32[B, 28, 28, 3]", "x |> MaxPool2D(2)", "f32[B, 14, 14, 3]"),
        ("f32[B, 7, 7, 3]", "x |> MaxPool2D(2)", "f32[B, 3, 3, 3]"),
        ("f32[B, 7, 7, 3]", 'x |> AvgPool2D(2, padding = "same")', "f32[B, 4, 4, 3]"),
        ("f32[B, 7, 7, 3]", "x |> GlobalAvgPool2D()", "f32[B, 3]"),
        ("f32[B, 4, 4, 32]", "x |> Flatten()", "f32[B, 512]"),
        ("f32[B, 64]", "x |> Reshape([8, 8, 1])", "f32[B, 8, 8, 1]"),
        ("f32[B, 64]", "x |> Reshape([-1, 4])", "f32[B, 16, 4]"),
        ("f32[B, 8]", "x |> BatchNorm()", "f32[B, 8]"),
        ("f32[B, 8]", "x |> LayerNorm() |> Dropout(0.5)", "f32[B, 8]"),
        ("f32[B, 8]", "x |> relu |> softmax(axis = -1)", "f32[B, 8]"),
        ("f32[B, 8]", "leaky_relu(x, negative_slope = 0.1)", "f32[B, 8]"),
        ("f32[B, 4, 8]", "x @ (x |> Reshape([8, 4]))", "f32[B, 4, 4]"),
        ("f32[B, 8]", "x * 0.5 + 1", "f32[B, 8]"),
        ("f32[B, 1, 8]", "x + (x |> Reshape([8, 1]))", "f32[B, 8, 8]"),
        ("f32[B, 8]", "-x", "f32[B, 8]"),
        ("f32[B, H, W, 3]", 'x |> Conv2D(4, 3, padding = "same")', "f32[B, H, W, 4]"),
        ("f32[B, H, W, 3]", "x |> MaxPool2D(2)", "f32[B, H/2, W/2, 3]"),
        ("i32[B, 4, 4]", "x |> Flatten()", "i32[B, 16]"),
    ],
)
def test_inferred_output_type(input_type: str, expr: str, expected: str) -> None:
    assert one(input_type, expr) == expected


def test_annotations_check_and_keep_symbols() -> None:
    src = """
model M() {
    input x: f32[B, T, 8]
    h: f32[B, T, 16] = x |> Dense(16)
    return h
}
"""
    g = graph(src)
    assert str(g.inputs[0].type) == "f32[B, T, 8]"
    assert str(g.outputs[0].type) == "f32[B, T, 16]"


def test_block_instantiation_binds_dims() -> None:
    src = """
block Proj(units: int) {
    input x: f32[B, D]
    h: f32[B, D] = x |> Dense(D)
    return h |> Dense(units), h
}

model M() {
    input a: f32[B, 12]
    p, q = a |> Proj(3)
    r, _s = p |> Proj(5)
    return r, q
}
"""
    assert out_types(src) == ["f32[B, 5]", "f32[B, 12]"]


def test_repeat_unrolls_with_fresh_weights() -> None:
    src = """
model M(depth: int = 3) {
    input x: f32[B, 4]
    h = x |> repeat depth Dense(4)
    repeat 2 { h = h |> Dense(4) }
    return h
}
"""
    g = graph(src)
    # both repeats keep the type: each is one node (issue 17), its copies named as unrolled
    assert [n.repeat.count for n in g.nodes if n.repeat is not None] == [3, 2]
    dense = [n for n in g.unrolled().nodes if n.op.name == "Dense"]
    assert [n.path for n in dense] == ["dense", "dense_1", "dense_2", "dense_3", "dense_4"]
    assert g.param_counts() == (5 * (4 * 4 + 4), 0)


def test_if_is_decided_statically() -> None:
    src = """
model M(hidden: int = 32) {
    input x: f32[B, 8]
    if hidden > 64 {
        h = x |> Dense(1)
    } else if hidden > 16 and not false {
        h = x |> Dense(2)
    } else {
        h = x |> Dense(3)
    }
    return h
}
"""
    assert out_types(src) == ["f32[B, 2]"]


def test_if_on_bound_dim() -> None:
    src = """
block B2() {
    input x: f32[B, D]
    if D > 4 { h = x |> Dense(4) } else { h = x }
    return h
}
model M() {
    input x: f32[B, 8]
    input y: f32[B, 2]
    return x |> B2(), y |> B2()
}
"""
    assert out_types(src) == ["f32[B, 4]", "f32[B, 2]"]


def test_several_inputs_and_outputs() -> None:
    src = """
model M() {
    input a: f32[B, 8]
    input b: f32[B, 8]
    s = a + b
    return s |> Dense(2), s |> Dense(3)
}
"""
    g = graph(src)
    assert [i.name for i in g.inputs] == ["a", "b"]
    assert [str(o.type) for o in g.outputs] == ["f32[B, 2]", "f32[B, 3]"]


def test_constants_and_model_arguments() -> None:
    src = """
const WIDE = 2 * 8
model M(k: int = WIDE / 4, scale: float = 0.5) {
    input x: f32[B, WIDE]
    return x |> Dense(k * 2) |> Dropout(scale)
}
"""
    assert out_types(src) == ["f32[B, 8]"]


def test_std_blocks_import() -> None:
    if not (ROOT / "stdlib" / "blocks.nn").exists():
        pytest.skip("no stdlib/blocks.nn")
    src = """
import std.blocks
model M() {
    input x: f32[B, 16]
    input img: f32[B, 8, 8, 3]
    h = x |> MLPBlock(32, 0.2) |> repeat 2 ResidualDense(32)
    return h, img |> ConvBNReLU(4)
}
"""
    assert out_types(src) == ["f32[B, 32]", "f32[B, 8, 8, 4]"]


def test_relative_import(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "heads.nn").write_text(
        "const CLASSES = 7\n"
        "block Head() {\n    input x: f32[B, D]\n    return x |> Dense(CLASSES)\n}\n"
    )
    main = tmp_path / "main.nn"
    main.write_text(
        'import "lib/heads.nn"\nmodel M() {\n    input x: f32[B, 4]\n    return x |> Head()\n}\n'
    )
    result = check_file(main)
    assert result.diagnostics == [], render_plain(result.diagnostics)
    g = result.graph()
    assert g is not None and str(g.outputs[0].type) == "f32[B, 7]"


def test_diamond_import_is_not_a_cycle(tmp_path: Path) -> None:
    (tmp_path / "base.nn").write_text("const N = 3\n")
    (tmp_path / "a.nn").write_text('import "base.nn"\nconst A = N\n')
    (tmp_path / "b.nn").write_text('import "base.nn"\nconst BB = N\n')
    main = tmp_path / "main.nn"
    main.write_text(
        'import "a.nn"\nimport "b.nn"\nmodel M() {\n input x: f32[B, 2]\n'
        " return x |> Dense(A + BB)\n}\n"
    )
    result = check_file(main)
    assert result.diagnostics == [], render_plain(result.diagnostics)


def test_param_counts_dense_and_conv() -> None:
    src = """
model M() {
    input x: f32[B, 8, 8, 3]
    h = x |> Conv2D(16, 3, padding = "same") |> Conv2D(8, [1, 1], use_bias = false)
    return h |> Flatten() |> Dense(10)
}
"""
    g = graph(src)
    expected = (3 * 3 * 3 * 16 + 16) + (16 * 8) + (8 * 8 * 8 * 10 + 10)
    assert g.param_counts() == (expected, 0)


def test_param_counts_batchnorm_moving_stats_are_frozen() -> None:
    src = """
model M() {
    input x: f32[B, 64]
    h = x |> Dense(32, use_bias = false) |> BatchNorm() |> LayerNorm()
    return h
}
"""
    g = graph(src)
    trainable, frozen = g.param_counts()
    assert trainable == 64 * 32 + 2 * 32 + 2 * 32
    assert frozen == 2 * 32
    assert g.param_bytes() == (trainable * 4, frozen * 4)
    bn = next(n for n in g.nodes if n.op.name == "BatchNormalization")
    assert {w.name: w.trainable for w in bn.weights} == {
        "gamma": True,
        "beta": True,
        "moving_mean": False,
        "moving_variance": False,
    }


def test_examples_check_cleanly_and_count() -> None:
    mlp = check_file(ROOT / "examples" / "digits_mlp.nn")
    assert mlp.diagnostics == [], render_plain(mlp.diagnostics)
    g = mlp.graph()
    assert g is not None
    assert g.param_counts() == ((64 * 128 + 128) + (128 * 128 + 128) + (128 * 10 + 10), 0)
    for name in ("digits_cnn.nn", "residual_mlp.nn"):
        result = check_file(ROOT / "examples" / name)
        assert result.diagnostics == [], render_plain(result.diagnostics)


def test_train_section_fields() -> None:
    src = """
model M(hidden: int = 8) {
    input x: f32[B, 4]
    return x |> Dense(hidden) |> Dense(3)
}
data d = npz("d.npz", x = "xs", y = "ys", test_split = 0.25)
train M(hidden = 16) on d {
    loss = cross_entropy(from_logits = true)
    optimizer = adam(lr = 0.01)
    metrics = [accuracy, top_k_accuracy(k = 2)]
    epochs = 3
    batch = 16
    seed = 7
    validation_split = 0.2
    shuffle = false
}
"""
    result = ok(src)
    assert result.program is not None
    t = result.program.train
    assert t is not None
    assert (t.epochs, t.batch, t.seed, t.validation_split, t.shuffle) == (3, 16, 7, 0.2, False)
    assert t.data_name == "d" and t.data.op.name == "npz"
    assert t.data.attrs["x"] == "xs" and t.data.attrs["test_split"] == 0.25
    assert t.loss.op.name == "cross_entropy" and t.loss.attrs["from_logits"] is True
    assert t.optimizer.op.name == "adam" and t.optimizer.attrs["learning_rate"] == 0.01
    assert [m.op.name for m in t.metrics] == ["accuracy", "top_k_accuracy"]
    assert t.metrics[1].attrs["k"] == 2
    assert t.graph.name == "M" and t.graph.args["hidden"] == 16
    assert t.graph.param_counts() == ((4 * 16 + 16) + (16 * 3 + 3), 0)
    assert result.graph() is t.graph


def test_train_defaults() -> None:
    src = """
model M() {
    input x: f32[B, 4]
    return x |> Dense(1)
}
data d = npz("d.npz")
train M on d {
    loss = mse
    optimizer = sgd
}
"""
    t = ok(src).program.train  # type: ignore[union-attr]
    assert t is not None
    assert (t.epochs, t.batch, t.seed, t.validation_split, t.shuffle) == (10, 32, 0, 0.1, True)
    assert t.metrics == []


def test_node_paths_and_spans() -> None:
    src = "model M() {\n    input x: f32[B, 4]\n    h = x |> Dense(4)\n    return h\n}\n"
    g = graph(src)
    (node,) = g.nodes
    assert g.nodes[0].file.text[node.span.start : node.span.end].startswith("Dense(4)")
    assert node.tensor_name == "h"
    assert "@L3" in node.scope_name


# -- regressions: bugs the test suite found, now fixed ---------------------------------------
def test_duplicate_parameter_is_reported() -> None:
    src = (
        "block H(units: int, units: int) {\n"
        "    input x: f32[B, 8]\n    return x |> Dense(units)\n}\n"
    )
    assert "E0102" in [d.code for d in check_source(src, "t.nn").diagnostics]


def test_unknown_data_source_is_reported_without_train() -> None:
    codes = [d.code for d in check_source('data d = parquet("d.parquet")\n', "t.nn").diagnostics]
    assert codes == ["E0602"]


def test_unknown_data_source_used_by_train() -> None:
    src = """
model M() {
    input x: f32[B, 8]
    return x |> Dense(2)
}
data d = parquet("d.parquet")
train M on d {
    loss = mse
    optimizer = sgd
}
"""
    diags = check_source(src, "t.nn").diagnostics
    assert [d.code for d in diags] == ["E0602"]
    assert "datas" not in (diags[0].help or "")


def test_data_arguments_checked_without_train() -> None:
    codes = [d.code for d in check_source("data d = npz(3)\n", "t.nn").diagnostics]
    assert codes == ["E0403"]


@pytest.mark.parametrize("name", ["cross_entropy", "npz", "accuracy"])
def test_non_layer_ops_as_stage_are_e0105(name: str) -> None:
    src = f"model M() {{\n    input x: f32[B, 8]\n    return x |> {name}\n}}\n"
    codes = [d.code for d in check_source(src, "t.nn").diagnostics]
    assert codes == ["E0105"]


def test_same_import_twice_is_loaded_once(tmp_path: Path) -> None:
    (tmp_path / "heads.nn").write_text("const CLASSES = 7\n")
    main = tmp_path / "main.nn"
    main.write_text(
        'import "heads.nn"\nimport "heads.nn"\n'
        "model M() {\n    input x: f32[B, 4]\n    return x |> Dense(CLASSES)\n}\n"
    )
    assert check_file(main).diagnostics == []


def test_import_path_with_nul_byte() -> None:
    codes = [d.code for d in check_source('import "a\x00b"\n', "t.nn").diagnostics]
    assert codes == ["E0103"]


def test_too_many_arguments_grammar() -> None:
    src = "model M() {\n    input x: f32[B, 8]\n    return x |> sigmoid(3)\n}\n"
    (diag,) = check_source(src, "t.nn").diagnostics
    assert diag.code == "E0405"
    assert "1 was given" in diag.message


def test_a_tuple_feeds_several_tensors_to_one_layer() -> None:
    src = (
        "model M() {\n    input a: f32[B, 4]\n    input b: f32[B, 6]\n"
        "    return (a, b) |> Concatenate(), (a, a, a) |> Add()\n}\n"
    )
    result = check_source(src, "m.nn")
    assert not result.has_errors, render_plain(result.diagnostics)
    graph = result.graph("M")
    assert graph is not None
    assert [str(o.type) for o in graph.outputs] == ["f32[B, 10]", "f32[B, 4]"]


def test_generic_check_after_an_unknown_if_reports_only_certain_mismatches() -> None:
    """`out` is `filters` or 8 depending on a parameter: the unused block must not be
    reported (it is fine for filters = 16); each use is checked with its own value."""
    block = (
        "block B(filters: int) {\n    input x: f32[N, C]\n    out = filters\n"
        "    if out < 8 {\n        out = 8\n    }\n"
        "    return (x |> Dense(out)) + (x |> Dense(16))\n}\n"
    )
    assert check_source(block, "b.nn").diagnostics == []
    use = "model M() {\n    input x: f32[N, 4]\n    return x |> B(F)\n}\n"
    fine = check_source(block + use.replace("B(F)", "B(16)"), "m.nn")
    assert not fine.has_errors, render_plain(fine.diagnostics)
    wrong = check_source(block + use.replace("B(F)", "B(4)"), "m.nn")
    assert [d.code for d in wrong.errors] == ["E0202"]


def test_repeat_zero_is_the_identity() -> None:
    src = (
        "model M(n: int = 0) {\n    input x: f32[B, 8]\n    h = x |> repeat n Dense(4)\n"
        "    repeat n { h = h |> Dense(2) }\n    return h\n}\n"
    )
    result = check_source(src, "m.nn")
    assert not result.has_errors, render_plain(result.diagnostics)
    graph = result.graph("M")
    assert graph is not None and graph.nodes == [] and str(graph.outputs[0].type) == "f32[B, 8]"


def test_a_name_being_typed_does_not_stop_the_checks_of_what_uses_the_block() -> None:
    """`z` alone on its line (the parser completes it as `z = <missing>` and reports it):
    the block still returns its type, so the model using it is checked on."""
    text = (
        "block B() {\n    input x: f32[N, 8]\n    z\n    return x |> Dense(4)\n}\n"
        "model M() {\n    input x: f32[N, 8]\n    y = x |> B()\n    return y + x\n}\n"
    )
    result = check_source(text, "t.nn")
    syntax, shape = result.diagnostics
    assert syntax.code == "E0001" and shape.code == "E0202"
    assert text[shape.primary.span.start : shape.primary.span.end] == "y + x"
