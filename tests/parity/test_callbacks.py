"""Early stopping and reduce-LR-on-plateau decide on the same epochs as Keras 3's callbacks.

Both are fed the same recorded metric series, epoch by epoch, with the same settings (min_delta,
mode, baseline, start_from_epoch, restore_best_weights, patience, cooldown, min_lr): the epoch
training stops at, the epoch whose weights are restored, and the learning rate after every
epoch must agree. Series are random walks rounded to one decimal, so ties and plateaus occur.

Each test checks a seeded sample of its settings grid against every series (Keras's
comparisons go through JAX ops, ~1 ms an epoch); set NNDSL_FULL_PARITY=1 for the whole grid
(2,880 early-stopping and 3,240 plateau runs; all agreed when written).
"""

from __future__ import annotations

import itertools
import os
import random
from pathlib import Path
from typing import Any

import keras
import numpy as np
import optax
import pytest

from nndsl.backend.jax.impls.callbacks import EarlyStopping, ReduceLrOnPlateau
from nndsl.backend.jax.training import lr_factor

BASE_LR = 0.1


def _series(seed: int, n: int = 14) -> list[float]:
    rng = np.random.default_rng(seed)
    walk = 1.0 + np.cumsum(rng.normal(0, 0.15, n)) - 0.03 * np.arange(n)
    return [float(v) for v in np.round(walk, 1)]


SERIES = [_series(seed) for seed in range(12)] + [
    [1.0, 0.9, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8, 0.7, 0.7],  # ties never improve
    [0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2],  # only gets worse (better, under "max")
    [1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7],  # steady, small steps (vs min_delta)
]


class _Run:
    """The loop state the callbacks see; `params` holds the epoch the weights are from."""

    def __init__(self) -> None:
        hyper = optax.inject_hyperparams(lambda lr_scale: optax.scale(lr_scale))(lr_scale=1.0)
        self.params: Any = 0
        self.state: Any = {}
        self.opt_state: Any = hyper.init({})
        self.epoch = 0
        self.global_step = 0
        self.stop_training = False
        self.run_dir = Path(".")
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(message)


class _KerasModel:
    def __init__(self) -> None:
        self.stop_training = False
        self.optimizer = type("Opt", (), {"learning_rate": BASE_LR})()
        self.weights = 0

    def get_weights(self) -> int:
        return self.weights

    def set_weights(self, weights: int) -> None:
        self.weights = weights


def _keras(callback: Any, series: list[float], monitor: str) -> tuple[int, int, list[float]]:
    """(stop epoch or 0, restored weights' epoch, learning rate after each epoch)."""
    model = _KerasModel()
    callback.set_model(model)
    callback.on_train_begin()
    stop, rates = 0, []
    for epoch, value in enumerate(series):
        model.weights = epoch + 1
        callback.on_epoch_end(epoch, {monitor: value})
        rates.append(float(model.optimizer.learning_rate))
        if model.stop_training:
            stop = epoch + 1
            break
    callback.on_train_end()
    return stop, model.weights, rates


def _nndsl(callback: Any, series: list[float], monitor: str) -> tuple[int, int, list[float]]:
    run = _Run()
    callback.on_train_begin(run, False)
    stop, rates = 0, []
    for epoch, value in enumerate(series, start=1):
        run.epoch, run.params = epoch, epoch
        callback.on_epoch_end(run, {monitor: value})
        rates.append(BASE_LR * lr_factor(run.opt_state))
        if run.stop_training:
            stop = epoch
            break
    callback.on_train_end(run)
    return stop, int(run.params), rates


MODES = [("val_loss", "auto"), ("val_loss", "min"), ("val_accuracy", "max")]
SAMPLE = 4  # settings per mode, each against every series


def _sample(grid: Any) -> list[Any]:
    settings = list(grid)
    if os.environ.get("NNDSL_FULL_PARITY"):
        return settings
    return random.Random(len(settings)).sample(settings, SAMPLE)


@pytest.mark.parametrize(("monitor", "mode"), MODES)
def test_early_stopping_stops_where_keras_does(monitor: str, mode: str) -> None:
    grid = itertools.product((0, 1, 2, 3), (0.0, 0.05), (None, 0.6), (0, 2), (False, True))
    for patience, min_delta, baseline, start, restore in _sample(grid):
        for series in SERIES:
            keras_cb = keras.callbacks.EarlyStopping(
                monitor=monitor,
                mode=mode,
                patience=patience,
                min_delta=min_delta,
                baseline=baseline,
                start_from_epoch=start,
                restore_best_weights=restore,
            )
            ours = EarlyStopping(
                {
                    "monitor": monitor,
                    "mode": mode,
                    "patience": patience,
                    "min_delta": min_delta,
                    "baseline": baseline,
                    "start_from_epoch": start,
                    "restore_best": restore,
                }
            )
            want = _keras(keras_cb, series, monitor)
            got = _nndsl(ours, series, monitor)
            setting = (patience, min_delta, baseline, start, restore, series)
            assert got[:2] == want[:2], setting


@pytest.mark.parametrize(("monitor", "mode"), MODES)
def test_reduce_lr_on_plateau_acts_where_keras_does(monitor: str, mode: str) -> None:
    grid = itertools.product((0, 1, 2), (0.0, 0.05), (0, 1, 3), (0.0, 0.02), (0.5, 0.2))
    for patience, min_delta, cooldown, min_lr, factor in _sample(grid):
        for series in SERIES:
            keras_cb = keras.callbacks.ReduceLROnPlateau(
                monitor=monitor,
                mode=mode,
                patience=patience,
                min_delta=min_delta,
                cooldown=cooldown,
                min_lr=min_lr,
                factor=factor,
            )
            ours = ReduceLrOnPlateau(
                {
                    "monitor": monitor,
                    "mode": mode,
                    "patience": patience,
                    "min_delta": min_delta,
                    "cooldown": cooldown,
                    "min_lr": min_lr,
                    "factor": factor,
                }
            )
            ours.base_lr = BASE_LR
            want = _keras(keras_cb, series, monitor)[2]
            got = _nndsl(ours, series, monitor)[2]
            setting = (patience, min_delta, cooldown, min_lr, factor, series)
            assert got == pytest.approx(want, rel=1e-5), setting


def test_early_stopping_is_no_longer_an_epoch_late() -> None:
    """patience = 2 on a series that stops improving after epoch 1 stops at epoch 3."""
    ours = EarlyStopping(
        {
            "monitor": "loss",
            "mode": "auto",
            "patience": 2,
            "min_delta": 0.0,
            "baseline": None,
            "start_from_epoch": 0,
            "restore_best": True,
        }
    )
    stop, restored, _ = _nndsl(ours, [1.0, 1.1, 1.2, 1.3, 1.4], "loss")
    assert (stop, restored) == (3, 1)
