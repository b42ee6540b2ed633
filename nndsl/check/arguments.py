"""Binding call arguments to a signature: positions, keywords, defaults, types and domains."""

from __future__ import annotations

from collections.abc import Sequence

from nndsl.check.report import Reporter, did_you_mean
from nndsl.check.values import ERROR, DictVal, ListVal, OpRef, ScalarVal, Value, describe
from nndsl.ops import Arg, ArgError, ArgValue, Configured, OpSpec, configured, format_value
from nndsl.ops.spec import CONFIGURED_TYPES, Keyed
from nndsl.records import record
from nndsl.shapes import Dim, DType
from nndsl.source import SourceFile, Span


@record(frozen=True, slots=True)
class CallArg:
    name: str | None
    name_span: Span | None
    value: Value
    span: Span


def bind_op_args(
    spec: OpSpec,
    args: Sequence[CallArg],
    file: SourceFile,
    call_span: Span,
    rep: Reporter,
    spans: dict[str, Span] | None = None,
) -> dict[str, ArgValue] | None:
    """Resolve a spec's arguments; reports and returns None on any error.

    `spans`, when given, receives where each argument was written, so later shape errors
    that blame one argument can point at it."""
    spans = {} if spans is None else spans
    raw = match_args(spec.name, spec.args, args, file, call_span, rep, spans)
    if raw is None:
        return None
    attrs: dict[str, ArgValue] = {}
    ok = True
    for arg in spec.args:
        if arg.name not in raw:
            attrs[arg.name] = arg.default  # type: ignore[assignment]
            continue
        value = raw[arg.name]
        converted = convert(arg, value, file, spans[arg.name], spec.name, rep)
        if converted is INVALID:
            ok = False
        else:
            attrs[arg.name] = converted  # type: ignore[assignment]
    if not ok:
        return None
    try:
        spec.validate(attrs)
    except ArgError as err:
        span = spans.get(err.arg or "", call_span)
        rep.error(
            "E0404", f"`{spec.name}`: {err.message}", file, span, "not allowed here", help=err.help
        )
        return None
    return attrs


_SIGNATURES: dict[int, tuple[Sequence[Arg], dict[str, Arg], list[Arg]]] = {}


def _signature(params: Sequence[Arg]) -> tuple[dict[str, Arg], list[Arg]]:
    """Parameters by name (aliases included) and the positional ones, in order: built once
    per op's parameter tuple, not per call. Read only."""
    cached = _SIGNATURES.get(id(params))
    if cached is not None and cached[0] is params:
        return cached[1], cached[2]
    by_name = {p.name: p for p in params}
    for p in params:
        for alias in p.aliases:
            by_name.setdefault(alias, p)
    by_position = [p for p in params if not p.keyword_only]
    if type(params) is tuple:  # an op's (frozen `Arg`s); a block's list is built per call
        if len(_SIGNATURES) >= 1024:
            _SIGNATURES.clear()
        _SIGNATURES[id(params)] = (params, by_name, by_position)  # keeps `params` alive
    return by_name, by_position


def match_args(
    callee: str,
    params: Sequence[Arg],
    args: Sequence[CallArg],
    file: SourceFile,
    call_span: Span,
    rep: Reporter,
    spans: dict[str, Span],
) -> dict[str, Value] | None:
    by_name, by_position = _signature(params)
    out: dict[str, Value] = {}
    ok = True
    positional = [a for a in args if a.name is None]
    for i, a in enumerate(positional):
        if i >= len(by_position):
            n = len(by_position)
            what = "positional argument" if n < len(params) else "argument"
            rep.error(
                "E0405",
                f"`{callee}` takes {n} {what}"
                f"{'' if n == 1 else 's'}, but {len(positional)} "
                f"{_was(len(positional))} given",
                file,
                a.span,
                "unexpected argument",
                help=f"the signature is `{_sig(callee, params)}`",
            )
            ok = False
            break
        out[by_position[i].name] = a.value
        spans[by_position[i].name] = a.span
    for a in args:
        if a.name is None:
            continue
        param = by_name.get(a.name)
        if param is None:
            hint = did_you_mean(a.name, [p.name for p in params])
            rep.error(
                "E0401",
                f"`{callee}` has no argument `{a.name}`",
                file,
                a.name_span or a.span,
                "unknown argument",
                help=hint or f"the signature is `{_sig(callee, params)}`",
            )
            ok = False
            continue
        if param.name in out:
            rep.error(
                "E0406",
                f"argument `{param.name}` of `{callee}` is given twice",
                file,
                a.span,
                "given again here",
                secondary=[],
                notes=(),
            )
            ok = False
            continue
        out[param.name] = a.value
        spans[param.name] = a.span
    for p in params:
        if p.required and p.name not in out and ok:
            rep.error(
                "E0402",
                f"`{callee}` needs the argument `{p.name}`",
                file,
                call_span,
                f"`{p.name}` is missing",
                help=f"the signature is `{_sig(callee, params)}`",
            )
            ok = False
    return out if ok else None


