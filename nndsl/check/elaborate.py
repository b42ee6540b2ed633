"""The elaborator: runs block and model bodies on abstract values, building the IR.

Scalars (parameters, sizes) are evaluated for real; tensors are abstract (a dtype and a
symbolic shape). Blocks are instantiated at each use, so `if` and `repeat` on parameters are
decided statically. A definition that is never used is still checked once, "generically",
with its parameters as symbols.
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from typing import Any

from nndsl.check.applicable import CONFIGURED_KINDS, Use, applicable, article
from nndsl.check.arguments import INVALID, CallArg, convert, match_args
from nndsl.check.builder import GraphBuilder, snake
from nndsl.check.memo import (
    Composite,
    CompositeRecorder,
    DefinitionKeys,
    InstanceMemo,
    Site,
    instance_key,
    replay,
)
from nndsl.check.report import Reporter, did_you_mean
from nndsl.check.static import STATIC_FUNCTIONS, call_static, is_number
from nndsl.check.values import (
    ERROR,
    DefRef,
    DictVal,
    ErrorVal,
    ListVal,
    ModuleScope,
    OpRef,
    Origin,
    ScalarVal,
    TensorVal,
    TupleVal,
    Value,
    describe,
)
from nndsl.diagnostics import Label, Severity
from nndsl.ir import Graph, Weight
from nndsl.limits import (
    MAX_BLOCK_DEPTH,
    MAX_GRAPH_NODES,
    MAX_INT,
    MAX_REPEAT,
    MAX_TENSOR_ELEMENTS,
    max_params,
)
from nndsl.ops import REQUIRED, Arg, ArgValue, OpKind, OpSpec, ShapeError, lookup
from nndsl.records import record
from nndsl.shapes import (
    DTYPES,
    Dim,
    DimError,
    DimRangeError,
    TensorType,
    format_shape,
    unify_shapes,
)
from nndsl.source import SourceFile, Span
from nndsl.syntax import ast
from nndsl.syntax.lower import MISSING_NAME

PARAM_TYPES = ("int", "float", "bool", "str")
_BINOP_SPECS = {
    "+": "add",
    "-": "sub",
    "*": "mul",
    "/": "div",
    "@": "matmul",
    "**": "power",
    "==": "equal",
    "!=": "not_equal",
    "<": "less",
    "<=": "less_equal",
    ">": "greater",
    ">=": "greater_equal",
}


@record
class Frame:
    """One running definition body."""

    module: ModuleScope
    definition: ast.Definition
    env: dict[str, Value]
    builder: GraphBuilder
    prefix: str
    scope: tuple[str, ...]
    concrete: bool
    stack: tuple[str, ...]
    assigned: dict[str, Span] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    outputs: list[tuple[str, TensorVal]] | None = None

    @property
    def file(self) -> SourceFile:
        return self.module.file


_TYPE_TEXT: dict[TensorType, str] = {}  # `str(type)` for hover notes (bounded)


class Elaborator:
    def __init__(self, rep: Reporter, instances: InstanceMemo | None = None) -> None:
        self.rep = rep
        self.hover: list[tuple[SourceFile, Span, str]] = []
        # Block instances are replayed from `instances` once `keys` is set (see `check.memo`);
        # `files` maps each loaded path to its current text, for replayed nodes and types.
        self.instances = instances
        self.keys: DefinitionKeys | None = None
        self.files: dict[str, SourceFile] = {}
        self.graphs: dict[object, tuple[Graph, list[tuple[SourceFile, Span, str]]]] = {}
        self.composite: CompositeRecorder | None = None  # recording a model's block calls
        # Symbols standing for parameter values during a generic check: shapes built from
        # them are unknown, not variables, so a mismatch involving them is not yet an error.
        self.opaque: frozenset[str] = frozenset()
        self.reported_depth = False  # E0812 said once per analysis
        # Per model graph: its node count at the last `repeat` copy, and the copies so far
        # that added no node (see `_within_budget`).
        self.iterations: dict[GraphBuilder, tuple[int, int]] = {}
        # Set while the first copy of `repeat N Block(...)` is checked: a `remat = true`
        # block application then leaves rematerialisation to the repeat (`remat_seen`).
        self.repeating = False
        self.remat_seen = False

    def uncertain(self, frame: Frame, types: Sequence[TensorType]) -> bool:
        """In a generic check, whether these shapes may still agree once parameters are known."""
        if frame.concrete:
            return False
        for t in types:
            for d in t.shape:
                if d.symbols() & self.opaque or _has_floordiv(d):
                    return True
        return False

    def _merge_branches(self, a: dict[str, Value], b: dict[str, Value]) -> dict[str, Value]:
        """The environment after an `if` whose condition is unknown in a generic check: a
        name bound differently by the two branches gets an opaque value, so later checks
        report only mismatches that hold whichever branch is taken."""
        merged = dict(a)
        for name, va in a.items():
            vb = b.get(name)
            if vb is None or vb == va:
                continue
            if isinstance(va, ScalarVal) and isinstance(vb, ScalarVal) and va.kind == vb.kind:
                if va.kind == "int":
                    merged[name] = ScalarVal("int", self._fresh_opaque(name))
                else:
                    merged[name] = ScalarVal(va.kind, None)
            elif isinstance(va, TensorVal) and isinstance(vb, TensorVal):
                if va.type.rank != vb.type.rank or va.type.dtype != vb.type.dtype:
                    merged[name] = ERROR  # a later use would be wrong in one branch or the other
                    continue
                dims = tuple(
                    da if da == db else self._fresh_opaque(name)
                    for da, db in zip(va.type.shape, vb.type.shape, strict=True)
                )
                merged[name] = TensorVal(va.value, va.type.with_shape(dims), va.origin)
        return merged

    def _fresh_opaque(self, hint: str) -> Dim:
        n = len(self.opaque)
        symbol = f"{hint}'{n}"
        self.opaque = self.opaque | {symbol}
        return Dim.sym(symbol)

    # == instantiation ======================================================================
    def instantiate(
        self,
        ref: DefRef,
        builder: GraphBuilder,
        inputs: Sequence[TensorVal] | None,
        *,
        prefix: str,
        scope: tuple[str, ...],
        concrete: bool,
        stack: tuple[str, ...] = (),
        call: Origin | None = None,
    ) -> list[tuple[str, TensorVal]] | None:
        """Run a definition's body. `inputs is None` makes its inputs graph inputs."""
        d = ref.definition
        env: dict[str, Value] = dict(ref.args or {})
        frame = Frame(ref.module, d, env, builder, prefix, scope, concrete, (*stack, d.name.name))
        input_stmts = [s for s in d.body if isinstance(s, ast.InputStmt)]
        if inputs is not None and len(inputs) != len(input_stmts):
            assert call is not None
            self.rep.error(
                "E0407",
                f"`{d.name.name}` takes {len(input_stmts)} input"
                f"{'' if len(input_stmts) == 1 else 's'}, but was given {len(inputs)}",
                call.file,
                call.span,
                "wrong number of tensors",
                secondary=[Label(d.name.span, f"`{d.name.name}` is defined here", ref.module.file)],
            )
            return None
        self._bind_inputs(frame, input_stmts, inputs, call)
        ok = self._run(frame, d.body)
        if frame.outputs is None:
            if ok:
                self.rep.error(
                    "E0503",
                    f"`{d.name.name}` has no `return`",
                    frame.file,
                    d.name.span,
                    f"this {d.kind} returns nothing",
                    help="end the body with `return <tensor>`",
                )
            return None
        if inputs is None and ok:
            self._warn_unused(frame)
            if frame.concrete and not self._params_ok(frame):
                return None
        return frame.outputs if ok else None

    # == limits (nndsl.limits) ==============================================================
    def _out_of_range(self, frame: Frame, span: Span, message: str) -> Value:
        self.rep.error(
            "E0815",
            message,
            frame.file,
            span,
            "out of range",
            help="integers must lie within int64, and numbers must be finite",
        )
        return ERROR

    def _within_budget(self, frame: Frame, span: Span, iteration: bool = False) -> bool:
        """Whether the model is still small enough to go on unrolling (E0814 otherwise).
        `iteration`: one more `repeat` copy is about to run. Copies that added no node since
        the previous one count against the same limit, so that time stays bounded when a body
        adds nothing (an empty or broken body nested 1000 x 1000 deep)."""
        nodes = frame.builder.node_count
        idle = 0
        if iteration:
            last_nodes, idle = self.iterations.get(frame.builder, (-1, 0))
            idle += nodes == last_nodes
            self.iterations[frame.builder] = (nodes, idle)
        if nodes <= MAX_GRAPH_NODES and idle <= MAX_GRAPH_NODES:
            return True
        what = "layers and ops" if nodes > MAX_GRAPH_NODES else "repeated copies"
        self.rep.error(
            "E0814",
            f"`{frame.stack[0]}` has more than {MAX_GRAPH_NODES:,} {what} here",
            frame.file,
            span,
            "the model grows past the limit here",
            help="use fewer or smaller `repeat`s; nested counts multiply",
        )
        return False

    def _size_ok(
        self, frame: Frame, t: TensorType, span: Span, what: str, per_example: bool = True
    ) -> bool:
        """Known sizes are >= 0 (E0816) and a tensor holds at most `MAX_TENSOR_ELEMENTS` per
        example (E0817): refused here, before anything could try to allocate it."""
        elements = 1
        for d in t.shape:
            n = d.as_int()
            if n is None:
                continue  # a batch or other run-time size: not counted
            if n < 0:
                self.rep.error(
                    "E0816",
                    f"{what} has the negative size {n} in `{t}`",
                    frame.file,
                    span,
                    "negative size",
                    help="a size counts elements: it must be 0 or more",
                )
                return False
            elements *= n
        if elements > MAX_TENSOR_ELEMENTS:
            self.rep.error(
                "E0817",
                f"{what} `{_clipped(str(t))}` has {elements:.3g} elements"
                f"{' per example' if per_example else ''}, over the limit of 2^32",
                frame.file,
                span,
                "tensor too large",
                help="no accelerator holds this; use smaller sizes",
            )
            return False
        return True

    def _params_ok(self, frame: Frame) -> bool:
        """A model within the parameter budget (E0818), counted before anything allocates."""
        budget = max_params()
        total = frame.builder.parameter_count()
        if total <= budget:
            return True
        name = frame.definition.name
        self.rep.error(
            "E0818",
            f"model `{name.name}` has {total:,} parameters, over the budget of {budget:,}",
            frame.file,
            name.span,
            "too many parameters",
            help="use smaller layers, or set NNDSL_MAX_PARAMS to a larger count for this machine",
        )
        return False

    def _warn_unused(self, frame: Frame) -> None:
        for name, span in frame.assigned.items():
            if name not in frame.used and not name.startswith("_"):
                self.rep.error(
                    "W0101",
                    f"`{name}` is computed but never used",
                    frame.file,
                    span,
                    "unused",
                    severity=Severity.WARNING,
                    help=f"use it, or name it `_{name}` to silence this",
                )

    def _bind_inputs(
        self,
        frame: Frame,
        stmts: list[ast.InputStmt],
        inputs: Sequence[TensorVal] | None,
        call: Origin | None,
    ) -> None:
        seen: dict[str, Span] = {}
        bindings: dict[str, Dim] = {}
        for i, stmt in enumerate(stmts):
            name = stmt.name.name
            if name in seen:
                self.rep.error(
                    "E0102",
                    f"input `{name}` is declared twice",
                    frame.file,
                    stmt.name.span,
                    "declared again here",
                    secondary=[Label(seen[name], "first declared here")],
                )
            seen[name] = stmt.name.span
            declared = self._tensor_type(frame, stmt.type, allow_new=True, bound=bindings)
            if declared is None:
                frame.env[name] = ERROR
                continue
            if inputs is None:
                vid = frame.builder.add_input(name, declared, stmt.name.span)
                val = TensorVal(vid, declared, Origin(frame.file, stmt.span))
                for sym in declared.numel().symbols() | _shape_symbols(declared):
                    bindings.setdefault(sym, Dim.sym(sym))
            else:
                actual = inputs[i]
                assert call is not None
                bindable = {s for s in _shape_symbols(declared) if s not in frame.env}
                bad = unify_shapes(declared.shape, actual.type.shape, bindings, bindable)
                if (
                    bad
                    and bad != [-1]
                    and self.uncertain(frame, [declared.subst(bindings), actual.type])
                ):
                    bad = []
                if bad or declared.dtype != actual.type.dtype:
                    pattern = declared.subst(bindings)
                    what = "dtype" if not bad else "rank" if bad == [-1] else f"axis {bad[0]}"
                    self.rep.error(
                        "E0201" if bad else "E0301",
                        f"`{frame.definition.name.name}` expects input `{name}` of type "
                        f"`{pattern}`, found `{actual.type}`",
                        call.file,
                        call.span,
                        f"this is `{actual.type}` ({what} differs)",
                        secondary=[
                            Label(
                                stmt.type.span, f"`{name}` is declared `{pattern}` here", frame.file
                            ),
                            Label(
                                actual.origin.span,
                                f"`{actual.type}` comes from here",
                                actual.origin.file,
                            ),
                        ],
                    )
                    frame.env[name] = ERROR
                    continue
                val = TensorVal(actual.value, actual.type, actual.origin)
            frame.env[name] = val
            self._note_type(frame.file, stmt.name.span, val.type)
        for sym, d in bindings.items():
            frame.env.setdefault(sym, ScalarVal("int", d))

    def _note_type(self, file: SourceFile, span: Span, t: TensorType) -> None:
        """Remember a name's type at a span: the editor shows it on hover. Equal types print
        the same (dims are canonical), so each distinct type is formatted once."""
        text = _TYPE_TEXT.get(t)
        if text is None:
            if len(_TYPE_TEXT) >= 4096:
                _TYPE_TEXT.clear()
            text = _TYPE_TEXT[t] = str(t)
        self.hover.append((file, span, text))

    # == statements =========================================================================
    def _run(self, frame: Frame, body: Sequence[ast.Stmt]) -> bool:
        ok = True
        for stmt in body:
            if frame.outputs is not None:
                self.rep.error(
                    "E0503",
                    "statement after `return`",
                    frame.file,
                    stmt.span,
                    "never runs",
                    help="`return` must be the last statement",
                )
                return False
            try:
                ok = self._stmt(frame, stmt) and ok
            except RecursionError:
                raise
            except DimRangeError as err:  # a size grown past int64 anywhere in the statement
                self._out_of_range(frame, stmt.span, f"a size in this statement is {err}")
                ok = False
            except Exception as exc:  # a bug in nndsl, contained to this statement
                self.internal_error(frame.file, stmt.span, exc)
                ok = False
        return ok

    def internal_error(self, file: SourceFile, span: Span, exc: BaseException) -> None:
        self.rep.error(
            "E9999",
            f"internal error while checking this statement: {exc!r}",
            file,
            span,
            "nndsl failed here",
            help="this is a bug in nndsl; please report it",
            traceback="".join(traceback.format_exception(exc)),
        )

    def _stmt(self, frame: Frame, stmt: ast.Stmt) -> bool:
        """Run one statement (see `_STATEMENTS`); False when it failed."""
        handler = _STATEMENTS.get(type(stmt))
        if handler is None:
            raise AssertionError(f"unknown statement {stmt!r}")
        return handler(self, frame, stmt)

    def _input(self, frame: Frame, stmt: ast.InputStmt) -> bool:
        return True  # bound up front

    def _return(self, frame: Frame, stmt: ast.Return) -> bool:
        outs: list[tuple[str, TensorVal]] = []
        ok = True
        for i, e in enumerate(stmt.values):
            v = self.evaluate(frame, e)
            items = v.items if isinstance(v, TupleVal) else (v,)
            for j, item in enumerate(items):
                if isinstance(item, TensorVal):
                    name = (
                        e.ident.name
                        if isinstance(e, ast.Name)
                        else (
                            "output"
                            if len(stmt.values) == 1 and len(items) == 1
                            else f"output_{i}"
                            if len(items) == 1
                            else f"output_{i}_{j}"
                        )
                    )
                    outs.append((name, item))
                elif not isinstance(item, ErrorVal):
                    self.rep.error(
                        "E0302",
                        f"`return` needs tensors, found {describe(item)}",
                        frame.file,
                        e.span,
                        "not a tensor",
                    )
                    ok = False
                else:
                    ok = False
        frame.outputs = outs if ok else []  # failed: returned, but with nothing to use
        return ok

    def _if(self, frame: Frame, stmt: ast.If) -> bool:
        cond = self.evaluate(frame, stmt.cond)
        if isinstance(cond, ErrorVal):
            return False
        if not (isinstance(cond, ScalarVal) and cond.kind == "bool"):
            self.rep.error(
                "E0501",
                f"`if` needs a boolean condition, found {describe(cond)}",
                frame.file,
                stmt.cond.span,
                "not a boolean",
            )
            return False
        if cond.value is None:
            if frame.concrete:
                self.rep.error(
                    "E0501",
                    "this condition is not known at check time",
                    frame.file,
                    stmt.cond.span,
                    "depends on a symbolic size",
                    help="conditions may use parameters and sizes fixed by the input types",
                )
                return False
            # Generic check: look at both branches, then continue with names whose
            # values differ between them made opaque (known only at each use).
            saved = dict(frame.env)
            ok = self._run(frame, stmt.then)
            then_env, then_out = frame.env, frame.outputs
            other_env = saved
            if stmt.orelse is not None:
                frame.env, frame.outputs = dict(saved), None
                ok = self._run(frame, stmt.orelse) and ok
                other_env = frame.env
            frame.env = self._merge_branches(then_env, other_env)
            frame.outputs = then_out
            return ok
        branch = stmt.then if cond.value else stmt.orelse
        return self._run(frame, branch) if branch is not None else True

    def _repeat(self, frame: Frame, stmt: ast.Repeat) -> bool:
        """`repeat N { body }`: the body runs N times in the frame, each round seeing the
        names the previous one bound. The first round is checked; when it carries one tensor
        name to a value of the same type (`_carried`), the rounds become one flat repeat node
        (`GraphBuilder.collapse_flat`) and checking is done, whatever N is. Otherwise the
        second round is tried the same way (the first may change the type), then the rest
        are run one by one (E0813, E0814)."""
        count = self._static_count(frame, stmt.count)
        if count is None:
            return False
        for done in range(count):
            if not self._within_budget(frame, stmt.span, iteration=True):
                return False
            if done < 2 and count - done >= 2:
                collapsed = self._repeat_round(frame, stmt, count - done)
                if collapsed is None:
                    return False
                if collapsed:
                    return True
                continue
            if done == min(count, 2) and not self._unroll_ok(frame, stmt.count, count):
                return False
            if not self._run(frame, stmt.body):
                return False
        return True

    def _repeat_round(self, frame: Frame, stmt: ast.Repeat, rounds: int) -> bool | None:
        """One round of `repeat`, made the first of `rounds` in one node when it can be:
        True if so, False if it stays one round, None when it failed."""
        builder = frame.builder
        mark = builder.mark()
        before = dict(frame.env)
        outputs = frame.outputs
        if not self._run(frame, stmt.body):
            return None
        if frame.outputs is not outputs:
            return False
        carried = self._carried(frame, stmt, before)
        if carried is None:
            return False
        name, old, new = carried
        vid = builder.collapse_flat(
            mark, old.value, new.value, rounds, frame.prefix, frame.scope, _body_label(stmt)
        )
        if vid is None:
            return False
        recorder = self.composite
        if recorder is not None and builder is recorder.builder:
            recorder.ok = False  # the recorded block calls are gone into the node
        builder.name_value(vid, name)
        frame.env[name] = TensorVal(vid, new.type, new.origin)
        return True

    def _carried(
        self, frame: Frame, stmt: ast.Repeat, before: dict[str, Value]
    ) -> tuple[str, TensorVal, TensorVal] | None:
        """The one name a round of `stmt` carries to the next (its name, value before and
        after the round), when the next round would do just what this one did: it reads that
        name before binding it, and no other name it may read so was rebound; its value kept
        its type. None otherwise, or when a tensor the round made under another name is read
        elsewhere in the definition (after the repeat, or in an enclosing round): collapsed,
        the round's inner values are gone."""
        env = frame.env
        changed = [n for n, v in env.items() if n not in before or before[n] is not v]
        changed = [n for n in changed if n not in before or before[n] != env[n]]
        reads = _read_first(stmt.body, set())[0]
        carried = [n for n in changed if n in reads]
        if len(carried) != 1:
            return None
        name = carried[0]
        old, new = before.get(name), env[name]
        if not (isinstance(old, TensorVal) and isinstance(new, TensorVal)):
            return None
        if old.type != new.type:
            return None
        if _holds(before, reads - {name}, old.value):
            return None  # another name read the same tensor: in round 2 it is not the carried one
        made = {
            n
            for n in changed
            if n != name and isinstance(env[n], TensorVal | TupleVal | ListVal | DictVal)
        }
        if made and made & _names_read_outside(frame.definition.body, stmt):
            return None
        return name, old, new

    def _unroll_ok(self, frame: Frame, expr: ast.Expr, n: int) -> bool:
        """A `repeat` that is unrolled copy by copy stays within MAX_REPEAT (E0813); one
        collapsed into a single node (`_repeat_copies`, `_repeat_round`) has no such limit."""
        if n <= MAX_REPEAT:
            return True
        self.rep.error(
            "E0813",
            f"`repeat` count {n:,} is over the limit of {MAX_REPEAT:,}",
            frame.file,
            expr.span,
            "too many copies",
            help="a model this deep does not train; use fewer copies",
            notes=[
                "a repeat whose copies carry one tensor to the same type (of a block, a layer "
                "or statements) is one node and has no such limit; other repeats are checked "
                "copy by copy"
            ],
        )
        return False

    def _repeat_stage(
        self, frame: Frame, value: Value, stage: ast.RepeatStage, span: Span
    ) -> Value:
        """`x |> repeat N Stage`. The first copy is checked; when it is one block instance
        whose output type equals its input type, it becomes the body of one repeat node
        (`GraphBuilder.collapse_repeat`) and checking is done, whatever N is (the parameter
        budget, E0818, then bounds N); a layer (or other stage) whose output type equals its
        input type becomes a flat repeat node (`GraphBuilder.collapse_flat`) the same way.
        When the first copy changes the type, the second is tried likewise for the rest.
        Otherwise the other copies are checked one by one."""
        count = self._static_count(frame, stage.count)
        if count is None:
            return ERROR
        if count == 0:
            return value  # 0 copies: the stage is the identity, the body does not run
        return self._repeat_copies(frame, value, stage, span, count, count)

    def _repeat_copies(
        self, frame: Frame, value: Value, stage: ast.RepeatStage, span: Span, count: int, total: int
    ) -> Value:
        """The last `count` (>= 1) of the `total` copies of `_repeat_stage`."""
        builder = frame.builder
        mark = builder.mark()
        outer = self.repeating
        self.repeating = True
        self.remat_seen = False
        try:
            current = self._pipe_stage(frame, value, stage.stage, span)
        finally:
            self.repeating = outer
        remat, self.remat_seen = self.remat_seen, False
        if isinstance(current, ErrorVal):
            return ERROR
        if count == 1 and not remat:
            return current
        if isinstance(value, TensorVal) and isinstance(current, TensorVal):
            vid = builder.collapse_repeat(
                mark, value.value, current.value, count, frame.scope, _stage_name(stage), remat
            )
            if (
                vid is None
                and not remat
                and not _holds(frame.env, _names_in(stage.stage, set()), value.value)
            ):
                vid = builder.collapse_flat(
                    mark,
                    value.value,
                    current.value,
                    count,
                    frame.prefix,
                    frame.scope,
                    _stage_name(stage),
                )
            if vid is not None:
                recorder = self.composite
                if recorder is not None and builder is recorder.builder:
                    recorder.ok = False  # the recorded block call is gone into the node
                return TensorVal(vid, current.type, current.origin)
            if count > 2 and count == total and not remat and value.type != current.type:
                # the first copy changed the type: the others may keep it
                if not self._within_budget(frame, stage.span, iteration=True):
                    return ERROR
                return self._repeat_copies(frame, current, stage, span, count - 1, total)
        if remat:
            self._remat_unsupported(frame, stage.span)
            return ERROR
        if not self._unroll_ok(frame, stage.count, total):
            return ERROR
        for _ in range(count - 1):
            if not self._within_budget(frame, stage.span, iteration=True):
                return ERROR
            current = self._pipe_stage(frame, current, stage.stage, span)
            if isinstance(current, ErrorVal):
                return ERROR
        return current

    def _remat_unsupported(self, frame: Frame, span: Span) -> None:
        self.rep.error(
            "E0820",
            "`remat = true` needs a block that takes one tensor and returns one",
            frame.file,
            span,
            "cannot be rematerialised",
            help="remove `remat = true`, or wrap the layers in a block with one input and output",
        )

    def _static_count(self, frame: Frame, expr: ast.Expr) -> int | None:
        v = self.evaluate(frame, expr)
        if isinstance(v, ErrorVal):
            return None
        if isinstance(v, ScalarVal) and v.kind == "int":
            n = v.value.as_int() if isinstance(v.value, Dim) else v.value
            if isinstance(n, int) and n >= 0:
                return n  # 0 copies: the stage is the identity, the body does not run
            if n is None and not frame.concrete:
                return 1
            self.rep.error(
                "E0502",
                f"`repeat` needs a count >= 0 known at check time, found `{v.value}`",
                frame.file,
                expr.span,
                "invalid count",
            )
            return None
        self.rep.error(
            "E0502",
            f"`repeat` needs an integer count, found {describe(v)}",
            frame.file,
            expr.span,
            "not an integer",
        )
        return None

    def _assign(self, frame: Frame, stmt: ast.Assign) -> bool:
        if isinstance(stmt.value, ast.Name) and stmt.value.ident.name == MISSING_NAME:
            # `z = <missing>`: the parser's recovery completed `z` (reported there). The body
            # is not failed by it, so what calls the block is checked on, and `z` is no error.
            for target in stmt.targets:
                frame.env[target.name.name] = ERROR
                frame.used.add(target.name.name)
            return True
        value = self.evaluate(frame, stmt.value)
        targets = stmt.targets
        if len(targets) > 1:
            if isinstance(value, TupleVal) and len(value.items) == len(targets):
                values: list[Value] = list(value.items)
            else:
                if not isinstance(value, ErrorVal):
                    self.rep.error(
                        "E0302",
                        f"{len(targets)} names need {len(targets)} tensors, found "
                        f"{describe(value)}",
                        frame.file,
                        stmt.value.span,
                        "cannot be unpacked",
                    )
                values = [ERROR] * len(targets)
        else:
            values = [value]
        ok = True
        for target, v in zip(targets, values, strict=True):
            name = target.name.name
            if target.annotation is not None and isinstance(v, TensorVal):
                v = self._check_annotation(frame, target, v)
            if isinstance(v, ErrorVal):
                ok = False
            if isinstance(v, TensorVal):
                frame.builder.name_value(v.value, name)
                self._note_type(frame.file, target.name.span, v.type)
            frame.env[name] = v
            frame.assigned[name] = target.name.span
        return ok

    def _check_annotation(self, frame: Frame, target: ast.Target, v: TensorVal) -> Value:
        assert target.annotation is not None
        declared = self._tensor_type(frame, target.annotation, allow_new=True, bound={})
        if declared is None:
            return ERROR
        bindable = {s for s in _shape_symbols(declared) if s not in frame.env}
        bindings: dict[str, Dim] = {}
        bad = unify_shapes(declared.shape, v.type.shape, bindings, bindable)
        if bad and bad != [-1] and self.uncertain(frame, [declared.subst(bindings), v.type]):
            bad = []
        if bad or declared.dtype != v.type.dtype:
            shown = declared.subst(bindings)
            where = (
                "its dtype differs"
                if not bad
                else "the rank differs"
                if bad == [-1]
                else f"axis {bad[0]} differs"
            )
            self.rep.error(
                "E0201" if bad else "E0301",
                f"`{target.name.name}` is declared `{shown}`, but its value is `{v.type}`",
                frame.file,
                target.annotation.span,
                f"declared here; {where}",
                secondary=[Label(v.origin.span, f"this is `{v.type}`", v.origin.file)],
            )
            return ERROR
        for sym, d in bindings.items():
            frame.env.setdefault(sym, ScalarVal("int", d))
        return v

    # == types ==============================================================================
    def _tensor_type(
        self, frame: Frame, t: ast.TensorTypeExpr, *, allow_new: bool, bound: dict[str, Dim]
    ) -> TensorType | None:
        dtype = DTYPES.get(t.dtype.name)
        if dtype is None:
            self.rep.error(
                "E0101",
                f"unknown dtype `{t.dtype.name}`",
                frame.file,
                t.dtype.span,
                "not a dtype",
                help=did_you_mean(t.dtype.name, DTYPES)
                or "dtypes are " + ", ".join(f"`{d}`" for d in DTYPES),
            )
            return None
        dims: list[Dim] = []
        for e in t.dims:
            d = self._dim(frame, e, allow_new, bound)
            if d is None:
                return None
            n = d.as_int()
            if n is not None and n < 0:
                self.rep.error(
                    "E0816",
                    f"the size `{_excerpt(frame.file, e.span)}` is {n}",
                    frame.file,
                    e.span,
                    "negative size",
                    help="a size counts elements: it must be 0 or more",
                )
                return None
            dims.append(d)
        result = TensorType(dtype, tuple(dims))
        if not self._size_ok(frame, result, t.span, "this type"):
            return None
        return result

    def _dim(self, frame: Frame, e: ast.Expr, allow_new: bool, bound: dict[str, Dim]) -> Dim | None:
        if isinstance(e, ast.IntLit):
            if not -MAX_INT <= e.value <= MAX_INT:
                self._out_of_range(frame, e.span, "this size is over 2^63 - 1")
                return None
            if e.value < 0:
                self.rep.error(
                    "E0205",
                    f"a size cannot be negative ({e.value})",
                    frame.file,
                    e.span,
                    "negative size",
                )
                return None
            return Dim.const(e.value)
        if isinstance(e, ast.Name):
            name = e.ident.name
            if name in bound:
                return bound[name]
            v = frame.env.get(name)
            if v is None:
                v = frame.module.names.get(name)
            if isinstance(v, ScalarVal) and v.kind == "int":
                if isinstance(v.value, Dim):
                    return v.value
                if isinstance(v.value, int):
                    return Dim.const(v.value)
                return Dim.sym(name)
            if v is None and name != MISSING_NAME and allow_new:
                return Dim.sym(name)
            if isinstance(v, ErrorVal) or name == MISSING_NAME:
                return None
            if v is None:
                self._unknown_name(frame, e.ident)
                return None
            self.rep.error(
                "E0205", f"`{name}` is {describe(v)}, not a size", frame.file, e.span, "not a size"
            )
            return None
        if isinstance(e, ast.BinOp) and e.op in ("+", "-", "*", "/", "%"):
            left = self._dim(frame, e.left, allow_new, bound)
            right = self._dim(frame, e.right, allow_new, bound)
            if left is None or right is None:
                return None
            try:
                if e.op == "+":
                    return left + right
                if e.op == "-":
                    return left - right
                if e.op == "*":
                    return left * right
                if e.op == "/":
                    return left.floordiv(right)
                return left - left.floordiv(right) * right
            except DimRangeError as err:
                self._out_of_range(frame, e.span, f"this size is {err}")
                return None
            except DimError as err:
                self.rep.error(
                    "E0205",
                    f"invalid size expression: {err}",
                    frame.file,
                    e.span,
                    "cannot be computed",
                )
                return None
        if isinstance(e, ast.UnaryOp) and e.op == "-":
            inner = self._dim(frame, e.operand, allow_new, bound)
            return -inner if inner is not None else None
        self.rep.error(
            "E0205",
            "a size must be an integer expression over sizes",
            frame.file,
            e.span,
            "not a size",
            help="sizes look like `64`, `B`, `H/2` or `2*D + 1`",
        )
        return None

    # == expressions ========================================================================
    def evaluate(self, frame: Frame, e: ast.Expr) -> Value:
        """The value of an expression (see `_EXPRESSIONS`)."""
        handler = _EXPRESSIONS.get(type(e))  # by exact type: the tree has no subclasses
        if handler is None:
            raise AssertionError(f"unknown expression {e!r}")
        return handler(self, frame, e)

    def _name(self, frame: Frame, e: ast.Name) -> Value:
        return self.lookup(frame, e.ident)

    def _pipe(self, frame: Frame, e: ast.Pipe) -> Value:
        return self._pipe_stage(frame, self.evaluate(frame, e.value), e.stage, e.span)

    def _int(self, frame: Frame, e: ast.IntLit) -> Value:
        if not -MAX_INT <= e.value <= MAX_INT:
            return self._out_of_range(frame, e.span, "this integer is over 2^63 - 1")
        return ScalarVal("int", e.value)

    def _float(self, frame: Frame, e: ast.FloatLit) -> Value:
        if not math.isfinite(e.value):
            return self._out_of_range(frame, e.span, "this number is too large for a float")
        return ScalarVal("float", e.value)

    def _bool(self, frame: Frame, e: ast.BoolLit) -> Value:
        return ScalarVal("bool", e.value)

    def _str(self, frame: Frame, e: ast.StrLit) -> Value:
        return ScalarVal("str", e.value)

    def _none(self, frame: Frame, e: ast.NoneLit) -> Value:
        return ScalarVal("none", None)

    def _list(self, frame: Frame, e: ast.ListLit) -> Value:
        items = tuple(self.evaluate(frame, i) for i in e.items)
        if any(isinstance(i, ErrorVal) for i in items):
            return ERROR
        return ListVal(items)

    def _dict(self, frame: Frame, e: ast.DictLit) -> Value:
        """The entries in order; a key given twice is E0106 on the second (both are read:
        every error in the values is reported)."""
        seen: dict[str, Span] = {}
        items: list[tuple[str, Value]] = []
        ok = True
        for entry in e.entries:
            key = entry.key
            value = self.evaluate(frame, entry.value)
            if key.name in seen:
                self.rep.error(
                    "E0106",
                    f"key `{key.name}` is given twice",
                    frame.file,
                    key.span,
                    "given again here",
                    secondary=[Label(seen[key.name], "first given here")],
                    help="remove one of the two entries",
                )
                ok = False
                continue
            seen[key.name] = key.span
            if isinstance(value, ErrorVal):
                ok = False
            items.append((key.name, value))
        if not ok:
            return ERROR
        return DictVal(tuple(items), tuple(seen.values()))

    def _tuple(self, frame: Frame, e: ast.TupleLit) -> Value:
        values = [self.evaluate(frame, i) for i in e.items]
        if any(isinstance(v, ErrorVal) for v in values):
            return ERROR
        tensors: list[TensorVal] = []
        for item, v in zip(e.items, values, strict=True):
            if not isinstance(v, TensorVal):
                self.rep.error(
                    "E0302",
                    f"`( , )` groups tensors, found {describe(v)}",
                    frame.file,
                    item.span,
                    "not a tensor",
                    help="for a list of numbers write `[1, 2]`",
                )
                return ERROR
            tensors.append(v)
        return TupleVal(tuple(tensors))

    def _stray_repeat(self, frame: Frame, e: ast.RepeatStage) -> Value:
        self.rep.error(
            "E0105",
            "`repeat N Layer(...)` can only appear after `|>`",
            frame.file,
            e.span,
            "not in a pipeline",
            help="write `x |> repeat N Layer(...)`",
        )
        return ERROR

    def lookup(self, frame: Frame, ident: ast.Ident) -> Value:
        name = ident.name
        if name == MISSING_NAME:
            return ERROR
        if name in frame.env:
            frame.used.add(name)
            return frame.env[name]
        if name in frame.module.names:
            return frame.module.names[name]
        spec = lookup(name)
        if spec is not None:
            return OpRef(spec)
        if name in DTYPES:
            return ScalarVal("dtype", DTYPES[name])
        self._unknown_name(frame, ident)
        return ERROR

    def _unknown_name(self, frame: Frame, ident: ast.Ident) -> None:
        from nndsl.ops.registry import all_names

        # Argument values (initializers, regularizers, ...) are rare and short names; as
        # suggestions for a missing layer or tensor they are noise.
        values = CONFIGURED_KINDS - {OpKind.LAYER}
        ops = [n for n in all_names() if (s := lookup(n)) and s.kind not in values]
        candidates = [*frame.env, *frame.module.names, *ops, *STATIC_FUNCTIONS]
        self.rep.error(
            "E0101",
            f"unknown name `{ident.name}`",
            frame.file,
            ident.span,
            "not found in this scope",
            help=did_you_mean(ident.name, candidates),
        )

    def _call_args(self, frame: Frame, args: Sequence[ast.Argument]) -> list[CallArg]:
        out = []
        for a in args:
            v = self.evaluate(frame, a.value)
            out.append(
                CallArg(a.name.name if a.name else None, a.name.span if a.name else None, v, a.span)
            )
        return out

    def _call(self, frame: Frame, e: ast.Call) -> Value:
        static = self._static_name(frame, e.func)
        if static is not None and static not in ("min", "max"):  # `int(W * 1.5)`
            args = self._call_args(frame, e.args)
            if any(isinstance(a.value, ErrorVal) for a in args):
                return ERROR
            return call_static(static, args, frame.file, e.span, self.rep)
        callee = self.evaluate(frame, e.func)
        if isinstance(callee, ErrorVal):
            self._call_args(frame, e.args)  # still report problems inside the arguments
            return ERROR
        args = self._call_args(frame, e.args)
        if any(isinstance(a.value, ErrorVal) for a in args):
            return ERROR
        if static is not None and args and all(is_number(a.value) for a in args):
            return call_static(static, args, frame.file, e.span, self.rep)  # `max(8, n)`
        return self.apply(frame, callee, Use(args, None, e.span, e.func.span))

    def _static_name(self, frame: Frame, func: ast.Expr) -> str | None:
        """The static function `func` names (`int`, `max`, ...), unless a name shadows it."""
        if not isinstance(func, ast.Name) or func.ident.name not in STATIC_FUNCTIONS:
            return None
        name = func.ident.name
        return None if name in frame.env or name in frame.module.names else name

    def apply(self, frame: Frame, callee: Value, use: Use) -> Value:
        """Apply `callee` as a call or pipeline stage says (`use`): the one path of both, see
        `check.applicable`."""
        target = applicable(callee)
        if target is not None:
            return target.apply(self, frame, use)
        self.rep.error(
            "E0105",
            f"{describe(callee)} cannot be called",
            frame.file,
            use.func_span,
            "not a layer or function",
        )
        return ERROR

    def _pipe_stage(self, frame: Frame, value: Value, stage: ast.Expr, span: Span) -> Value:
        if isinstance(value, ErrorVal):
            self._eval_stage_quietly(frame, stage)
            return ERROR
        if isinstance(value, TupleVal):
            inputs = list(value.items)
        elif isinstance(value, TensorVal):
            inputs = [value]
        else:
            self.rep.error(
                "E0302",
                f"`|>` feeds tensors, but the left side is {describe(value)}",
                frame.file,
                span,
                "not a tensor",
            )
            return ERROR
        if isinstance(stage, ast.RepeatStage):
            return self._repeat_stage(frame, value, stage, span)
        if isinstance(stage, ast.Call | ast.Name):
            func = stage.func if isinstance(stage, ast.Call) else stage
            callee = self.evaluate(frame, func)
            if isinstance(callee, ErrorVal):
                return ERROR
            if isinstance(stage, ast.Name):  # `x |> f`: no arguments, not even `()`
                if applicable(callee) is None:
                    self.rep.error(
                        "E0105",
                        f"`{stage.ident.name}` is {describe(callee)}, not a layer or function",
                        frame.file,
                        stage.span,
                        "cannot be applied",
                    )
                    return ERROR
                return self.apply(frame, callee, Use(None, inputs, stage.span, stage.span))
            args = self._call_args(frame, stage.args)
            if any(isinstance(a.value, ErrorVal) for a in args):
                return ERROR
            return self.apply(frame, callee, Use(args, inputs, stage.span, stage.func.span))
        self.rep.error(
            "E0105",
            "after `|>` comes a layer, a block or a function",
            frame.file,
            stage.span,
            "cannot be applied",
            help="write `x |> Dense(64)`, `x |> relu` or `x |> MyBlock(...)`",
        )
        return ERROR

    def _eval_stage_quietly(self, frame: Frame, stage: ast.Expr) -> None:
        """Report unknown names in a stage whose input already failed."""
        if isinstance(stage, ast.Call):
            self.evaluate(frame, stage.func)
            self._call_args(frame, stage.args)
        elif isinstance(stage, ast.Name):
            self.evaluate(frame, stage)
        elif isinstance(stage, ast.RepeatStage):
            self._eval_stage_quietly(frame, stage.stage)

    # == applying layers and ops ============================================================
    def apply_layer(
        self, frame: Frame, layer: OpRef | DefRef, inputs: list[TensorVal], span: Span
    ) -> Value:
        if isinstance(layer, OpRef):
            assert layer.attrs is not None
            if layer.trainable:
                return self.apply_op(frame, layer.spec, layer.attrs, inputs, span, layer.arg_spans)
            mark = frame.builder.mark()  # `Dense(4, trainable = false)`
            out = self.apply_op(frame, layer.spec, layer.attrs, inputs, span, layer.arg_spans)
            frame.builder.freeze_since(mark)
            return out
        if layer.remat:
            return self._apply_remat(frame, layer, inputs, span)
        recorder = self.composite
        if recorder is not None and frame.builder is recorder.builder and frame.prefix == "":
            start = recorder.mark()  # a block call of the recorded model's own body
            out = self._apply_block(frame, layer, inputs, span)
            recorder.call(start, layer, inputs, span, out)
            return out
        return self._apply_block(frame, layer, inputs, span)

    def _apply_remat(
        self, frame: Frame, layer: DefRef, inputs: list[TensorVal], span: Span
    ) -> Value:
        """`Block(..., remat = true)`: the instance becomes a repeat node of one copy whose
        activations the backend recomputes in the backward pass (`jax.checkpoint`)."""
        if self.repeating:
            self.repeating = False  # blocks inside this one are not the repeated stage
            try:
                out = self._apply_block(frame, layer, inputs, span)
            finally:
                self.repeating = True
            self.remat_seen = True
            return out
        mark = frame.builder.mark()
        out = self._apply_block(frame, layer, inputs, span)
        if isinstance(out, ErrorVal) or not frame.concrete:
            return out
        if len(inputs) == 1 and isinstance(out, TensorVal):
            name = layer.definition.name.name
            vid = frame.builder.collapse_repeat(
                mark, inputs[0].value, out.value, 1, frame.scope, name, remat=True
            )
            if vid is not None:
                recorder = self.composite
                if recorder is not None and frame.builder is recorder.builder:
                    recorder.ok = False
                return TensorVal(vid, out.type, out.origin)
        self._remat_unsupported(frame, span)
        return ERROR

    def _apply_block(
        self, frame: Frame, layer: DefRef, inputs: list[TensorVal], span: Span
    ) -> Value:
        d = layer.definition
        name = d.name.name
        if name in frame.stack:
            self.rep.error(
                "E0104",
                f"`{name}` uses itself",
                frame.file,
                span,
                "recursive use",
                notes=[" -> ".join((*frame.stack, name))],
            )
            return ERROR
        if len(frame.stack) >= MAX_BLOCK_DEPTH:
            if not self.reported_depth:  # once: every block of a long chain would say it
                self.reported_depth = True
                self.rep.error(
                    "E0812",
                    f"blocks nest more than {MAX_BLOCK_DEPTH} deep here: `{name}` inside "
                    f"{len(frame.stack)} others",
                    frame.file,
                    span,
                    "blocks nest too deeply",
                    notes=[" -> ".join((*frame.stack[:3], "...", *frame.stack[-2:], name))],
                )
            return ERROR
        if not self._within_budget(frame, span):
            return ERROR
        builder = frame.builder
        path = builder.unique_path(frame.prefix, snake(name))
        scope = (*frame.scope, path.rsplit("/")[-1])

        def instantiate(concrete: bool) -> list[tuple[str, TensorVal]] | None:
            return self.instantiate(
                layer,
                builder,
                inputs,
                prefix=path,
                scope=scope,
                concrete=concrete,
                stack=frame.stack,
                call=Origin(frame.file, span),
            )

        key = self._instance_key(frame, layer, inputs, path)
        start = None if layer.trainable else builder.mark()
        if key is None or self.instances is None or self.keys is None:
            outs = instantiate(frame.concrete)
        else:  # get (replay) or instantiate (and record)
            site = Site(builder, self.hover, self.files, inputs, path, scope)
            outs = self.instances.get_or_instantiate(
                key, site, self.keys.scope.file.path, d.span.start, self.rep, instantiate
            )
        if start is not None:  # frozen after the memo recorded the instance as it is
            builder.freeze_since(start)
        if outs is None:
            return ERROR
        vals = tuple(TensorVal(v.value, v.type, Origin(frame.file, span)) for _, v in outs)
        if len(vals) == 1:
            return vals[0]
        return TupleVal(vals)

    def _instance_key(
        self, frame: Frame, layer: DefRef, inputs: list[TensorVal], path: str
    ) -> object | None:
        """The memo key of a block instance at `path`, or None when it is not memoized (a
        generic check; a path used before, whose paths inside would be named otherwise)."""
        if self.instances is None or self.keys is None or not frame.concrete:
            return None
        if frame.builder.has_prefix(path):
            return None
        definition = self.keys.definition(layer)
        if definition is None:
            return None
        return instance_key(definition, layer.args, inputs, frame.stack)

    def apply_op(
        self,
        frame: Frame,
        spec: OpSpec,
        attrs: dict[str, ArgValue],
        inputs: list[TensorVal],
        span: Span,
        arg_spans: Mapping[str, Span] | None = None,
    ) -> Value:
        n_expected = len(spec.inputs)
        n_most = n_expected + len(spec.optional_inputs)
        if not (n_expected <= len(inputs) <= n_most) and not (
            spec.variadic and len(inputs) >= n_expected
        ):
            if spec.variadic:
                takes = f"{n_expected} or more tensors"
                note = []
            elif n_most > n_expected:
                takes = f"{n_expected} to {n_most} tensors"
                note = [
                    f"`{spec.name}` takes ({', '.join(spec.inputs)}"
                    f"{''.join(f', {o}?' for o in spec.optional_inputs)})"
                ]
            else:
                takes = f"{n_expected} tensor{'' if n_expected == 1 else 's'}"
                note = []
            self.rep.error(
                "E0407",
                f"`{spec.name}` takes {takes}, but was given {len(inputs)}",
                frame.file,
                span,
                "wrong number of tensors",
                notes=note,
            )
            return ERROR
        types = [t.type for t in inputs]
        required = inputs if spec.variadic else inputs[:n_expected]
        if spec.float_inputs:
            for t in required:
                if not t.type.dtype.is_float:
                    self.rep.error(
                        "E0301",
                        f"`{spec.name}` needs floating-point input, found `{t.type}`",
                        frame.file,
                        span,
                        "integer input",
                        secondary=[
                            Label(t.origin.span, f"`{t.type}` comes from here", t.origin.file)
                        ],
                    )
                    return ERROR
        if not spec.mixed_dtypes and len({t.type.dtype for t in required}) > 1:
            a, b = inputs[0], next(t for t in required if t.type.dtype != inputs[0].type.dtype)
            self.rep.error(
                "E0301",
                f"`{spec.name}` mixes dtypes `{a.type.dtype.value}` and `{b.type.dtype.value}`",
                frame.file,
                span,
                "mixed dtypes",
                secondary=[
                    Label(a.origin.span, f"`{a.type}`", a.origin.file),
                    Label(b.origin.span, f"`{b.type}`", b.origin.file),
                ],
            )
            return ERROR
        try:
            out, *extra = spec.outputs(attrs, types)
            weight_specs = spec.weights(attrs, types)
        except ShapeError as err:
            if err.code in ("E0201", "E0202", "E0203") and self.uncertain(frame, types):
                return ERROR  # may hold once the parameters are known; checked at each use
            secondary = [
                Label(t.origin.span, f"input is `{t.type}` here", t.origin.file)
                for t in inputs
                if t.origin.span != span
            ][:2]
            notes = [f"`{spec.name}` maps {spec.rule}"] if spec.rule else []
            blamed = (arg_spans or {}).get(err.arg or "")
            self.rep.error(
                err.code,
                f"`{spec.name}`: {err.message}",
                frame.file,
                blamed or span,
                f"`{err.arg}` does not fit the input" if blamed else "rejected by the shape rule",
                secondary=secondary,
                notes=notes,
                help=err.help,
            )
            return ERROR
        except DimRangeError as err:  # sizes grown past int64 (e.g. upsampling repeated)
            self._out_of_range(frame, span, f"`{spec.name}` makes a size {err}")
            return ERROR
        except Exception as exc:
            if not frame.concrete and _has_unknowns(attrs):
                return ERROR  # generic check with symbolic arguments: nothing to say
            self.internal_error(frame.file, span, exc)
            return ERROR
        for produced in (out, *extra):
            if not self._size_ok(frame, produced, span, f"`{spec.name}`'s output"):
                return ERROR
        weights: list[Weight] = []
        for wname, w in weight_specs.items():
            weight_type = TensorType(w.dtype, tuple(w.shape))
            if not self._size_ok(frame, weight_type, span, f"the weight `{wname}`", False):
                return ERROR
            dims = [d.as_int() for d in w.shape]
            if any(d is None for d in dims):
                if frame.concrete:
                    unknown = next(d for d in w.shape if d.as_int() is None)
                    self.rep.error(
                        "E0204",
                        f"`{spec.name}` needs known sizes for its `{wname}`, but "
                        f"`{format_shape(w.shape)}` contains `{unknown}`",
                        frame.file,
                        span,
                        "weight size unknown",
                        secondary=[
                            Label(t.origin.span, f"input is `{t.type}` here", t.origin.file)
                            for t in inputs
                        ][:1],
                        help=f"give `{unknown}` a concrete size in the input's type",
                    )
                    return ERROR
                continue
            weights.append(
                Weight(
                    wname,
                    tuple(d for d in dims if d is not None),
                    w.init,
                    w.trainable,
                    w.dtype,
                    w.regularizer,
                    w.constraint,
                )
            )
        path = frame.builder.unique_path(frame.prefix, snake(spec.name))
        vid = frame.builder.add_node(
            spec,
            attrs,
            tuple(t.value for t in inputs),
            out,
            path,
            frame.scope,
            frame.file,
            span,
            tuple(weights),
            tuple(extra),
        )
        origin = Origin(frame.file, span)
        if not extra:
            return TensorVal(vid, out, origin)
        return TupleVal(
            (
                TensorVal(vid, out, origin),
                *(TensorVal(vid + i + 1, t, origin) for i, t in enumerate(extra)),
            )
        )

    # == arithmetic =========================================================================
    def _binop(self, frame: Frame, e: ast.BinOp) -> Value:
        if e.op in ("and", "or"):
            left = self.evaluate(frame, e.left)
            right = self.evaluate(frame, e.right)
            return self._logic(frame, e, left, right)
        left = self.evaluate(frame, e.left)
        right = self.evaluate(frame, e.right)
        if isinstance(left, ErrorVal) or isinstance(right, ErrorVal):
            return ERROR
        if isinstance(left, ScalarVal) and isinstance(right, ScalarVal):
            return self._scalar_binop(frame, e, left, right)
        if e.op in _BINOP_SPECS and (isinstance(left, TensorVal) or isinstance(right, TensorVal)):
            tensors = []
            for side, other in ((left, right), (right, left)):
                if isinstance(side, TensorVal):
                    tensors.append(side)
                    continue
                if not (isinstance(side, ScalarVal) and side.kind in ("int", "float")):
                    break
                assert isinstance(other, TensorVal)
                const = self._constant(frame, side, other, e)
                if const is None:
                    return ERROR
                tensors.append(const)
            else:
                spec = lookup(_BINOP_SPECS[e.op])
                assert spec is not None
                return self.apply_op(frame, spec, {}, tensors, e.span)
        self.rep.error(
            "E0302",
            f"`{e.op}` cannot combine {describe(left)} and {describe(right)}",
            frame.file,
            e.op_span,
            "unsupported operands",
        )
        return ERROR

    def _constant(
        self, frame: Frame, s: ScalarVal, partner: TensorVal, e: ast.BinOp
    ) -> TensorVal | None:
        value = s.value.as_int() if isinstance(s.value, Dim) else s.value
        if not isinstance(value, int | float) or isinstance(value, bool):
            self.rep.error(
                "E0302",
                "this number is not known at check time",
                frame.file,
                e.span,
                "symbolic scalar in tensor arithmetic",
            )
            return None
        dtype = partner.type.dtype
        if isinstance(value, float) and not dtype.is_float:
            self.rep.error(
                "E0301",
                f"a float constant meets the integer tensor `{partner.type}`",
                frame.file,
                e.span,
                "mixed dtypes",
            )
            return None
        spec = lookup("constant")
        assert spec is not None
        t = TensorType(dtype, ())
        path = frame.builder.unique_path(frame.prefix, "constant")
        vid = frame.builder.add_node(
            spec,
            {"value": float(value), "dtype": dtype},
            (),
            t,
            path,
            frame.scope,
            frame.file,
            e.span,
            (),
        )
        return TensorVal(vid, t, Origin(frame.file, e.span))

    def _scalar_binop(self, frame: Frame, e: ast.BinOp, a: ScalarVal, b: ScalarVal) -> Value:
        op = e.op
        if a.kind in ("int", "float") and b.kind in ("int", "float"):
            if op in ("==", "!=", "<", "<=", ">", ">="):
                return ScalarVal("bool", _compare(op, a.value, b.value))
            if op == "@":
                self.rep.error("E0302", "`@` needs tensors", frame.file, e.op_span, "scalars here")
                return ERROR
            if op == "**":
                return self._scalar_power(frame, e, a, b)
            if a.kind == "int" and b.kind == "int":
                if a.value is None or b.value is None:
                    return ScalarVal("int", None)
                x, y = Dim.of(a.value), Dim.of(b.value)  # type: ignore[arg-type]
                try:
                    r = (
                        x + y
                        if op == "+"
                        else x - y
                        if op == "-"
                        else x * y
                        if op == "*"
                        else x.floordiv(y)
                        if op == "/"
                        else x - x.floordiv(y) * y
                    )
                except DimRangeError as err:
                    return self._out_of_range(frame, e.span, f"this result is {err}")
                except DimError as err:
                    self.rep.error(
                        "E0205",
                        f"invalid integer arithmetic: {err}",
                        frame.file,
                        e.span,
                        "cannot be computed",
                    )
                    return ERROR
                n = r.as_int()
                return ScalarVal("int", n if n is not None else r)
            fa, fb = _as_float(a.value), _as_float(b.value)
            if fa is None or fb is None:
                return ScalarVal("float", None)
            if op in ("/", "%") and fb == 0:
                self.rep.error("E0205", "division by zero", frame.file, e.span, "divides by 0")
                return ERROR
            r2 = (
                fa + fb
                if op == "+"
                else fa - fb
                if op == "-"
                else fa * fb
                if op == "*"
                else fa / fb
                if op == "/"
                else fa % fb
            )
            if not math.isfinite(r2):
                return self._out_of_range(frame, e.span, "this result is too large for a float")
            return ScalarVal("float", r2)
        if op in ("==", "!=") and a.kind == b.kind:
            if a.value is None or b.value is None:
                return ScalarVal("bool", None)
            return ScalarVal("bool", (a.value == b.value) == (op == "=="))
        self.rep.error(
            "E0302",
            f"`{op}` cannot combine {describe(a)} and {describe(b)}",
            frame.file,
            e.op_span,
            "unsupported operands",
        )
        return ERROR

    def _scalar_power(self, frame: Frame, e: ast.BinOp, a: ScalarVal, b: ScalarVal) -> Value:
        """`a ** b` of static numbers: an int for ints with a non-negative exponent (a size,
        `2 ** depth`), else a float; unknown when either is."""
        x = a.value.as_int() if isinstance(a.value, Dim) else a.value
        y = b.value.as_int() if isinstance(b.value, Dim) else b.value
        ints = a.kind == "int" and b.kind == "int" and isinstance(y, int) and y >= 0
        if not isinstance(x, int | float) or not isinstance(y, int | float):
            return ScalarVal("int" if ints else "float", None)
        if ints and abs(x) > 1 and y > 63:  # past int64 before computing it
            return self._out_of_range(frame, e.span, "this result is over 2^63 - 1")
        try:
            r = x**y if ints else float(x) ** float(y)
        except (ZeroDivisionError, OverflowError) as err:
            self.rep.error(
                "E0205", f"`**` cannot be computed: {err}", frame.file, e.span, "no result"
            )
            return ERROR
        if isinstance(r, complex):
            self.rep.error(
                "E0205",
                "a negative number to a fractional power is not a real number",
                frame.file,
                e.span,
                "no real result",
            )
            return ERROR
        if ints:
            assert isinstance(r, int)
            if not -MAX_INT <= r <= MAX_INT:
                return self._out_of_range(frame, e.span, "this result is over 2^63 - 1")
            return ScalarVal("int", r)
        if not math.isfinite(r):
            return self._out_of_range(frame, e.span, "this result is too large for a float")
        return ScalarVal("float", r)

    def _logic(self, frame: Frame, e: ast.BinOp, a: Value, b: Value) -> Value:
        if isinstance(a, ErrorVal) or isinstance(b, ErrorVal):
            return ERROR
        if isinstance(a, TensorVal) and isinstance(b, TensorVal):  # masks: `m1 and m2`
            spec = lookup("logical_and" if e.op == "and" else "logical_or")
            assert spec is not None
            return self.apply_op(frame, spec, {}, [a, b], e.span)
        for side, expr in ((a, e.left), (b, e.right)):
            if not (isinstance(side, ScalarVal) and side.kind == "bool"):
                self.rep.error(
                    "E0302",
                    f"`{e.op}` needs booleans, found {describe(side)}",
                    frame.file,
                    expr.span,
                    "not a boolean",
                )
                return ERROR
        assert isinstance(a, ScalarVal) and isinstance(b, ScalarVal)
        if e.op == "and":
            if a.value is False or b.value is False:
                return ScalarVal("bool", False)
            if a.value is None or b.value is None:
                return ScalarVal("bool", None)
            return ScalarVal("bool", True)
        if a.value is True or b.value is True:
            return ScalarVal("bool", True)
        if a.value is None or b.value is None:
            return ScalarVal("bool", None)
        return ScalarVal("bool", False)

    def _unary(self, frame: Frame, e: ast.UnaryOp) -> Value:
        v = self.evaluate(frame, e.operand)
        if isinstance(v, ErrorVal):
            return ERROR
        if e.op == "not":
            if isinstance(v, ScalarVal) and v.kind == "bool":
                return ScalarVal("bool", None if v.value is None else not v.value)
            if isinstance(v, TensorVal):
                spec = lookup("logical_not")
                assert spec is not None
                return self.apply_op(frame, spec, {}, [v], e.span)
            self.rep.error(
                "E0302",
                f"`not` needs a boolean, found {describe(v)}",
                frame.file,
                e.operand.span,
                "not a boolean",
            )
            return ERROR
        if isinstance(v, TensorVal):
            spec = lookup("neg")
            assert spec is not None
            return self.apply_op(frame, spec, {}, [v], e.span)
        if isinstance(v, ScalarVal) and v.kind in ("int", "float"):
            if v.value is None:
                return v
            if isinstance(v.value, Dim):
                return ScalarVal("int", -v.value)
            return ScalarVal(v.kind, -v.value)  # type: ignore[operator]
        self.rep.error(
            "E0302",
            f"`-` cannot negate {describe(v)}",
            frame.file,
            e.span,
            "not a number or tensor",
        )
        return ERROR

    # == replaying a model around its block calls ===========================================
    def replay_composite(
        self, rec: Composite, ref: DefRef, builder: GraphBuilder
    ) -> list[tuple[str, TensorVal]] | None:
        """A recorded model redone around its block calls (`memo.models.replay`); they are
        bound and applied in the model's frame. None: the caller elaborates afresh."""
        d = ref.definition
        frame = Frame(ref.module, d, {}, builder, "", (d.name.name,), True, (d.name.name,))
        return replay(
            rec,
            ref,
            builder,
            self,
            lambda callee, args, span: self.bind_params(frame, callee, args, span),
            lambda layer, inputs, span: self._apply_block(frame, layer, inputs, span),
        )

    # == parameters =========================================================================
    def bind_params(
        self, frame: Frame, ref: DefRef, args: list[CallArg], span: Span
    ) -> dict[str, Value] | None:
        d = ref.definition
        params = [
            Arg(
                p.name.name,
                p.type.name if p.type.name in PARAM_TYPES else "any",
                REQUIRED if p.default is None else None,
            )
            for p in d.params
        ]
        spans: dict[str, Span] = {}
        raw = match_args(d.name.name, params, args, frame.file, span, self.rep, spans)
        if raw is None:
            return None
        out: dict[str, Value] = {}
        ok = True
        for p, arg in zip(d.params, params, strict=True):
            if p.name.name in raw:
                v = raw[p.name.name]
                if arg.type == "any":
                    out[p.name.name] = v
                    continue
                converted = convert(arg, v, frame.file, spans[p.name.name], d.name.name, self.rep)
                if converted is INVALID:
                    ok = False
                else:
                    out[p.name.name] = ScalarVal(arg.type, converted)  # type: ignore[arg-type]
            else:
                assert p.default is not None
                default_frame = Frame(ref.module, d, dict(out), frame.builder, "", (), True, ())
                out[p.name.name] = self.evaluate(default_frame, p.default)
        return out if ok else None


