"""Which symbol every name in a file refers to, from the syntax tree alone.

References, rename and semantic tokens need every *occurrence* of a symbol, across files; the
checker records values, not uses, and stops at errors. This index walks the (error-tolerant)
syntax tree instead and resolves names with the language's scoping rules: a body's parameters,
inputs, assigned tensors and shape symbols, then the file's own top-level names and those
defined by the files it imports (imports are not re-exported; `data` is), then the op table.

Inside a body every binding is its own symbol, as the checker scopes names (one flat
environment per body, statements run in order): parameters and the body's `input`s are bound
before the first statement; `h = ...` rebinds `h` from there on, shadowing the binding before
it; a use refers to the bindings that can reach it. Several can, and are then merged into one
symbol (renamed together, or the program would break): after `if`/`else` the names assigned
in either branch (or kept from before the `if`), and after or inside `repeat n { ... }` the
bindings from before the loop together with the loop's own (the body runs 0..n times and each
round sees the previous round's names). A use no binding reaches is the top-level name (or an
unknown one), as in the checker. A parameter merged with assignments stays the parameter.
A use that some path reaches with no binding (a name first assigned in one branch or inside a
loop) is the local symbol, but also the top-level name on that path: `unsafe` records it, and
rename refuses both symbols (either rename would change what the other path means).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import field
from pathlib import Path

from nndsl.ops import lookup
from nndsl.records import record
from nndsl.resources import stdlib_dir
from nndsl.shapes import DType
from nndsl.source import SourceFile, Span
from nndsl.syntax import ast

TOP = -1  # SymbolKey.scope of a top-level name
DTYPES = frozenset(d.value for d in DType)
PARAM_TYPES = frozenset({"int", "float", "bool", "str"})


@record(frozen=True, slots=True)
class SymbolKey:
    """A symbol's identity: where it is defined. `scope` is the start offset of the enclosing
    block or model for parameters, tensors and shape symbols, `TOP` for top-level names."""

    path: str
    name: str
    scope: int
    kind: str  # block | model | const | data | param | tensor | dim | module
    at: int = TOP  # a tensor: the start of its first binding (one body has many `h`s)


@record(frozen=True, slots=True)
class Occurrence:
    span: Span
    key: SymbolKey
    definition: bool
    scope: int  # the block/model the occurrence lies in (its start offset), or TOP


@record(frozen=True, slots=True)
class Token:
    """A classified identifier for semantic highlighting; `kind` is a semantic token type."""

    span: Span
    kind: str
    modifiers: tuple[str, ...] = ()


@record
class FileIndex:
    file: SourceFile
    module: ast.Module
    occurrences: list[Occurrence] = field(default_factory=list)
    tokens: list[Token] = field(default_factory=list)
    top_names: set[str] = field(default_factory=set)  # everything visible at top level
    locals: dict[int, set[str]] = field(default_factory=dict)  # scope -> local names
    imports: list[tuple[ast.Import, str | None]] = field(default_factory=list)
    # use of a local name (its start) -> the bindings that can reach it, in text order
    reaching: dict[int, tuple[Span, ...]] = field(default_factory=dict)
    # symbols a use also means on a path no local binding reaches -> where (see the docstring)
    unsafe: dict[SymbolKey, list[Span]] = field(default_factory=dict)
    # each model's inputs and outputs by name -> their symbols, as a `train` section reads them
    # (the bool: an output, whose labels a loss expression names `y_<output>`)
    interfaces: dict[str, dict[str, tuple[SymbolKey, bool]]] = field(default_factory=dict)

    def at(self, offset: int) -> Occurrence | None:
        for occ in self.occurrences:
            if occ.span.start <= offset <= occ.span.end:
                return occ
        return None

    def binding(self, occ: Occurrence) -> Span | None:
        """Where the local name at `occ` was bound: itself for a binding, else the nearest
        binding before it among those reaching it (the first one when none precedes it)."""
        if occ.definition:
            return occ.span
        spans = self.reaching.get(occ.span.start)
        if not spans:
            return None
        before = [s for s in spans if s.start < occ.span.start]
        return before[-1] if before else spans[0]


Parsed = Callable[[str], tuple[SourceFile, ast.Module] | None]  # normalized path -> tree


def import_target(file_path: str, item: ast.Import) -> str | None:
    """The normalized path an import refers to (`None` for a malformed `std` import)."""
    if item.is_file:
        return norm(Path(file_path).parent / item.path)
    parts = item.path.split(".")
    if parts[0] != "std" or len(parts) < 2:
        return None
    return norm(stdlib_dir().joinpath(*parts[1:]).with_suffix(".nn"))


def norm(path: str | Path) -> str:
    import os

    return os.path.normpath(os.path.abspath(str(path)))


def import_path_span(file: SourceFile, item: ast.Import) -> Span:
    """The span of the module path in `import std.blocks` / `import "x.nn"`."""
    text = file.text[item.span.start : item.span.end]
    m = re.search(r"\bimport\s+", text)
    start = item.span.start + (m.end() if m else 0)
    return Span(start, item.span.end)


def _own_names(path: str, module: ast.Module) -> dict[str, tuple[SymbolKey, int]]:
    """The names a file defines itself (what importing it brings), with each body's start."""
    out: dict[str, tuple[SymbolKey, int]] = {}
    for item in module.items:
        if isinstance(item, ast.Definition):
            out.setdefault(
                item.name.name, (SymbolKey(path, item.name.name, TOP, item.kind), item.span.start)
            )
        elif isinstance(item, ast.Const):
            out.setdefault(item.name.name, (SymbolKey(path, item.name.name, TOP, "const"), TOP))
    return out


