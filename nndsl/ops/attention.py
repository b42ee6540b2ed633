"""Attention layers: MultiHeadAttention, GroupedQueryAttention, Attention, AdditiveAttention.

Keras passes `key`, masks, `use_causal_mask` and `return_attention_scores` at call time;
nndsl has no call-time keywords, so the masks are optional input tensors after
`(query, value)` and the two flags are (keyword-only) layer arguments. Weight names are
Keras's variable paths relative to the layer (`query.kernel`, `attention_output.bias`).
"""

from __future__ import annotations

from collections.abc import Sequence

from nndsl.ops.core import Layer
from nndsl.ops.flops import SOFTMAX, positions, prod
from nndsl.ops.registry import register
from nndsl.ops.spec import (
    Arg,
    ArgError,
    ArgValue,
    Attrs,
    ShapeError,
    WeightSpec,
    as_int,
    dim,
    ints,
)
from nndsl.ops.weights import weight, weight_args
from nndsl.shapes import Dim, DType, TensorType, format_shape

DROPOUT = Arg(
    "dropout",
    "float",
    0.0,
    "fraction of attention weights dropped while training",
    min=0.0,
    max=1.0,
    max_exclusive=True,
)
USE_CAUSAL_MASK = Arg(
    "use_causal_mask",
    "bool",
    False,
    "query position t attends only to key positions <= t (decoder self-attention)",
    keyword_only=True,
)
RETURN_SCORES = Arg(
    "return_attention_scores",
    "bool",
    False,
    "also return the attention weights as a second result",
    keyword_only=True,
)
SLIDING_WINDOW = Arg(
    "sliding_window",
    "int",
    None,
    "attend only to key positions within `sliding_window - 1` of the query position",
    min=1,
    nullable=True,
)
USE_GATE = Arg(
    "use_gate",
    "bool",
    False,
    "gate the heads' outputs by a sigmoid projection of the query (gated attention)",
    keyword_only=True,
)
# The projections' kernels and biases share one set of arguments, as in Keras.
PROJECTION_ARGS = (
    *weight_args("kernel", "glorot_uniform"),
    *weight_args("bias", "zeros"),
)


def _seq_input(t: TensorType, what: str, index: int) -> None:
    if t.rank != 3:
        raise ShapeError(
            f"{what} must have rank 3 ([B, T, features]), found `{t}` of rank {t.rank}",
            input_index=index,
        )


def _float_input(t: TensorType, what: str, query: TensorType, index: int) -> None:
    if t.dtype != query.dtype:
        raise ShapeError(
            f"{what} must have the query's dtype `{query.dtype.value}`, found `{t}`",
            input_index=index,
            help="to give a mask without a key, pass `value` as the key: `(query, value, value, "
            "mask)`"
            if t.dtype is DType.BOOL
            else None,
            code="E0301",
        )


def _check_mask(
    mask: TensorType, expected: tuple[Dim, ...], what: str, layout: str, index: int
) -> None:
    """A boolean mask whose shape broadcasts to `expected` (dims equal or 1, rank <=)."""
    if mask.dtype is not DType.BOOL:
        raise ShapeError(
            f"{what} must be boolean (`bool{layout}`), found `{mask}`",
            input_index=index,
            help="build one with a comparison, e.g. `ids != 0`, or `m |> cast(bool)`",
            code="E0301",
        )
    one = Dim.const(1)
    ok = mask.rank <= len(expected) and all(
        m == e or m == one for m, e in zip(reversed(mask.shape), reversed(expected), strict=False)
    )
    if not ok:
        help = "axes of size 1 broadcast; leading axes may be left out"
        if len(expected) == 3 and mask.rank == 2 and mask.shape[-1] == expected[-1]:
            help = (
                "a padding mask `[B, S]` needs an axis for the query positions: "
                f"`mask |> Reshape([1, {expected[-1]}])` gives `[B, 1, S]`, which broadcasts"
            )
        raise ShapeError(
            f"{what} must be `bool{format_shape(expected)}` (`{layout}`), found `{mask}`",
            input_index=index,
            help=help,
        )


