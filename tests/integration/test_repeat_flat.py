"""A repeated layer (`x |> repeat 4 Dense(8)`) and `repeat N { ... }` as one IR node (issue
17), like a repeated block: checked once when a copy carries one tensor to the same type, its
copies still named (and their weights saved) as when they were unrolled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndsl.backend.jax.compile import compile_graph
from nndsl.backend.jax.repeat import LOWERING_ENV
from nndsl.check.builder import GraphBuilder
from nndsl.frontend import check_file, check_source
from nndsl.ir import Graph
from nndsl.ir.summary import summarize
from nndsl.runtime.checkpoint import load_weights
from tests.integration.node_count import counting_nodes

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "old_flat_repeat"
RTOL, ATOL = 1e-5, 1e-6

FLAT = """
block Res(width: int) {{
    input x: f32[B, width]
    return x + (x |> Dense(width))
}}
model M(depth: int = {depth}) {{
    input x: f32[B, 3]
    h = x |> Dense(4)
    h = h |> repeat depth Dense(4, activation = "tanh")
    repeat depth {{
        t = h |> Dense(4) |> BatchNorm() |> Dropout(0.25)
        h = h + t |> Res(4)
    }}
    return h |> Dense(2)
}}
"""


def _check(text: str) -> Graph:
    result = check_source(text, "flat.nn")
    assert not result.has_errors, [d.message for d in result.diagnostics]
    assert result.program is not None
    return result.program.graphs["M"]


def _repeats(graph: Graph) -> list[tuple[str, int]]:
    return [(n.path, n.repeat.count) for n in graph.nodes if n.repeat is not None]


def test_both_forms_are_one_node_with_the_copies_paths() -> None:
    graph = _check(FLAT.format(depth=3))
    assert _repeats(graph) == [("dense_1", 3), ("dense_4", 3)]
    paths = [f"{n.path}/{w.name}" for n, w in graph.weights()]
    # what the unrolled copies were named (d1418ae): numbered on at the model's top level
    assert paths[:8] == [
        f"dense{s}/{w}" for s in ("", "_1", "_2", "_3") for w in ("kernel", "bias")
    ]
    assert paths[8:16] == [
        "dense_4/kernel",
        "dense_4/bias",
        "batch_normalization/gamma",
        "batch_normalization/beta",
        "batch_normalization/moving_mean",
        "batch_normalization/moving_variance",
        "res/dense/kernel",
        "res/dense/bias",
    ]
    assert "dense_6/kernel" in paths and "res_2/dense/kernel" in paths
    assert "batch_normalization_2/gamma" in paths and paths[-2:] == [
        "dense_7/kernel",
        "dense_7/bias",
    ]
    unrolled = graph.unrolled()
    assert not unrolled.has_repeats and len(unrolled.nodes) == graph.node_total()
    assert [f"{n.path}/{w.name}" for n, w in unrolled.weights()] == paths
    assert unrolled.param_counts() == graph.param_counts()
    assert [n.scope for n in unrolled.nodes if n.path.startswith("res_1/")] == [("M", "res_1")] * 2


def test_checking_does_not_grow_with_the_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nodes the checker builds, for both forms: as many for 10**9 copies as for 8."""
    calls = counting_nodes(monkeypatch)
    monkeypatch.setenv("NNDSL_MAX_PARAMS", str(10**12))
    built = []
    for depth in (8, 64, 10**6, 10**9):
        calls[0] = 0
        graph = _check(FLAT.format(depth=depth))
        built.append(calls[0])
        assert _repeats(graph) == [("dense_1", depth), (f"dense_{depth + 1}", depth)]
        assert graph.param_counts()[0] > depth * 40
    assert built[0] == built[1] == built[2] == built[3]
    monkeypatch.delenv("NNDSL_MAX_PARAMS")
    diags = check_source(FLAT.format(depth=10**12), "flat.nn").diagnostics
    assert [d.code for d in diags] == ["E0818"]