def _data_names(path: str, parsed: Parsed, seen: set[str]) -> dict[str, SymbolKey]:
    """`data` sources visible in a file: its own, then those of its imports, transitively."""
    if path in seen:
        return {}
    seen.add(path)
    tree = parsed(path)
    if tree is None:
        return {}
    file, module = tree
    out: dict[str, SymbolKey] = {}
    for item in module.items:
        if isinstance(item, ast.DataDef):
            out.setdefault(item.name.name, SymbolKey(path, item.name.name, TOP, "data"))
    for item in module.items:
        if isinstance(item, ast.Import):
            target = import_target(file.path, item)
            if target is not None:
                for name, key in _data_names(target, parsed, seen).items():
                    out.setdefault(name, key)
    return out


def build_index(
    path: str,
    file: SourceFile,
    module: ast.Module,
    parsed: Parsed,
    building: frozenset[str] = frozenset(),
) -> FileIndex:
    """Resolve every name in `module` (the tree of `file`, at normalized `path`). `building`:
    the files whose indexes are being built around this one (a `train` section of one reads
    the interface of a model in another; an import cycle must not recurse forever)."""
    index = FileIndex(file, module)
    top: dict[str, tuple[SymbolKey, int]] = {}
    for item in module.items:
        if isinstance(item, ast.Import):
            target = import_target(file.path, item)
            index.imports.append((item, target))
            tree = parsed(target) if target is not None else None
            if tree is not None:
                for name, entry in _own_names(target or "", tree[1]).items():
                    top.setdefault(name, entry)
    top.update(_own_names(path, module))
    data = _data_names(path, parsed, set())
    index.top_names = set(top) | set(data)
    _Walker(index, path, top, data, parsed, building | {path}).module()
    index.occurrences.sort(key=lambda o: o.span.start)
    return index


def interface_keys(index: FileIndex) -> set[SymbolKey]:
    """The symbols of the inputs and outputs of the file's models: a `train` section in any
    file may name them."""
    return {k for names in index.interfaces.values() for k, _ in names.values()}


def _interfaces(index: FileIndex) -> dict[str, dict[str, tuple[SymbolKey, bool]]]:
    """Each model's inputs then outputs (an output wins over an input of its name, as in a
    loss expression), by name, from the occurrences the walk recorded."""
    at = {(o.span.start, o.span.end): o.key for o in index.occurrences}
    out: dict[str, dict[str, tuple[SymbolKey, bool]]] = {}
    for item in index.module.items:
        if not isinstance(item, ast.Definition) or item.kind != "model":
            continue
        names: dict[str, tuple[SymbolKey, bool]] = {}
        returns: list[ast.Return] = []
        for stmt in ast.walk_statements(item.body):
            if isinstance(stmt, ast.InputStmt):
                key = at.get((stmt.name.span.start, stmt.name.span.end))
                if key is not None:
                    names[stmt.name.name] = (key, False)
            elif isinstance(stmt, ast.Return):
                returns.append(stmt)
        for stmt in returns[-1:]:
            for v in stmt.values:
                key = at.get((v.span.start, v.span.end)) if isinstance(v, ast.Name) else None
                if isinstance(v, ast.Name) and key is not None:
                    names[v.ident.name] = (key, True)
        out.setdefault(item.name.name, names)
    return out


