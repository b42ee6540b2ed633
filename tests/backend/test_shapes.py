"""Each implementation's output shape equals its spec's `output()`, via `jax.eval_shape`."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from nndsl.backend.jax import ApplyCall, implementation
from nndsl.ops import OpKind, ShapeError, iter_specs
from nndsl.ops.activation import ACTIVATION_FUNCTIONS, ACTIVATION_NAMES
from nndsl.shapes import DType, TensorType
from tests.backend.graphs import spec, tensor, with_defaults

Case = tuple[dict[str, Any], list[tuple[int, ...]]]
small = st.integers(1, 6)
shape = st.lists(small, min_size=1, max_size=4).map(tuple)
NO_ATTRS: st.SearchStrategy[dict[str, Any]] = st.just({})


@st.composite
def one_input(
    draw: st.DrawFn,
    attrs: st.SearchStrategy[dict[str, Any]] = NO_ATTRS,
    shapes: st.SearchStrategy[tuple[int, ...]] = shape,
) -> Case:
    return draw(attrs), [draw(shapes)]


@st.composite
def broadcasting(draw: st.DrawFn) -> Case:
    a = draw(shape)
    b = tuple(draw(st.sampled_from([d, 1])) for d in a[draw(st.integers(0, len(a))) :])
    return {}, draw(st.permutations([a, b]))


@st.composite
def matmul(draw: st.DrawFn) -> Case:
    m, k, n = draw(small), draw(small), draw(small)
    batch = draw(st.lists(small, max_size=2).map(tuple))
    return {}, [(*batch, m, k), draw(st.sampled_from([(k, n), (*batch, k, n), (k,)]))]


@st.composite
def broadcasting_batch(draw: st.DrawFn, most: int) -> Case:
    """Merging layers: one batch size, the other axes broadcast (Keras's Merge rules)."""
    batch = draw(small)
    a = draw(st.lists(small, max_size=3).map(tuple))
    n = draw(st.integers(2, most))
    rest = [tuple(draw(st.sampled_from([d, 1])) for d in a[draw(st.integers(0, len(a))) :])]
    return {}, [(batch, *a), *((batch, *r) for r in rest * (n - 1))]


@st.composite
def concat(draw: st.DrawFn) -> Case:
    shape = draw(st.lists(small, min_size=2, max_size=4))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    other = list(shape)
    other[axis] = draw(small)
    return {"axis": axis}, [tuple(shape), tuple(other)]


@st.composite
def dot(draw: st.DrawFn) -> Case:
    batch, n = draw(small), draw(small)
    a = [batch, *draw(st.lists(small, max_size=2)), n]
    b = [batch, n, *draw(st.lists(small, max_size=2))]
    return {"axes": (len(a) - 1, 1), "normalize": draw(st.booleans())}, [tuple(a), tuple(b)]


@st.composite
def windowed(draw: st.DrawFn, kind: str, n: int) -> Case:
    """Convolutions and poolings (issue 3, A): `n` spatial axes, channels last or first."""
    fmt = draw(st.sampled_from(["channels_last", "channels_first"]))
    groups = draw(st.sampled_from([1, 2])) if kind == "conv" else 1
    channels = groups * draw(st.integers(1, 2))
    spatial = [draw(st.integers(1, 7)) for _ in range(n)]
    batch = draw(st.integers(1, 2))
    first = fmt == "channels_first"
    shape = (batch, channels, *spatial) if first else (batch, *spatial, channels)
    if kind == "global":
        return {"data_format": fmt, "keepdims": draw(st.booleans())}, [shape]
    k = st.integers(1, 3)
    window = draw(st.one_of(k, st.tuples(*[k] * n)))
    strides = draw(st.one_of(k, st.tuples(*[k] * n)))
    paddings = ["valid", "same"] + (["causal"] if kind == "conv" and n == 1 else [])
    attrs: dict[str, Any] = {"data_format": fmt, "padding": draw(st.sampled_from(paddings))}
    if kind == "pool":
        attrs |= {"pool_size": window, "strides": draw(st.one_of(st.none(), st.just(strides)))}
        return attrs, [shape]
    attrs |= {
        "kernel_size": window,
        "strides": strides,
        "dilation_rate": draw(st.one_of(st.just(1), st.integers(1, 2))),
        "use_bias": draw(st.booleans()),
    }
    if kind in ("conv", "transpose", "separable"):
        attrs["filters"] = groups * draw(st.integers(1, 2))
    if kind == "conv":
        attrs["groups"] = groups
    if kind in ("depthwise", "separable"):
        attrs["depth_multiplier"] = draw(st.integers(1, 2))
    if kind == "transpose":
        attrs["output_padding"] = draw(st.one_of(st.none(), st.integers(0, 1)))
    return attrs, [shape]


WINDOWED = {
    **{f"Conv{n}D": windowed("conv", n) for n in (1, 2, 3)},
    **{f"Conv{n}DTranspose": windowed("transpose", n) for n in (1, 2, 3)},
    **{f"DepthwiseConv{n}D": windowed("depthwise", n) for n in (1, 2)},
    **{f"SeparableConv{n}D": windowed("separable", n) for n in (1, 2)},
    **{f"{k}Pooling{n}D": windowed("pool", n) for k in ("Max", "Average") for n in (1, 2, 3)},
    **{
        f"Global{k}Pooling{n}D": windowed("global", n)
        for k in ("Max", "Average")
        for n in (1, 2, 3)
    },
}

CASES: dict[str, st.SearchStrategy[Case]] = {
    "Dense": one_input(st.fixed_dictionaries({"units": small, "use_bias": st.booleans()})),
    **WINDOWED,
    "Flatten": one_input(),
    "Reshape": one_input(st.just({"target_shape": (-1,)})),
    # reshaping and merging (issue 3, B2)
    "Permute": one_input(st.just({"dims": (2, 1)}), st.tuples(small, small, small)),
    "RepeatVector": one_input(st.fixed_dictionaries({"n": small}), st.tuples(small, small)),
    **{
        f"{kind}{n}D": one_input(
            st.fixed_dictionaries(
                {
                    arg: st.one_of(st.integers(0, 2), st.just(((0, 1),) * n if n > 1 else (0, 1))),
                    **(
                        {"data_format": st.sampled_from(["channels_last", "channels_first"])}
                        if n > 1
                        else {}
                    ),
                }
            ),
            st.lists(st.integers(4, 6), min_size=n + 2, max_size=n + 2).map(tuple),
        )
        for kind, arg in (("ZeroPadding", "padding"), ("Cropping", "cropping"))
        for n in (1, 2, 3)
    },
    **{
        f"UpSampling{n}D": one_input(
            st.fixed_dictionaries({"size": st.integers(1, 3)}),
            st.lists(small, min_size=n + 2, max_size=n + 2).map(tuple),
        )
        for n in (1, 2, 3)
    },
    **{
        name: broadcasting_batch(3) for name in ("Add", "Multiply", "Average", "Maximum", "Minimum")
    },
    "Subtract": broadcasting_batch(2),
    "Concatenate": concat(),
    "Dot": dot(),
    "Dropout": one_input(st.fixed_dictionaries({"rate": st.sampled_from([0.0, 0.5])})),
    "BatchNormalization": one_input(
        st.fixed_dictionaries({"axis": st.sampled_from([-1, 1])}),
        st.lists(small, min_size=2, max_size=4).map(tuple),
    ),
    "LayerNormalization": one_input(
        st.fixed_dictionaries(
            {
                "scale": st.booleans(),
                "center": st.booleans(),
                "axis": st.sampled_from([-1, (-2, -1)]),
            }
        )
    ),
    "GroupNormalization": one_input(
        st.fixed_dictionaries({"groups": st.sampled_from([-1, 1, 2]), "axis": st.just(-1)}),
        st.lists(st.sampled_from([2, 4]), min_size=2, max_size=4).map(tuple),
    ),
    "RMSNormalization": one_input(st.fixed_dictionaries({"axis": st.sampled_from([-1, 0])})),
    **{
        f"SpatialDropout{n}D": one_input(
            st.fixed_dictionaries({"rate": st.sampled_from([0.0, 0.5])}),
            st.lists(small, min_size=n + 2, max_size=n + 2).map(tuple),
        )
        for n in (1, 2, 3)
    },
    "GaussianNoise": one_input(st.fixed_dictionaries({"stddev": st.sampled_from([0.0, 0.5])})),
    **{
        name: one_input(st.fixed_dictionaries({"rate": st.sampled_from([0.0, 0.5])}))
        for name in ("GaussianDropout", "AlphaDropout")
    },
    "softmax": one_input(st.fixed_dictionaries({"axis": st.sampled_from([0, -1])})),
    # activations and core layers (issue 3, C)
    **{
        n: one_input(st.fixed_dictionaries({"axis": st.sampled_from([0, -1])}))
        for n in ("log_softmax", "sparsemax", "Softmax")
    },
    "glu": one_input(
        st.fixed_dictionaries({"axis": st.sampled_from([0, -1])}),
        st.lists(st.sampled_from([2, 4]), min_size=1, max_size=3).map(tuple),
    ),
    "threshold": one_input(st.just({"threshold": 0.5, "default_value": -1.0})),
    "Activation": one_input(
        st.fixed_dictionaries({"activation": st.sampled_from(ACTIVATION_NAMES)})
    ),
    "PReLU": one_input(
        st.fixed_dictionaries({"shared_axes": st.sampled_from([None, 1, (1, 2)])}),
        st.lists(small, min_size=3, max_size=4).map(tuple),
    ),
    "Embedding": one_input(st.fixed_dictionaries({"input_dim": small, "output_dim": small})),
    "EinsumDense": st.sampled_from(
        [
            ({"equation": "abc,cd->abd", "output_shape": (-1, 3), "bias_axes": "d"}, [(2, 4, 5)]),
            ({"equation": "...b,bc->...c", "output_shape": 3, "bias_axes": None}, [(2, 3, 5)]),
            ({"equation": "ab...,bc->ac...", "output_shape": 3, "bias_axes": "c"}, [(2, 5, 4)]),
            (
                {"equation": "abc,cde->abde", "output_shape": (4, 2, 3), "bias_axes": "e"},
                [(2, 4, 5)],
            ),
        ]
    ),
    "matmul": matmul(),
    "constant": st.just(({"value": 1.5}, [])),
    **{n: broadcasting() for n in ("add", "sub", "mul", "div")},
    **{
        n: broadcasting()
        for n in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal")
    },
    "cast": one_input(st.sampled_from([{"dtype": DType.BF16}, {"dtype": DType.I32}])),
    "PositionEmbedding": one_input(st.just({"sequence_length": 6}), st.tuples(small, small, small)),
    # math (issue 15)
    **{
        n: one_input(
            st.fixed_dictionaries(
                {"axis": st.sampled_from([None, 0, -1, (0, -1)]), "keepdims": st.booleans()}
            )
        )
        for n in ("sum", "mean", "max", "min", "prod", "logsumexp")
    },
    "clip": one_input(st.just({"min": -0.5, "max": 0.5})),
    **{n: broadcasting() for n in ("power", "maximum", "minimum")},
    "random_categorical": one_input(st.fixed_dictionaries({"num_samples": st.integers(1, 3)})),
}
# Masks: these take `bool` tensors.
BOOL_CASES: dict[str, st.SearchStrategy[Case]] = {
    "logical_and": broadcasting(),
    "logical_or": broadcasting(),
    "logical_not": one_input(),
}
# Families whose shapes need several typed inputs (masks, keys, several results, stochastic
# image transforms): their shapes are checked against JAX and Keras in tests/parity and, for
# arbitrary arguments, in tests/integration/test_catalogue_fuzz.py.
COVERED_ELSEWHERE = {"recurrent", "attention", "preprocessing"}
INTEGER_INPUTS = {"Embedding"}  # layers that take integer ids
GRAPH_KINDS = (OpKind.LAYER, OpKind.FUNCTION, OpKind.OPERATOR)
# Ops whose inputs differ in dtype (`where`'s bool condition): tested in tests/ops/test_numeric.py.
MIXED_DTYPES = {s.name for s in iter_specs() if s.mixed_dtypes}
GRAPH_SPECS = sorted(
    s.name
    for k in GRAPH_KINDS
    for s in iter_specs(k)
    if s.family not in COVERED_ELSEWHERE and s.name not in MIXED_DTYPES
)


def case_for(name: str) -> st.SearchStrategy[Case]:
    if name in CASES:
        return CASES[name]
    return BOOL_CASES.get(name, one_input())  # activations and `neg` keep any shape


def _weights(
    name: str, attrs: dict[str, Any], types: list[TensorType]
) -> tuple[dict[str, Any], dict[str, Any]]:
    params, state = {}, {}
    for w_name, w in spec(name).weights(attrs, types).items():
        dims = tuple(d.as_int() for d in w.shape)
        value = jax.ShapeDtypeStruct(dims, jnp.float32)
        (params if w.trainable else state)[w_name] = value
    return params, state


@pytest.mark.parametrize("name", GRAPH_SPECS)
def test_output_shape_matches_spec(name: str) -> None:
    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(case_for(name), st.booleans())
    def check(case: Case, training: bool) -> None:
        attrs, shapes = case
        op = spec(name)
        full = with_defaults(op, attrs)
        ids = name in INTEGER_INPUTS
        dtype = DType.I32 if ids else DType.BOOL if name in BOOL_CASES else DType.F32
        types = [tensor(*s, dtype=dtype) for s in shapes]
        try:
            op.validate(full)
            expected = op.output(full, types)
        except ShapeError:
            assume(False)
            return
        params, state = _weights(name, full, types)
        key = jax.random.key(0) if op.stochastic and training else None

        def run(inputs: list[jax.Array], p: dict[str, jax.Array], s: dict[str, jax.Array]) -> Any:
            call = ApplyCall(full, inputs, p, s, training=training, key=key)
            return implementation(op)(call), call.new_state

        inputs = [jax.ShapeDtypeStruct(s, jnp.dtype(dtype.numpy_name)) for s in shapes]
        out, new_state = jax.eval_shape(run, inputs, params, state)
        assert out.shape == tuple(d.as_int() for d in expected.shape)
        assert out.dtype == jnp.dtype(expected.dtype.numpy_name)
        assert jax.tree.map(lambda a: a.shape, new_state) == {
            k: v.shape for k, v in state.items() if k in new_state
        }

    check()


def test_every_graph_op_is_drawn_somewhere() -> None:
    """New layer specs need a strategy here unless they keep the input's shape."""
    shape_keeping = {
        "neg",
        "ReLU",
        "LeakyReLU",
        "ELU",
        "Identity",
        "ActivityRegularization",
        "UnitNormalization",
        "exp",
        "log",
        "sqrt",
        "square",
        "abs",
        "stop_gradient",
        "sample_normal",
        "sample_uniform",
    } | set(ACTIVATION_FUNCTIONS)
    assert set(GRAPH_SPECS) == set(CASES) | set(BOOL_CASES) | shape_keeping
