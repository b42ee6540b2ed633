"""A scanned repeat's weights kept stacked `[N, ...]` in training (`backend.jax.stacking`,
issue 17): exact round trips, a train state whose leaf count does not grow with N, per-copy
checkpoints, frozen and regularized repeated weights, distribute specs of stacked weights;
`predict` and `evaluate` stacking saved per-copy weights once, with the per-copy outputs."""

from __future__ import annotations

import importlib
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndsl.backend.jax.compile import compile_graph
from nndsl.backend.jax.repeat import LOWERING_ENV
from nndsl.backend.jax.stacking import pack, pack_all, plan, unpack, unpack_all
from nndsl.backend.jax.training import steps_for
from nndsl.frontend import check_source
from nndsl.ir import Graph, TrainConfig
from nndsl.runtime import fit
from nndsl.runtime.checkpoint import latest_training_state, load_training_state

MODEL = """
block Res(width: int) {{
    input x: f32[B, width]
    h = x |> LayerNorm() |> Dense(width, activation = "relu"{dense}) |> Dropout(0.1)
    h = h |> BatchNorm()
    return x + (h |> Dense(width))
}}
model Deep(width: int = 4) {{
    input x: f32[B, 3]
    h = x |> Dense(width)
    h = h |> repeat {depth} Res(width)
    return h |> Dense(2)
}}
data d = npz("d.npz", test_split = 0.25)
train Deep on d {{
    loss = cross_entropy(from_logits = true)
    optimizer = {opt}
    epochs = 2
    batch = 8
    seed = 3
{extra}}}
"""


def _config(
    depth: int = 3,
    dense: str = "",
    ema: str = "",
    extra: str = "",
    where: Path | None = None,
    opt: str | None = None,
) -> TrainConfig:
    opt = opt or f"adam(learning_rate = 0.01{ema})"
    text = MODEL.format(depth=depth, dense=dense, opt=opt, extra=extra)
    path = str((where or Path(".")) / "deep.nn")
    result = check_source(text, path)
    assert not result.has_errors, [d.message for d in result.diagnostics]
    assert result.program is not None and result.program.train is not None
    return result.program.train


def _data(where: Path) -> None:
    rng = np.random.default_rng(0)
    np.savez(
        where / "d.npz", x=rng.normal(size=(32, 3)).astype("float32"), y=rng.integers(0, 2, 32)
    )


def _bits(a: object, b: object) -> None:
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        assert np.asarray(x).dtype == np.asarray(y).dtype
        assert np.asarray(x).tobytes() == np.asarray(y).tobytes()


@pytest.fixture(autouse=True)
def _scan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOWERING_ENV, "scan")


def test_pack_and_unpack_are_exact_inverses() -> None:
    config = _config(3, ema=", use_ema = true")
    graph = config.graph
    steps = steps_for(config)
    params, state = steps.model.init(jax.random.key(0))
    packed = pack(graph, params)
    assert sorted(packed) == [
        "dense",
        "dense_1",
        "res[3]/batch_normalization",
        "res[3]/dense",
        "res[3]/dense_1",
        "res[3]/layer_normalization",
    ]
    assert packed["res[3]/dense"]["kernel"].shape == (3, 4, 4)
    assert sorted(pack(graph, state)) == ["res[3]/batch_normalization"]
    _bits(unpack(graph, packed), params)
    _bits(pack(graph, unpack(graph, packed)), packed)
    # the optimizer state (Adam's moments, the EMA) packed and unpacked as the weights
    opt = steps.init_opt_state(params)
    opt = jax.tree.map(lambda a: a + 1 if a.dtype == jnp.float32 else a, opt)
    packed_opt = pack_all(graph, opt)
    assert len(jax.tree.leaves(packed_opt)) < len(jax.tree.leaves(opt))
    _bits(unpack_all(graph, packed_opt), opt)
    # a model whose repeat is unrolled keeps its weights per copy
    assert plan(graph) != []
    assert plan(graph, exclude={n.id for n in graph.nodes}) == []


def _train_state_leaves(depth: int) -> int:
    config = _config(depth, ema=", use_ema = true")
    steps = steps_for(config)

    def init(key: jax.Array) -> tuple[dict, dict]:
        params, state = steps.model.init(key)
        return pack(config.graph, params), pack(config.graph, state)

    params, state = jax.eval_shape(init, jax.random.key(0))
    opt = jax.eval_shape(steps.init_opt_state, params)
    return len(jax.tree.leaves((params, state, opt)))


