"""Forward FLOPs from the ops' rules (issue 17): known layer counts by hand, ResNet-50 from the
stdlib, repeats counted arithmetically, symbolic dims, and the list of ops with no rule.

The convention (`nndsl.ops.flops`): one forward pass in inference mode, per example (batch 1),
a multiply-add counts 2. No JAX here: `tests/backend/test_flops_xla.py` compares with XLA."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nndsl.frontend import check_source
from nndsl.ir import Graph, flops, graph_flops
from nndsl.ir.flops import FlopCount, data_sizes, readable_flops
from nndsl.ir.summary import summarize
from nndsl.ops import OpKind, iter_specs
from nndsl.shapes import Dim
from tests.frontend.test_reference import SPECS, _program

ROOT = Path(__file__).resolve().parents[2]
GRAPH_KINDS = (OpKind.LAYER, OpKind.FUNCTION, OpKind.OPERATOR)

# Graph ops with no FLOPs rule: they count 0 and `nnrun summary` names them ("not counted").
# Adding a rule to one of them means taking it off this list.
NOT_COUNTED = {
    "sample_normal": "draws random numbers: no arithmetic convention",
    "sample_uniform": "draws random numbers",
    "random_categorical": "draws random numbers",
    "add_loss": "adds a term to the training loss, not to the forward pass",
    "Resizing": "interpolation cost depends on the method and crop/pad options",
    "CategoryEncoding": "counting ids, not floating-point arithmetic",
    "Discretization": "a search per element, not arithmetic",
}


def _graph(src: str, model: str = "M") -> Graph:
    result = check_source(src, str(ROOT / "m.nn"))
    assert not result.has_errors, [d.message for d in result.diagnostics]
    graph = result.graph(model)
    assert graph is not None
    return graph


def _one(layer: str, shape: str = "[B, 784]", dtype: str = "f32") -> int | None:
    return flops(_graph(f"model M() {{\n input x: {dtype}{shape}\n return x |> {layer}\n}}\n"))


def test_every_graph_op_has_a_rule_or_is_listed_as_not_counted() -> None:
    graph_ops = {s.name for s in iter_specs() if s.kind in GRAPH_KINDS}
    missing = {s.name for s in iter_specs() if s.kind in GRAPH_KINDS and not s.counts_flops()}
    assert missing == set(NOT_COUNTED)
    assert set(NOT_COUNTED) <= graph_ops
    assert not any(s.counts_flops() for s in iter_specs() if s.kind not in GRAPH_KINDS)


@pytest.mark.parametrize(
    "spec",
    [s for s in SPECS if s.kind in GRAPH_KINDS and s.name != "constant"],
    ids=lambda s: s.name,
)
def test_every_rule_runs_on_its_example(spec: object) -> None:
    """Each op's documented example, counted: a whole number, or a polynomial with no batch."""
    graph = _graph(_program(spec))  # type: ignore[arg-type]
    count = graph_flops(graph)
    assert count.known >= 0 and not count.overflow
    assert "B" not in count.symbols
    assert (spec.name in count.not_counted) == (spec.name in NOT_COUNTED)  # type: ignore[attr-defined]


def test_dense_is_two_flops_per_multiply_add() -> None:
    assert _one("Dense(128, use_bias = false)") == 2 * 784 * 128
    assert _one("Dense(128)") == 2 * 784 * 128 + 128  # the bias: one add per output
    assert _one('Dense(128, activation = "relu")') == 2 * 784 * 128 + 2 * 128
    assert _one('Dense(10, activation = "softmax")') == 2 * 784 * 10 + 10 + 5 * 10
    # over a sequence, every position: `[B, 7, 784]`
    assert _one("Dense(128)", "[B, 7, 784]") == 7 * (2 * 784 * 128 + 128)


def test_einsum_dense_and_matmul() -> None:
    assert _one('EinsumDense("abc,cd->abd", [10, 32], bias_axes = "d")', "[B, 10, 16]") == (
        10 * 32 * (2 * 16 + 1)
    )
    graph = _graph("model M() {\n input a: f32[B, 5, 6]\n input w: f32[6, 7]\n return a @ w\n}\n")
    assert flops(graph) == 2 * 5 * 6 * 7


def test_convolutions() -> None:
    img = "[B, 32, 32, 16]"
    out = 30 * 30 * 8
    assert _one("Conv2D(8, 3, use_bias = false)", img) == 2 * out * 9 * 16
    assert _one("Conv2D(8, 3, groups = 4, use_bias = false)", img) == 2 * out * 9 * 4
    same = 32 * 32 * 8  # "same" counts the padding cells, as the usual convention does
    assert _one('Conv2D(8, 3, padding = "same")', img) == 2 * same * 9 * 16 + same
    assert _one("Conv1D(8, 5, use_bias = false)", "[B, 20, 3]") == 2 * 16 * 8 * 5 * 3
    assert _one("Conv3D(2, 3, use_bias = false)", "[B, 5, 5, 5, 3]") == 2 * 27 * 2 * 27 * 3
    # depthwise: each output channel reads one input channel
    assert _one("DepthwiseConv2D(3, depth_multiplier = 2, use_bias = false)", img) == (
        2 * 30 * 30 * 32 * 9
    )
    # separable: the depthwise step, then the pointwise 1x1
    sep = 2 * 30 * 30 * 16 * 9 + 2 * 30 * 30 * 16 * 8
    assert _one("SeparableConv2D(8, 3, use_bias = false)", img) == sep
    # transposed: each input element spreads over window * filters outputs
    assert _one("Conv2DTranspose(8, 3, strides = 2, use_bias = false)", img) == (
        2 * 32 * 32 * 16 * 9 * 8
    )


