"""Text models of the standard library against Keras 3: the Transformer classifier (as in
Keras's "Text classification with Transformer" example) and the LSTM classifier. Keras has no
application for them, so the reference is built here with the functional API.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras
import numpy as np
import pytest
from keras import layers, ops

from tests.stdlib.support import block_outputs, dims, forward_parity, keras_counts, probe


class PositionTable(layers.Layer):
    """Adds a learned `[maxlen, dim]` table (an Embedding of the positions), as Keras's
    example's `TokenAndPositionEmbedding` does."""

    def __init__(self, maxlen: int, dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.emb = layers.Embedding(maxlen, dim)

    def call(self, x: Any) -> Any:
        return x + self.emb(ops.arange(0, ops.shape(x)[1]))


def keras_transformer_classifier(
    *,
    vocab: int,
    maxlen: int,
    dim: int,
    heads: int,
    ff_dim: int,
    depth: int,
    hidden: int,
    classes: int,
) -> tuple[Any, list[Any]]:
    tokens = keras.Input((maxlen,), dtype="int32")
    x = PositionTable(maxlen, dim)(layers.Embedding(vocab, dim)(tokens))
    outs = [x]
    for _ in range(depth):
        a = layers.Dropout(0.1)(layers.MultiHeadAttention(heads, dim)(x, x))
        h = layers.LayerNormalization(epsilon=1e-6)(x + a)
        f = layers.Dense(dim)(layers.Dense(ff_dim, activation="relu")(h))
        x = layers.LayerNormalization(epsilon=1e-6)(h + layers.Dropout(0.1)(f))
        outs.append(x)
    x = layers.Dropout(0.1)(layers.GlobalAveragePooling1D()(x))
    x = layers.Dropout(0.1)(layers.Dense(hidden, activation="relu")(x))
    x = layers.Dense(classes, activation="softmax")(x)
    return keras.Model(tokens, x), outs


def test_transformer_classifier_matches_keras() -> None:
    config = dict(
        vocab=20000, maxlen=200, dim=32, heads=2, ff_dim=32, depth=1, hidden=20, classes=2
    )
    graph = probe("transformer", "TransformerClassifier", "i32[B, 200]")
    with keras.StatelessScope():
        kmodel, outs = keras_transformer_classifier(**config)
    assert graph.param_counts() == keras_counts(kmodel)
    shapes = list(block_outputs(graph, 2).values())
    assert shapes[:2] == [dims(o.shape) for o in outs]
    assert dims(graph.outputs[0].type.shape) == (None, 2)


@pytest.mark.parametrize("depth", [1, 2])
def test_tiny_transformer_classifier_forward_matches_keras(depth: int) -> None:
    config = dict(vocab=50, maxlen=7, dim=8, heads=2, ff_dim=12, depth=depth, hidden=5, classes=3)
    graph = probe("transformer", "TransformerClassifier", "i32[B, 7]", **config)
    kmodel, _ = keras_transformer_classifier(**config)
    assert graph.param_counts() == keras_counts(kmodel)
    tokens = np.random.default_rng(0).integers(0, 50, size=(3, 7)).astype(np.int32)
    out = forward_parity(graph, kmodel, tokens)
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-5)


def keras_lstm_classifier(
    *, vocab: int, maxlen: int, dim: int, units: int, depth: int, bidirectional: bool, classes: int
) -> Any:
    tokens = keras.Input((maxlen,), dtype="int32")
    x = layers.Embedding(vocab, dim)(tokens)
    for i in range(depth):
        lstm = layers.LSTM(units, return_sequences=i < depth - 1)
        x = (layers.Bidirectional(lstm) if bidirectional else lstm)(x)
    x = layers.Dense(classes, activation="softmax")(layers.Dropout(0.0)(x))
    return keras.Model(tokens, x)


@pytest.mark.parametrize(("depth", "bidirectional"), [(1, False), (2, False), (2, True)])
def test_lstm_classifier_matches_keras(depth: int, bidirectional: bool) -> None:
    config = dict(
        vocab=20000,
        maxlen=200,
        dim=128,
        units=64,
        depth=depth,
        bidirectional=bidirectional,
        classes=2,
    )
    graph = probe("lstm", "LSTMClassifier", "i32[B, 200]", **config)
    with keras.StatelessScope():
        kmodel = keras_lstm_classifier(**config)
    assert graph.param_counts() == keras_counts(kmodel)


@pytest.mark.parametrize(("depth", "bidirectional"), [(1, False), (2, True)])
def test_tiny_lstm_classifier_forward_matches_keras(depth: int, bidirectional: bool) -> None:
    config = dict(
        vocab=30, maxlen=6, dim=4, units=5, depth=depth, bidirectional=bidirectional, classes=3
    )
    graph = probe("lstm", "LSTMClassifier", "i32[B, 6]", **config)
    kmodel = keras_lstm_classifier(**config)
    tokens = np.random.default_rng(1).integers(0, 30, size=(2, 6)).astype(np.int32)
    forward_parity(graph, kmodel, tokens)
