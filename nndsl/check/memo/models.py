"""Models replayed around their block calls.

A model chaining many blocks is re-elaborated when one of them changes, although its own
statements do the same thing as long as every block call returns the same types. A
`Composite` records a top-level instantiation as the model's own work (values, nodes, names,
paths and types, in chunks) between its block calls; a replay (`replay`) redoes the own work
from the record and each block call for real (most of them replay from the instance memo), and
gives up (the caller then elaborates afresh) as soon as a call reports something or returns
other types than recorded.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol, cast

from nndsl.check.arguments import CallArg
from nndsl.check.builder import Delta, GraphBuilder, Mark
from nndsl.check.memo.keys import DefinitionKeys, Shift
from nndsl.check.report import Reporter
from nndsl.check.values import DefRef, Origin, ScalarVal, TensorVal, TupleVal, Value
from nndsl.records import record
from nndsl.shapes import TensorType
from nndsl.source import SourceFile, Span


@record(frozen=True, slots=True)
class _Chunk:
    """The model's own work between two block calls: value ids relative to the chunk's
    first, those it uses from before it (earlier chunks and calls) in `delta.outside`."""

    delta: Delta
    hover: tuple[tuple[SourceFile, Span, str], ...]


@record(frozen=True, slots=True)
class _Call:
    name: str  # looked up in the model's module
    module: str  # the called definition's file
    token: int  # its definition key when recorded
    call_args: tuple[object, ...]
    args: dict[str, Value]  # bound when recorded
    call_span: Span | None
    span: Span
    inputs: tuple[tuple[int, TensorType, Origin], ...]  # old id, type, origin
    outputs: tuple[tuple[int, TensorType], ...] | None  # None: a single tensor, not a tuple
    single: tuple[int, TensorType] | None
    trainable: bool = True  # `trainable = false` on the call


@record(frozen=True, slots=True)
class Composite:
    start: int  # the model's start when recorded (spans of its file move with it)
    chunks: tuple[_Chunk, ...]  # one more than calls: chunk, call, chunk, ..., chunk
    starts: tuple[int, ...]  # each chunk's first value id when recorded
    calls: tuple[_Call, ...]
    outputs: tuple[tuple[str, int, TensorVal], ...]


# A builder mark and the hover list's length then.
_Marks = tuple[Mark, int]


class CompositeRecorder:
    """Records a top-level instantiation on a fresh builder (see `Composite`)."""

    def __init__(
        self,
        builder: GraphBuilder,
        hover: list[tuple[SourceFile, Span, str]],
        keys: DefinitionKeys,
        model_start: int,
    ) -> None:
        self.model_start = model_start
        self.builder = builder
        self.hover = hover
        self.keys = keys
        self.ok = True
        self.bounds: list[tuple[_Marks, _Marks]] = []
        self.calls: list[_Call] = []
        self.start = self.mark()  # the hover list already holds other items' types

    def mark(self) -> _Marks:
        return self.builder.mark(), len(self.hover)

    def call(
        self,
        start: _Marks,
        layer: DefRef,
        inputs: Sequence[TensorVal],
        span: Span,
        out: Value,
    ) -> None:
        """A block call of the model's own body, between `start` and now."""
        end = self.mark()
        token = self.keys.definition(layer)
        args = layer.args or {}
        call_args = layer.call_args
        if (
            token is None
            or call_args is None
            or not all(isinstance(getattr(a, "value", None), ScalarVal) for a in call_args)
            or not all(isinstance(v, ScalarVal) for v in args.values())
        ):
            self.ok = False
            return
        single: tuple[int, TensorType] | None = None
        outputs: tuple[tuple[int, TensorType], ...] | None = None
        if isinstance(out, TensorVal):
            single = (out.value, out.type)
        elif isinstance(out, TupleVal):
            outputs = tuple((t.value, t.type) for t in out.items)
        else:
            self.ok = False
            return
        self.bounds.append((start, end))
        self.calls.append(
            _Call(
                layer.definition.name.name,
                layer.module.file.path,
                token,
                call_args,
                dict(args),
                layer.call_span,
                span,
                tuple((t.value, t.type, t.origin) for t in inputs),
                outputs,
                single,
                layer.trainable,
            )
        )

    def finish(self, outputs: list[tuple[str, TensorVal]] | None) -> Composite | None:
        if not self.ok or outputs is None:
            return None
        chunks = []
        edges = [(self.start, self.start), *self.bounds, (self.mark(), self.mark())]
        for (_, (begin, h0)), ((end, h1), _) in itertools.pairwise(edges):
            delta = self.builder.since(begin, end)  # own paths are at the top level (prefix "")
            if delta is None:
                return None
            chunks.append(_Chunk(delta, tuple(self.hover[h0:h1])))
        return Composite(
            self.model_start,
            tuple(chunks),
            tuple(begin.values for (_, (begin, _)), _ in itertools.pairwise(edges)),
            tuple(self.calls),
            tuple((n, t.value, t) for n, t in outputs),
        )


