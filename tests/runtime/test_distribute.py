"""`distribute { ... }` at run time on 4 simulated CPU devices, each scenario in a subprocess
(the device count is fixed before JAX is imported): data parallel, 2x2 data x model and fsdp
train to the losses of one device, and the arrays are really sharded; their evaluation of the
validation and test splits is split over the batch axis too and gives one device's figures; a
4-device run resumes on 2 devices and on 1; the same three layouts train a tiny
`std.transformer` classifier as one device, its attention kernels split over `model`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

WORKER = Path(__file__).with_name("distributed_worker.py")
# Summing over devices reorders float additions: losses agree to float32 rounding, weights
# after 12 Adam steps to a few ulps of their size.
LOSS_TOL, PARAM_TOL = 1e-5, 1e-4


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every scenario in one subprocess: JAX starts once."""
    root = tmp_path_factory.mktemp("distribute")
    # LLVM's optimization off: XLA's CPU compilation of the steps is most of the time
    # (Transformer step: 5.5 s -> 3.4 s); every run, the one-device references too, alike
    flags = "--xla_force_host_platform_device_count=4 --xla_backend_optimization_level=0"
    env = {**os.environ, "XLA_FLAGS": flags}
    done = subprocess.run(
        [sys.executable, str(WORKER), str(root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.slow
def test_layouts_train_as_one_device_and_shard(worker: dict[str, Any]) -> None:
    out = worker["layouts"]
    assert out["devices"] == 4
    for name in ("dp", "dp_model", "fsdp"):
        run = out[name]
        assert run["losses"] == pytest.approx(out["base"], abs=LOSS_TOL), name
        assert run["max_param_diff"] < PARAM_TOL, name
        assert run["n_devices"] == 4, name
    assert all(s == [] for s in out["dp"]["specs"].values())  # replicated
    model = out["dp_model"]["specs"]
    assert model["dense/kernel"] == [None, "model"] and model["dense_1/kernel"] == [None, "model"]
    assert model["dense/bias"] == []
    assert all(s == [None, "model"] for s in out["dp_model"]["opt_specs"])
    fsdp = out["fsdp"]["specs"]
    assert fsdp["dense/kernel"] == ["data"] and fsdp["dense/bias"] == ["data"]
    assert fsdp["dense_1/bias"] == []  # 10 does not split over 4: replicated
    assert all(s == ["data"] for s in out["fsdp"]["opt_specs"])  # Adam's moments sharded
    assert all(out[name]["compiles"] == 1 for name in ("dp", "dp_model", "fsdp"))


@pytest.mark.slow
def test_evaluation_splits_over_the_batch_axis_as_one_device(worker: dict[str, Any]) -> None:
    """Validation after each epoch and the test split at the end, the last batch of each
    padded, give one device's loss and accuracy (measured: losses within 4e-7); each batch's
    inputs, labels and mask are split over `data`, and full and padded batches are one
    program."""
    out = worker["layouts"]
    base = out["base_eval"]
    assert len(base["validation"]) == 2 and base["test"] is not None
    assert all(s["devices"] == 1 for s in base["eval_inputs"])
    for name, per_device in (("dp", 8), ("dp_model", 16), ("fsdp", 8)):
        run = out[name]
        for mine, ref in zip(run["validation"], base["validation"], strict=True):
            assert mine == pytest.approx(ref, abs=LOSS_TOL), name
        assert run["test"] == pytest.approx(base["test"], abs=LOSS_TOL), name
        assert run["eval_compiles"] == 1, name
        assert len(run["eval_inputs"]) == 2 * 2 + 2, name  # 2 epochs x 2 batches, 2 test ones
        for seen in run["eval_inputs"]:
            assert seen == {
                "x": ["data"],
                "y": ["data"],
                "mask": ["data"],
                "x_shard": [per_device, 64],
                "devices": 4,
            }, name


@pytest.mark.slow
def test_the_digits_cnn_trains_as_one_device_and_shards(worker: dict[str, Any]) -> None:
    """The digits CNN example (with a BatchNormalization) under the three layouts: its
    losses, weights and moving statistics are one device's (measured: within 8e-7, 1.2e-7 and
    7e-7), its convolution kernels split over `model` in the 2x2 one."""
    out = worker["cnn"]
    for name in ("dp", "dp_model", "fsdp"):
        run = out[name]
        assert run["losses"] == pytest.approx(out["base"], abs=LOSS_TOL), name
        assert run["max_param_diff"] < PARAM_TOL, name
        assert run["max_state_diff"] < PARAM_TOL, name
        assert run["test"] == pytest.approx(out["base_eval"]["test"], abs=LOSS_TOL), name
    assert "batch_normalization/moving_mean" in out["state"]
    specs = out["dp_model"]["specs"]
    assert specs["conv2d/kernel"] == specs["conv2d_1/kernel"] == [None, None, None, "model"]


@pytest.mark.slow
def test_the_transformer_trains_as_one_device_and_shards(worker: dict[str, Any]) -> None:
    """5 Adam steps of a 1-block Transformer; measured: losses within 1e-7, weights within
    4e-5 (the weights' tolerance is the MLP's 1e-4)."""
    out = worker["transformer"]
    for name in ("dp", "dp_model", "fsdp"):
        run = out[name]
        assert run["losses"] == pytest.approx(out["base"], abs=LOSS_TOL), name
        assert run["max_param_diff"] < PARAM_TOL, name
        assert run["n_devices"] == 4 and run["compiles"] == 1, name
    attention = "transformer_encoder/multi_head_attention"
    model = out["dp_model"]["specs"]
    for kernel in ("query", "key", "value"):  # [dim, heads, key_dim]: the heads split
        assert model[f"{attention}/{kernel}.kernel"] == [None, "model"], kernel
    assert model[f"{attention}/attention_output.kernel"] == ["model"]
    assert model["transformer_encoder/dense/kernel"] == [None, "model"]
    assert model["token_and_position_embedding/embedding/embeddings"] == ["model"]
    assert model[f"{attention}/query.bias"] == []
    # query.kernel [8, 2, 8]: each device holds one head, the 2 copies over `data` the same
    assert out["dp_model"]["query_shard"] == [[8, 1, 8], 4]
    assert out["dp"]["query_shard"] == [[8, 2, 8], 4]  # replicated
    assert out["fsdp"]["query_shard"] == [[2, 2, 8], 4]  # its largest dimension over `data`


@pytest.mark.slow
def test_resume_on_fewer_devices(worker: dict[str, Any]) -> None:
    out = worker["resume"]
    for name in ("two", "one"):
        assert out[name]["resumed"], name
        assert out[name]["max_param_diff"] < PARAM_TOL, name


def test_a_mesh_larger_than_the_devices_is_one_line() -> None:
    """This process has one CPU device (no XLA_FLAGS here)."""
    import jax

    from nndsl.backend import DataError
    from nndsl.frontend import check_source
    from nndsl.ir.distribute import Distribution
    from nndsl.runtime.distribute import Layout

    text = "model M() {\n    input x: f32[B, 4]\n    return x |> Dense(2)\n}\n"
    graph = check_source(text, "m.nn").graph("M")
    assert graph is not None
    n = jax.device_count()
    with pytest.raises(DataError, match=rf"needs {n + 1} devices; {n} (is|are) available"):
        Layout(graph, Distribution((("data", n + 1),), "data"))


def test_the_memory_preflight_counts_one_device_share(monkeypatch: pytest.MonkeyPatch) -> None:
    from nndsl.backend import DataError
    from nndsl.frontend import check_source
    from nndsl.runtime.distribute import Layout

    text = (
        "model M() {\n    input x: f32[B, 64]\n    return x |> Dense(64)\n}\n"
        'data d = npz("d.npz")\ntrain M on d {\n    loss = mse\n    optimizer = adam\n'
        '    distribute {\n        mesh = {"data": 1}\n        preset = "fsdp"\n    }\n}\n'
    )
    config = check_source(text, "m.nn").program.train
    assert config is not None and config.distribute is not None
    layout = Layout(config.graph, config.distribute)
    monkeypatch.setenv("NNDSL_DEVICE_MEMORY", "32KB")
    with pytest.raises(DataError, match=r"needs at least [\d.]+ KB per device"):
        layout.check_fits(config)  # 16.25 KB of weights and twice that of Adam
    monkeypatch.setenv("NNDSL_DEVICE_MEMORY", "1GB")
    layout.check_fits(config)
