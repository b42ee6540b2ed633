"""`repeat N Block(...)` as one IR node (issue 17): checked once, counted arithmetically,
lowered to a scan or unrolled with the same results, weights per instance."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from nndsl.backend.jax.compile import compile_graph
from nndsl.backend.jax.repeat import LOWERING_ENV, lowering
from nndsl.frontend import check_file, check_source
from nndsl.ir import Graph, GraphOutput
from nndsl.ir.summary import summarize
from nndsl.runtime.checkpoint import load_weights
from tests.integration.node_count import counting_nodes

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "old_repeat"
BATCH = 3
# Scanned and unrolled lowerings run the same float32 ops in a different program: equal up to
# XLA's reassociation.
RTOL, ATOL = 1e-5, 1e-6

RES = """
block Res(width: int) {{
    input x: f32[B, width]
    h = x |> LayerNorm() |> Dense(width, activation = "relu") |> Dropout(0.25)
    h = h |> BatchNorm()
    return x + (h |> Dense(width))
}}
model Deep(width: int = 4, depth: int = {depth}) {{
    input x: f32[B, 3]
    h = x |> Dense(width)
    h = h |> repeat depth Res(width{remat})
    return h |> Dense(2)
}}
"""


def _graph(depth: int | str = 3, remat: bool = False) -> Graph:
    text = RES.format(depth=depth, remat=", remat = true" if remat else "")
    result = check_source(text, "deep.nn")
    assert not result.has_errors, [d.message for d in result.diagnostics]
    assert result.program is not None
    return result.program.graphs["Deep"]


def test_a_repeat_is_one_node_with_per_instance_weights() -> None:
    graph = _graph(3)
    [node] = [n for n in graph.nodes if n.repeat is not None]
    assert node.repeat is not None and node.repeat.count == 3
    assert [n.path for n in node.repeat.body.nodes][:2] == ["layer_normalization", "dense"]
    paths = [f"{n.path}/{w.name}" for n, w in graph.weights()]
    assert "res_2/dense/kernel" in paths and "res_3/dense/kernel" not in paths
    unrolled = graph.unrolled()
    assert unrolled.param_counts() == graph.param_counts()
    assert [f"{n.path}/{w.name}" for n, w in unrolled.weights()] == paths
    assert len(unrolled.nodes) == graph.node_total()


def test_summary_collapses_and_expands() -> None:
    graph = _graph(64)
    rows = summarize(graph).rows
    [row] = [r for r in rows if r.type.startswith("Res ")]
    assert (row.name, row.type) == ("res … res_63", "Res \u00d7 64")
    per_copy = sum(r.params for r in summarize(_graph(1)).rows if r.name.startswith("res/"))
    assert row.params == 64 * per_copy
    expanded = summarize(graph, expand=True)
    assert len(expanded.rows) == len(rows) - 1 + 64 * 6
    assert expanded.total == summarize(graph).total


def test_checking_does_not_grow_with_the_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted in nodes the checker builds, not in seconds: a count of 10**9 builds as many
    as a count of 8 (and 10**12 is then refused by the parameter budget, E0818)."""
    calls = counting_nodes(monkeypatch)
    monkeypatch.setenv("NNDSL_MAX_PARAMS", str(10**12))
    built = []
    for depth in (8, 64, 10**9):
        calls[0] = 0
        graph = _graph(depth)
        built.append(calls[0])
        assert graph.param_counts()[0] > depth * 40
    assert built[0] == built[1] == built[2]
    monkeypatch.delenv("NNDSL_MAX_PARAMS")
    diags = check_source(RES.format(depth=10**12, remat=""), "deep.nn").diagnostics
    assert [d.code for d in diags] == ["E0818"]


def _run(graph: Graph, mode: str, monkeypatch: pytest.MonkeyPatch) -> tuple[object, ...]:
    monkeypatch.setenv(LOWERING_ENV, mode)
    model = compile_graph(graph)
    params, state = model.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (5, 3))

    def loss(p: dict) -> tuple[jax.Array, dict]:
        outs, new_state = model.apply(p, state, [x], training=True, key=jax.random.key(2))
        return jnp.sum(outs[0] ** 2), new_state

    (value, new_state), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(params)
    return value, grads, new_state