def _key_value(
    inputs: Sequence[TensorType], any_rank: bool = False
) -> tuple[TensorType, TensorType, TensorType]:
    """query, value and key (= value when not given), checked as `[B, T, D]` sequences, or
    with `any_rank` as `[B, ..., D]` of one rank."""
    query, value = inputs[0], inputs[1]
    key = inputs[2] if len(inputs) > 2 else value
    if len(inputs) > 2:
        _float_input(key, "the key", query, 2)
    if any_rank:
        if query.rank < 3:
            raise ShapeError(
                f"the query must have rank >= 3 ([B, ..., features]), found `{query}`",
                input_index=0,
            )
        for t, what, i in ((value, "value", 1), (key, "key", 2)):
            if t.rank != query.rank:
                raise ShapeError(
                    f"the {what} must have the query's rank {query.rank}, found `{t}`",
                    input_index=i,
                )
    else:
        _seq_input(query, "the query", 0)
        _seq_input(value, "the value", 1)
        _seq_input(key, "the key", 2)
    if query.shape[0] != value.shape[0] or query.shape[0] != key.shape[0]:
        raise ShapeError(
            f"query `{query}`, value `{value}` and key `{key}` must have the same batch size"
        )
    if key.shape[1:-1] != value.shape[1:-1]:
        axes = "(axis 1)" if key.rank == 3 else "(every axis but the last)"
        raise ShapeError(
            f"the key `{key}` and the value `{value}` must have the same length {axes}",
            help="every key position needs a value: both are `[B, S, ...]`",
        )
    return query, value, key


def attention_axes(value: ArgValue, rank: int) -> tuple[int, ...]:
    """MultiHeadAttention's attended axes of a rank-`rank` query, in the order given (which
    orders the scores' axes, as in Keras).

    Default: every axis but the batch and the features; negative axes count from the end of
    the query's shape (Keras counts them on the projected `[B, ..., heads, dim]`, where -1 is
    the heads axis, so Keras's -1 is never meaningful and is refused here).
    """
    if value is None:
        return tuple(range(1, rank - 1))
    axes: list[int] = []
    for a in ints(value, 1):
        n = as_int(a)
        assert n is not None
        k = n + rank if n < 0 else n
        if not 1 <= k <= rank - 2:
            raise ShapeError(
                f"attention axis {n} is not an axis between the batch and the features of a "
                f"rank-{rank} query (1 to {rank - 2}, or {1 - rank} to -2)",
                arg="attention_axes",
                code="E0404",
            )
        if k in axes:
            raise ShapeError(
                f"attention axis {n} is given twice", arg="attention_axes", code="E0404"
            )
        axes.append(k)
    return tuple(axes)


class _Heads(Layer):
    """Shared parts of MultiHeadAttention and GroupedQueryAttention."""

    stochastic = True
    inputs = ("query", "value")
    optional_inputs = ("key", "attention_mask")

    def _heads(self, attrs: Attrs) -> Dim:
        raise NotImplementedError

    def outputs(self, attrs: Attrs, inputs: Sequence[TensorType]) -> tuple[TensorType, ...]:
        query, value, key = _key_value(inputs)
        self._check_dims(attrs, query, value, key)
        b, t, s = query.shape[0], query.shape[1], value.shape[1]
        if len(inputs) > 3:
            _check_mask(inputs[3], (b, t, s), "the attention mask", "[B, T, S]", 3)
        out = query.with_shape((b, t, *self._out_features(attrs, query)))
        if not attrs["return_attention_scores"]:
            return (out,)
        return out, query.with_shape((b, self._heads(attrs), t, s))

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        return self.outputs(attrs, inputs)[0]

    def _check_dims(
        self, attrs: Attrs, query: TensorType, value: TensorType, key: TensorType
    ) -> None:
        """Extra agreement between the inputs' feature sizes."""

    def _head_dims(self, attrs: Attrs) -> tuple[Dim, Dim]:
        """The size of each head for the query and key, and for the value."""
        raise NotImplementedError

    def flops(
        self, attrs: Attrs, inputs: Sequence[TensorType], outputs: Sequence[TensorType]
    ) -> Dim | None:
        """The projections (`2 *` kernel size per query, key or value position, plus their
        biases), `Q K^T` (`2 * key_dim` per score), the softmax, `A V` (`2 * value_dim` per
        score per head) and the gate's product. Scores are `heads * T * S` per example, all
        of them (masks, causal or sliding, do not skip any: the kernels compute them)."""
        query, value, key = _key_value(inputs, any_rank=True)
        ws = self.weights(attrs, inputs)
        rows = {
            "query": positions(query),
            "key": positions(key),
            "value": positions(value),
            "gate": positions(query),
            "attention_output": positions(query),
        }
        total = Dim.const(0)
        for name, n in rows.items():
            for part in ("kernel", "bias"):
                w = ws.get(f"{name}.{part}")
                if w is not None:
                    total = total + n * prod(w.shape) * (2 if part == "kernel" else 1)
        axes = attention_axes(attrs.get("attention_axes"), query.rank)
        heads = self._heads(attrs)
        scores = positions(query) * heads * prod(key.shape[i] for i in axes)
        k, v = self._head_dims(attrs)
        total = total + scores * (k * 2 + SOFTMAX + v * 2)
        if attrs["use_gate"]:
            total = total + positions(query) * heads * v * 2  # its activation, the product
        return total

    def _out_features(self, attrs: Attrs, query: TensorType) -> tuple[Dim, ...]:
        return (query.shape[-1],)

    @staticmethod
    def _projection(
        attrs: Attrs, name: str, kernel: tuple[Dim, ...], bias: tuple[Dim, ...]
    ) -> dict[str, WeightSpec]:
        out = {f"{name}.kernel": weight(attrs, f"{name}.kernel", kernel, prefix="kernel")}
        if attrs["use_bias"]:
            out[f"{name}.bias"] = weight(attrs, f"{name}.bias", bias, prefix="bias")
        return out