def test_the_train_state_does_not_grow_with_the_count() -> None:
    """Parameters, BatchNorm statistics, Adam's moments and the EMA: one leaf per body
    weight, whatever the count."""
    assert _train_state_leaves(8) == _train_state_leaves(64)


def _grad_step(graph: Graph, packed: bool) -> tuple[object, ...]:
    model = compile_graph(graph)
    params, state = model.init(jax.random.key(0))
    if packed:
        params, state = pack(graph, params), pack(graph, state)
    x = jax.random.normal(jax.random.key(1), (5, 3))

    def loss(p: dict) -> tuple[jax.Array, dict]:
        outs, new_state = model.apply(p, state, [x], training=True, key=jax.random.key(2))
        return jnp.sum(outs[0] ** 2) + model.penalty(p), new_state

    (value, new_state), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(params)
    constrained = model.constrain(params)
    return value, unpack(graph, grads), unpack(graph, new_state), unpack(graph, constrained)


@pytest.mark.parametrize("mode", ["scan", "unroll"])
def test_packed_and_per_copy_weights_agree(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loss (with a regularizer), gradients, BatchNorm updates and a constraint's projection
    from packed weights, against per-copy weights; scanned and unrolled."""
    graph = _config(
        3, dense=", kernel_regularizer = l2(0.01), kernel_constraint = max_norm(0.5)"
    ).graph
    monkeypatch.setenv(LOWERING_ENV, mode)
    a = _grad_step(graph, packed=True)
    b = _grad_step(graph, packed=False)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "opt", ["adam(learning_rate = 0.1, clipnorm = 0.01)", "lamb(learning_rate = 0.1)"]
)
def test_per_weight_norms_are_per_copy(opt: str) -> None:
    """`clipnorm` and LAMB's trust ratio take a norm per weight: per copy of a stacked one,
    so a packed update equals the per-copy update."""
    config = _config(3, opt=opt)
    graph = config.graph
    tx = steps_for(config).optimizer
    params, _ = compile_graph(graph).init(jax.random.key(0))
    grads = jax.tree.map(lambda p: jnp.full_like(p, 0.5) + p, params)
    per_copy, _ = tx.update(grads, tx.init(params), params)
    packed_params = pack(graph, params)
    packed, _ = tx.update(pack(graph, grads), tx.init(packed_params), packed_params)
    packed = unpack(graph, packed)
    assert jax.tree.structure(packed) == jax.tree.structure(per_copy)
    for a, b in zip(jax.tree.leaves(packed), jax.tree.leaves(per_copy), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)


def test_adafactor_keeps_the_weights_per_copy(tmp_path: Path) -> None:
    """Adafactor's factored moments have a shape per weight: no stacking under it."""
    _data(tmp_path)
    config = _config(3, opt="adafactor(learning_rate = 0.01)", where=tmp_path)
    seen: list[list[str]] = []
    steps = steps_for(config)
    original = steps.init_opt_state

    def spy(params: dict) -> object:
        seen.append(sorted(params))
        return original(params)

    object.__setattr__(steps, "init_opt_state", spy)
    monkey = pytest.MonkeyPatch()
    monkey.setattr("nndsl.runtime.train.steps_for", lambda config, constrain=None: steps)
    try:
        fit(config, run_dir=tmp_path / "run")
    finally:
        monkey.undo()
    assert seen and "res_2/dense" in seen[0] and not any("[" in k for k in seen[0])


def test_training_checkpoints_are_per_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run trained on packed weights writes per-copy paths, the same arrays as a run kept
    per copy (up to XLA's reassociation), and its result is per copy."""
    _data(tmp_path)
    config = _config(3, extra="    callbacks = [checkpoint(every = 1)]\n", where=tmp_path)
    packed = fit(config, run_dir=tmp_path / "packed")
    assert "res_2/dense" in packed.params and not any("[" in k for k in packed.params)
    latest = latest_training_state(tmp_path / "packed")
    assert latest is not None
    arrays, _ = load_training_state(latest)
    assert "params/['res_2/dense']['kernel']" in arrays
    assert not any("res[3]" in k for k in arrays)
    assert any(k.startswith("opt/") and "['res_2/dense']['kernel']" in k for k in arrays)
    monkeypatch.setattr("nndsl.runtime.train.plan", lambda graph, exclude=(): [])
    plain = fit(config, run_dir=tmp_path / "plain")
    latest_plain = latest_training_state(tmp_path / "plain")
    assert latest_plain is not None
    plain_arrays, _ = load_training_state(latest_plain)
    assert sorted(arrays) == sorted(plain_arrays)
    for k in arrays:
        np.testing.assert_allclose(arrays[k], plain_arrays[k], rtol=2e-4, atol=2e-5, err_msg=k)
    _ = jax.tree.map(lambda x, y: None, packed.params, plain.params)  # same structure


def test_a_frozen_repeated_layer_stays_as_it_was(tmp_path: Path) -> None:
    """`trainable = false` in the repeated block: every copy frozen alike, the repeat packed
    (one label for the stacked weight); `freeze` of one copy (`res_1/*`) has the checker
    unroll the repeat, so that repeat is trained per copy."""
    _data(tmp_path)
    config = _config(3, dense=", trainable = false", where=tmp_path)
    assert plan(config.graph) != []
    start, _ = compile_graph(config.graph).init(jax.random.fold_in(jax.random.key(3), 0))
    result = fit(config, run_dir=tmp_path / "a")
    for i in ("res", "res_1", "res_2"):
        _bits(result.params[f"{i}/dense"], start[f"{i}/dense"])
    assert not np.array_equal(
        result.params["res_1/dense_1"]["kernel"], start["res_1/dense_1"]["kernel"]
    )

    one = _config(3, extra='    freeze = ["res_1/*"]\n', where=tmp_path)
    assert all(n.repeat is None for n in one.graph.nodes) and plan(one.graph) == []
    result = fit(one, run_dir=tmp_path / "b")
    _bits(result.params["res_1/dense_1"], start["res_1/dense_1"])
    assert not np.array_equal(
        result.params["res_2/dense_1"]["kernel"], start["res_2/dense_1"]["kernel"]
    )


def test_a_distributed_spec_gets_a_leading_axis_for_the_copies() -> None:
    from nndsl.runtime.distribute import Layout

    extra = (
        '    distribute {\n        mesh = {"data": 1, "model": 1}\n'
        '        shard = {"*dense/kernel": [_, "model"]}\n    }\n'
    )
    config = _config(3, extra=extra)
    assert config.distribute is not None
    layout = Layout(config.graph, config.distribute, jax.devices()[:1])
    assert layout.specs["res_1/dense/kernel"] == (None, "model")
    assert layout.specs["res[3]/dense/kernel"] == (None, None, "model")
    assert layout.shapes["res[3]/dense/kernel"] == (3, 4, 4)
    assert layout.unstacked == frozenset()
    params, _ = compile_graph(config.graph).init(jax.random.key(0))
    placed = layout.place(pack(config.graph, params))
    assert tuple(placed["res[3]/dense"]["kernel"].sharding.spec) == (None, None, "model")
    # a spec naming one copy: that repeat stays per copy
    one = extra.replace("*dense/kernel", "res_1/dense/kernel")
    config = _config(3, extra=one)
    assert config.distribute is not None
    layout = Layout(config.graph, config.distribute, jax.devices()[:1])
    assert layout.unstacked == {n.id for n in config.graph.nodes if n.repeat is not None}
    assert plan(config.graph, layout.unstacked) == []


FLAT = """
model Flat() {{
    input x: f32[B, 3]
    h = x |> Dense(4)
    {body}
    return h |> Dense(2)
}}
data d = npz("d.npz", test_split = 0.25)
train Flat on d {{
    loss = cross_entropy(from_logits = true)
    optimizer = adam(learning_rate = 0.01)
    epochs = 2
    batch = 8
    seed = 3
    callbacks = [checkpoint(every = 1)]
}}
"""


@pytest.mark.parametrize(
    ("body", "copies"),
    [
        ("h = h |> repeat 3 Dense(4)", ["dense_1", "dense_2", "dense_3"]),
        (
            "repeat 3 { h = h |> Dense(4) |> LayerNorm() }",
            ["dense_1", "dense_2", "dense_3", "layer_normalization_2"],
        ),
    ],
    ids=["layer", "statements"],
)
def test_a_flat_repeat_packs_by_its_numbered_copies(
    body: str, copies: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repeated layer or statement body (copies numbered on, `dense_3`, not in folders)
    packs and unpacks exactly and trains to per-copy checkpoints as a run kept per copy."""
    _data(tmp_path)
    result = check_source(FLAT.format(body=body), str(tmp_path / "flat.nn"))
    assert not result.has_errors, [d.message for d in result.diagnostics]
    assert result.program is not None and result.program.train is not None
    config = result.program.train
    graph = config.graph
    assert plan(graph) != []
    params, _ = steps_for(config).model.init(jax.random.key(0))
    packed = pack(graph, params)
    assert any("[3]" in k for k in packed) and not set(copies) & set(packed)
    _bits(unpack(graph, packed), params)
    trained = fit(config, run_dir=tmp_path / "packed")
    assert set(copies) <= set(trained.params) and not any("[" in k for k in trained.params)
    monkeypatch.setattr("nndsl.runtime.train.plan", lambda graph, exclude=(): [])
    plain = fit(config, run_dir=tmp_path / "plain")
    for path in copies:
        for name, leaf in plain.params[path].items():
            np.testing.assert_allclose(
                trained.params[path][name], leaf, rtol=2e-4, atol=2e-5, err_msg=path
            )


# the module: `nndsl.runtime.predict` as an attribute is the function `predict`
PREDICT = importlib.import_module("nndsl.runtime.predict")


def _given_leaves(monkeypatch: pytest.MonkeyPatch, factory: str) -> list[int]:
    """The number of weight leaves each call of the jitted function `factory`
    (`runtime.predict._inference`, `_all_outputs`) is given."""
    seen: list[int] = []
    original = getattr(PREDICT, factory)

    def spy(model: object) -> object:
        run = original(model)

        def call(p: object, s: object, *rest: object) -> object:
            seen.append(len(jax.tree.leaves((p, s))))
            return run(p, s, *rest)

        return call

    monkeypatch.setattr(PREDICT, factory, spy)
    return seen


def _predictions(depth: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    graph = _config(depth).graph
    params, state = compile_graph(graph).init(jax.random.key(0))
    x = np.random.default_rng(1).normal(size=(10, 3)).astype("float32")
    return PREDICT.predict(graph, params, state, x, batch=4), PREDICT.predict_outputs(
        graph, params, state, {"x": x}, batch=4
    )


def test_predict_packs_the_weights_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """`predict` and `predict_outputs` stack a scanned repeat's saved per-copy weights on the
    host: the jitted inference gets as many weight leaves at 8 copies as at 64, and the
    outputs are the per-copy path's, bit for bit."""
    first = _given_leaves(monkeypatch, "_inference")
    every = _given_leaves(monkeypatch, "_all_outputs")
    leaves: dict[int, set[int]] = {}
    for depth in (8, 64):
        first.clear()
        every.clear()
        _predictions(depth)
        assert len(first) == len(every) == 3  # batches of 4 of 10 rows
        leaves[depth] = set(first) | set(every)
    assert leaves[8] == leaves[64] and len(leaves[8]) == 1
    one, all_ = _predictions(8)
    monkeypatch.setattr(PREDICT, "packed_weights", lambda g, p, s: (p, s))
    first.clear()
    plain_one, plain_all = _predictions(8)
    assert min(first) > max(leaves[8])  # the per-copy path: a leaf per copy
    _bits(one, plain_one)
    _bits(all_, plain_all)


def test_evaluate_packs_the_weights_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`nnrun evaluate` on saved per-copy weights: evaluated packed, with the per-copy path's
    loss, metrics and confusion matrix."""
    from nndsl.runtime import save_checkpoint
    from nndsl.runtime.evaluate import evaluate_weights

    _data(tmp_path)
    config = _config(8, extra="    metrics = [accuracy]\n", where=tmp_path)
    params, state = compile_graph(config.graph).init(jax.random.key(0))
    weights = save_checkpoint(tmp_path / "w.safetensors", config.graph, params, state)
    seen: list[list[str]] = []
    original = steps_for

    def spy(config: TrainConfig) -> object:
        steps = original(config)
        evaluate = steps.eval_step

        def eval_step(p: dict, *rest: object) -> object:
            seen.append(sorted(p))
            return evaluate(p, *rest)

        object.__setattr__(steps, "eval_step", eval_step)
        return steps

    monkeypatch.setattr("nndsl.runtime.evaluate.steps_for", spy)
    packed = evaluate_weights(config, weights)
    assert seen and "res[8]/dense" in seen[0] and "res_7/dense" not in seen[0]
    monkeypatch.setattr("nndsl.runtime.evaluate.packed_weights", lambda g, p, s: (p, s))
    plain = evaluate_weights(config, weights)
    assert "res_7/dense" in seen[-1]
    assert packed.logs == plain.logs and "accuracy" in str(packed.logs)
    assert packed.confusion is not None and plain.confusion is not None
    assert np.array_equal(packed.confusion, plain.confusion)