def test_scanned_and_unrolled_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loss, gradients and BatchNorm state updates in training (Dropout drawing), within
    RTOL/ATOL: a scan with `remat = true` against the plain unrolled copies."""
    scanned = _run(_graph(2, remat=True), "scan", monkeypatch)
    unrolled = _run(_graph(2), "unroll", monkeypatch)
    assert "res_1/dense" in scanned[1] and "res_1/batch_normalization" in scanned[2]
    for a, b in zip(jax.tree.leaves(scanned), jax.tree.leaves(unrolled), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=RTOL, atol=ATOL)


def test_remat_marks_the_body_for_recomputation(monkeypatch: pytest.MonkeyPatch) -> None:
    graph = _graph(2, remat=True)
    [node] = [n for n in graph.nodes if n.repeat is not None]
    assert node.repeat is not None and node.repeat.remat
    model = compile_graph(graph)
    params, state = model.init(jax.random.key(0))
    monkeypatch.setenv(LOWERING_ENV, "scan")
    jaxpr = jax.make_jaxpr(lambda p: model.apply(p, state, [jnp.ones((2, 3))])[0][0])(params)
    assert "checkpoint" in str(jaxpr) or "remat" in str(jaxpr)


def test_remat_on_one_block_application() -> None:
    text = RES.format(depth=1, remat="").replace(
        "h = h |> repeat depth Res(width)", "h = h |> Res(width, remat = true)"
    )
    result = check_source(text, "deep.nn")
    assert not result.has_errors
    assert result.program is not None
    [node] = [n for n in result.program.graphs["Deep"].nodes if n.repeat is not None]
    assert node.repeat is not None and (node.repeat.count, node.repeat.remat) == (1, True)
    assert node.path == "res"


def test_the_lowering_rule() -> None:
    dense = _graph(8)
    [node] = [n for n in dense.nodes if n.repeat is not None]
    assert node.repeat is not None
    assert lowering(node.repeat, "cpu") == "scan"
    assert lowering(node.repeat, "gpu") == "scan"
    conv = check_source(
        "block C() {\n    input x: f32[B, 8, 8, 4]\n    return x + (x |> Conv2D(4, 3, "
        'padding = "same"))\n}\nmodel M() {\n    input x: f32[B, 8, 8, 4]\n'
        "    return x |> repeat 8 C()\n}\n"
    )
    assert conv.program is not None
    [node] = [n for n in conv.program.graphs["M"].nodes if n.repeat is not None]
    assert node.repeat is not None
    assert lowering(node.repeat, "cpu") == "unroll"
    assert lowering(node.repeat, "gpu") == "scan"


def test_old_checkpoints_load_and_give_the_same_outputs() -> None:
    """Weights written before repeats were collapsed (tests/fixtures/old_repeat, at 4826fa6)."""
    result = check_file(str(FIXTURE / "deep.nn"))
    assert result.program is not None
    graph = result.program.graphs["Deep"]
    assert any(n.repeat is not None for n in graph.nodes)
    params, state = load_weights(FIXTURE / "model.safetensors", graph)
    x = np.load(FIXTURE / "x.npy")
    model = compile_graph(graph)
    outs = jax.jit(lambda p, s, x: model.apply(p, s, [x])[0][0])(params, state, x)
    np.testing.assert_allclose(
        np.asarray(outs), np.load(FIXTURE / "expected.npy"), rtol=RTOL, atol=ATOL
    )


def _assert_body_agrees(body: Graph, prefix: str, params: dict, state: dict) -> None:
    every = replace(
        body, outputs=[GraphOutput(f"v{n.output}", n.output, n.type) for n in body.nodes]
    )
    model = compile_graph(every)
    p = {
        rel: params[f"{prefix}/{rel}"] for rel in {n.path for n, w in body.weights() if w.trainable}
    }
    s = {
        rel: state[f"{prefix}/{rel}"]
        for rel in {n.path for n, w in body.weights() if not w.trainable}
    }
    shape = tuple(BATCH if d.as_int() is None else d.as_int() for d in body.inputs[0].type.shape)
    outs, _ = jax.eval_shape(
        lambda p, s, x: model.apply(p, s, [x]), p, s, jax.ShapeDtypeStruct(shape, jnp.float32)
    )
    for out, declared in zip(outs, every.outputs, strict=True):
        assert out.shape == tuple(
            BATCH if d.as_int() is None else d.as_int() for d in declared.type.shape
        )


@st.composite
def repeat_models(draw: st.DrawFn) -> str:
    d = draw(st.integers(1, 6))
    body = [f"    input x: f32[B, {d}]", "    t = x"]
    w = d  # the width of `t`
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["dense", "res", "norm", "drop", "act"]))
        if kind == "dense":
            w = draw(st.integers(1, 6))
            body.append(f"    t = t |> Dense({w})")
        elif kind == "res":
            body.append(f"    t = relu(t + (t |> Dense({w})))")
        elif kind == "norm":
            body.append(
                f"    t = t |> Dense({d}) |> {draw(st.sampled_from(['LayerNorm', 'BatchNorm']))}()"
            )
        elif kind == "drop":
            body.append("    t = t |> Dropout(0.25)")
        else:
            body.append(f"    t = t |> {draw(st.sampled_from(['gelu', 'tanh']))}")
    body.append(f"    return x + (t |> Dense({d}))")
    n = draw(st.integers(2, 5))
    inner = draw(st.booleans())
    block = "block R() {\n" + "\n".join(body) + "\n}\n"
    if inner:  # a repeat inside the repeated block
        block += f"block Outer() {{\n    input x: f32[B, {d}]\n    return x |> repeat 2 R()\n}}\n"
    name = "Outer" if inner else "R"
    model = f"    input x: f32[B, {d}]\n    return x |> repeat {n} {name}() |> Dense(2)\n"
    return block + "model M() {\n" + model + "}\n"


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(repeat_models(), st.sampled_from(["scan", "unroll"]))
def test_repeated_blocks_agree_with_eval_shape(src: str, mode: str) -> None:
    import os

    os.environ[LOWERING_ENV] = mode
    try:
        result = check_source(src, "generated.nn")
        assert not result.has_errors, src
        assert result.program is not None
        graph = result.program.graphs["M"]
        assert graph.has_repeats
        model = compile_graph(graph)
        params, state = jax.eval_shape(model.init, jax.random.key(0))
        for node, w in graph.weights():
            tree = params if w.trainable else state
            assert tree[node.path][w.name].shape == w.shape
        x = jax.ShapeDtypeStruct((BATCH, graph.inputs[0].type.shape[1].as_int()), jnp.float32)
        for training in (False, True):
            outs, _ = jax.eval_shape(
                lambda p, s, x, training=training: model.apply(
                    p, s, [x], training=training, key=jax.random.key(1)
                ),
                params,
                state,
                x,
            )
            assert outs[0].shape == (BATCH, 2)
        # every value of the body: its declared type against the traced body
        for node in graph.nodes:
            if node.repeat is not None:
                _assert_body_agrees(node.repeat.body, node.path, params, state)
    finally:
        os.environ.pop(LOWERING_ENV, None)


def test_the_editor_shows_a_repeated_block_once() -> None:
    """Hover and inlay hints on a repeat of 10**6 copies: each binding's type once, as for 2."""
    from nndsl.ide import Workspace

    hints = []
    for depth in (2, 10**6):
        text = RES.format(depth=depth, remat="")
        ws = Workspace(read=lambda p: "")
        ws.open("/project/deep.nn", text)
        assert [d.code for d in ws.diagnostics("/project/deep.nn")] == []
        found = ws.inlay_hints("/project/deep.nn")
        assert len({h.offset for h in found}) == len(found)
        hints.append([(text.count("\n", 0, h.offset), h.label) for h in found])
        hover = ws.hover("/project/deep.nn", text.index("h = h |> repeat"))
        assert hover is not None and "f32[B, 4]" in hover.markdown
    assert hints[0] == hints[1]
    assert (3, ": f32[B, width]") in hints[0]  # `h` in the block, once
