"""Layer numerics against small NumPy references (Keras 3 semantics)."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from tests.backend.graphs import apply_op

RNG = np.random.default_rng(0)


def close(a: object, b: object, tol: float = 1e-5) -> None:
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


def randn(*shape: int) -> np.ndarray:
    return RNG.normal(size=shape).astype(np.float32)


def test_dense_with_bias_and_activation() -> None:
    x, k, b = randn(5, 4), randn(4, 3), randn(3)
    out, _ = apply_op("Dense", x, params={"kernel": k, "bias": b}, units=3, activation="relu")
    close(out, np.maximum(x @ k + b, 0))
    out, _ = apply_op("Dense", x, params={"kernel": k}, units=3, use_bias=False)
    close(out, x @ k)


def _same_pads(n: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    eff = (k - 1) * d + 1
    total = max((math.ceil(n / s) - 1) * s + eff - n, 0)
    return total // 2, total - total // 2


def conv_ref(
    x: np.ndarray, k: np.ndarray, stride: int, padding: str, dilation: int = 1
) -> np.ndarray:
    kh, kw, _, f = k.shape
    if padding == "same":
        ph, pw = (
            _same_pads(x.shape[1], kh, stride, dilation),
            _same_pads(x.shape[2], kw, stride, dilation),
        )
        x = np.pad(x, ((0, 0), ph, pw, (0, 0)))
    eh, ew = (kh - 1) * dilation + 1, (kw - 1) * dilation + 1
    oh, ow = (x.shape[1] - eh) // stride + 1, (x.shape[2] - ew) // stride + 1
    out = np.zeros((x.shape[0], oh, ow, f), np.float64)
    for i in range(oh):
        for j in range(ow):
            patch = x[
                :, i * stride : i * stride + eh : dilation, j * stride : j * stride + ew : dilation
            ]
            out[:, i, j] = np.einsum("bhwc,hwcf->bf", patch, k)
    return out


@pytest.mark.parametrize(
    ("stride", "padding", "dilation", "size"),
    [
        (1, "valid", 1, 7),
        (1, "same", 1, 7),
        (2, "same", 1, 7),
        (2, "valid", 1, 8),
        (2, "same", 1, 8),
        (1, "same", 2, 7),
        (1, "valid", 2, 7),
    ],
)
def test_conv2d(stride: int, padding: str, dilation: int, size: int) -> None:
    x, k, b = randn(2, size, size - 1, 3), randn(3, 3, 3, 4), randn(4)
    out, _ = apply_op(
        "Conv2D",
        x,
        params={"kernel": k, "bias": b},
        filters=4,
        kernel_size=3,
        strides=stride,
        padding=padding,
        dilation_rate=(dilation, dilation),
    )
    close(out, conv_ref(x, k, stride, padding, dilation) + b, 1e-4)


def pool_ref(x: np.ndarray, size: int, stride: int, padding: str, kind: str) -> np.ndarray:
    n, h, w, c = x.shape
    if padding == "same":
        (ht, hb), (wl, wr) = _same_pads(h, size, stride), _same_pads(w, size, stride)
    else:
        ht = hb = wl = wr = 0
    oh = (h + ht + hb - size) // stride + 1
    ow = (w + wl + wr - size) // stride + 1
    out = np.zeros((n, oh, ow, c), np.float32)
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * stride - ht, j * stride - wl
            win = x[:, max(r0, 0) : min(r0 + size, h), max(c0, 0) : min(c0 + size, w)]
            out[:, i, j] = win.max(axis=(1, 2)) if kind == "max" else win.mean(axis=(1, 2))
    return out


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize(
    ("size", "stride", "padding"),
    [
        (2, 2, "valid"),
        (3, 2, "valid"),
        (2, 2, "same"),
        (3, 2, "same"),
        (3, 1, "same"),
    ],
)
def test_pools(kind: str, size: int, stride: int, padding: str) -> None:
    x = randn(2, 7, 6, 3)
    name = "MaxPool2D" if kind == "max" else "AvgPool2D"
    out, _ = apply_op(name, x, pool_size=size, strides=stride, padding=padding)
    close(out, pool_ref(x, size, stride, padding, kind))


def test_pool_strides_default_to_pool_size() -> None:
    x = randn(1, 6, 6, 2)
    out, _ = apply_op("MaxPool2D", x, pool_size=(3, 3))
    close(out, pool_ref(x, 3, 3, "valid", "max"))


def test_global_avg_pool() -> None:
    x = randn(2, 4, 5, 3)
    close(apply_op("GlobalAvgPool2D", x)[0], x.mean(axis=(1, 2)))
    assert apply_op("GlobalAvgPool2D", x, keepdims=True)[0].shape == (2, 1, 1, 3)  # type: ignore[attr-defined]


def test_flatten_and_reshape() -> None:
    x = randn(2, 3, 4)
    close(apply_op("Flatten", x)[0], x.reshape(2, 12))
    close(apply_op("Reshape", x, target_shape=(4, -1))[0], x.reshape(2, 4, 3))


BN = {
    "gamma": np.array([1.0, 2.0, 0.5], np.float32),
    "beta": np.array([0.0, 1.0, -1.0], np.float32),
}
BN_STATE = {
    "moving_mean": np.array([0.1, -0.2, 0.3], np.float32),
    "moving_variance": np.array([1.0, 2.0, 0.5], np.float32),
}


def test_batch_norm_training_uses_batch_statistics_and_updates_state() -> None:
    x = randn(8, 3) * 3 + 1
    out, new = apply_op(
        "BatchNorm", x, params=BN, state=BN_STATE, training=True, momentum=0.9, epsilon=1e-3
    )
    mean, var = x.mean(0), x.var(0)
    close(out, (x - mean) / np.sqrt(var + 1e-3) * BN["gamma"] + BN["beta"], 1e-4)
    close(new["moving_mean"], BN_STATE["moving_mean"] * 0.9 + mean * 0.1)
    close(new["moving_variance"], BN_STATE["moving_variance"] * 0.9 + var * 0.1, 1e-4)


def test_batch_norm_inference_uses_moving_statistics() -> None:
    x = randn(4, 5, 3)
    out, new = apply_op("BatchNorm", x, params=BN, state=BN_STATE)
    expected = (x - BN_STATE["moving_mean"]) / np.sqrt(BN_STATE["moving_variance"] + 1e-3) * BN[
        "gamma"
    ] + BN["beta"]
    close(out, expected, 1e-5)
    assert new == {}


def test_batch_norm_channel_axis_and_no_affine() -> None:
    x = randn(4, 3, 2, 2)
    out, _ = apply_op(
        "BatchNorm", x, state=BN_STATE, axis=1, center=False, scale=False, training=True
    )
    mean, var = x.mean((0, 2, 3), keepdims=True), x.var((0, 2, 3), keepdims=True)
    close(out, (x - mean) / np.sqrt(var + 1e-3), 1e-4)


def test_layer_norm() -> None:
    x = randn(4, 6)
    g, b = randn(6), randn(6)
    out, _ = apply_op("LayerNorm", x, params={"gamma": g, "beta": b})
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    close(out, (x - mean) / np.sqrt(var + 1e-3) * g + b, 1e-5)


def test_dropout_identity_cases_and_training_rescale() -> None:
    x = randn(64, 32) + 5
    close(apply_op("Dropout", x, rate=0.5)[0], x)  # not training
    close(apply_op("Dropout", x, rate=0.0, training=True, key=jax.random.key(0))[0], x)
    out = np.asarray(apply_op("Dropout", x, rate=0.25, training=True, key=jax.random.key(1))[0])
    kept = out != 0
    close(out[kept], x[kept] / 0.75)
    assert 0.65 < kept.mean() < 0.85
    with pytest.raises(ValueError, match="PRNG key"):
        apply_op("Dropout", x, rate=0.5, training=True)


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf)(x)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


ACTIVATION_REFS = {
    "relu": ({}, lambda x: np.maximum(x, 0)),
    "gelu": ({}, lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2)))),
    "sigmoid": ({}, _sigmoid),
    "tanh": ({}, np.tanh),
    "silu": ({}, lambda x: x * _sigmoid(x)),
    "leaky_relu": ({}, lambda x: np.where(x > 0, x, 0.2 * x)),
    "softmax": ({}, lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
}


@pytest.mark.parametrize("name", sorted(ACTIVATION_REFS))
def test_activations(name: str) -> None:
    x = randn(3, 5) * 2
    attrs, ref = ACTIVATION_REFS[name]
    close(apply_op(name, x, **attrs)[0], ref(x))


def test_activation_arguments() -> None:
    x = randn(3, 5) * 2
    tanh_gelu = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    close(apply_op("gelu", x, approximate=True)[0], tanh_gelu)
    close(apply_op("leaky_relu", x, negative_slope=0.1)[0], np.where(x > 0, x, 0.1 * x))
    e = np.exp(x)
    close(apply_op("softmax", x, axis=0)[0], e / e.sum(0, keepdims=True))


def test_operators() -> None:
    a, b = randn(3, 4), randn(4)
    close(apply_op("add", a, b)[0], a + b)
    close(apply_op("sub", a, b)[0], a - b)
    close(apply_op("mul", a, b)[0], a * b)
    close(apply_op("div", a, b + 3)[0], a / (b + 3))
    close(apply_op("neg", a)[0], -a)
    w = randn(4, 2)
    close(apply_op("matmul", a, w)[0], a @ w)
    c = apply_op("constant", value=2.5)[0]
    assert c.shape == () and c.dtype == np.float32 and float(c) == 2.5  # type: ignore[attr-defined]
