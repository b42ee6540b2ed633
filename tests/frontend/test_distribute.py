"""The `distribute { ... }` section without JAX: parsing and printing, the checked layout,
each weight's spec (fsdp's choice of dimension), bytes per device, `nnrun summary
--distribute`. The diagnostics have UI goldens (tests/ui/distribute_*); the run time is
tests/runtime/test_distribute.py."""

from __future__ import annotations

from pathlib import Path

from nndsl.frontend import check_source
from nndsl.ir.distribute import (
    FSDP,
    Distribution,
    ShardRule,
    optimizer_state,
    per_device,
    specs,
    weight_spec,
)
from nndsl.syntax.printer import format_source
from tests.cli import nnrun

SOURCE = """model Net() {
    input x: f32[B, 64]
    h = x |> Dense(32) |> relu
    return h |> Dense(10)
}
data d = npz("d.npz")
train Net on d {
    loss = mse
    optimizer = adam
    batch = 64
    distribute {
        mesh = {"data": 4, "model": 2}  # eight devices
        shard = {"dense/kernel": [_, "model"]}
        preset = "fsdp"
    }
}
"""


def test_section_is_checked_into_the_train_config() -> None:
    result = check_source(SOURCE, "net.nn")
    assert not result.diagnostics
    train = result.program.train
    assert train is not None and train.distribute is not None
    dist = train.distribute
    assert dist.mesh == (("data", 4), ("model", 2)) and dist.batch_axis == "data"
    assert dist.preset == FSDP and dist.rules[0].spec == (None, "model")
    assert specs(train.graph, dist) == {
        "dense/kernel": ("data", "model"),  # the rule, then fsdp on the free dimension
        "dense/bias": ("data",),
        "dense_1/kernel": ("data",),  # 32 splits over 4, 10 does not
        "dense_1/bias": (),
    }


def test_format_keeps_the_section_and_its_comments() -> None:
    out = format_source(SOURCE)
    assert out is not None
    assert '    distribute {\n        mesh = {"data": 4, "model": 2}  # eight devices\n' in out
    assert format_source(out) == out


def test_fsdp_shards_the_largest_divisible_dimension() -> None:
    dist = Distribution((("data", 4),), "data", preset=FSDP)
    sizes = dist.sizes()
    assert weight_spec(dist, "a/kernel", (6, 8), sizes) == (None, "data")
    assert weight_spec(dist, "a/kernel", (3, 5), sizes) == ()  # nothing divides: whole
    ruled = Distribution((("data", 4),), "data", (ShardRule("a/*", ("data", None)),), FSDP)
    assert weight_spec(ruled, "a/kernel", (8, 8), sizes) == ("data",)  # the rule's axis only


def test_bytes_per_device() -> None:
    result = check_source(SOURCE, "net.nn")
    train = result.program.train
    assert train is not None and train.distribute is not None
    need = per_device(train.graph, train.distribute, 64, optimizer_state("adam"))
    # kernels 64x32 / 8 and 32x10 / 4 (fsdp only), biases 32 / 4 and 10 whole; float32
    params = (64 * 32 // 8 + 32 // 4 + 32 * 10 // 4 + 10) * 4
    assert need.params == params and need.optimizer == 2 * params
    assert need.largest is not None and need.largest[2] == 16 * 32 * 4  # [64 / 4, 32]
    assert need.n_devices == 8


def test_optimizer_state_per_device_follows_the_optimizer() -> None:
    """Counted from the optimizer declared (tests/backend/test_optimizer_state.py checks the
    table against optax): none for plain SGD; Adafactor's factored moments whole."""
    for optimizer, expected in [
        ("sgd", 0),
        ("sgd(momentum = 0.9)", 1),
        ("adam(amsgrad = true, use_ema = true)", 4),
        ("rmsprop(centered = true, momentum = 0.9)", 3),
    ]:
        result = check_source(
            SOURCE.replace("optimizer = adam", f"optimizer = {optimizer}"), "n.nn"
        )
        train = result.program.train
        assert train is not None and train.distribute is not None
        opt = train.optimizer
        need = per_device(
            train.graph, train.distribute, 64, optimizer_state(opt.op.name, opt.attrs)
        )
        assert need.optimizer == expected * need.params, optimizer
    result = check_source(SOURCE.replace("optimizer = adam", "optimizer = adafactor"), "n.nn")
    train = result.program.train
    assert train is not None and train.distribute is not None
    need = per_device(train.graph, train.distribute, 64, optimizer_state("adafactor"))
    # kernels 64x32 and 32x10: row and column moments and one number, whole on each device;
    # biases (rank 1): a full moment split as the bias (32 / 4, 10 whole) and two numbers
    assert need.optimizer == ((32 + 64 + 1) + (10 + 32 + 1) + (8 + 2) + (10 + 2)) * 4


def test_summary_distribute(tmp_path: Path) -> None:
    path = tmp_path / "net.nn"
    path.write_text(SOURCE)
    proc = nnrun("summary", str(path), "--distribute")
    assert proc.returncode == 0, proc.stderr
    assert "mesh [data: 4, model: 2]" in proc.stdout
    assert "[data, model]" in proc.stdout  # dense/kernel's split
    assert "Parameters per device: 1.38 KB" in proc.stdout
    assert "Optimizer state per device: 2.77 KB (adam: 2 copies of each trainable weight)" in (
        proc.stdout
    )
    assert "Largest activation per device: 2.00 KB" in proc.stdout


def test_summary_distribute_without_section_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "net.nn"
    path.write_text(SOURCE.split("    distribute")[0] + "}\n")
    proc = nnrun("summary", str(path), "--distribute")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no `distribute" in proc.stderr