State = dict[str, frozenset[int]]  # local name -> the bindings (their starts) that reach here
UNBOUND = -1  # in a State: some path reaches here without binding the name
NEVER_BOUND = frozenset({UNBOUND})


class _Walker:
    def __init__(
        self,
        index: FileIndex,
        path: str,
        top: dict[str, tuple[SymbolKey, int]],
        data: dict[str, SymbolKey],
        parsed: Parsed | None = None,
        building: frozenset[str] = frozenset(),
    ) -> None:
        self.index = index
        self.path = path
        self.top = top
        self.data = data
        self.parsed = parsed
        self.building = building
        self.scope = TOP
        self.dims: dict[str, SymbolKey] = {}
        # per body: the reaching bindings, each binding's identifier, merged groups (union-find
        # over binding starts), and the occurrences of local names until their groups are known
        self.state: State = {}
        self.binders: dict[int, tuple[ast.Ident, bool]] = {}  # start -> (ident, is a param)
        self.parent: dict[int, int] = {}
        self.pending: list[tuple[ast.Ident, int, bool]] = []
        self.mixed: list[tuple[ast.Ident, int, SymbolKey]] = []  # uses also meaning a top name
        self.recording = True  # False while a loop's reaching bindings are being computed
        self.loops: dict[tuple[int, frozenset[tuple[str, frozenset[int]]]], State] = {}
        self.stdlib = norm(stdlib_dir())

    # -- recording ------------------------------------------------------------------------------
    def occ(self, ident: ast.Ident, key: SymbolKey, definition: bool = False) -> None:
        if ident.name.startswith("<") or not self.recording:
            return  # a name the parser invented while recovering; a loop's trial pass
        self.index.occurrences.append(Occurrence(ident.span, key, definition, self.scope))
        self.token(ident.span, key, definition)

    def token(self, span: Span, key: SymbolKey, definition: bool) -> None:
        kind = {
            "block": "class",
            "model": "class",
            "const": "variable",
            "data": "variable",
            "param": "parameter",
            "tensor": "variable",
            "dim": "typeParameter",
            "module": "namespace",
        }[key.kind]
        mods: list[str] = []
        if definition:
            mods.append("declaration")
        if key.kind in ("const", "data"):
            mods.append("readonly")
        if key.path.startswith(self.stdlib):
            mods.append("defaultLibrary")
        self.index.tokens.append(Token(span, kind, tuple(mods)))

    def plain(self, span: Span, kind: str, *mods: str) -> None:
        if self.recording:
            self.index.tokens.append(Token(span, kind, mods))

    # -- bindings -------------------------------------------------------------------------------
    def find(self, b: int) -> int:
        while self.parent[b] != b:
            self.parent[b] = self.parent[self.parent[b]]
            b = self.parent[b]
        return b

    def union(self, a: int, b: int) -> None:
        """Merge two bindings' groups; a parameter, else the earliest binding, represents it."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.binders[rb][1] or (not self.binders[ra][1] and rb < ra):
            ra, rb = rb, ra
        self.parent[rb] = ra

    def bind(self, ident: ast.Ident, param: bool = False) -> int:
        """A new binding of `ident` (not yet visible: see `define`)."""
        b = ident.span.start
        if b not in self.binders:
            self.binders[b] = (ident, param)
            self.parent[b] = b
        return b

    def define(self, ident: ast.Ident, param: bool = False) -> None:
        """`ident` is bound here: it shadows the earlier bindings of its name from now on."""
        b = self.bind(ident, param)
        self.state[ident.name] = frozenset({b})
        if self.recording and not ident.name.startswith("<"):
            self.pending.append((ident, b, True))

    def finish(self) -> None:
        """The occurrences of the body's local names, once every merge is known."""
        keys: dict[int, SymbolKey] = {}
        for ident, b, definition in self.pending:
            root = self.find(b)
            key = keys.get(root)
            if key is None:
                binder, param = self.binders[root]
                if param:
                    key = SymbolKey(self.path, binder.name, self.scope, "param")
                else:
                    key = SymbolKey(self.path, binder.name, self.scope, "tensor", root)
                keys[root] = key
            self.occ(ident, key, definition)
        for ident, b, top in self.mixed:
            for k in (keys[self.find(b)], top):
                self.index.unsafe.setdefault(k, []).append(ident.span)
        self.pending, self.mixed = [], []
        self.binders, self.parent, self.state, self.loops = {}, {}, {}, {}

    @staticmethod
    def merge(a: State, b: State) -> State:
        """Two paths join: a name bound on one only may be unbound here."""
        out = {name: bs if name in b else bs | {UNBOUND} for name, bs in a.items()}
        for name, bs in b.items():
            out[name] = out[name] | bs if name in out else bs | {UNBOUND}
        return out

    # -- items ----------------------------------------------------------------------------------
    def module(self) -> None:
        trains: list[ast.TrainDef] = []
        for item in self.index.module.items:
            if isinstance(item, ast.Import):
                target = import_target(self.index.file.path, item)
                if target is not None:
                    span = import_path_span(self.index.file, item)
                    key = SymbolKey(target, item.path, TOP, "module")
                    self.index.occurrences.append(Occurrence(span, key, False, TOP))
                    self.plain(span, "namespace")
            elif isinstance(item, ast.Const):
                self.occ(item.name, SymbolKey(self.path, item.name.name, TOP, "const"), True)
                self.expr(item.value)
            elif isinstance(item, ast.Definition):
                self.definition(item)
            elif isinstance(item, ast.DataDef):
                self.occ(item.name, SymbolKey(self.path, item.name.name, TOP, "data"), True)
                self.data_source(item.source)
            elif isinstance(item, ast.TrainDef):
                trains.append(item)
        # After every body: a train section names its model's inputs and outputs.
        self.index.interfaces = _interfaces(self.index)
        for item in trains:
            self.expr(item.model)
            data = self.data.get(item.data.name)
            if data is not None:
                self.occ(item.data, data)
            names = self.model_names(item.model)
            for s in item.settings:
                self.plain(s.name.span, "property")
                self.train_expr(s.value, names)
            for section in item.sections:
                self.section(section)

    def model_names(self, e: ast.Expr) -> dict[str, tuple[SymbolKey, bool]]:
        """The inputs and outputs of the model a `train` section trains, by name."""
        func = e.func if isinstance(e, ast.Call) else e
        entry = self.top.get(func.ident.name) if isinstance(func, ast.Name) else None
        if entry is None or entry[0].kind != "model":
            return {}
        key = entry[0]
        if key.path == self.path:
            return self.index.interfaces.get(key.name, {})
        if self.parsed is None or key.path in self.building:
            return {}
        tree = self.parsed(key.path)
        if tree is None:
            return {}
        other = build_index(key.path, tree[0], tree[1], self.parsed, self.building)
        return other.interfaces.get(key.name, {})

    def train_expr(self, e: ast.Expr, names: dict[str, tuple[SymbolKey, bool]]) -> None:
        """A `train` setting's value: a loss expression's names of the model's inputs and
        outputs (and `y_<output>`, the labels of an output), and `per_output(...)` / dict keys
        naming outputs, are occurrences of those symbols; the rest as any expression."""
        if not names:
            self.expr(e)
            return
        if isinstance(e, ast.Name):
            ident = e.ident
            label = ident.name.removeprefix("y_")
            if ident.name in names:
                self.occ(ident, names[ident.name][0])
            elif label != ident.name and label in names and names[label][1]:
                start = ident.span.start + 2
                self.occ(ast.Ident(label, Span(start, ident.span.end)), names[label][0])
            else:
                self.name(ident)
        elif isinstance(e, ast.Call):
            self.train_expr(e.func, names)
            keyed = isinstance(e.func, ast.Name) and e.func.ident.name == "per_output"
            for a in e.args:
                if a.name is not None:
                    if keyed and names.get(a.name.name, (None, False))[1]:
                        self.occ(a.name, names[a.name.name][0])
                    else:
                        self.plain(a.name.span, "property")
                self.train_expr(a.value, names)
        elif isinstance(e, ast.DictLit):
            for entry in e.entries:
                if names.get(entry.key.name, (None, False))[1]:
                    self.occ(entry.key, names[entry.key.name][0])
                else:
                    self.plain(entry.key.span, "property")
                self.train_expr(entry.value, names)
        elif isinstance(e, ast.ListLit | ast.TupleLit):
            for item in e.items:
                self.train_expr(item, names)
        elif isinstance(e, ast.BinOp):
            self.train_expr(e.left, names)
            self.train_expr(e.right, names)
        elif isinstance(e, ast.UnaryOp):
            self.train_expr(e.operand, names)
        elif isinstance(e, ast.Pipe):
            self.train_expr(e.value, names)
            self.train_expr(e.stage, names)
        else:
            self.expr(e)

    def section(self, section: ast.Section) -> None:
        """`distribute { ... }`: its name and keys are properties, its values expressions."""
        self.plain(section.name.span, "property")
        for s in section.settings:
            self.plain(s.name.span, "property")
            self.expr(s.value)

    def data_source(self, call: ast.Call) -> None:
        """A source's call; the arguments of `zip(a, b)` name other `data` sources."""
        func = call.func
        if not (isinstance(func, ast.Name) and func.ident.name == "zip"):
            self.expr(call)
            return
        self.expr(func)
        for a in call.args:
            key = self.data.get(a.value.ident.name) if isinstance(a.value, ast.Name) else None
            if a.name is None and key is not None and isinstance(a.value, ast.Name):
                self.occ(a.value.ident, key)
            else:
                if a.name is not None:
                    self.plain(a.name.span, "property")
                self.expr(a.value)

    def definition(self, d: ast.Definition) -> None:
        self.occ(d.name, SymbolKey(self.path, d.name.name, TOP, d.kind), True)
        scope = d.span.start
        for p in d.params:
            if p.default is not None:
                self.expr(p.default)  # defaults see top-level names only
        self.scope = scope
        names = {p.name.name for p in d.params}
        for stmt in ast.walk_statements(d.body):
            names.update(ident.name for ident in _bound(stmt))
        self.dims = {}
        for stmt in ast.walk_statements(d.body):  # shape symbols: unknown names in input types
            if isinstance(stmt, ast.InputStmt):
                for dim in stmt.type.dims:
                    for name in _names(dim):
                        n = name.ident.name
                        if n not in names and n not in self.top and lookup(n) is None:
                            self.dims.setdefault(n, SymbolKey(self.path, n, scope, "dim"))
        self.index.locals[scope] = names | set(self.dims)
        for p in d.params:
            self.define(p.name, param=True)
            self.plain(p.type.span, "type")
        for stmt in d.body:  # inputs are bound before the first statement runs
            if isinstance(stmt, ast.InputStmt):
                self.state[stmt.name.name] = frozenset({self.bind(stmt.name)})
        self.body(d.body)
        self.finish()
        self.scope = TOP
        self.dims = {}

    def body(self, body: Sequence[ast.Stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, ast.InputStmt):
                b = self.bind(stmt.name)
                if self.recording and not stmt.name.name.startswith("<"):
                    self.pending.append((stmt.name, b, True))
                self.type(stmt.type, binding=True)
            elif isinstance(stmt, ast.Assign):
                self.expr(stmt.value)
                for t in stmt.targets:
                    if t.annotation is not None:
                        self.type(t.annotation)
                for t in stmt.targets:
                    self.define(t.name)
            elif isinstance(stmt, ast.Return):
                for v in stmt.values:
                    self.expr(v)
            elif isinstance(stmt, ast.If):
                self.expr(stmt.cond)
                before = self.state
                self.state = dict(before)
                self.body(stmt.then)
                then = self.state
                self.state = dict(before)
                self.body(stmt.orelse or ())
                self.state = self.merge(then, self.state)
            elif isinstance(stmt, ast.Repeat):
                self.expr(stmt.count)
                self.repeat(stmt.body)

    def repeat(self, body: Sequence[ast.Stmt]) -> None:
        """The body runs 0..n times, each round seeing the last one's names: its entry state
        is the least fixed point of entry = before | after(body, entry)."""
        before = self.state
        key = (id(body), frozenset(before.items()))
        if not self.recording and key in self.loops:  # a trial pass of an enclosing loop:
            self.state = dict(self.loops[key])  # nested loops would be exponential otherwise
            return
        entry = before
        recording, self.recording = self.recording, False
        for _ in range(100):  # each round only adds bindings of this body: a few rounds
            self.state = dict(entry)
            self.body(body)
            grown = self.merge(before, self.state)
            if grown == entry:
                break
            entry = grown
        self.recording = recording
        self.state = dict(entry)
        self.body(body)
        self.state = self.merge(before, self.state)
        if not recording:  # unions and bindings it made are kept until `finish`, so a cached
            self.loops[key] = dict(self.state)  # exit needs nothing redone

    def type(self, t: ast.TensorTypeExpr, binding: bool = False) -> None:
        self.plain(t.dtype.span, "type")
        for dim in t.dims:
            self.expr(dim)

    # -- expressions ----------------------------------------------------------------------------
    def resolve(self, name: str) -> SymbolKey | None:
        if name in self.dims:
            return self.dims[name]
        if name in self.top:
            return self.top[name][0]
        return None

    def name(self, ident: ast.Ident) -> None:
        reaching = self.state.get(ident.name)
        if reaching and reaching != NEVER_BOUND:
            unbound = UNBOUND in reaching
            if unbound:
                reaching = reaching - {UNBOUND}
            first = min(reaching)
            if len(reaching) > 1:
                for b in reaching:
                    self.union(first, b)
            if self.recording and not ident.name.startswith("<"):
                self.pending.append((ident, first, False))
                self.index.reaching[ident.span.start] = tuple(
                    self.binders[b][0].span for b in sorted(reaching)
                )
                top = self.resolve(ident.name) if unbound else None
                if top is not None:
                    self.mixed.append((ident, first, top))
            return
        key = self.resolve(ident.name)
        if key is not None:
            self.occ(ident, key)
            return
        spec = lookup(ident.name)
        if spec is not None:
            self.plain(ident.span, "function", "defaultLibrary")
        elif ident.name in DTYPES:
            self.plain(ident.span, "type")

    def expr(self, e: ast.Expr) -> None:
        if isinstance(e, ast.Name):
            self.name(e.ident)
        elif isinstance(e, ast.Call):
            self.expr(e.func)
            callee = self._callee(e.func)
            for a in e.args:
                if a.name is not None:
                    if callee is not None:
                        self.occ(a.name, callee(a.name.name))
                    else:
                        self.plain(a.name.span, "property")
                self.expr(a.value)
        elif isinstance(e, ast.ListLit | ast.TupleLit):
            for item in e.items:
                self.expr(item)
        elif isinstance(e, ast.DictLit):
            for entry in e.entries:  # keys are names, not references: colored as properties
                self.plain(entry.key.span, "property")
                self.expr(entry.value)
        elif isinstance(e, ast.BinOp):
            self.expr(e.left)
            self.expr(e.right)
        elif isinstance(e, ast.UnaryOp):
            self.expr(e.operand)
        elif isinstance(e, ast.Pipe):
            self.expr(e.value)
            self.expr(e.stage)
        elif isinstance(e, ast.RepeatStage):
            self.expr(e.count)
            self.expr(e.stage)

    def _callee(self, func: ast.Expr) -> Callable[[str], SymbolKey] | None:
        """For a call of a block or model: keyword name -> the parameter's symbol."""
        if not isinstance(func, ast.Name):
            return None
        if self.state.get(func.ident.name, NEVER_BOUND) != NEVER_BOUND:
            return None  # a local name (on some path at least)
        entry = self.top.get(func.ident.name)
        if entry is None or entry[0].kind not in ("block", "model"):
            return None
        key, scope = entry
        return lambda name: SymbolKey(key.path, name, scope, "param")


def _bound(stmt: ast.Stmt) -> Iterator[ast.Ident]:
    if isinstance(stmt, ast.InputStmt):
        yield stmt.name
    elif isinstance(stmt, ast.Assign):
        for t in stmt.targets:
            yield t.name


def _names(e: ast.Expr) -> Iterator[ast.Name]:
    if isinstance(e, ast.Name):
        yield e
    elif isinstance(e, ast.BinOp):
        yield from _names(e.left)
        yield from _names(e.right)
    elif isinstance(e, ast.UnaryOp):
        yield from _names(e.operand)