def _sig(callee: str, params: Sequence[Arg]) -> str:
    """Required arguments and the first few optional ones; the editor shows them all."""
    parts = []
    optional = 0
    for p in params:
        if p.required:
            parts.append(p.name)
        elif optional < 3:
            optional += 1
            parts.append(f"{p.name} = {format_value(p.default)}")
    more = ", ..." if len(parts) < len(params) else ""
    return f"{callee}({', '.join(parts)}{more})"


class _Invalid:
    pass


INVALID = _Invalid()


def convert(
    arg: Arg,
    value: Value,
    file: SourceFile,
    span: Span,
    callee: str,
    rep: Reporter,
    what: str = "argument",
) -> ArgValue | _Invalid:
    """Check one value against an argument's type and domain."""
    if value is ERROR:
        return INVALID
    result = _convert_type(arg, value)
    if result is INVALID:
        rep.error(
            "E0403",
            f"`{callee}` {what} `{arg.name}` must be {_type_words(arg)}, found {describe(value)}",
            file,
            span,
            f"expected {_type_words(arg)}",
        )
        return INVALID
    problem = _domain_problem(arg, result)  # type: ignore[arg-type]
    if problem:
        rep.error(
            "E0404",
            f"`{callee}` {what} `{arg.name}` {problem}",
            file,
            span,
            f"must be {arg.domain_text()}",
        )
        return INVALID
    return result


def _type_words(arg: Arg) -> str:
    return {
        "int": "an integer",
        "float": "a number",
        "bool": "`true` or `false`",
        "str": "a string",
        "dtype": "a dtype such as `f32`",
        "ints": f"an integer or a list of {arg.length or 'some'} integers",
        "floats": f"a number or a list of {arg.length or 'some'} numbers",
        "pads": "an integer, or a list of integers or of [before, after] pairs",
        "strs": "a list of strings",
        "names": "a string or a list of strings",
        "groups": 'a dict of column groups such as `{numeric: ["a", "b"], category: "c"}`',
        "initializer": "an initializer such as `he_normal` or `truncated_normal(stddev = 0.02)`",
        "regularizer": "a regularizer such as `l2(1e-4)`",
        "constraint": "a constraint such as `max_norm(3)`",
        "layer": "a layer such as `LSTM(32)`",
        "schedule": "a number or a schedule such as `cosine_decay(1e-3, 1000)`",
    }.get(arg.type, arg.type)


