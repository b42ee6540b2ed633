"""IntegerLookup against the examples of Keras's documentation (Keras's own layer needs
TensorFlow, which is not installed, so its documented outputs are the reference)."""

from __future__ import annotations

import jax
import numpy as np

from nndsl.backend.jax import compile_graph
from nndsl.diagnostics import render_plain
from nndsl.frontend import check_source

VOCAB = "[12, 36, 1138, 42]"


def run(layer: str, data: list[list[int]] | list[int]) -> np.ndarray:
    x = np.asarray(data, np.int32)
    dims = ", ".join(["B", *map(str, x.shape[1:])])
    src = f"model M() {{\n    input t: i32[{dims}]\n    return t |> {layer}\n}}\n"
    result = check_source(src, "m.nn")
    assert not result.has_errors, render_plain(result.diagnostics)
    graph = result.graph("M")
    assert graph is not None
    model = compile_graph(graph)
    params, state = model.init(jax.random.key(0))
    (out,), _ = model.apply(params, state, [x])
    assert tuple(out.shape) == tuple(
        d.as_int() or n for d, n in zip(graph.outputs[0].type.shape, out.shape, strict=True)
    )
    return np.asarray(out)


DATA = [[12, 1138, 42], [42, 1000, 36]]


def test_known_vocabulary() -> None:
    np.testing.assert_array_equal(run(f"IntegerLookup({VOCAB})", DATA), [[1, 3, 4], [4, 0, 2]])


def test_several_oov_indices() -> None:
    got = run(f"IntegerLookup({VOCAB}, num_oov_indices = 2)", DATA)
    np.testing.assert_array_equal(got, [[2, 4, 5], [5, 0, 3]])  # 1000 mod 2 = 0


def test_mask_token_takes_index_zero() -> None:
    got = run(f"IntegerLookup({VOCAB}, mask_token = 0)", [[12, 0, 7]])
    np.testing.assert_array_equal(got, [[2, 0, 1]])


def test_one_hot() -> None:
    got = run(f'IntegerLookup({VOCAB}, output_mode = "one_hot")', [12, 36, 1138, 42, 7])
    np.testing.assert_array_equal(got, np.eye(5)[[1, 2, 3, 4, 0]])


def test_invert() -> None:
    got = run(f"IntegerLookup({VOCAB}, invert = true)", [[1, 3, 4], [4, 0, 2]])
    np.testing.assert_array_equal(got, [[12, 1138, 42], [42, -1, 36]])


def test_bad_vocabularies_are_diagnostics() -> None:
    src = "model M() {{\n    input t: i32[B, 3]\n    return t |> IntegerLookup({})\n}}\n"
    twice = check_source(src.format("[1, 2, 1]"), "m.nn")
    assert [d.code for d in twice.errors] == ["E0404"] and "twice" in twice.errors[0].message
    masked = check_source(src.format("[1, 2], mask_token = 2"), "m.nn")
    assert [d.code for d in masked.errors] == ["E0404"]