@register
class MultiHeadAttention(_Heads):
    """Multi-head scaled dot-product attention (Vaswani et al.), Keras's weights and masks.

    Applied as `MultiHeadAttention(4, 16)(query, value, key?, attention_mask?)`; the key
    defaults to the value, the mask is `bool[B, T, S]` (true = may attend).
    """

    name = "MultiHeadAttention"
    args = (
        Arg("num_heads", "int", doc="number of attention heads", min=1),
        Arg("key_dim", "int", doc="size of each head for query and key", min=1),
        Arg(
            "value_dim",
            "int",
            None,
            "size of each head for value (default key_dim)",
            min=1,
            nullable=True,
        ),
        DROPOUT,
        Arg("use_bias", "bool", True, "the projections add learned biases"),
        Arg(
            "output_shape",
            "ints",
            None,
            "feature shape of the result (default: the query's last axis)",
            min=1,
            nullable=True,
        ),
        Arg(
            "attention_axes",
            "ints",
            None,
            "axes attended over, for inputs of rank > 3 (default: all but batch and features)",
            nullable=True,
        ),
        SLIDING_WINDOW,
        *PROJECTION_ARGS,
        USE_GATE,
        USE_CAUSAL_MASK,
        RETURN_SCORES,
    )
    rule = (
        "query `[B, T, D]`, value `[B, S, Dv]`, key? `[B, S, Dk]`, mask? `bool[B, T, S]` -> "
        "`[B, T, D]` (or `[B, T, *output_shape]`), scores `[B, heads, T, S]`; "
        "inputs of rank > 3 attend over `attention_axes`"
    )
    example = "input q: f32[B, 10, 32]\ninput v: f32[B, 12, 16]\nh = MultiHeadAttention(4, 8)(q, v)"

    def _heads(self, attrs: Attrs) -> Dim:
        return dim(attrs["num_heads"])

    def _head_dims(self, attrs: Attrs) -> tuple[Dim, Dim]:
        return dim(attrs["key_dim"]), self._value_dim(attrs)

    def outputs(self, attrs: Attrs, inputs: Sequence[TensorType]) -> tuple[TensorType, ...]:
        query, _, key = _key_value(inputs, any_rank=True)
        axes = attention_axes(attrs["attention_axes"], query.rank)
        if query.rank == 3:
            return super().outputs(attrs, inputs)
        for flag in ("use_causal_mask", "sliding_window"):
            if attrs[flag] not in (None, False):
                raise ShapeError(
                    f"`{flag}` needs inputs of rank 3 (`[B, T, features]`), found `{query}`",
                    arg=flag,
                    help="Keras builds these masks from axis 1 only; pass an attention mask",
                    code="E0404",
                )
        rest = [i for i in range(1, query.rank - 1) if i not in axes]
        for i in rest:
            if query.shape[i] != key.shape[i]:
                raise ShapeError(
                    f"the query `{query}` and the key `{key}` must agree on axis {i}, which is "
                    f"not attended over (attention_axes = {list(axes)})",
                    arg="attention_axes",
                )
        lead = (query.shape[0], *(query.shape[i] for i in rest))
        q_len = tuple(query.shape[i] for i in axes)
        k_len = tuple(key.shape[i] for i in axes)
        if len(inputs) > 3:
            layout = "[B, " + ", ".join(["...", "T...", "S..."] if rest else ["T...", "S..."]) + "]"
            _check_mask(inputs[3], (*lead, *q_len, *k_len), "the attention mask", layout, 3)
        out = query.with_shape((*query.shape[:-1], *self._out_features(attrs, query)))
        if not attrs["return_attention_scores"]:
            return (out,)
        return out, query.with_shape((*lead, self._heads(attrs), *q_len, *k_len))

    def _value_dim(self, attrs: Attrs) -> Dim:
        v = attrs["value_dim"]
        return dim(attrs["key_dim"] if v is None else v)

    def _out_features(self, attrs: Attrs, query: TensorType) -> tuple[Dim, ...]:
        shape = attrs["output_shape"]
        if shape is None:
            return (query.shape[-1],)
        return tuple(dim(s) for s in ints(shape, 1))

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        query, value, key = _key_value(inputs, any_rank=True)
        n, k, v = self._heads(attrs), dim(attrs["key_dim"]), self._value_dim(attrs)
        out = self._out_features(attrs, query)
        w = self._projection(attrs, "query", (query.shape[-1], n, k), (n, k))
        w |= self._projection(attrs, "key", (key.shape[-1], n, k), (n, k))
        if attrs["use_gate"]:
            w |= self._projection(attrs, "gate", (query.shape[-1], n, v), (n, v))
        w |= self._projection(attrs, "value", (value.shape[-1], n, v), (n, v))
        w |= self._projection(attrs, "attention_output", (n, v, *out), out)
        return w


