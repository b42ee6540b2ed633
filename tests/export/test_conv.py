"""ONNX export of the convolutions against JAX: every layout, padding, stride, dilation and
group count that changes the emitted `Conv`/`ConvTranspose` attributes or the kernel layout."""

from __future__ import annotations

from typing import Any

import pytest

from nndsl.backend.onnx import check_exportable
from nndsl.frontend import check_source
from nndsl.ops import ShapeError
from nndsl.ops.spec import ArgError
from tests.backend.graphs import GraphMaker, spec, tensor, with_defaults
from tests.backend.test_shapes import Case
from tests.export.harness import assert_onnx_matches, op_graph, random_inputs


def check_case(name: str, case: Case) -> bool:
    """Export one of `test_shapes`'s cases and compare with JAX (one batch size: the explicit
    cases try several); False when the spec rejects the case."""
    attrs, shapes = case
    op = spec(name)
    try:
        op.validate(with_defaults(op, attrs))
        graph = op_graph(name, attrs, shapes)
    except (ArgError, ShapeError):
        return False
    assert_onnx_matches(graph, random_inputs(graph, shapes[0][0]))
    return True


NAMES = [
    *(f"Conv{n}D" for n in (1, 2, 3)),
    *(f"Conv{n}DTranspose" for n in (1, 2, 3)),
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "SeparableConv1D",
    "SeparableConv2D",
]

FIRST = {"data_format": "channels_first"}