def test_names_after_the_body_and_what_stays_copied() -> None:
    """Each round sees the names the last one bound, and after the repeat they hold the last
    round's values: a tensor made inside and read after it keeps the copies."""
    head = "model M() {\n    input x: f32[B, 4]\n    h = x\n"

    def repeats(body: str) -> list[tuple[str, int]]:
        return _repeats(_check(head + body + "}\n"))

    assert repeats("    repeat 3 { k = 4; h = h |> Dense(k) }\n    return h |> Dense(k)\n") == [
        ("dense", 3)
    ]
    # `y` (made in the last round) is read after the repeat
    assert repeats("    repeat 3 { y = h |> Dense(4); h = y }\n    return h + y\n") == []
    # the body reads `x` too, and `h` starts as the same tensor: each round reads both
    assert repeats("    repeat 3 { h = h + (x |> Dense(4)) }\n    return h\n") == []
    assert (
        _repeats(
            _check("model M() {\n    input x: f32[B, 4]\n    return x |> repeat 3 add(x)\n}\n")
        )
        == []
    )
    # two tensors carried
    assert (
        repeats("    g = x\n    repeat 3 { h = g |> Dense(4); g = h |> relu }\n    return h + g\n")
        == []
    )
    # the first round changes the type, the others are one node
    text = "model M() {\n    input x: f32[B, 3]\n    h = x\n"
    graph = _check(text + "    repeat 4 { h = h |> Dense(8) |> relu }\n    return h\n}\n")
    assert _repeats(graph) == [("dense_1", 3)]
    graph = _check("model M() {\n    input x: f32[B, 3]\n    return x |> repeat 4 Dense(8)\n}\n")
    assert _repeats(graph) == [("dense_1", 3)]
    # nested: one node inside another
    graph = _check(head + "    repeat 10 { repeat 10 { h = h |> Dense(4) } }\n    return h\n}\n")
    assert _repeats(graph) == [("dense", 10)] and graph.node_total() == 100
    assert [n.path for n in graph.unrolled().nodes] == [
        "dense" if i == 0 else f"dense_{i}" for i in range(100)
    ]


NESTED = """
block L() {
    input x: f32[B, 4]
    h = x
    repeat 2 { h = h |> Dense(4) }
    return h
}
model M() {
    input x: f32[B, 4]
    h = x
    repeat 2 { repeat 2 { h = h |> repeat 2 Dense(4) }; h = h |> BatchNorm() |> L() }
    return h
}
"""


def test_nested_flat_repeats_number_on_as_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Repeats inside a repeat's body, beside it or inside a block there: each copy's names
    are those of the unrolled copies (as d1418ae named them), and both lowerings agree."""
    graph = _check(NESTED)
    assert _repeats(graph) == [("dense", 2)]
    nodes = graph.unrolled().nodes
    assert [n.path for n in nodes if n.weights] == [
        "dense",
        "dense_1",
        "dense_2",
        "dense_3",
        "batch_normalization",
        "l/dense",
        "l/dense_1",
        "dense_4",
        "dense_5",
        "dense_6",
        "dense_7",
        "batch_normalization_1",
        "l_1/dense",
        "l_1/dense_1",
    ]
    assert [f"{n.path}/{w.name}" for n, w in graph.weights()] == [
        f"{n.path}/{w.name}" for n in nodes for w in n.weights
    ]
    scanned = _run(graph, "scan", monkeypatch)
    unrolled = _run(graph, "unroll", monkeypatch)
    # a bias right before a BatchNorm has a zero gradient in exact arithmetic: float32 noise
    # around 1e-6 there, scanned or not
    for a, b in zip(jax.tree.leaves(scanned), jax.tree.leaves(unrolled), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=RTOL, atol=1e-5)


@pytest.mark.parametrize(
    "body",
    [
        "    repeat 0 { t = h |> Dense(4); h = t }\n    return t\n",
        "    repeat 0 - 1 { h = h |> Dense(4) }\n    return h\n",
        "    repeat 2.5 { h = h |> Dense(4) }\n    return h\n",
        "    repeat 3 { h = h |> Dense(4) |> Reshape([2, 2]) }\n    return h\n",
        "    repeat 3 { h = h |> Dense(4) |> nope }\n    return h\n",
        "    repeat 3 { h = h |> Dense(4); return h }\n",
        "    repeat 3 { input y: f32[B, 4]; h = h + y }\n    return h\n",
        "    repeat 100000 { h = h |> Dense(4) |> Reshape([2, 2]) }\n    return h\n",
        "    return h |> repeat 3 Dense(4, bogus = 1)\n",
        "    return h |> repeat (0 - 3) Dense(4)\n",
    ],
)
def test_broken_bodies_are_diagnostics(body: str) -> None:
    text = "model M() {\n    input x: f32[B, 4]\n    h = x\n" + body + "}\n"
    result = check_source(text, "broken.nn")
    codes = [d.code for d in result.diagnostics]
    assert "E9999" not in codes
    assert any(d.is_error for d in result.diagnostics), codes
    for d in result.diagnostics:
        assert len(text) >= d.primary.span.end >= d.primary.span.start >= 0


def test_summary_collapses_and_expands() -> None:
    graph = _check(FLAT.format(depth=64))
    rows = summarize(graph).rows
    assert [(r.name, r.type) for r in rows if "\u00d7" in r.type] == [
        ("dense_1 … dense_64", "Dense \u00d7 64"),
        ("dense_65 … dense_128", "repeat { Dense, BatchNorm, Dropout, … } \u00d7 64"),
    ]
    expanded = summarize(graph, expand=True)
    assert len(expanded.rows) == len(rows) - 2 + 64 + 64 * 6
    assert expanded.total == summarize(graph).total
    assert [r.name for r in expanded.rows][2:5] == ["dense_1", "dense_2", "dense_3"]


def _run(graph: Graph, mode: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any, Any]:
    monkeypatch.setenv(LOWERING_ENV, mode)
    model = compile_graph(graph)
    params, state = model.init(jax.random.key(0))
    width = graph.inputs[0].type.shape[1].as_int()
    assert width is not None
    x = jax.random.normal(jax.random.key(1), (5, width))

    def loss(p: dict[str, Any]) -> tuple[jax.Array, Any]:
        outs, new_state = model.apply(p, state, [x], training=True, key=jax.random.key(2))
        return jnp.sum(outs[0] ** 2), new_state

    (value, new_state), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(params)
    return value, grads, new_state


def test_scanned_and_unrolled_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loss, gradients and BatchNorm state updates in training (Dropout drawing)."""
    graph = _check(FLAT.format(depth=3))
    scanned = _run(graph, "scan", monkeypatch)
    unrolled = _run(graph, "unroll", monkeypatch)
    assert "dense_3" in scanned[1] and "batch_normalization_2" in scanned[2]
    assert "res_2/dense" in scanned[1]
    for a, b in zip(jax.tree.leaves(scanned), jax.tree.leaves(unrolled), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=RTOL, atol=ATOL)


