"""What `f(...)`, `x |> f(...)` and `x |> f` apply: ops, blocks and models, configured layers.

A call and a pipeline stage take one path: the elaborator evaluates the callee and the arguments
of either syntax into a `Use`, and `applicable(callee).apply(elab, frame, use)` does the rest.
The kinds differ only in what the piped tensors and the arguments become:

- `Function`: a function or operator op (`relu`, `add`); piped tensors come first, then the
  leading positional tensor arguments, the rest are its attributes;
- `Configurable`: a layer op or an argument value (`Dense`, `l2`); the arguments configure it,
  and piped tensors go through the configured layer;
- `Definition`: a block or model before its parameters are bound; likewise;
- `Layer`: a configured layer or block (`Dense(4)`, `d = MyBlock(2)`), applied to the piped
  tensors or, in a call, to its tensor arguments;
- `TrainOnly`: a loss, metric, optimizer, data source or callback, refused outside `train`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from nndsl.check.arguments import INVALID, CallArg, bind_op_args, convert
from nndsl.check.values import ERROR, DefRef, OpRef, TensorVal, Value, describe
from nndsl.ops import Arg, OpKind, OpSpec
from nndsl.ops.registry import lookup
from nndsl.ops.spec import CONFIGURED_TYPES
from nndsl.records import record
from nndsl.source import Span

if TYPE_CHECKING:
    from nndsl.check.elaborate import Elaborator, Frame

# Kinds called to make a value (a layer, or an argument such as `l2(1e-4)`): one per
# configured argument type, so a new type needs no second list here.
CONFIGURED_KINDS = frozenset(CONFIGURED_TYPES.values())
_FUNCTION_KINDS = (OpKind.FUNCTION, OpKind.OPERATOR)


@record(frozen=True, slots=True)
class Use:
    """One application: `f(args)` has no `inputs`; `x |> f(args)` has both; `x |> f` (a bare
    name after `|>`) has no `args`."""

    args: list[CallArg] | None
    inputs: list[TensorVal] | None
    span: Span  # the call, or the stage
    func_span: Span  # the callee as written


class Applicable(Protocol):
    def apply(self, elab: Elaborator, frame: Frame, use: Use) -> Value: ...


def applicable(value: Value) -> Applicable | None:
    """`value` as something to apply; None for a tensor, scalar, list or error."""
    if isinstance(value, OpRef):
        if value.attrs is not None:
            return Layer(value)
        kind = value.spec.kind
        if kind in _FUNCTION_KINDS:
            return Function(value.spec)
        if kind in CONFIGURED_KINDS:
            from nndsl.ops.sampling import TENSOR_FORMS  # loaded with the registry, in order

            form = TENSOR_FORMS.get(value.spec.name)
            if form is not None:  # `random_normal(z)`: a draw; `random_normal()`: an initializer
                return TensorForm(value.spec, lookup(form))
            return Configurable(value.spec)
        return TrainOnly(value.spec)
    if isinstance(value, DefRef):
        return Layer(value) if value.args is not None else Definition(value)
    return None


class Function:
    __slots__ = ("spec",)

    def __init__(self, spec: OpSpec) -> None:
        self.spec = spec

    def apply(self, elab: Elaborator, frame: Frame, use: Use) -> Value:
        tensors: list[TensorVal] = list(use.inputs or ())
        rest: list[CallArg] = []
        for a in use.args or ():
            if a.name is None and isinstance(a.value, TensorVal) and not rest:
                tensors.append(a.value)
            else:
                rest.append(a)
        named = [a for a in rest if a.name in self.spec.inputs and isinstance(a.value, TensorVal)]
        if named:  # `random_normal(shape_like = z_mean)`: tensors by their names
            rest = [a for a in rest if a not in named]
            for a in sorted(named, key=lambda a: self.spec.inputs.index(a.name or "")):
                if self.spec.inputs.index(a.name or "") != len(tensors):
                    elab.rep.error(
                        "E0406",
                        f"tensor `{a.name}` of `{self.spec.name}` is given twice or out of order",
                        frame.file,
                        a.span,
                        "given here",
                        help=f"`{self.spec.name}` takes ({', '.join(self.spec.inputs)})",
                    )
                    return ERROR
                assert isinstance(a.value, TensorVal)
                tensors.append(a.value)
        spans: dict[str, Span] = {}
        attrs = bind_op_args(self.spec, rest, frame.file, use.span, elab.rep, spans)
        if attrs is None:
            return ERROR
        return elab.apply_op(frame, self.spec, attrs, tensors, use.span, spans)


class TensorForm:
    """An initializer name that, given a tensor, is a sampling function (`random_normal(z)`,
    `z |> random_normal`); otherwise the initializer (`random_normal(stddev = 0.02)`)."""

    __slots__ = ("function", "spec")

    def __init__(self, spec: OpSpec, function: OpSpec | None) -> None:
        self.spec = spec
        self.function = function

    def apply(self, elab: Elaborator, frame: Frame, use: Use) -> Value:
        tensor = use.inputs is not None or any(
            isinstance(a.value, TensorVal) for a in use.args or ()
        )
        if tensor and self.function is not None:
            return Function(self.function).apply(elab, frame, use)
        return Configurable(self.spec).apply(elab, frame, use)


class Configurable:
    __slots__ = ("spec",)

    def __init__(self, spec: OpSpec) -> None:
        self.spec = spec

    def apply(self, elab: Elaborator, frame: Frame, use: Use) -> Value:
        spans: dict[str, Span] = {}
        args, trainable = (
            _split_trainable(elab, frame, use.args, self.spec.name)
            if self.spec.kind is OpKind.LAYER and not self.spec.arg("trainable")
            else (use.args, True)
        )
        if trainable is None:
            return ERROR
        attrs = bind_op_args(self.spec, args or [], frame.file, use.span, elab.rep, spans)
        if attrs is None:
            return ERROR
        layer = OpRef(self.spec, attrs, call_span=use.span, arg_spans=spans, trainable=trainable)
        # `x |> glorot_uniform` (an argument value, bare) is that value, as it always was;
        # `x |> glorot_uniform()` applies it, and the op says it takes no tensors.
        if use.inputs is None or (use.args is None and self.spec.kind is not OpKind.LAYER):
            return layer
        return elab.apply_layer(frame, layer, use.inputs, use.span)


class Definition:
    __slots__ = ("ref",)

    def __init__(self, ref: DefRef) -> None:
        self.ref = ref

    def apply(self, elab: Elaborator, frame: Frame, use: Use) -> Value:
        ref, args = self.ref, use.args or []
        trainable: bool | None = True
        remat: bool | None = False
        name = ref.definition.name.name
        if not any(p.name.name == "trainable" for p in ref.definition.params):
            split, trainable = _split_trainable(elab, frame, args, name)
            args = split or []
        if not any(p.name.name == "remat" for p in ref.definition.params):
            split, remat = _split_flag(_REMAT, elab, frame, args, name)
            args = split or []
        bound = elab.bind_params(frame, ref, args, use.span)
        if bound is None or trainable is None or remat is None:
            return ERROR
        layer = DefRef(ref.definition, ref.module, bound, use.span, tuple(args), trainable, remat)
        if use.inputs is None:
            return layer
        return elab.apply_layer(frame, layer, use.inputs, use.span)


class Layer:
    __slots__ = ("layer",)

    def __init__(self, layer: OpRef | DefRef) -> None:
        self.layer = layer

    def apply(self, elab: Elaborator, frame: Frame, use: Use) -> Value:
        if use.args is None:
            assert use.inputs is not None
            return elab.apply_layer(frame, self.layer, use.inputs, use.span)
        # `Dense(4)(x)`: applied to its tensor arguments. After `|>` too (`x |> d(y)` is
        # `d(y)`): the piped tensors are not its inputs then.
        tensors = []
        for a in use.args:
            if a.name is not None or not isinstance(a.value, TensorVal):
                elab.rep.error(
                    "E0302",
                    f"a layer is applied to tensors, found {describe(a.value)}",
                    frame.file,
                    a.span,
                    "not a tensor",
                )
                return ERROR
            tensors.append(a.value)
        return elab.apply_layer(frame, self.layer, tensors, use.span)


class TrainOnly:
    __slots__ = ("spec",)

    def __init__(self, spec: OpSpec) -> None:
        self.spec = spec

    def apply(self, elab: Elaborator, frame: Frame, use: Use) -> Value:
        spec = self.spec
        elab.rep.error(
            "E0105",
            f"`{spec.name}` is {article(spec.kind.value)} {spec.kind.value}; it "
            "belongs in a `train` section",
            frame.file,
            use.func_span,
            "not a layer",
            help=f"write `{_setting_for(spec.kind)} = {spec.name}(...)` in `train`",
        )
        return ERROR


_TRAINABLE = Arg("trainable", "bool", True, "false: the weights are frozen", keyword_only=True)


_REMAT = Arg(
    "remat",
    "bool",
    False,
    "true: recompute the block's activations in the backward pass (less memory)",
    keyword_only=True,
)


def _split_trainable(
    elab: Elaborator, frame: Frame, args: list[CallArg] | None, callee: str
) -> tuple[list[CallArg] | None, bool | None]:
    """The arguments without `trainable = ...`, which any layer or block application takes
    (Keras's `trainable`), and its value; None for the value when it is not a boolean."""
    return _split_flag(_TRAINABLE, elab, frame, args, callee)


def _split_flag(
    flag: Arg, elab: Elaborator, frame: Frame, args: list[CallArg] | None, callee: str
) -> tuple[list[CallArg] | None, bool | None]:
    """The arguments without the keyword `flag` (`trainable`, or `remat` on a block), and its
    value; None for the value when it is not a boolean."""
    given = [a for a in args or () if a.name == flag.name]
    if not given:
        return args, flag.default is True
    rest = [a for a in args or () if a.name != flag.name]
    a = given[-1]
    value = convert(flag, a.value, frame.file, a.span, callee, elab.rep)
    if value is INVALID:
        return rest, None
    return rest, bool(value)


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _setting_for(kind: OpKind) -> str:
    return {
        OpKind.LOSS: "loss",
        OpKind.METRIC: "metrics",
        OpKind.OPTIMIZER: "optimizer",
        OpKind.DATA: "data",
    }.get(kind, "loss")


__all__ = ["CONFIGURED_KINDS", "Applicable", "Use", "applicable", "article"]