@register
class GroupedQueryAttention(_Heads):
    """Attention whose key/value heads are shared by groups of query heads (Ainslie et al.).

    `num_key_value_heads = 1` is multi-query attention; equal head counts give multi-head
    attention. Inputs as for MultiHeadAttention.
    """

    name = "GroupedQueryAttention"
    aliases = ("GroupQueryAttention",)
    args = (
        Arg("head_dim", "int", doc="size of each attention head", min=1),
        Arg("num_query_heads", "int", doc="number of query heads", min=1),
        Arg("num_key_value_heads", "int", doc="number of key/value heads (groups)", min=1),
        DROPOUT,
        Arg("use_bias", "bool", True, "the projections add learned biases"),
        SLIDING_WINDOW,
        *PROJECTION_ARGS,
        USE_GATE,
        USE_CAUSAL_MASK,
        RETURN_SCORES,
    )
    rule = (
        "query `[B, T, D]`, value `[B, S, D]`, key? `[B, S, Dk]`, mask? `bool[B, T, S]` -> "
        "`[B, T, D]`, scores `[B, num_query_heads, T, S]`"
    )
    example = (
        "input q: f32[B, 10, 32]\ninput v: f32[B, 12, 32]\nh = GroupedQueryAttention(8, 4, 2)(q, v)"
    )

    def validate(self, attrs: Attrs) -> None:
        q, kv = as_int(attrs["num_query_heads"]), as_int(attrs["num_key_value_heads"])
        if q is not None and kv is not None and q % kv:
            raise ArgError(
                "num_key_value_heads",
                f"`num_query_heads` ({q}) must be divisible by `num_key_value_heads` ({kv})",
                help="each key/value head serves the same number of query heads",
            )

    def _heads(self, attrs: Attrs) -> Dim:
        return dim(attrs["num_query_heads"])

    def _head_dims(self, attrs: Attrs) -> tuple[Dim, Dim]:
        return dim(attrs["head_dim"]), dim(attrs["head_dim"])

    def _check_dims(
        self, attrs: Attrs, query: TensorType, value: TensorType, key: TensorType
    ) -> None:
        if query.shape[-1] != value.shape[-1]:
            raise ShapeError(
                f"the query `{query}` and the value `{value}` must have the same last axis",
                help="as in Keras, the output has the query's features",
            )

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        query, value, key = _key_value(inputs)
        h = dim(attrs["head_dim"])
        nq, nkv = dim(attrs["num_query_heads"]), dim(attrs["num_key_value_heads"])
        d = query.shape[-1]
        w = self._projection(attrs, "query", (d, nq, h), (nq, h))
        w |= self._projection(attrs, "key", (key.shape[-1], nkv, h), (nkv, h))
        if attrs["use_gate"]:
            w |= self._projection(attrs, "gate", (d, nq, h), (nq, h))
        w |= self._projection(attrs, "value", (value.shape[-1], nkv, h), (nkv, h))
        w |= self._projection(attrs, "attention_output", (nq, h, d), (d,))
        return w


