"""Initializers against Keras 3's: the random draws differ, so the statistics must match (mean,
standard deviation, bounds over large samples; fans of conv kernels; orthogonality), and the
deterministic ones must match exactly."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

from nndsl.backend.jax import compile_graph
from nndsl.backend.jax.initializers import compute_fans, initialize
from nndsl.frontend import check_source
from nndsl.ops import Configured, OpKind, configured, iter_specs

BIG = (200, 500)  # 100k draws: the standard error of the std is about 0.2%
CONV = (3, 3, 60, 80)  # receptive field 9: fans 540 and 720


@pytest.fixture(autouse=True)
def _keras_seed() -> None:
    """Keras's unseeded initializers draw from its global seed: fix it, so runs repeat."""
    keras.utils.set_random_seed(1)


def _nn(init: str | Configured, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.asarray(initialize(init, jax.random.key(seed), shape, jnp.dtype("float32")))


def _keras(init: Any, shape: tuple[int, ...]) -> np.ndarray:
    return np.asarray(keras.initializers.get(init)(shape))


def _cfg(name: str, **options: object) -> Configured:
    return Configured(name, tuple(options.items()))  # type: ignore[arg-type]


def _same_distribution(a: np.ndarray, b: np.ndarray) -> None:
    """Mean, std and quantiles agree; bounded draws (uniform, truncated) share their bounds."""
    scale = max(float(b.std()), 1e-3)
    assert abs(a.mean() - b.mean()) < 0.02 * scale, (a.mean(), b.mean())
    assert abs(a.std() - b.std()) < 0.02 * scale, (a.std(), b.std())
    q = [0.02, 0.25, 0.5, 0.75, 0.98]
    np.testing.assert_allclose(np.quantile(a, q), np.quantile(b, q), atol=0.06 * scale)
    centre = float(b.mean())
    if max(b.max() - centre, centre - b.min()) < 3 * scale:  # bounded: the extremes agree
        assert abs(a.min() - b.min()) < 0.01 * scale, (a.min(), b.min())
        assert abs(a.max() - b.max()) < 0.01 * scale, (a.max(), b.max())


RANDOM = [
    ("glorot_uniform", "glorot_uniform"),
    ("glorot_normal", "glorot_normal"),
    ("he_uniform", "he_uniform"),
    ("he_normal", "he_normal"),
    ("lecun_uniform", "lecun_uniform"),
    ("lecun_normal", "lecun_normal"),
    ("GlorotUniform", "GlorotUniform"),
    ("random_normal", "random_normal"),
    ("normal", "normal"),
    ("random_uniform", "random_uniform"),
    ("uniform", "uniform"),
    ("truncated_normal", "truncated_normal"),
]


@pytest.mark.parametrize("nn_name, keras_name", RANDOM, ids=[r[0] for r in RANDOM])
@pytest.mark.parametrize("shape", [BIG, CONV], ids=["dense", "conv"])
def test_random_initializer_statistics(
    nn_name: str, keras_name: str, shape: tuple[int, ...]
) -> None:
    _same_distribution(_nn(nn_name, shape), _keras(keras_name, shape))


CONFIGURED = [
    (_cfg("random_normal", mean=1.5, stddev=0.3), keras.initializers.RandomNormal(1.5, 0.3)),
    (_cfg("random_uniform", minval=-2.0, maxval=0.5), keras.initializers.RandomUniform(-2.0, 0.5)),
    (
        _cfg("truncated_normal", mean=-1.0, stddev=2.0),
        keras.initializers.TruncatedNormal(-1.0, 2.0),
    ),
    *[
        (
            _cfg("variance_scaling", scale=scale, mode=mode, distribution=dist),
            keras.initializers.VarianceScaling(scale, mode, dist),
        )
        for scale, mode, dist in [
            (1.0, "fan_in", "truncated_normal"),
            (2.0, "fan_out", "uniform"),
            (0.5, "fan_avg", "untruncated_normal"),
            (3.0, "fan_in", "normal"),
        ]
    ],
]


@pytest.mark.parametrize("cfg, keras_init", CONFIGURED, ids=[str(c[0]) for c in CONFIGURED])
@pytest.mark.parametrize("shape", [BIG, CONV, (50_000,)], ids=["dense", "conv", "bias"])
def test_configured_initializer_statistics(
    cfg: Configured, keras_init: Any, shape: tuple[int, ...]
) -> None:
    resolved = configured(cfg, OpKind.INITIALIZER)
    assert resolved is not None
    _same_distribution(_nn(resolved, shape), _keras(keras_init, shape))


@pytest.mark.parametrize("shape", [(4,), (5, 7), (3, 5, 7), (3, 3, 4, 8), (2, 3, 3, 4, 8)], ids=str)
def test_fans_are_keras_fans(shape: tuple[int, ...]) -> None:
    from keras.src.initializers.random_initializers import compute_fans as keras_fans

    assert compute_fans(shape) == keras_fans(shape)


def test_conv_kernel_scale_uses_the_receptive_field() -> None:
    """he_normal on `[3, 3, 60, 80]`: std sqrt(2 / 540), not sqrt(2 / 60)."""
    w = _nn("he_normal", CONV)
    assert abs(w.std() - np.sqrt(2 / 540)) < 0.02 * np.sqrt(2 / 540)


@pytest.mark.parametrize(
    "shape, gain", [((6, 4), 1.0), ((4, 6), 2.5), ((3, 3, 4, 8), 1.0)], ids=str
)
def test_orthogonal(shape: tuple[int, ...], gain: float) -> None:
    cfg = configured(_cfg("orthogonal", gain=gain), OpKind.INITIALIZER)
    assert cfg is not None
    ours = _nn(cfg, shape).reshape(-1, shape[-1])
    theirs = _keras(keras.initializers.Orthogonal(gain), shape).reshape(-1, shape[-1])
    for w in (ours, theirs):
        small = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
        np.testing.assert_allclose(small, gain**2 * np.eye(len(small)), atol=1e-4 * gain**2)
    # different seeds give different matrices
    assert not np.allclose(ours, _nn(cfg, shape, seed=1).reshape(ours.shape))


@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3)], ids=str)
def test_identity_matches_keras(shape: tuple[int, int]) -> None:
    cfg = configured(_cfg("identity", gain=2.0), OpKind.INITIALIZER)
    assert cfg is not None
    np.testing.assert_array_equal(_nn(cfg, shape), _keras(keras.initializers.Identity(2.0), shape))


