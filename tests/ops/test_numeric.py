"""Math functions (issue 15): reductions and element-wise math against NumPy, `where`'s types
and ONNX form, and `int` / `round` / `ceil` / `floor` / `min` / `max` of static numbers."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import pytest
from scipy.special import logsumexp

from nndsl.backend.jax import compile_graph
from nndsl.diagnostics import render_plain
from nndsl.frontend import check_source
from nndsl.ir import Graph
from nndsl.shapes import DType
from tests.export.harness import assert_onnx_matches, op_graph, random_inputs

X = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(np.float32)


def graph_of(body: str, input_type: str = "f32[B, 3, 4]") -> Graph:
    src = f"model M() {{\n    input x: {input_type}\n    {body}\n}}\n"
    result = check_source(src, "m.nn")
    assert not result.has_errors, render_plain(result.diagnostics)
    graph = result.graph("M")
    assert graph is not None
    return graph


def run(body: str, x: np.ndarray = X) -> np.ndarray:
    model = compile_graph(graph_of(body))
    params, state = model.init(jax.random.key(0))
    (out,), _ = model.apply(params, state, [x])
    return np.asarray(out)


REDUCTIONS: dict[str, Any] = {
    "sum": np.sum,
    "mean": np.mean,
    "max": np.max,
    "min": np.min,
    "prod": np.prod,
    "logsumexp": logsumexp,
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@pytest.mark.parametrize(
    ("axis", "np_axis"), [("", None), (", axis = -1", -1), (", axis = [0, 2]", (0, 2))]
)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_equal_numpy(name: str, axis: str, np_axis: Any, keepdims: bool) -> None:
    keep = ", keepdims = true" if keepdims else ""
    got = run(f"return {name}(x{axis}{keep})")
    want = REDUCTIONS[name](X, axis=np_axis, keepdims=keepdims)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_reduction_shapes_and_aliases() -> None:
    g = graph_of("return x |> reduce_sum(axis = 1) |> amax(keepdims = true)")
    assert str(g.outputs[0].type) == "f32[1, 1]"
    assert str(graph_of("return mean(x, axis = [1, -1])").outputs[0].type) == "f32[B]"


@pytest.mark.parametrize(
    ("expr", "fn"),
    [
        ("exp(x)", np.exp),
        ("log(abs(x))", lambda x: np.log(np.abs(x))),
        ("sqrt(abs(x))", lambda x: np.sqrt(np.abs(x))),
        ("square(x)", np.square),
        ("x |> abs", np.abs),
        ("stop_gradient(x)", lambda x: x),
        ("clip(x, -0.5, 0.5)", lambda x: np.clip(x, -0.5, 0.5)),
        ("clip(x, min = 0.0, max = 1.0)", lambda x: np.clip(x, 0.0, 1.0)),
        ("power(abs(x), x)", lambda x: np.power(np.abs(x), x)),
        ("maximum(x, -x)", lambda x: np.maximum(x, -x)),
        ("minimum(x, 0.0 * x)", lambda x: np.minimum(x, 0.0)),
        ("where(x > 0, x, 0.1 * x)", lambda x: np.where(x > 0, x, 0.1 * x)),
    ],
)
def test_elementwise_equal_numpy(expr: str, fn: Any) -> None:
    np.testing.assert_allclose(run(f"return {expr}"), fn(X), rtol=1e-5, atol=1e-6)


def test_stop_gradient_blocks_the_gradient() -> None:
    model = compile_graph(graph_of("return sum(square(x)) + sum(stop_gradient(square(x)))"))

    def f(x: jax.Array) -> jax.Array:
        return model.apply({}, {}, [x])[0][0]

    np.testing.assert_allclose(jax.grad(f)(X), 2 * X, rtol=1e-6)


def test_vae_kl_term() -> None:
    """The KL divergence of a VAE, as issue 15 writes it."""
    src = (
        "model M() {\n    input z_mean: f32[B, 4]\n    input log_var: f32[B, 4]\n"
        "    return mean(-0.5 * (1.0 + log_var - square(z_mean) - exp(log_var)))\n}\n"
    )
    result = check_source(src, "m.nn")
    assert not result.has_errors, render_plain(result.diagnostics)
    graph = result.graph("M")
    assert graph is not None and str(graph.outputs[0].type) == "f32[]"
    m, v = X[0], X[1]
    (out,), _ = compile_graph(graph).apply({}, {}, [m, v])
    np.testing.assert_allclose(out, np.mean(-0.5 * (1 + v - m**2 - np.exp(v))), rtol=1e-5)


def test_where_onnx_matches() -> None:
    graph = op_graph("where", {}, [(2, 3), (2, 3), (1, 3)], [DType.BOOL, DType.F32, DType.F32])
    assert str(graph.outputs[0].type) == "f32[B, 3]"
    assert_onnx_matches(graph, [random_inputs(graph, n, seed=n) for n in (2, 5)])


def test_reductions_onnx_match_in_a_model() -> None:
    graph = graph_of("return logsumexp(x, axis = 1) + mean(x, axis = 1) + sum(clip(x, 0.0, 1.0))")
    assert_onnx_matches(graph, [random_inputs(graph, 3, seed=1)])


@pytest.mark.parametrize(
    ("expr", "units"),
    [
        ("int(W * 1.5)", 15),
        ("int(5.9) - int(-2.7)", 7),  # toward zero
        ("round(W * 0.25)", 2),  # halves to even, as Python
        ("round(2.6)", 3),
        ("ceil(W / 3.0)", 4),
        ("floor(W / 3.0)", 3),
        ("int(W)", 10),
        ("max(8, round(W * 0.25))", 8),
        ("min(W, 4, 6)", 4),
        ("int(max(1.5, 2) * 4)", 8),
    ],
)
def test_static_int_functions(expr: str, units: int) -> None:
    src = f"const W = 10\nmodel M() {{\n    input x: f32[B, 2]\n    return x |> Dense({expr})\n}}\n"
    result = check_source(src, "m.nn")
    assert not result.has_errors, render_plain(result.diagnostics)
    graph = result.graph("M")
    assert graph is not None and graph.outputs[0].type.shape[-1].as_int() == units


def test_efficientnet_rounding_in_a_block() -> None:
    """`round_filters` / `round_repeats` of Keras's EfficientNet, written in the language."""
    src = """
block Stage(filters: int, repeats: int, width: float, depth: float) {
    input x: f32[B, C]
    f = max(8, int(filters * width + 4) / 8 * 8)
    h = x
    repeat ceil(depth * repeats) {
        h = h |> Dense(f)
    }
    return h
}
model M() {
    input x: f32[B, 4]
    return x |> Stage(40, 2, 1.1, 1.2)
}
"""
    result = check_source(src, "m.nn")
    assert not result.has_errors, render_plain(result.diagnostics)
    graph = result.graph("M")
    assert graph is not None
    assert graph.outputs[0].type.shape[-1].as_int() == 48  # round_filters(40, 1.1)
    assert sum(1 for n in graph.unrolled().nodes if n.op.name == "Dense") == 3  # ceil(1.2 * 2)


