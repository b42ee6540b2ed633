"""Labels that do not fit the model's output say what the model returns, and the likely slip
(issue 18)."""

from __future__ import annotations

import numpy as np
import pytest

from nndsl.frontend import check_source
from nndsl.runtime import DataError
from nndsl.runtime.data import check_labels

SOURCE = """
model M() {
    input x: f32[B, 8, 8, 1]
    return x |> Conv2D(10, 3, padding = "same") LAST
}
data d = npz("d.npz")
train M on d {
    loss = cross_entropy(from_logits = true)
    optimizer = adam
}
"""


def _train(last: str) -> object:
    result = check_source(SOURCE.replace("LAST", last), "m.nn")
    assert result.program is not None and result.program.train is not None
    return result.program.train


def test_spatial_output_and_flat_labels_suggest_flatten() -> None:
    t = _train("")
    with pytest.raises(DataError) as err:
        check_labels(t.graph, t.loss, np.zeros(32, np.int32), 32, "d.npz", "y")  # type: ignore[attr-defined]
    message = str(err.value)
    assert "expected class ids [B, 8, 8] or one-hot [B, 8, 8, 10], found shape [32]" in message
    assert message.endswith(
        "the model returns [B, 8, 8, 10]; did you forget `Flatten()` (or "
        "`GlobalAveragePooling2D()`) before the last layer?"
    )


def test_flat_output_names_its_shape_without_the_flatten_hint() -> None:
    t = _train("|> Flatten() |> Dense(10)")
    with pytest.raises(DataError) as err:
        check_labels(t.graph, t.loss, np.zeros((32, 4), np.float32), 32, "d.npz", "y")  # type: ignore[attr-defined]
    assert str(err.value).endswith("found shape [32, 4]; the model returns [B, 10]")