# One handler per syntax node class (by exact type: the tree has no subclasses).
_STATEMENTS: dict[type, Callable[[Elaborator, Frame, Any], bool]] = {
    ast.InputStmt: Elaborator._input,
    ast.Assign: Elaborator._assign,
    ast.Return: Elaborator._return,
    ast.If: Elaborator._if,
    ast.Repeat: Elaborator._repeat,
}
_EXPRESSIONS: dict[type, Callable[[Elaborator, Frame, Any], Value]] = {
    ast.Name: Elaborator._name,
    ast.Call: Elaborator._call,
    ast.Pipe: Elaborator._pipe,
    ast.IntLit: Elaborator._int,
    ast.FloatLit: Elaborator._float,
    ast.BoolLit: Elaborator._bool,
    ast.StrLit: Elaborator._str,
    ast.NoneLit: Elaborator._none,
    ast.ListLit: Elaborator._list,
    ast.TupleLit: Elaborator._tuple,
    ast.DictLit: Elaborator._dict,
    ast.BinOp: Elaborator._binop,
    ast.UnaryOp: Elaborator._unary,
    ast.RepeatStage: Elaborator._stray_repeat,
}


def _shape_symbols(t: TensorType) -> set[str]:
    out: set[str] = set()
    for d in t.shape:
        out |= d.symbols()
    return out


