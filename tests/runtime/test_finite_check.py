"""The gradient finiteness check behind `on_nonfinite` must see a single NaN or infinity
anywhere in any leaf (XLA:CPU's max-reduction may skip NaN, so the check maps NaN first)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndsl.backend.jax.training import _all_finite

check = jax.jit(_all_finite)


def tree(bad: float | None, leaf: str, at: int) -> dict[str, jax.Array]:
    rng = np.random.default_rng(0)
    out = {
        "kernel": rng.normal(size=(784, 512)).astype(np.float32),
        "bias": rng.normal(size=(512,)).astype(np.float32),
        "empty": np.zeros((0, 3), np.float32),
    }
    if bad is not None:
        flat = out[leaf].reshape(-1)
        flat[at % flat.size] = bad
    return {k: jnp.asarray(v) for k, v in out.items()}


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize(("leaf", "at"), [("kernel", 0), ("kernel", 200_003), ("bias", 511)])
def test_one_bad_element_anywhere_is_found(bad: float, leaf: str, at: int) -> None:
    assert not bool(check(tree(bad, leaf, at)))


def test_finite_trees_pass_including_huge_values_and_no_leaves() -> None:
    assert bool(check(tree(None, "kernel", 0)))
    assert bool(check({"w": jnp.full((3,), 3e38, jnp.float32)}))
    assert bool(check({}))