def test_attention_counts_projections_scores_and_values() -> None:
    src = (
        "model M() {\n input q: f32[B, 10, 32]\n input v: f32[B, 12, 16]\n"
        " return MultiHeadAttention(4, 8)(q, v)\n}\n"
    )
    h, k, t, s = 4, 8, 10, 12
    projections = 2 * t * 32 * h * k + 2 * s * 16 * h * k * 2 + 2 * t * h * k * 32
    biases = t * h * k + 2 * s * h * k + t * 32
    scores = h * t * s
    assert flops(_graph(src)) == projections + biases + scores * (2 * k + 5 + 2 * k)


def test_recurrent_layers_are_per_step_times_steps() -> None:
    f, u, t = 16, 32, 10
    lstm = (f + u) * 4 * u * 2 + 4 * u + 4 * u + 9 * u  # products, their sum, bias, cell
    assert _one("LSTM(32)", f"[B, {t}, {f}]") == t * lstm
    gru = (f + u) * 3 * u * 2 + 3 * u + 6 * u + 8 * u  # reset_after: two biases
    assert _one("GRU(32)", f"[B, {t}, {f}]") == t * gru
    rnn = (f + u) * u * 2 + u + u + u
    assert _one("SimpleRNN(32)", f"[B, {t}, {f}]") == t * rnn
    assert _one("Bidirectional(LSTM(32))", f"[B, {t}, {f}]") == 2 * t * lstm


def test_elementwise_pooling_and_norms() -> None:
    assert _one("relu", "[B, 8, 8, 4]") == 256
    assert _one("Flatten()", "[B, 8, 8, 4]") == 0
    assert _one("Embedding(100, 8)", "[B, 20]", "i32") == 0
    assert _one("MaxPooling2D(2)", "[B, 8, 8, 4]") == 3 * 4 * 4 * 4  # window - 1 compares
    assert _one("GlobalAveragePooling2D()", "[B, 8, 8, 4]") == 256
    assert _one("BatchNormalization()", "[B, 8, 8, 4]") == 2 * 256  # folded: scale, shift
    assert _one("LayerNormalization()", "[B, 8, 8, 4]") == 8 * 256
    assert _one("Dropout(0.5)", "[B, 8, 8, 4]") == 0  # inference


def test_symbolic_dims_stay_a_polynomial_until_given() -> None:
    graph = _graph("model M() {\n input t: f32[B, T, 16]\n return t |> Dense(4)\n}\n")
    count = graph_flops(graph)
    assert count.total is None and count.symbols == ("T",)
    assert count.symbolic == Dim.sym("T") * (2 * 16 * 4 + 4)
    assert count.text() == "132*T"
    assert flops(graph, {"T": 50}) == 50 * 132
    assert flops(graph, {"T": 50, "B": 32}) == 32 * 50 * 132  # a whole batch, when asked


TEXT = """
model Seq() {
    input t: i32[B, T]
    return t |> Embedding(100, 8) |> LSTM(16) |> Dense(2)
}
data reviews = text_folder("reviews", max_tokens = 100, output_sequence_length = 12)
train Seq on reviews {
    loss = cross_entropy(from_logits = true)
    optimizer = adam
}
"""


def test_the_data_declaration_fixes_a_length() -> None:
    result = check_source(TEXT, str(ROOT / "m.nn"))
    assert result.program is not None and result.program.train is not None
    train = result.program.train
    assert data_sizes(train) == {"T": 12}
    step = (8 + 16) * 64 * 2 + 64 + 64 + 9 * 16
    assert flops(train.graph, data_sizes(train)) == 12 * step + 2 * 16 * 2 + 2


REPEAT = """
block Res(width: int) {{
    input x: f32[B, width]
    h = x |> Dense(width, activation = "relu")
    return x + (h |> Dense(width))
}}
model M() {{
    input x: f32[B, 64]
    return x |> repeat {n} Res(64)
}}
"""


def test_a_repeat_counts_its_body_times_its_count_instantly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NNDSL_MAX_PARAMS", str(10**15))  # 10**9 copies of 8,320 parameters
    per_copy = (2 * 64 * 64 + 64 + 64) + (2 * 64 * 64 + 64) + 64
    assert flops(_graph(REPEAT.format(n=3))) == 3 * per_copy
    big = 10**9
    start = time.perf_counter()
    graph = _graph(REPEAT.format(n=big))
    total = flops(graph)
    assert time.perf_counter() - start < 5  # checking included; counting is one body
    assert total == big * per_copy and isinstance(total, int)
    [row] = [r for r in summarize(graph).rows if r.type.startswith("Res")]
    assert row.flops is not None and row.flops.total == big * per_copy
    # the sum of 10**9 copies of a symbolic body overflows no integer: Python's ints
    assert FlopCount(known=2**62).times(10**9).total == 2**62 * 10**9