def test_old_checkpoints_load_and_give_the_same_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Weights written at d1418ae, when both forms were copied (tests/fixtures/old_flat_repeat,
    `make_fixture.py`): they load by the same paths and give the same outputs, scanned or not."""
    result = check_file(str(FIXTURE / "flat.nn"))
    assert result.program is not None
    graph = result.program.graphs["Flat"]
    assert _repeats(graph) == [("dense_1", 3), ("dense_4", 3)]
    params, state = load_weights(FIXTURE / "model.safetensors", graph)
    x = np.load(FIXTURE / "x.npy")
    for mode in ("scan", "unroll"):
        monkeypatch.setenv(LOWERING_ENV, mode)
        model = compile_graph(graph)
        outs = jax.jit(lambda p, s, x, model=model: model.apply(p, s, [x])[0][0])(params, state, x)
        np.testing.assert_allclose(
            np.asarray(outs), np.load(FIXTURE / "expected.npy"), rtol=RTOL, atol=ATOL
        )


def test_the_editor_shows_the_body_once() -> None:
    """Hover and inlay hints on 10**6 rounds of either form: each type once, as for 2."""
    from nndsl.ide import Workspace

    hints = []
    for depth in (2, 10**6):
        text = FLAT.format(depth=depth)
        ws = Workspace(read=lambda p: "")
        ws.open("/project/flat.nn", text)
        assert [d.code for d in ws.diagnostics("/project/flat.nn")] == []
        found = ws.inlay_hints("/project/flat.nn")
        assert len({h.offset for h in found}) == len(found)
        hints.append([(text.count("\n", 0, h.offset), h.label) for h in found])
        hover = ws.hover("/project/flat.nn", text.index("t = h"))
        assert hover is not None and "f32[B, 4]" in hover.markdown
    assert hints[0] == hints[1]


def test_onnx_export_unrolls() -> None:
    """The export is the copies one after the other, and computes what JAX does."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from nndsl.backend.onnx import export_onnx

    graph = _check(FLAT.format(depth=3))
    model = compile_graph(graph)
    params, state = model.init(jax.random.key(0))
    proto = export_onnx(graph, params, state)
    assert [n.op_type for n in proto.graph.node].count("Tanh") == 3
    x = np.asarray(jax.random.normal(jax.random.key(1), (5, 3)), np.float32)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    [got] = session.run(None, {"x": x})
    want = np.asarray(model.apply(params, state, [x])[0][0])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


