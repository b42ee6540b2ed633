"""The memory pre-flight: a run whose weights and largest activation cannot fit is refused in
one line before training or inference starts, with the run-time sizes (batch, `T`) bound from
the data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nndsl.backend import DataError
from nndsl.frontend import check_source
from nndsl.ir import Graph
from nndsl.runtime import budget
from nndsl.runtime.budget import bind_sizes, check_fits, estimate, parse_bytes
from tests.cli import nnrun

SEQUENCE_MODEL = """
model Seq() {
    input x: f32[B, T, 8]
    return x |> Dense(64) |> GlobalAveragePooling1D() |> Dense(2)
}
"""

TRAINED = """
model Wide() {
    input x: f32[B, 4]
    return x |> Dense(4096, activation = "relu") |> Dense(3)
}
data d = npz("d.npz", x = "x", y = "y")
train Wide on d {
    loss = cross_entropy(from_logits = true)
    optimizer = sgd(learning_rate = 0.1)
    epochs = 1
    batch = 512
    validation_split = 0
}
"""


def _graph(text: str, name: str) -> Graph:
    result = check_source(text, "budget.nn")
    graph = result.graph(name)
    assert not result.errors and graph is not None, result.errors
    return graph


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("16GB", 16 * 10**9),
        ("512MiB", 512 * 2**20),
        ("1.5 gb", int(1.5 * 10**9)),
        ("4096", 4096),
        ("12 parsecs", None),
        ("", None),
        ("-3GB", None),
    ],
)
def test_sizes_read_as_users_write_them(text: str, expected: int | None) -> None:
    assert parse_bytes(text) == expected


def test_run_time_sizes_are_bound_from_the_data() -> None:
    graph = _graph(SEQUENCE_MODEL, "Seq")
    sizes = bind_sizes(graph, [(1000, 50, 8)], batch=32)
    need = estimate(graph, sizes)
    assert need.largest is not None
    # Dense(64) over [32, 50, 8] makes [32, 50, 64] f32: the largest activation.
    assert need.largest.bytes == 32 * 50 * 64 * 4
    assert need.weights == (8 * 64 + 64 + 64 * 2 + 2) * 4


def test_refused_in_one_line_naming_the_largest_activation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    graph = _graph(SEQUENCE_MODEL, "Seq")
    monkeypatch.setenv(budget.DEVICE_MEMORY_ENV, "100KB")
    with pytest.raises(DataError) as err:
        check_fits(graph, [(1000, 50, 8)], 32, "training")
    message = str(err.value)
    assert "\n" not in message
    assert "training of `Seq` needs at least" in message
    assert "batch 32" in message and "100KB" not in message  # the limit is shown as a size
    check_fits(graph, [(1000, 50, 8)], 1, "training")  # batch 1 fits


def test_a_bad_device_memory_setting_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(budget.DEVICE_MEMORY_ENV, "lots")
    with pytest.raises(DataError, match="NNDSL_DEVICE_MEMORY='lots' is not a size"):
        budget.device_memory()


def test_nnrun_train_refuses_before_the_first_step(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(600, 4)), y=rng.integers(0, 3, 600))
    (tmp_path / "m.nn").write_text(TRAINED)
    # Dense(4096) at batch 512 is 8 MiB of f32: over a 4 MB device, under 64 MB.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(budget.DEVICE_MEMORY_ENV, "4MB")
        small = nnrun("train", "m.nn", cwd=tmp_path)
    assert small.returncode == 1, small.stdout + small.stderr
    assert "Traceback" not in small.stderr
    assert "training of `Wide` needs at least" in small.stderr
    assert "dense" in small.stderr and "batch 512" in small.stderr
    assert not (tmp_path / "runs" / "Wide" / "model.safetensors").exists()