def _clipped(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _excerpt(file: SourceFile, span: Span) -> str:
    """The source of `span` on one line, clipped: messages stay short."""
    return _clipped(" ".join(file.text[span.start : min(span.end, span.start + 200)].split()))


def _has_floordiv(d: Dim) -> bool:
    return any(not isinstance(a, str) for mono, _ in d.terms for a in mono)


def _has_unknowns(attrs: dict[str, ArgValue]) -> bool:
    return any(v is None or isinstance(v, Dim) for v in attrs.values())


def _as_float(v: object) -> float | None:
    if isinstance(v, Dim):
        n = v.as_int()
        return float(n) if n is not None else None
    if isinstance(v, int | float) and not isinstance(v, bool):
        return float(v)
    return None


def _compare(op: str, a: object, b: object) -> bool | None:
    if a is None or b is None:
        return None
    if isinstance(a, float) or isinstance(b, float):
        fa, fb = _as_float(a), _as_float(b)  # a symbolic size against a float: unknown
        if fa is None or fb is None:
            return None
        a, b = fa, fb
    elif isinstance(a, Dim) or isinstance(b, Dim):
        da, db = Dim.of(a), Dim.of(b)  # type: ignore[arg-type]
        diff = (da - db).as_int()
        if diff is None:
            if op in ("==", "!=") and da == db:
                return op == "=="
            return None
        a, b = diff, 0
    x, y = float(a), float(b)  # type: ignore[arg-type]
    return {"==": x == y, "!=": x != y, "<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


__all__ = ["PARAM_TYPES", "Elaborator", "Frame", "article"]


def _names_in(node: object, out: set[str]) -> set[str]:
    """Every name read in `node` (a syntax node or a tuple of them), into `out`."""
    if isinstance(node, ast.Name):
        out.add(node.ident.name)
    elif isinstance(node, tuple):
        for item in node:
            _names_in(item, out)
    elif isinstance(node, ast.Node):
        for f in node.FIELDS:
            value = getattr(node, f)
            if isinstance(value, ast.Node | tuple):
                _names_in(value, out)
    return out


def _holds(env: Mapping[str, Value], names: set[str], vid: int) -> bool:
    """Whether one of `names` is bound in `env` to the tensor `vid` (or to a tuple, list or
    dict holding it)."""

    def holds(v: Value) -> bool:
        if isinstance(v, TensorVal):
            return v.value == vid
        if isinstance(v, TupleVal | ListVal):
            return any(holds(item) for item in v.items)
        if isinstance(v, DictVal):
            return any(holds(item) for _, item in v.items)
        return False

    return any(holds(env[n]) for n in names if n in env)


def _read_first(body: Sequence[ast.Stmt], written: set[str]) -> tuple[set[str], set[str]]:
    """(names `body` may read before binding them, given `written` bound already; names it
    surely binds). Conservative: a name read in a nested `repeat` counts unless bound
    before it, a name is bound after an `if` only when both branches bind it."""
    reads: set[str] = set()
    w = set(written)
    for stmt in body:
        if isinstance(stmt, ast.Assign):
            reads |= _names_in(stmt.value, set()) - w
            for target in stmt.targets:
                if target.annotation is not None:
                    reads |= _names_in(target.annotation, set()) - w
            w |= {t.name.name for t in stmt.targets}
        elif isinstance(stmt, ast.InputStmt):
            reads |= _names_in(stmt.type, set()) - w
            w.add(stmt.name.name)
        elif isinstance(stmt, ast.If):
            reads |= _names_in(stmt.cond, set()) - w
            r1, w1 = _read_first(stmt.then, w)
            r2, w2 = _read_first(stmt.orelse or (), w)
            reads |= r1 | r2
            w = w1 & w2
        elif isinstance(stmt, ast.Repeat):
            reads |= _names_in(stmt.count, set()) - w
            reads |= _names_in(stmt.body, set()) - w
        else:
            reads |= _names_in(stmt, set()) - w
    return reads, w


def _names_read_outside(body: Sequence[ast.Stmt], stmt: ast.Repeat) -> set[str]:
    """Names read in `body` outside the statement `stmt` (by identity)."""
    out: set[str] = set()
    for s in body:
        if s is stmt:
            continue
        if isinstance(s, ast.If):
            _names_in(s.cond, out)
            out |= _names_read_outside(s.then, stmt)
            out |= _names_read_outside(s.orelse or (), stmt)
        elif isinstance(s, ast.Repeat):
            _names_in(s.count, out)
            out |= _names_read_outside(s.body, stmt)
        else:
            _names_in(s, out)
    return out


def _body_label(stmt: ast.Repeat) -> str:
    """`repeat { Dense, relu }`: a `repeat` statement for summaries, by the layers and
    functions its body calls (the first three)."""
    called: list[str] = []

    def visit(node: object) -> None:
        if isinstance(node, ast.Call | ast.Pipe):
            stage = node.func if isinstance(node, ast.Call) else node.stage
            if isinstance(stage, ast.Name) and stage.ident.name not in called:
                called.append(stage.ident.name)
        if isinstance(node, tuple):
            for item in node:
                visit(item)
        elif isinstance(node, ast.Node):
            for f in node.FIELDS:
                visit(getattr(node, f))

    visit(stmt.body)
    shown = ", ".join(called[:3]) + (", …" if len(called) > 3 else "")
    return f"repeat {{ {shown} }}" if shown else "repeat"


def _stage_name(stage: ast.RepeatStage) -> str:
    """The repeated block's name as written (`Res` in `repeat 8 Res(64)`), for summaries."""
    inner = stage.stage
    func = inner.func if isinstance(inner, ast.Call) else inner
    return func.ident.name if isinstance(func, ast.Name) else "block"