EXPLICIT: list[tuple[str, dict[str, Any], tuple[int, ...]]] = [
    ("Conv1D", {"filters": 4, "kernel_size": 3, "padding": "causal"}, (2, 9, 3)),
    (
        "Conv1D",
        {"filters": 4, "kernel_size": 3, "padding": "causal", "dilation_rate": 2},
        (2, 9, 3),
    ),
    ("Conv1D", {"filters": 4, "kernel_size": 4, "padding": "same", "strides": 3}, (2, 10, 2)),
    ("Conv1D", {"filters": 4, "kernel_size": 2, "groups": 2, **FIRST}, (2, 4, 6)),
    ("Conv2D", {"filters": 6, "kernel_size": 3, "padding": "same", "strides": 2}, (2, 7, 8, 3)),
    ("Conv2D", {"filters": 6, "kernel_size": (2, 3), "groups": 3, "use_bias": False}, (2, 5, 6, 3)),
    (
        "Conv2D",
        {"filters": 4, "kernel_size": 3, "dilation_rate": 2, "padding": "same"},
        (1, 7, 7, 2),
    ),
    ("Conv2D", {"filters": 4, "kernel_size": 3, "activation": "softmax", **FIRST}, (2, 3, 5, 5)),
    ("Conv2D", {"filters": 4, "kernel_size": 3, "activation": "relu"}, (2, 5, 5, 3)),
    ("Conv3D", {"filters": 4, "kernel_size": 2, "strides": 2, "padding": "same"}, (2, 5, 4, 3, 2)),
    ("Conv3D", {"filters": 4, "kernel_size": (1, 2, 3), "groups": 2, **FIRST}, (2, 4, 3, 4, 5)),
    ("Conv1DTranspose", {"filters": 3, "kernel_size": 3, "strides": 2}, (2, 5, 4)),
    ("Conv1DTranspose", {"filters": 3, "kernel_size": 1, "strides": 3}, (2, 5, 4)),
    (
        "Conv1DTranspose",
        {"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same"},
        (2, 5, 2),
    ),
    ("Conv1DTranspose", {"filters": 3, "kernel_size": 3, "dilation_rate": 2}, (2, 5, 2)),
    (
        "Conv1DTranspose",
        {"filters": 3, "kernel_size": 3, "strides": 3, "padding": "same", "output_padding": 1},
        (2, 5, 2),
    ),
    (
        "Conv2DTranspose",
        {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same", **FIRST},
        (2, 2, 4, 5),
    ),
    (
        "Conv2DTranspose",
        {"filters": 3, "kernel_size": (2, 3), "strides": (2, 3), "output_padding": (1, 2)},
        (2, 4, 3, 2),
    ),
    ("Conv3DTranspose", {"filters": 2, "kernel_size": 2, "strides": 2}, (1, 3, 2, 3, 2)),
    ("DepthwiseConv1D", {"kernel_size": 3, "depth_multiplier": 2, "padding": "same"}, (2, 7, 3)),
    ("DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 2, "strides": 2}, (2, 7, 6, 3)),
    ("DepthwiseConv2D", {"kernel_size": 3, "dilation_rate": 2, **FIRST}, (2, 3, 7, 6)),
    (
        "SeparableConv1D",
        {"filters": 4, "kernel_size": 3, "depth_multiplier": 2, "padding": "same", **FIRST},
        (2, 3, 7),
    ),
    (
        "SeparableConv2D",
        {"filters": 5, "kernel_size": 3, "strides": 2, "activation": "tanh"},
        (2, 7, 6, 3),
    ),
]


@pytest.mark.parametrize(("name", "attrs", "shape"), EXPLICIT, ids=lambda v: str(v))
def test_conv_matches_jax(name: str, attrs: dict[str, Any], shape: tuple[int, ...]) -> None:
    graph = op_graph(name, attrs, [shape])
    assert_onnx_matches(graph, [random_inputs(graph, b, seed=b) for b in (1, shape[0] + 1)])


@pytest.mark.parametrize(
    ("name", "attrs"),
    [
        ("Conv1D", {"filters": 3, "kernel_size": 3, "padding": "causal", "dilation_rate": 2}),
        ("Conv1D", {"filters": 3, "kernel_size": 4, "padding": "same"}),
        ("Conv1D", {"filters": 3, "kernel_size": 3, "padding": "same", "strides": 2}),
        ("SeparableConv1D", {"filters": 3, "kernel_size": 3, "padding": "same", "strides": 3}),
        ("Conv1DTranspose", {"filters": 3, "kernel_size": 3, "padding": "same", "strides": 2}),
    ],
    ids=str,
)
def test_symbolic_length_stays_dynamic(name: str, attrs: dict[str, Any]) -> None:
    """`[B, T, C]`: "same" with a stride falls back to ONNX's SAME_UPPER (Keras's split)."""
    g = GraphMaker("Op")
    graph = g.output("y", g.op(name, g.input("x0", tensor("B", "T", 2)), **attrs))
    feeds = [random_inputs(graph, b, seed=t, T=t) for b, t in ((1, 1), (2, 6), (3, 7), (2, 10))]
    assert_onnx_matches(graph, feeds)


SOURCE = """
model Image() {
    input image: f32[B, 12, 10, 3]
    h = image |> ZeroPadding2D([[1, 0], [2, 2]])
    h = h |> Conv2D(8, 3, strides = 2, padding = "same", activation = "relu")
    h = h |> DepthwiseConv2D(3, depth_multiplier = 2, padding = "same")
    h = h |> SeparableConv2D(6, [3, 2])
    h = h |> Conv2DTranspose(4, 3, strides = 2, padding = "same") |> Cropping2D([[1, 1], [0, 2]])
    h = h |> AvgPool2D(3, strides = 2, padding = "same")
    h = h |> UpSampling2D(2, interpolation = "bilinear") |> MaxPool2D(2)
    return h |> Permute([3, 1, 2]) |> Reshape([-1, 2]) |> Flatten()
}

model Sequence() {
    input seq: f32[B, T, 4]
    s = seq |> Conv1D(5, 3, padding = "causal", dilation_rate = 2)
    return s |> MaxPool1D(3, strides = 2, padding = "same") |> GlobalAvgPool1D()
}
"""


@pytest.mark.parametrize("model", ["Image", "Sequence"])
def test_checked_source_exports(model: str) -> None:
    """Layers chained in a `.nn` file, with the checker's attrs (not the tests' own)."""
    result = check_source(SOURCE)
    assert result.errors == []
    graph = result.graph(model)
    assert graph is not None
    assert check_exportable(graph) == []  # the same lowerings on placeholder weights
    assert_onnx_matches(graph, [random_inputs(graph, b, seed=t, T=t) for b, t in ((1, 5), (3, 9))])
