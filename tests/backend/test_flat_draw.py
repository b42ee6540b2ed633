"""`flat_draw` must give exactly the values of drawing `shape` directly: weight
initialisation goes through it for speed, and seeds must keep giving the same weights."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndsl.backend.jax.initializers import _bucket, flat_draw

SAMPLERS: dict[str, Callable[..., jax.Array]] = {
    "uniform": partial(jax.random.uniform, minval=-0.3, maxval=0.7),
    "normal": jax.random.normal,
    "truncated_normal": lambda key, shape, dtype: jax.random.truncated_normal(
        key, -2.0, 2.0, shape, dtype
    ),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
@pytest.mark.parametrize("shape", [(), (7,), (512, 10), (3, 3, 1, 32), (70_001,)])
def test_flat_draw_equals_the_direct_draw(name: str, shape: tuple[int, ...]) -> None:
    sample = SAMPLERS[name]
    key = jax.random.fold_in(jax.random.key(5), 11)
    direct = sample(key, shape, jnp.float32)
    flat = flat_draw(sample, key, shape, jnp.float32)
    assert flat.shape == direct.shape
    np.testing.assert_array_equal(np.asarray(flat), np.asarray(direct))


def test_buckets_cover_the_size_and_stay_few() -> None:
    assert [_bucket(n) for n in (1, 4096, 4097, 401_408, 2**24, 2**24 + 1)] == [
        4096,
        4096,
        65_536,
        2**20,
        2**24,
        2**24 + 1,
    ]