# -- differential: collapsed against copied ----------------------------------------------------
_STATEMENTS = [
    "h = h |> Dense(4)",
    "h = h |> Dense(4) |> relu",
    "t = h |> Dense(4); h = h + t",
    "h = h + (x |> Dense(4))",
    "y = h |> Dense(4); h = y",
    "h = h |> repeat {n} Dense(4)",
    "h = h |> repeat {n} R()",
    "h = h |> R()",
    "k = 4; h = h |> Dense(k)",
    "g = h; h = g |> tanh",
    "h = h |> Dense(5)",
    "h = h |> Dense(4, trainable = false)",
    "h = h |> BatchNorm() |> Dropout(0.5)",
    "if {n} > 1 {{ h = h |> Dense(4) }} else {{ h = h |> relu }}",
    "u = h",
    "h = h |> Inner()",
    "h, z = h |> Two()",
    "h = h |> repeat {n} add(x)",
]
_BLOCKS = """
block R() {
    input x: f32[B, 4]
    return x + (x |> Dense(4))
}
block Two() {
    input x: f32[B, 4]
    return x |> Dense(4), x |> Dense(4)
}
block Inner() {
    input x: f32[B, 4]
    h = x
    repeat 2 { h = h |> Dense(4) |> relu }
    return h
}
"""


def _random_program(seed: int) -> str:
    import random

    rng = random.Random(seed)

    def body(depth: int) -> str:
        out = []
        for _ in range(rng.randint(1, 3)):
            if depth < 2 and rng.random() < 0.3:
                out.append(f"repeat {rng.randint(0, 4)} {{ {body(depth + 1)} }}")
            else:
                out.append(rng.choice(_STATEMENTS).format(n=rng.randint(0, 3)))
        return "; ".join(out)

    lines = ["    h = x"]
    for _ in range(rng.randint(1, 3)):
        lines.append(f"    repeat {rng.choice([0, 1, 2, 3, 5])} {{ {body(0)} }}")
    ret = rng.choice(["h", "h + y", "h + t", "h |> Dense(2)", "h + u", "h + z"])
    return (
        _BLOCKS
        + "model M() {\n    input x: f32[B, 4]\n"
        + "\n".join(lines)
        + f"\n    return {ret}\n}}\n"
    )


def _structure(text: str) -> tuple[object, ...]:
    """Diagnostics, weight paths and the unrolled graph's data flow (each input by the path of
    the node that makes it): what copies and collapsed copies must agree on."""
    result = check_source(text, "random.nn")
    diags = sorted((d.code, d.message, d.primary.span.start) for d in result.diagnostics)
    graph = result.program.graphs.get("M") if result.program and not result.has_errors else None
    if graph is None:
        return (diags,)
    unrolled = graph.unrolled()
    made = {i.value: i.name for i in unrolled.inputs}
    for n in unrolled.nodes:
        for k, v in enumerate(n.output_ids):
            made[v] = f"{n.path}[{k}]"
    flow = [
        (n.path, n.op.name, [made[v] for v in n.inputs], str(n.type), [w.frozen for w in n.weights])
        for n in unrolled.nodes
    ]
    weights = [f"{n.path}/{w.name}" for n, w in graph.weights()]
    return diags, weights, flow, [made[o.value] for o in unrolled.outputs], graph.param_counts()


def test_collapsed_repeats_are_their_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Random models of both forms, nested, with blocks, names read after the body, tensors
    read from outside: checked with flat repeats collapsed and with them copied (as d1418ae
    did), the same diagnostics, weight paths and unrolled data flow."""
    texts = [_random_program(seed) for seed in range(150)]
    collapsed = [_structure(t) for t in texts]
    assert sum(1 for t in texts if _check_repeats(t)) > 25
    monkeypatch.setattr(GraphBuilder, "collapse_flat", lambda *a, **k: None)
    for text, got in zip(texts, collapsed, strict=True):
        assert got == _structure(text), text


def _check_repeats(text: str) -> bool:
    result = check_source(text, "random.nn")
    graph = result.program.graphs.get("M") if result.program and not result.has_errors else None
    return graph is not None and any(n.repeat is not None and n.repeat.flat for n in graph.nodes)