def _convert_type(arg: Arg, value: Value) -> ArgValue | _Invalid:
    if isinstance(value, ScalarVal) and value.kind == "none":
        return None if arg.nullable else INVALID
    if arg.type == "schedule" and isinstance(value, ScalarVal) and value.kind in ("int", "float"):
        return float(value.value) if isinstance(value.value, int | float) else INVALID  # constant
    op_kind = CONFIGURED_TYPES.get(arg.type)
    if op_kind is not None:
        # `he_normal`, `"he_normal"`, `truncated_normal(stddev = 0.02)`, `LSTM(32)`
        if isinstance(value, OpRef) and value.spec.kind is op_kind:
            given = Configured(value.spec.name, tuple((value.attrs or {}).items()))
            return configured(given, op_kind) or INVALID
        if isinstance(value, ScalarVal) and value.kind == "str" and isinstance(value.value, str):
            return configured(value.value, op_kind) or INVALID
        return INVALID
    if isinstance(value, ScalarVal):
        v = value.value
        kind = value.kind
        if arg.type == "int" and kind == "int":
            return _as_int_or_dim(v)
        if arg.type == "float" and kind in ("int", "float"):
            if isinstance(v, Dim):
                n = v.as_int()
                return float(n) if n is not None else INVALID
            return float(v) if isinstance(v, int | float) else None
        if arg.type == "bool" and kind == "bool":
            return v if isinstance(v, bool) else None
        if arg.type in ("str", "names") and kind == "str":
            return v if isinstance(v, str) else None
        if arg.type == "dtype" and kind == "dtype":
            return v if isinstance(v, DType) else None
        if arg.type == "ints" and kind == "int":
            iv = _as_int_or_dim(v)
            return iv if arg.length else (iv,)
        if arg.type == "pads" and kind == "int":
            return _as_int_or_dim(v)
        if arg.type == "floats" and kind in ("int", "float") and isinstance(v, int | float):
            return float(v)  # one number: the spec decides what it stands for
        return INVALID
    if isinstance(value, DictVal):
        if arg.type != "groups":
            return INVALID
        groups: list[tuple[str, ArgValue]] = []
        for key, item in value.items:
            names = _strings(item)
            if names is None:
                return INVALID
            groups.append((key, names))
        return Keyed(tuple(groups))
    if isinstance(value, ListVal):
        if arg.type == "ints":
            items: list[ArgValue] = []
            for item in value.items:
                if not (isinstance(item, ScalarVal) and item.kind == "int"):
                    return INVALID
                items.append(_as_int_or_dim(item.value))
            if arg.length is not None and len(items) != arg.length:
                return INVALID
            return tuple(items)
        if arg.type == "floats":
            nums: list[ArgValue] = []
            for item in value.items:
                if not (
                    isinstance(item, ScalarVal)
                    and item.kind in ("int", "float")
                    and isinstance(item.value, int | float)
                ):
                    return INVALID
                nums.append(float(item.value))
            if arg.length is not None and len(nums) != arg.length:
                return INVALID
            return tuple(nums)
        if arg.type == "pads":  # `2`, `[1, 2]`, `[[1, 2], [0, 1]]`: the spec checks the lengths
            pads: list[ArgValue] = []
            for item in value.items:
                if isinstance(item, ScalarVal) and item.kind == "int":
                    pads.append(_as_int_or_dim(item.value))
                elif isinstance(item, ListVal) and all(
                    isinstance(i, ScalarVal) and i.kind == "int" for i in item.items
                ):
                    pads.append(tuple(_as_int_or_dim(i.value) for i in item.items))  # type: ignore[union-attr]
                else:
                    return INVALID
            return tuple(pads)
        if arg.type in ("strs", "names"):
            strs: list[ArgValue] = []
            for item in value.items:
                if not (isinstance(item, ScalarVal) and item.kind == "str"):
                    return INVALID
                strs.append(item.value)
            return tuple(strs)
    return INVALID


def _strings(value: Value) -> ArgValue:
    """A string, or a list of strings as a tuple; None for anything else."""
    if isinstance(value, ScalarVal) and value.kind == "str" and isinstance(value.value, str):
        return value.value
    if isinstance(value, ListVal) and all(
        isinstance(i, ScalarVal) and i.kind == "str" for i in value.items
    ):
        return tuple(str(i.value) for i in value.items)  # type: ignore[union-attr]
    return None


def _as_int_or_dim(v: object) -> ArgValue:
    if isinstance(v, Dim):
        n = v.as_int()
        return n if n is not None else v
    if isinstance(v, int):
        return v
    return None


def _domain_problem(arg: Arg, value: ArgValue) -> str | None:
    if value is None:
        return None
    if arg.choices and isinstance(value, str) and value not in arg.choices:
        return f'is "{value}", not {arg.domain_text()}'
    values = value if isinstance(value, tuple) else (value,)
    values = tuple(w for v in values for w in (v if isinstance(v, tuple) else (v,)))  # pairs
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        if arg.type == "ints" and arg.name == "shape" and v == -1:
            continue
        if arg.min is not None and (v < arg.min or (arg.min_exclusive and v == arg.min)):
            return f"is {format_value(v)}, but must be {arg.domain_text()}"
        if arg.max is not None and (v > arg.max or (arg.max_exclusive and v == arg.max)):
            return f"is {format_value(v)}, but must be {arg.domain_text()}"
    return None


def _was(n: int) -> str:
    return "was" if n == 1 else "were"