@pytest.mark.parametrize(
    ("expr", "code", "words"),
    [
        ('int("a")', "E0403", "`int` takes numbers, found a string"),
        ("int(1, 2)", "E0405", "`int` takes 1 number, but 2 were given"),
        ("round(x = 2.5)", "E0401", "`round` takes no named arguments"),
        ("ceil(x)", "E0403", "`ceil` takes numbers, found a tensor"),
        ("sum(x, axis = 3)", "E0203", "`axis` 3 is out of range"),
        ("mean(x, axis = [1, -1])", "E0203", "given twice"),
        ("where(x, x, x)", "E0301", "condition must be a `bool` tensor"),
        ("clip(x, 1.0, 0.0)", "E0404", "`max` 0.0 is below `min` 1.0"),
        ("exp(x > 0)", "E0301", "floating-point"),
    ],
)
def test_bad_calls_are_diagnostics(expr: str, code: str, words: str) -> None:
    src = f"model M() {{\n    input x: f32[B, 3]\n    y = {expr}\n    return x\n}}\n"
    result = check_source(src, "m.nn")
    errors = [d for d in result.diagnostics if d.is_error]
    assert errors, expr
    assert errors[0].code == code and words in errors[0].message, render_plain(errors)
    assert errors[0].primary.span.start >= src.index(expr)