class ReplayHost(Protocol):
    """The elaborator's state a replay reads and extends (it imports this package, so it is
    named by what it has)."""

    keys: DefinitionKeys | None
    files: dict[str, SourceFile]
    hover: list[tuple[SourceFile, Span, str]]
    rep: Reporter


# A block call's parameters bound again, and the block applied, in the model's frame.
Bind = Callable[[DefRef, list[CallArg], Span], dict[str, Value] | None]
Apply = Callable[[DefRef, list[TensorVal], Span], Value]


def replay(
    rec: Composite, ref: DefRef, builder: GraphBuilder, host: ReplayHost, bind: Bind, apply: Apply
) -> list[tuple[str, TensorVal]] | None:
    """Redo a recorded top-level instantiation of `ref` on the fresh `builder`: its own work
    from the record, its block calls for real. None when a call cannot be bound as recorded
    or returns other types than recorded: the caller rolls back and elaborates afresh."""
    keys = host.keys
    assert keys is not None
    module = ref.module
    files = host.files
    ids: dict[int, int] = {}
    reports = host.rep.begin()
    delta = ref.definition.span.start - rec.start  # an edit above the model moved it
    shift = Shift(module.file.path, delta)

    def at(span: Span) -> Span:
        return shift.span(span) if delta else span

    def move(file: SourceFile | None, span: Span) -> Span:
        return shift.span(span) if file is None else shift.at(file, span)

    for i, chunk in enumerate(rec.chunks):
        own = chunk.delta
        outside = [ids[v] for v in own.outside]
        v0 = builder.append(own, outside, files=files, move=move if delta else None)
        first = rec.starts[i]
        for k in range(len(own.values)):
            ids[first + k] = v0 + k
        host.hover.extend(
            (files.get(f.path, f), shift.at(f, s) if delta else s, t) for f, s, t in chunk.hover
        )
        if i == len(rec.calls):
            break
        call = rec.calls[i]
        call_span = None if call.call_span is None else at(call.call_span)
        span = at(call.span)
        callee = module.names.get(call.name)
        if (
            not isinstance(callee, DefRef)
            or callee.definition.name.name != call.name
            or callee.module.file.path != call.module
        ):
            return None
        if keys.definition(callee) == call.token:
            bound: dict[str, Value] | None = call.args
        else:  # the block changed: its defaults may have
            written = [
                replace(
                    a,
                    span=at(a.span),
                    name_span=None if a.name_span is None else at(a.name_span),
                )
                for a in cast(list[CallArg], list(call.call_args))
            ]
            bound = bind(callee, written, call_span or span)
            if bound is None or not reports.quiet:
                return None
        layer = DefRef(
            callee.definition, callee.module, bound, call_span, call.call_args, call.trainable
        )
        inputs = [
            TensorVal(
                ids[old],
                t,
                Origin(files.get(o.file.path, o.file), shift.at(o.file, o.span)),
            )
            for old, t, o in call.inputs
        ]
        out = apply(layer, inputs, span)
        # What the call reported (a block being edited: an unknown name, an unused tensor)
        # a fresh elaboration reports alike; what follows it is the same while it returns
        # the recorded types (an erroneous call returns none).
        if call.single is not None:
            if not isinstance(out, TensorVal) or out.type != call.single[1]:
                return None
            ids[call.single[0]] = out.value
        else:
            assert call.outputs is not None
            if not isinstance(out, TupleVal) or len(out.items) != len(call.outputs):
                return None
            for (old, t), new in zip(call.outputs, out.items, strict=True):
                if new.type != t:
                    return None
                ids[old] = new.value
    return [
        (n, TensorVal(ids[old], t.type, shift.origin(t.origin) if delta else t.origin))
        for n, old, t in rec.outputs
    ]