def test_constant_zeros_ones_match_keras() -> None:
    cfg = configured(_cfg("Constant", value=0.25), OpKind.INITIALIZER)
    assert cfg is not None
    np.testing.assert_array_equal(
        _nn(cfg, (3, 4)), _keras(keras.initializers.Constant(0.25), (3, 4))
    )
    for name in ("zeros", "ones", "zero", "one", "Zeros", "Ones"):
        np.testing.assert_array_equal(_nn(name, (3, 4)), _keras(name, (3, 4)))


def test_keras_names_resolve_to_the_same_initializer() -> None:
    """Each nndsl initializer name and alias is a Keras name for the same Keras class."""
    from nndsl.ops.registry import ALIASES

    for spec in iter_specs(OpKind.INITIALIZER):
        if spec.family != "weights":
            continue  # helpers of other families (the LSTM's unit-forget-gate bias)
        names = [spec.name, *(a for a, target in ALIASES.items() if target == spec.name)]
        classes = {
            type(keras.initializers.get({"class_name": n, "config": {"value": 0.0}}))
            if n == "Constant"
            else type(keras.initializers.get(n))
            for n in names
        }
        assert len(classes) == 1, (spec.name, classes)


def _init_program(init: str) -> str:
    return (
        "model M() {\n    input x: f32[B, 6]\n"
        f"    return x |> Dense(4, kernel_initializer = {init})\n}}\n"
    )


def test_initializer_reaches_the_model_weights() -> None:
    result = check_source(_init_program("orthogonal(gain = 3.0)"), "m.nn")
    assert not result.has_errors
    graph = result.graph("M")
    assert graph is not None
    params, _ = compile_graph(graph).init(jax.random.key(0))
    kernel = np.asarray(next(iter(params.values()))["kernel"])
    np.testing.assert_allclose(kernel.T @ kernel, 9.0 * np.eye(4), atol=1e-4)


@pytest.mark.parametrize(
    "stage",
    [
        "Dense(4, bias_initializer = identity)",
        "Dense(4, bias_initializer = orthogonal)",
        "Dense(4, kernel_initializer = random_uniform(1.0, 0.0))",
        'Dense(4, kernel_initializer = variance_scaling(mode = "fan"))',
        "Dense(4, kernel_initializer = variance_scaling(0.0))",
    ],
)
def test_bad_initializers_are_argument_errors(stage: str) -> None:
    src = f"model M() {{\n    input x: f32[B, 6]\n    return x |> {stage}\n}}\n"
    codes = [d.code for d in check_source(src, "m.nn").diagnostics]
    assert codes and all(c.startswith("E04") for c in codes), codes


@pytest.mark.parametrize("init", ["glorot_uniform", "he_uniform"])
def test_einsum_dense_kernel_fans_are_keras_fans(init: str) -> None:
    """EinsumDense counts fans over contracted and output kernel axes, as Keras's build does:
    kernel `[64, 8, 32]` of "abc,cde->abde" has fan_in 64 and fan_out 256 (not 512 and 2048)."""
    stage = f'EinsumDense("abc,cde->abde", [4, 8, 32], kernel_initializer = {init})'
    src = f"model M() {{\n    input x: f32[B, 4, 64]\n    return x |> {stage}\n}}\n"
    graph = check_source(src, "m.nn").graph("M")
    assert graph is not None
    params, _ = compile_graph(graph).init(jax.random.key(0))
    ours = np.asarray(next(iter(params.values()))["kernel"])
    layer = keras.layers.EinsumDense("abc,cde->abde", (4, 8, 32), kernel_initializer=init)
    layer.build((2, 4, 64))
    theirs = np.asarray(layer.kernel)
    assert ours.shape == theirs.shape == (64, 8, 32)
    _same_distribution(ours, theirs)


def test_fan_axes_can_be_given() -> None:
    cfg = configured(
        _cfg("glorot_uniform", input_axes=(0,), output_axes=(1, 2)), OpKind.INITIALIZER
    )
    assert cfg is not None
    w = _nn(cfg, (64, 8, 32))
    assert abs(np.abs(w).max() - np.sqrt(6 / (64 + 256))) < 1e-3