@pytest.mark.parametrize(
    ("typo", "meant"), [("expp", "exp"), ("ceill", "ceil"), ("absolut", "abs")]
)
def test_suggestions(typo: str, meant: str) -> None:
    src = f"model M() {{\n    input x: f32[B, 3]\n    return {typo}(x)\n}}\n"
    result = check_source(src, "m.nn")
    assert meant in render_plain(result.diagnostics)


def test_dropout_noise_shape_drops_whole_examples() -> None:
    """Drop-connect as EfficientNet has it: one draw per example."""
    graph = graph_of("return x |> Dropout(0.5, noise_shape = [B, 1, 1])")
    model = compile_graph(graph)
    x = np.ones((64, 3, 4), np.float32)
    (out,), _ = model.apply({}, {}, [x], training=True, key=jax.random.key(0))
    per_example = np.asarray(out).reshape(64, -1)
    assert set(np.unique(per_example)) <= {0.0, 2.0}
    assert np.all(per_example.min(axis=1) == per_example.max(axis=1))  # all or nothing
    assert 10 < int((per_example[:, 0] == 0).sum()) < 54
    (same,), _ = model.apply({}, {}, [x])
    np.testing.assert_array_equal(same, x)  # identity at inference


@pytest.mark.parametrize(
    ("noise", "words"),
    [("[B, 1]", "has 2 entries"), ("[B, 2, 1]", "entry 1 is 2"), ("[7, 1, 1]", "entry 0 is 7")],
)
def test_dropout_noise_shape_diagnostics(noise: str, words: str) -> None:
    src = (
        "model M() {\n    input x: f32[B, 3, 4]\n"
        f"    return x |> Dropout(0.5, noise_shape = {noise})\n}}\n"
    )
    errors = [d for d in check_source(src, "m.nn").diagnostics if d.is_error]
    assert errors and words in errors[0].message, render_plain(errors)
    assert errors[0].primary.span.start == src.index(noise) or errors[
        0
    ].primary.span.start >= src.index("Dropout")


def test_power_operator_on_tensors_and_numbers() -> None:
    np.testing.assert_allclose(run("return x ** 2 - -x ** 2"), 2 * X**2, rtol=1e-6)
    np.testing.assert_allclose(run("return abs(x) ** 0.5"), np.abs(X) ** 0.5, rtol=1e-6)
    src = "const D = 2 ** 3\nmodel M() {\n    input x: f32[B, 2]\n"
    src += "    return x |> Dense(D + int(10 ** 0.5) + int(2 ** -1 * 4.0) + 2 ** 2 ** 2)\n}\n"
    result = check_source(src, "m.nn")
    assert not result.has_errors, render_plain(result.diagnostics)
    graph = result.graph("M")
    assert graph is not None and graph.outputs[0].type.shape[-1].as_int() == 8 + 3 + 2 + 16


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ("-x**2", "-x ** 2"),
        ("(-x)**2", "(-x) ** 2"),
        ("(a**b)**c", "(a ** b) ** c"),
        ("a**b**c", "a ** b ** c"),
        ("a*b**-1", "a * b ** -1"),
        ("(-2)**2", "(-2) ** 2"),
    ],
)
def test_power_prints_as_it_parses(text: str, printed: str) -> None:
    from nndsl.syntax.printer import format_source

    out = format_source(f"const c = {text}\n")
    assert out == f"const c = {printed}\n"


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("0.0 ** -1", "cannot be computed"),
        ("(-8.0) ** 0.5", "not a real number"),
        ("10 ** 30", "over 2^63 - 1"),
    ],
)
def test_power_of_numbers_diagnostics(expr: str, words: str) -> None:
    src = f"const c = {expr}\nmodel M() {{\n    input x: f32[B, 3]\n    return x\n}}\n"
    errors = [d for d in check_source(src, "m.nn").diagnostics if d.is_error]
    assert errors and words in errors[0].message, render_plain(errors)
    assert src.index(expr) <= errors[0].primary.span.start < src.index("\n")