class _Luong(Layer):
    """Shared parts of the parameter-light Attention and AdditiveAttention."""

    stochastic = True
    inputs = ("query", "value")
    # The value mask comes first: it is the common one (padded keys); Keras's `mask` list is
    # `[query_mask, value_mask]`.
    optional_inputs = ("key", "value_mask", "query_mask")

    def outputs(self, attrs: Attrs, inputs: Sequence[TensorType]) -> tuple[TensorType, ...]:
        query, value, key = _key_value(inputs)
        b, t, s = query.shape[0], query.shape[1], value.shape[1]
        if query.shape[-1] != key.shape[-1]:
            which = "key" if len(inputs) > 2 else "value (used as the key)"
            raise ShapeError(
                f"the query `{query}` and the {which} `{key}` must have the same last axis",
                help="scores compare query and key features one to one",
            )
        if len(inputs) > 3:
            _check_mask(inputs[3], (b, s), "the value mask", "[B, S]", 3)
        if len(inputs) > 4:
            _check_mask(inputs[4], (b, t), "the query mask", "[B, T]", 4)
        out = query.with_shape((b, t, value.shape[-1]))
        if not attrs["return_attention_scores"]:
            return (out,)
        return out, query.with_shape((b, t, s))

    def output(self, attrs: Attrs, inputs: Sequence[TensorType]) -> TensorType:
        return self.outputs(attrs, inputs)[0]

    def _score_flops(self, attrs: Attrs, features: Dim) -> Dim:
        """FLOPs of one score from `features`-long query and key vectors."""
        raise NotImplementedError

    def flops(
        self, attrs: Attrs, inputs: Sequence[TensorType], outputs: Sequence[TensorType]
    ) -> Dim | None:
        """Per score (`T * S` per example): its own cost, the softmax, and `2 * Dv` for `A V`."""
        query, value, _ = _key_value(inputs)
        scores = positions(query) * value.shape[1]
        return scores * (self._score_flops(attrs, query.shape[-1]) + SOFTMAX + value.shape[-1] * 2)


@register
class Attention(_Luong):
    """Dot-product (Luong-style) attention without projections: `softmax(q k^T) v`.

    Applied as `Attention()(query, value, key?, value_mask?, query_mask?)`; masks are boolean,
    `[B, S]` for the value positions and `[B, T]` for the query positions (zeroed outputs).
    """

    name = "Attention"
    args = (
        Arg("use_scale", "bool", False, "learn a scalar that multiplies the scores"),
        Arg(
            "score_mode",
            "str",
            "dot",
            '"dot" (q . k) or "concat" (sum of tanh(q + k))',
            choices=("dot", "concat"),
        ),
        DROPOUT,
        USE_CAUSAL_MASK,
        RETURN_SCORES,
    )
    rule = (
        "query `[B, T, D]`, value `[B, S, Dv]`, key? `[B, S, D]`, value_mask? `bool[B, S]`, "
        "query_mask? `bool[B, T]` -> `[B, T, Dv]`, scores `[B, T, S]`"
    )
    example = "input q: f32[B, 10, 16]\ninput v: f32[B, 12, 16]\nh = Attention()(q, v)"

    def _score_flops(self, attrs: Attrs, features: Dim) -> Dim:
        """`q . k`: 2 per feature; "concat": an add, a tanh and a sum per feature, and the
        weight; `use_scale`: one product."""
        per = features * 2 if attrs["score_mode"] == "dot" else features * 3 + 1
        return per + (1 if attrs["use_scale"] else 0)

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        out: dict[str, WeightSpec] = {}
        if attrs["use_scale"]:
            out["scale"] = WeightSpec((), "ones")
        if attrs["score_mode"] == "concat":
            out["concat_score_weight"] = WeightSpec((), "ones")
        return out


@register
class AdditiveAttention(_Luong):
    """Additive (Bahdanau-style) attention: scores `sum(scale * tanh(q + k))` over features.

    Inputs and masks as for Attention.
    """

    name = "AdditiveAttention"
    args = (
        Arg("use_scale", "bool", True, "learn a per-feature scale of the scores"),
        DROPOUT,
        USE_CAUSAL_MASK,
        RETURN_SCORES,
    )
    rule = Attention.rule
    example = "input q: f32[B, 10, 16]\ninput v: f32[B, 12, 16]\nh = AdditiveAttention()(q, v)"

    def _score_flops(self, attrs: Attrs, features: Dim) -> Dim:
        """An add, a tanh and a sum per feature (and the scale's product)."""
        return features * (4 if attrs["use_scale"] else 3)

    def weights(self, attrs: Attrs, inputs: Sequence[TensorType]) -> dict[str, WeightSpec]:
        if not attrs["use_scale"]:
            return {}
        return {"scale": WeightSpec((inputs[0].shape[-1],), "glorot_uniform")}
