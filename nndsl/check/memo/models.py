"""Models replayed around their block calls.

A model chaining many blocks is re-elaborated when one of them changes, although its own
statements do the same thing as long as every block call returns the same types. A
`Composite` records a top-level instantiation as the model's own work (values, nodes, names,
paths and types, in chunks) between its block calls; a replay (`Elaborator.replay_composite`)
redoes the own work from the record and each block call for real (most of them replay from
the instance memo), and gives up (the caller then elaborates afresh) as soon as a call reports
something or returns other types than recorded.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from nndsl.check.builder import Delta, GraphBuilder, Mark
from nndsl.check.memo.keys import DefinitionKeys
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
