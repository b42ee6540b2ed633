"""Every example and every stdlib model (at a small configuration) exports to ONNX, passes
`onnx.checker` with `full_check`, and ONNX Runtime equals nndsl's JAX outputs within 1e-5 at
batch sizes 1, 3 and 64 — and at two sequence lengths for the sequence models."""

from __future__ import annotations

from pathlib import Path

import pytest

from nndsl.frontend import check_file
from nndsl.ir import Graph
from tests.cli import ROOT
from tests.export.harness import assert_onnx_matches, random_inputs
from tests.stdlib.support import probe

EXAMPLES = sorted((ROOT / "examples").glob("*.nn"))
IMAGE = "f32[B, {size}, {size}, 3]"
BATCHES = (1, 3, 64)

# (stdlib module, model, input type, small arguments)
STDLIB: list[tuple[str, str, str, dict[str, object]]] = [
    ("resnet", "ResNet18", IMAGE.format(size=32), {"classes": 3, "size": 32, "width": 4}),
    ("resnet", "ResNet34", IMAGE.format(size=32), {"classes": 3, "size": 32, "width": 2}),
    ("resnet", "ResNet50", IMAGE.format(size=32), {"classes": 3, "size": 32, "width": 4}),
    (
        "vgg",
        "VGG16",
        IMAGE.format(size=32),
        {"classes": 3, "size": 32, "width": 2, "hidden": 8},
    ),
    (
        "vgg",
        "VGG19",
        IMAGE.format(size=32),
        {"classes": 3, "size": 32, "width": 2, "hidden": 8},
    ),
    (
        "mobilenet",
        "MobileNetV2",
        IMAGE.format(size=32),
        {"classes": 3, "size": 32, "alpha_percent": 35},
    ),
    ("densenet", "DenseNet121", IMAGE.format(size=32), {"classes": 3, "size": 32}),
    ("unet", "UNet", IMAGE.format(size=32), {"classes": 2, "size": 32, "width": 4}),
    (
        "transformer",
        "TransformerClassifier",
        "i32[B, {length}]",
        {"vocab": 50, "dim": 8, "heads": 2, "ff_dim": 8, "depth": 2, "hidden": 6},
    ),
    (
        "lstm",
        "LSTMClassifier",
        "i32[B, {length}]",
        {"vocab": 50, "dim": 8, "units": 6, "depth": 2, "bidirectional": True},
    ),
]


def _feeds(graph: Graph) -> list[dict[str, object]]:
    """64 rows (ONNX Runtime also runs the first 1 and 3), at two lengths when the graph has a
    symbolic one."""
    symbols = {d.as_symbol() for i in graph.inputs for d in i.type.shape} - {None, "B"}
    lengths = (4, 9) if symbols else (None,)
    return [
        random_inputs(graph, 64, seed=n or 0, **{str(s): n for s in symbols if n is not None})
        for n in lengths
    ]  # type: ignore[misc]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_exports_and_matches(path: Path) -> None:
    result = check_file(path)
    assert not result.has_errors
    graphs = {g.name: g for g in result.program.graphs.values()} if result.program else {}
    graph = result.graph()
    if graph is not None:
        graphs[graph.name] = graph
    assert graphs
    for g in graphs.values():
        assert_onnx_matches(g, _feeds(g), batches=BATCHES)  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("module", "model", "input_type", "args"), STDLIB, ids=[m for _, m, _, _ in STDLIB]
)
def test_stdlib_model_exports_and_matches(
    module: str, model: str, input_type: str, args: dict[str, object]
) -> None:
    # the stdlib's sequence models fix their length (`maxlen`): two lengths, two exports
    lengths = (7, 12) if "{length}" in input_type else (None,)
    for length in lengths:
        extra = {"maxlen": length} if length is not None else {}
        graph = probe(module, model, input_type.format(length=length), **args, **extra)
        assert_onnx_matches(graph, _feeds(graph), batches=BATCHES)  # type: ignore[arg-type]
