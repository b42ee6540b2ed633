"""Source text through the real front end, training, checkpoint and prediction."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nndsl.frontend import check_source
from nndsl.runtime import fit, load_weights, predict, save_checkpoint
from tests.runtime.helpers import blobs, write_npz

SOURCE = """
model Blobs() {
  input x: f32[B, 4]
  h = x |> Dense(16, activation = "relu") |> BatchNorm() |> Dropout(0.1)
  return h |> Dense(3)
}

data blobs = npz("blobs.npz")

train Blobs on blobs {
  loss = cross_entropy(from_logits = true)
  optimizer = adam(lr = 0.02)
  metrics = [accuracy]
  epochs = 3
  batch = 32
  seed = 5
}
"""


def test_checked_program_trains_saves_and_predicts(tmp_path: Path) -> None:
    x, y = blobs()
    write_npz(tmp_path, "blobs.npz", x=x, y=y)
    source = tmp_path / "blobs.nn"
    source.write_text(SOURCE)
    checked = check_source(SOURCE, str(source))
    assert not checked.has_errors, [d.message for d in checked.diagnostics]
    assert checked.program is not None and checked.program.train is not None
    config = checked.program.train
    result = fit(config)
    assert result.test is not None and result.test["accuracy"] > 0.7
    path = save_checkpoint(
        tmp_path / "blobs.safetensors",
        config.graph,
        result.params,
        result.state,
        seed=config.seed,
        epochs=config.epochs,
        metrics=result.test,
    )
    params, state = load_weights(path, config.graph)
    before = predict(config.graph, result.params, result.state, x[:40])
    after = predict(config.graph, params, state, x[:40])
    np.testing.assert_array_equal(before, after)