def test_summary_rows_add_up_to_the_total() -> None:
    graph = _graph(REPEAT.format(n=4))
    summary = summarize(graph)
    rows = [r.flops.known for r in summary.rows if r.flops is not None]
    assert sum(rows) == summary.flops.total == flops(graph)
    expanded = summarize(graph, expand=True)
    assert sum(r.flops.known for r in expanded.rows if r.flops is not None) == flops(graph)


def test_resnet50_is_3_86_giga_multiply_adds() -> None:
    """Keras's ResNet-50 (v1: the stride on the first 1x1 conv of a block) at 224x224: the
    convolutions are 3.858 G multiply-adds (the paper's "3.8 x 10^9 FLOPs"; torchvision's
    v1.5 puts the stride on the 3x3 conv and has 4.09 G). With batch norm, ReLUs, the adds,
    pooling and the classifier, 7.764 G FLOPs per image."""
    src = (
        "import std.resnet\nmodel M() {\n input image: f32[B, 224, 224, 3]\n"
        " return image |> ResNet50(classes = 1000)\n}\n"
    )
    graph = _graph(src)
    summary = summarize(graph)
    assert summary.flops.total == flops(graph) == 7_764_021_104
    assert readable_flops(7_764_021_104) == "7.76 G"
    by_op = _by_op(graph)
    assert by_op["Conv2D"] == 7_722_437_632  # 2 * 3.858 G + the biases
    assert 3.85e9 < (by_op["Conv2D"] - _conv_bias_adds(graph)) / 2 < 3.87e9


# Published multiply-adds (G) of the convolutions and matrix products at 224x224: the papers
# and torchvision's tables (ResNet-50 v1 as Keras builds it, see above).
PUBLISHED_GMACS = {
    ("resnet", "ResNet18"): 1.82,
    ("resnet", "ResNet34"): 3.67,
    ("resnet", "ResNet50"): 3.86,
    ("vgg", "VGG16"): 15.47,
    ("mobilenet", "MobileNetV2"): 0.300,
    ("efficientnet", "EfficientNetB0"): 0.39,
    ("densenet", "DenseNet121"): 2.87,
}
PRODUCTS = ("Conv2D", "DepthwiseConv2D", "Dense")


@pytest.mark.parametrize(("module", "model"), list(PUBLISHED_GMACS), ids=lambda v: str(v))
def test_stdlib_models_match_published_multiply_adds(module: str, model: str) -> None:
    result = check_source((ROOT / "stdlib" / f"{module}.nn").read_text(), str(ROOT / "z.nn"))
    assert result.program is not None
    graph = result.program.graphs[model]
    products = sum(v for k, v in _by_op(graph).items() if k in PRODUCTS)
    assert products / 2 / 1e9 == pytest.approx(PUBLISHED_GMACS[module, model], rel=0.02)
    total = flops(graph)  # plus batch norm, activations, pooling: a few per cent
    assert total is not None and products <= total < 1.05 * products


def _by_op(graph: Graph) -> dict[str, int]:
    from nndsl.ir.flops import bindings, node_flops

    mapping = bindings(graph)
    out: dict[str, int] = {}

    def walk(g: Graph, times: int) -> None:
        for node in g.nodes:
            if node.repeat is not None:
                walk(node.repeat.body, times * node.repeat.count)
                continue
            out[node.op.name] = (
                out.get(node.op.name, 0) + node_flops(g, node, mapping).known * times
            )

    walk(graph, 1)
    return out


def _conv_bias_adds(graph: Graph) -> int:
    total = 0

    def walk(g: Graph, times: int) -> None:
        nonlocal total
        for node in g.nodes:
            if node.repeat is not None:
                walk(node.repeat.body, times * node.repeat.count)
            elif node.op.name == "Conv2D" and node.attrs["use_bias"]:
                total += node.type.subst({"B": Dim.const(1)}).numel().as_int() * times  # type: ignore[operator]

    walk(graph, 1)
    return total


def test_readable_flops() -> None:
    assert [readable_flops(n) for n in (999, 1000, 1_820_000_000, 10**18)] == [
        "999",
        "1.00 K",
        "1.82 G",
        "1.00 E",
    ]


def test_the_total_line_of_every_kind_of_count() -> None:
    """`FlopCount.line`, which `nnrun summary` and the REPL's `:summary` both print."""

    def hint(symbol: str) -> str:
        return f"set {symbol}"

    assert FlopCount(known=999).line(hint) == "999"
    assert FlopCount(known=7_785_396_080).line(hint) == "7,785,396,080 (7.79 G)"
    symbolic = FlopCount(known=66, symbolic=Dim.sym("T") * 13092, not_counted=("sample_normal",))
    assert symbolic.line(hint) == "13092*T + 66 (set T); not counted: sample_normal"
    assert FlopCount(overflow=True).line(hint) == "? (over 2^63 while symbolic)"
