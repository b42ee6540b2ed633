"""Editor features over a set of open documents: pure functions of the text, never raising.

Every method takes and returns character offsets. Unsaved buffers are checked: imports of an
open document read its buffer, not the file on disk. Results are cached per document text.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import ParamSpec, TypeVar, cast

from nndsl.check import analyze
from nndsl.check.modules import read_text
from nndsl.check.paths import is_inside, outside_allowed, project_root
from nndsl.check.program import CheckMemo
from nndsl.check.values import DefRef, ModuleScope, ScalarVal
from nndsl.diagnostics import Diagnostic
from nndsl.frontend import check_source
from nndsl.ide.index import (
    DTYPES,
    PARAM_TYPES,
    TOP,
    FileIndex,
    SymbolKey,
    build_index,
    import_target,
    interface_keys,
)
from nndsl.ide.model import (
    SHOW_GRAPH,
    CodeAction,
    CodeLens,
    CompletionItem,
    FileEdits,
    Hover,
    InlayHint,
    Location,
    ParamInfo,
    RenameResult,
    RenameTarget,
    SemanticToken,
    SignatureHelp,
    Symbol,
    TextEdit,
    WorkspaceSymbol,
)
from nndsl.ide.tokens import semantic_tokens
from nndsl.ir import Graph, graph_flops
from nndsl.ir.flops import readable_flops
from nndsl.ops import OpKind, OpSpec, iter_specs, lookup
from nndsl.ops.spec import format_value
from nndsl.records import record
from nndsl.resources import stdlib_dir
from nndsl.shapes import DType
from nndsl.source import SourceFile, Span
from nndsl.syntax import KEYWORDS, ast, parse
from nndsl.syntax.printer import format_source

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


def _safe(default: Callable[[], object]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Never raise out of an editor feature: log and return an empty answer."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except Exception:
                log.exception("ide: %s failed", fn.__name__)
                return cast(R, default())

        inner.__name__ = fn.__name__
        inner.__doc__ = fn.__doc__
        return inner

    return wrap


@cache
def _op_items() -> tuple[CompletionItem, ...]:
    """Every op as a completion item: built once (cleaning every op's docstring per request
    was slow: bench/README.md)."""
    return tuple(
        CompletionItem(spec.name, spec.kind.value, spec.signature().text(), spec.doc())
        for spec in iter_specs()
        if spec.kind is not OpKind.OPERATOR
    )


def _norm(path: str | Path) -> str:
    return os.path.normpath(os.path.abspath(str(path)))


@record
class _Snapshot:
    file: SourceFile
    diagnostics: list[Diagnostic]
    scope: ModuleScope | None
    types: dict[tuple[int, int], str]  # first recorded type per span of this file
    deps: frozenset[str] = frozenset()  # normalized paths of the files it imports
    graphs: dict[str, Graph] | None = None  # models with default arguments, for hovers


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IDENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_INPUT_TYPE = re.compile(r"^\s*input\s+[A-Za-z_]\w*\s*:\s*[A-Za-z0-9_]*$")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_UNKNOWN_NAME = re.compile(r"unknown name `([A-Za-z_]\w*)`")
_MAX_ROOT_FILES = 2000


class Workspace:
    """Open documents by path; every query checks the document (cached) and answers."""

    def __init__(self, read: Callable[[Path], str] = read_text, roots: Sequence[str] = ()) -> None:
        self.documents: dict[str, str] = {}
        self.roots = [_norm(r) for r in roots]  # folders whose `.nn` files rename must update
        self._read_disk = read
        self._cache: dict[str, tuple[str, int, _Snapshot]] = {}
        self._trees: dict[str, tuple[str, SourceFile, ast.Module]] = {}
        self._indexes: dict[str, tuple[str, int, FileIndex]] = {}
        self._memos: dict[str, CheckMemo] = {}  # per document: unchanged items are not re-checked
        self._generation = 0  # bumped when any open text changes: imports may have changed

    # -- documents ----------------------------------------------------------------------------
    def open(self, path: str, text: str) -> None:
        key = _norm(path)
        if self.documents.get(key) == text:
            return  # every request syncs the buffer; an unchanged one keeps all caches
        self.documents[key] = text
        self._generation += 1

    update = open

    def close(self, path: str) -> None:
        self.documents.pop(_norm(path), None)
        self._cache.pop(_norm(path), None)
        self._memos.pop(_norm(path), None)
        self._generation += 1

    def invalidate(self, path: str) -> list[str]:
        """`path` (a file or a folder) was created, changed or deleted on disk, outside the
        editor: forget what was read from it and return the open documents to re-check (those
        importing it, or a file under it). An open document is its buffer, not the disk."""
        key = _norm(path)
        if key in self.documents:
            return []

        def under(p: str) -> bool:
            return p == key or p.startswith(key + os.sep)

        stale = [p for p in self._trees if under(p)] + [p for p in self._indexes if under(p)]
        for p in stale:
            if p not in self.documents:
                self._trees.pop(p, None)
                self._indexes.pop(p, None)
        self._generation += 1  # the importers' checks and indexes read it
        return [
            doc
            for doc in self.documents
            if not under(doc) and any(under(p) for p in self._imports_closure(doc))
        ]

    def text(self, path: str) -> str:
        key = _norm(path)
        if key in self.documents:
            return self.documents[key]
        return self._read_disk(Path(key))

    def _read(self, path: Path) -> str:
        key = _norm(path)
        if key in self.documents:
            return self.documents[key]
        return self._read_disk(path)

    def _snapshot(self, path: str) -> _Snapshot:
        key = _norm(path)
        text = self.text(path)
        cached = self._cache.get(key)
        if cached is not None and cached[0] == text and cached[1] == self._generation:
            return cached[2]
        snap = self._analyze(path, text)
        self._cache[key] = (text, self._generation, snap)
        return snap

    def _analyze(self, path: str, text: str) -> _Snapshot:
        deps: set[str] = set()

        def read(p: Path) -> str:
            deps.add(_norm(p))
            return self._read(p)

        try:
            memo = self._memos.setdefault(_norm(path), CheckMemo())
            analysis = analyze(text, path, read, memo)
        except Exception:
            result = check_source(text, path, read=read)
            return _Snapshot(result.file, result.diagnostics, None, {}, frozenset(deps))
        file = analysis.scope.file
        types: dict[tuple[int, int], str] = {}
        for f, span, t in analysis.hover:
            if f.path == file.path and isinstance(span, Span):
                types.setdefault((span.start, span.end), t)
        graphs = analysis.program.graphs
        return _Snapshot(file, analysis.diagnostics, analysis.scope, types, frozenset(deps), graphs)

    def _tree(self, path: str) -> tuple[SourceFile, ast.Module] | None:
        """The syntax tree of any file (open buffer or disk), cached per text."""
        key = _norm(path)
        try:
            text = self._read(Path(key))
        except (OSError, UnicodeDecodeError, ValueError):
            return None
        cached = self._trees.get(key)
        if cached is not None and cached[0] == text:
            return cached[1], cached[2]
        snap = self._cache.get(key)
        if snap is not None and snap[0] == text and snap[2].scope is not None:
            file, module = snap[2].file, snap[2].scope.module  # the checker parsed it already
        elif key in self.documents:  # an open buffer: reuse the trees of unchanged items
            result = self._memos.setdefault(key, CheckMemo()).parser.parse(text, key)
            file, module = result.file, result.module
        else:
            result = parse(text, key)
            file, module = result.file, result.module
        self._trees[key] = (text, file, module)
        return file, module

    def _index(self, path: str) -> FileIndex | None:
        key = _norm(path)
        tree = self._tree(key)
        if tree is None:
            return None
        cached = self._indexes.get(key)
        if cached is not None and cached[0] == tree[0].text and cached[1] == self._generation:
            return cached[2]
        index = build_index(key, tree[0], tree[1], self._tree)
        self._indexes[key] = (tree[0].text, self._generation, index)
        return index

    def _imports_closure(self, path: str) -> set[str]:
        """`path` and every file it imports, transitively (from the syntax trees)."""
        seen: set[str] = set()
        todo = [_norm(path)]
        while todo:
            key = todo.pop()
            if key in seen:
                continue
            seen.add(key)
            tree = self._tree(key)
            if tree is None:
                continue
            for item in tree[1].items:
                if isinstance(item, ast.Import):
                    target = import_target(tree[0].path, item)
                    if target is not None:
                        todo.append(target)
        return seen

    def _universe(self) -> list[str]:
        """Files a cross-file search covers: open documents, their imports, and the `.nn`
        files under the workspace roots (whose importers may not be open)."""
        files: set[str] = set()
        for doc in self.documents:
            files |= self._imports_closure(doc)
        count = 0
        for root in self.roots:
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "node_modules"]
                for name in filenames:
                    if name.endswith(".nn") and count < _MAX_ROOT_FILES:
                        count += 1
                        files |= self._imports_closure(os.path.join(dirpath, name))
        return sorted(files)

    def importers(self, path: str) -> list[str]:
        """Open documents that import `path`, directly or not: to re-check after it changes."""
        key = _norm(path)
        return [doc for doc in self.documents if doc != key and key in self._imports_closure(doc)]

    # -- features -----------------------------------------------------------------------------
    @_safe(list)
    def diagnostics(self, path: str) -> list[Diagnostic]:
        """The document's diagnostics (those located in the document itself)."""
        snap = self._snapshot(path)
        return [d for d in snap.diagnostics if _norm(d.file.path) == _norm(path)]

    @_safe(lambda: None)
    def hover(self, path: str, offset: int) -> Hover | None:
        snap = self._snapshot(path)
        text = snap.file.text
        span = _word_at(text, offset)
        if span is None:
            return None
        word = text[span.start : span.end]
        t = snap.types.get((span.start, span.end))
        if t is not None:
            return Hover(f"```nn\n{word}: {t}\n```", span)
        local = self._binding(path, span.start)
        if local is not None:
            t = snap.types.get((local.start, local.end))
            if t is not None:
                return Hover(f"```nn\n{word}: {t}\n```", span)
        call = _enclosing_call(text, span.start)
        if call is not None and _is_keyword_at(text, span.end):
            spec = lookup(call[0])
            arg = spec.arg(word) if spec is not None else None
            if arg is not None:
                default = "" if arg.required else f" = {format_value(arg.default)}"
                md = f"```nn\n{word}: {arg.type_text()}{default}\n```"
                return Hover(md + (f"\n\n{arg.doc}" if arg.doc else ""), span)
        if snap.scope is not None:
            value = snap.scope.names.get(word)
            if isinstance(value, DefRef):
                graph = (snap.graphs or {}).get(word) if value.definition.kind == "model" else None
                return Hover(_def_markdown(value) + _model_counts(graph), span)
            if isinstance(value, ScalarVal):
                return Hover(f"```nn\nconst {word} = {_scalar(value)}\n```", span)
        spec = lookup(word)
        if spec is not None and spec.kind is not OpKind.OPERATOR:
            return Hover(_spec_markdown(spec), span)
        return None

    @_safe(list)
    def completions(self, path: str, offset: int) -> list[CompletionItem]:
        snap = self._snapshot(path)
        text = snap.file.text
        offset = max(0, min(offset, len(text)))
        line_start = text.rfind("\n", 0, offset) + 1
        if _INPUT_TYPE.match(text[line_start:offset]):
            return [CompletionItem(d.value, "dtype") for d in DType]
        items: list[CompletionItem] = []
        call = _enclosing_call(text, offset)
        if call is not None:
            items.extend(
                _keyword_items(snap, call[0], text[call[1] : offset], _rest_of_call(text, offset))
            )
        module = snap.scope.module if snap.scope else parse(text, path).module
        definition = _enclosing(module, offset)
        if definition is not None:
            seen: set[str] = set()
            for p in definition.params:
                if p.name.name not in seen:
                    seen.add(p.name.name)
                    items.append(CompletionItem(p.name.name, "param", p.type.name))
            for ident in _defined_names(definition.body):
                if ident.span.end <= offset and ident.name not in seen:
                    seen.add(ident.name)
                    t = snap.types.get((ident.span.start, ident.span.end), "")
                    items.append(CompletionItem(ident.name, "tensor", t))
        if snap.scope is not None:
            for name, value in snap.scope.names.items():
                if isinstance(value, DefRef):
                    d = value.definition
                    items.append(
                        CompletionItem(name, d.kind, _def_signature(value), _clean_doc(d.doc))
                    )
                elif isinstance(value, ScalarVal):
                    items.append(CompletionItem(name, "const", _scalar(value)))
        items.extend(_op_items())
        if call is None:
            items.extend(CompletionItem(k, "keyword") for k in sorted(KEYWORDS))
        typed = re.search(r"[A-Za-z_]\w*$", text[line_start:offset])
        return _matching(items, typed.group() if typed else "")

    @_safe(lambda: None)
    def signature_help(self, path: str, offset: int) -> SignatureHelp | None:
        snap = self._snapshot(path)
        text = snap.file.text
        call = _enclosing_call(text, offset)
        if call is None:
            return None
        name, open_at = call
        inner = _mask(text)[open_at:offset]
        commas = _top_level_commas(inner)
        current = inner[inner.rfind(",") + 1 if "," in inner else 0 :]
        kw = re.match(r"\s*([A-Za-z_]\w*)\s*=(?!=)", current)
        spec = lookup(name)
        if spec is not None:
            sig = spec.signature()
            params: list[ParamInfo] = []
            if spec.kind in (OpKind.FUNCTION, OpKind.OPERATOR):
                params.extend(ParamInfo(i) for i in sig.inputs)
            for a in sig.args:
                default = "" if a.required else f" = {format_value(a.default)}"
                params.append(ParamInfo(f"{a.name}: {a.type_text()}{default}", a.doc))
            active = _active(commas, kw, [p.label.split(":")[0] for p in params])
            return SignatureHelp(sig.text(), tuple(params), active, spec.doc())
        value = snap.scope.names.get(name) if snap.scope else None
        if isinstance(value, DefRef):
            d = value.definition
            params = [ParamInfo(_param_text(value, p)) for p in d.params]
            active = _active(commas, kw, [p.name.name for p in d.params])
            return SignatureHelp(_def_signature(value), tuple(params), active, _clean_doc(d.doc))
        return None

    @_safe(lambda: None)
    def definition(self, path: str, offset: int) -> Location | None:
        snap = self._snapshot(path)
        text = snap.file.text
        span = _word_at(text, offset)
        if span is None:
            return None
        word = text[span.start : span.end]
        module = snap.scope.module if snap.scope else parse(text, path).module
        local = self._binding(path, span.start)
        if local is not None:
            return Location(snap.file.path, local, snap.file)
        definition = _enclosing(module, offset)
        if definition is not None:
            for p in definition.params:
                if p.name.name == word:
                    return Location(snap.file.path, p.name.span, snap.file)
        if snap.scope is None:
            return None
        value = snap.scope.names.get(word)
        if isinstance(value, DefRef):
            file = value.module.file
            return Location(file.path, value.definition.name.span, file)
        if word in snap.scope.spans:
            return Location(snap.file.path, snap.scope.spans[word], snap.file)
        if word in snap.scope.data:
            file = snap.scope.data_files.get(word, snap.file)
            return Location(file.path, snap.scope.data[word].name.span, file)
        if value is not None:
            root = project_root(Path(snap.file.path).parent)
            return self._imported_const(snap.file, module, word, set(), root)
        return None

    def _binding(self, path: str, offset: int) -> Span | None:
        """Where the local name at `offset` was bound (see `FileIndex.binding`)."""
        index = self._index(path)
        occ = index.at(offset) if index is not None else None
        if index is None or occ is None or occ.key.scope == TOP or occ.key.path != _norm(path):
            return None
        return index.binding(occ)

    def _imported_const(
        self, file: SourceFile, module: ast.Module, name: str, seen: set[str], root: Path
    ) -> Location | None:
        """Where an imported constant is defined; imports outside the project are not followed
        (as the checker refuses them, E0802), so go-to-definition never opens them."""
        for item in module.items:
            if not isinstance(item, ast.Import):
                continue
            if item.is_file:
                target = Path(file.path).parent / item.path
                if not (outside_allowed() or is_inside(target, root)):
                    continue
            else:
                target = stdlib_dir().joinpath(*item.path.split(".")[1:]).with_suffix(".nn")
            key = _norm(target)
            if key in seen:
                continue
            seen.add(key)
            try:
                result = parse(self._read(target), key)
            except (OSError, UnicodeDecodeError, ValueError):
                continue
            for other in result.module.items:
                if isinstance(other, ast.Const) and other.name.name == name:
                    return Location(key, other.name.span, result.file)
            found = self._imported_const(result.file, result.module, name, seen, root)
            if found is not None:
                return found
        return None

    @_safe(list)
    def document_symbols(self, path: str) -> list[Symbol]:
        snap = self._snapshot(path)
        module = snap.scope.module if snap.scope else parse(snap.file.text, path).module
        symbols: list[Symbol] = []
        for item in module.items:
            if isinstance(item, ast.Definition):
                children = tuple(
                    Symbol(p.name.name, "param", p.span, p.name.span, p.type.name)
                    for p in item.params
                )
                detail = _def_signature_text(snap.file, item)
                symbols.append(
                    Symbol(item.name.name, item.kind, item.span, item.name.span, detail, children)
                )
            elif isinstance(item, ast.DataDef):
                symbols.append(Symbol(item.name.name, "data", item.span, item.name.span))
            elif isinstance(item, ast.TrainDef):
                model = snap.file.text[item.model.span.start : item.model.span.end]
                symbols.append(
                    Symbol(f"train {model}", "train", item.span, item.model.span, item.data.name)
                )
            elif isinstance(item, ast.Const):
                symbols.append(Symbol(item.name.name, "const", item.span, item.name.span))
        return symbols

    @_safe(list)
    def code_lenses(self, path: str) -> list[CodeLens]:
        """ "show graph" above each model's name (`nnrun plot`'s picture, written by the
        client's side of `SHOW_GRAPH`)."""
        tree = self._tree(path)
        if tree is None:
            return []
        _, module = tree
        return [
            CodeLens(item.name.span, "show graph", SHOW_GRAPH, (path, item.name.name))
            for item in module.items
            if isinstance(item, ast.Definition) and item.kind == "model"
        ]

    def model_graph(self, path: str, model: str) -> Graph | str:
        """The checked graph of `model` (its default arguments) in the document as open, or
        one line saying why there is none."""
        result = check_source(self.text(path), path, read=self._read)
        if result.has_errors:
            return f"{Path(path).name} has errors; fix them to draw `{model}`"
        graph = result.graph(model)
        if graph is None:
            return f"no model `{model}` with default arguments in {Path(path).name}"
        return graph

    @_safe(list)
    def inlay_hints(self, path: str) -> list[InlayHint]:
        snap = self._snapshot(path)
        if snap.scope is None:
            return []
        hints: list[InlayHint] = []
        for item in snap.scope.module.items:
            if not isinstance(item, ast.Definition):
                continue
            for stmt in ast.walk_statements(item.body):
                if isinstance(stmt, ast.Assign):
                    for target in stmt.targets:
                        if target.annotation is not None:
                            continue
                        t = snap.types.get((target.name.span.start, target.name.span.end))
                        if t is not None:
                            hints.append(InlayHint(target.name.span.end, f": {t}"))
        return hints

    # -- references and rename ----------------------------------------------------------------
    @_safe(list)
    def references(
        self, path: str, offset: int, include_declaration: bool = True
    ) -> list[Location]:
        """Every occurrence of the symbol at `offset`, across the files that can see it."""
        index = self._index(path)
        occ = index.at(offset) if index is not None else None
        if occ is None:
            return []
        return [
            loc
            for loc, definition in self._occurrences(occ.key)
            if include_declaration or not definition
        ]

    def _files(self, key: SymbolKey) -> list[str]:
        """The files where `key` can occur: a model's input or output also in the `train`
        sections of any file (its loss expression, `per_output` keys)."""
        local = key.scope != TOP and key.kind != "param"  # a parameter is also a keyword
        if local and key.kind == "tensor":
            index = self._index(key.path)
            local = index is None or key not in interface_keys(index)
        return [key.path] if local else sorted({key.path, *self._universe()})

    def _occurrences(
        self, key: SymbolKey, files: list[str] | None = None
    ) -> list[tuple[Location, bool]]:
        out: list[tuple[Location, bool]] = []
        for f in self._files(key) if files is None else files:
            index = self._index(f)
            if index is None:
                continue
            for o in index.occurrences:
                if o.key == key:
                    out.append((Location(f, o.span, index.file), o.definition))
        return out

    @_safe(lambda: RenameTarget(None, error="nothing to rename here"))
    def prepare_rename(self, path: str, offset: int) -> RenameTarget:
        """The name under the cursor if it can be renamed, else why not."""
        index = self._index(path)
        occ = index.at(offset) if index is not None else None
        if index is None or occ is None:
            span = _word_at(self.text(path), offset)
            word = self.text(path)[span.start : span.end] if span else ""
            spec = lookup(word) if word else None
            if spec is not None:
                return RenameTarget(
                    None, error=f"`{word}` is a built-in {spec.kind.value}; it cannot be renamed"
                )
            if word in KEYWORDS or word in DTYPES:
                return RenameTarget(None, error=f"`{word}` is part of the language")
            return RenameTarget(None, error="nothing to rename here")
        key = occ.key
        if key.kind == "module":
            return RenameTarget(None, error="an import names a file: rename the file instead")
        if _is_stdlib(key.path):
            module = "std." + Path(key.path).stem
            return RenameTarget(
                None,
                error=f"`{key.name}` is defined in the standard library (`{module}`), "
                "which is read-only",
            )
        return RenameTarget(occ.span, key.name)

    @_safe(lambda: RenameResult(error="rename failed (see the server log)"))
    def rename(self, path: str, offset: int, new_name: str) -> RenameResult:
        """Edits renaming the symbol at `offset` everywhere, or an error saying why not."""
        target = self.prepare_rename(path, offset)
        if target.error is not None:
            return RenameResult(error=target.error)
        index = self._index(path)
        occ = index.at(offset) if index is not None else None
        if occ is None:
            return RenameResult(error="nothing to rename here")
        problem = _invalid_name(new_name)
        if problem is not None:
            return RenameResult(error=problem)
        key = occ.key
        if new_name == key.name:
            return RenameResult()
        files = self._files(key)
        for f in files:
            other = self._index(f)
            unsafe = other.unsafe.get(key) if other is not None else None
            if other is not None and unsafe:
                line = other.file.position(unsafe[0].start).line
                return RenameResult(
                    error=f"`{key.name}` on line {line} of {Path(f).name} is a local binding on "
                    f"some paths and the top-level `{key.name}` on others: rename it by hand"
                )
        if new_name == "y" and key.kind == "tensor" and self._in_train(key, files):
            return RenameResult(
                error="`y` names the labels in a `train` section's loss expression; choose "
                "another name"
            )
        found = self._occurrences(key, files)
        by_file: dict[str, list[Location]] = {}
        for loc, _ in found:
            by_file.setdefault(loc.path, []).append(loc)
        for f, locs in by_file.items():
            if _is_stdlib(f):
                return RenameResult(error=f"`{key.name}` is used in the read-only standard library")
            clash = self._clash(f, key, new_name, locs)
            if clash is not None:
                return RenameResult(error=clash)
        changes = tuple(
            FileEdits(f, locs[0].file, tuple(TextEdit(loc.span, new_name) for loc in locs))
            for f, locs in sorted(by_file.items())
        )
        return RenameResult(changes)

    def _in_train(self, key: SymbolKey, files: list[str]) -> bool:
        """Whether a `train` section names the model input or output `key` (an occurrence of
        a body's name outside any body)."""
        for f in files:
            index = self._index(f)
            if index is not None and any(
                o.key == key and o.scope == TOP for o in index.occurrences
            ):
                return True
        return False

    def _clash(self, path: str, key: SymbolKey, new: str, locs: list[Location]) -> str | None:
        index = self._index(path)
        if index is None:
            return None
        where = Path(path).name
        if key.scope != TOP and path == key.path:
            if new in index.locals.get(key.scope, set()):
                return f"`{new}` is already defined in this {_scope_kind(index, key.scope)}"
            if new in index.top_names:
                return f"`{new}` would hide the top-level `{new}` ({where})"
            return None
        if key.scope == TOP and new in index.top_names:
            return f"`{new}` is already defined at the top level of {where}"
        if key.scope == TOP:
            starts = {loc.span.start for loc in locs}
            for o in index.occurrences:
                if o.span.start in starts and new in index.locals.get(o.scope, set()):
                    return f"`{new}` is a local name where `{key.name}` is used ({where})"
        return None

    # -- workspace symbols, formatting, tokens, code actions ----------------------------------
    @_safe(list)
    def workspace_symbols(self, query: str) -> list[WorkspaceSymbol]:
        """Blocks, models, constants and data sources in open files and their imports whose
        name contains the query's letters in order (case-insensitive), as editors filter."""
        files: set[str] = set()
        for doc in self.documents:
            files |= self._imports_closure(doc)
        out: list[WorkspaceSymbol] = []
        for f in sorted(files):
            tree = self._tree(f)
            if tree is None:
                continue
            file, module = tree
            for item in module.items:
                if isinstance(item, ast.Definition):
                    kind = item.kind
                elif isinstance(item, ast.Const):
                    kind = "const"
                elif isinstance(item, ast.DataDef):
                    kind = "data"
                else:
                    continue
                name = item.name.name
                if not name.startswith("<") and _fuzzy(query, name):
                    loc = Location(f, item.name.span, file)
                    out.append(WorkspaceSymbol(name, kind, loc, Path(f).name))
        return out

    @_safe(lambda: None)
    def format(self, path: str) -> str | None:
        """The canonically formatted text (`nnrun fmt`), or None when it has syntax errors."""
        return format_source(self.text(path), path)

    @_safe(list)
    def semantic_tokens(self, path: str) -> list[SemanticToken]:
        index = self._index(path)
        if index is None:
            return []
        return semantic_tokens(index.file.text, index.tokens)

    @_safe(list)
    def code_actions(self, path: str, span: Span) -> list[CodeAction]:
        """Quick fixes for the diagnostics touching `span`: a suggested name (the checker's
        "did you mean"), and `import std.<module>` for an unknown name the stdlib defines."""
        snap = self._snapshot(path)
        file = snap.file
        actions: list[CodeAction] = []
        for d in self.diagnostics(path):
            p = d.primary.span
            if p.end < span.start or p.start > span.end:
                continue
            for fix in d.fixes:
                actions.append(
                    CodeAction(
                        f"Change to `{fix.text}`",
                        (FileEdits(file.path, file, (TextEdit(fix.span, fix.text),)),),
                        diagnostic=d,
                        preferred=len(d.fixes) == 1,
                    )
                )
            m = _UNKNOWN_NAME.match(d.message)
            if m is None:
                continue
            module = snap.scope.module if snap.scope else parse(file.text, path).module
            at = _import_insertion(file, module)
            for std in _stdlib_exports().get(m.group(1), ()):
                edit = TextEdit(Span(at, at), f"import {std}\n")
                actions.append(
                    CodeAction(
                        f"Import `{m.group(1)}` from `{std}`",
                        (FileEdits(file.path, file, (edit,)),),
                        diagnostic=d,
                    )
                )
        return actions


# -- helpers over the syntax tree ---------------------------------------------------------------
def _defined_names(body: Sequence[ast.Stmt]) -> Iterator[ast.Ident]:
    for stmt in ast.walk_statements(body):
        if isinstance(stmt, ast.InputStmt):
            yield stmt.name
        elif isinstance(stmt, ast.Assign):
            for t in stmt.targets:
                yield t.name


def _enclosing(module: ast.Module, offset: int) -> ast.Definition | None:
    """The block or model around `offset` (the last one starting before it, while typing)."""
    best: ast.Definition | None = None
    for item in module.items:
        if isinstance(item, ast.Definition) and item.span.start <= offset:
            best = item
        elif item.span.start <= offset:
            best = None
    return best


# -- helpers over the text ----------------------------------------------------------------------
def _mask(text: str) -> str:
    """The text with string contents and comments blanked, so brackets inside them don't count."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "#":
            while i < n and text[i] != "\n":
                out[i] = " "
                i += 1
        elif ch == '"':
            i += 1
            while i < n and text[i] not in '"\n':
                out[i] = " "
                i += 1
            i += 1
        else:
            i += 1
    return "".join(out)


def _enclosing_call(text: str, offset: int) -> tuple[str, int] | None:
    """The callee name and the offset after its `(`, for the innermost open call at `offset`."""
    masked = _mask(text[:offset])
    depth = 0
    for i in range(len(masked) - 1, -1, -1):
        ch = masked[i]
        if ch in ")]":
            depth += 1
        elif ch in "([":
            if depth == 0:
                if ch == "[":
                    return None
                j = i
                while j > 0 and masked[j - 1] in " \t":
                    j -= 1
                k = j
                while k > 0 and masked[k - 1] in _IDENT_CHARS:
                    k -= 1
                return (masked[k:j], i + 1) if k < j else None
            depth -= 1
        elif ch in "{}":
            return None
    return None


def _top_level_commas(inner: str) -> int:
    depth = count = 0
    for ch in inner:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            count += 1
    return count


def _word_at(text: str, offset: int) -> Span | None:
    for m in _WORD.finditer(text, max(0, offset - 200), min(len(text), offset + 200)):
        if m.start() <= offset <= m.end():
            return Span(m.start(), m.end())
    return None


def _is_keyword_at(text: str, end: int) -> bool:
    return re.match(r"\s*=(?!=)", text[end:]) is not None


def _matching(items: list[CompletionItem], prefix: str) -> list[CompletionItem]:
    """The items whose label starts with the word typed before the cursor (case-insensitive),
    those matching its case first; each label once (the first, most local, wins)."""
    if not prefix:
        return items
    low = prefix.lower()
    seen: set[str] = set()
    exact: list[CompletionItem] = []
    other: list[CompletionItem] = []
    for item in items:
        if item.label in seen or not item.label.lower().startswith(low):
            continue
        seen.add(item.label)
        (exact if item.label.startswith(prefix) else other).append(item)
    return exact + other


def _given_arguments(inner: str) -> tuple[int, set[str]]:
    """How many arguments before the cursor are positional, and the keywords given, in the
    text of a call from its `(` to the cursor."""
    masked = _mask(inner)
    depth, start, parts = 0, 0, []
    for i, ch in enumerate(masked):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(masked[start:i])
            start = i + 1
    given = set(re.findall(r"([A-Za-z_]\w*)\s*=(?!=)", masked))
    positional = 0
    for part in parts:  # finished arguments only: the one being typed is not given yet
        if re.match(r"\s*[A-Za-z_]\w*\s*=(?!=)", part) or not part.strip():
            break
        positional += 1
    return positional, given


def _rest_of_call(text: str, offset: int) -> str:
    """The call's text from the cursor to its closing `)` (or the line's end)."""
    masked = _mask(text[offset : offset + 2000])
    depth = 0
    for i, ch in enumerate(masked):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                return masked[:i]
            depth -= 1
        elif ch == "\n" and depth == 0:
            return masked[:i]
    return masked


def _keyword_items(
    snap: _Snapshot, callee: str, inner: str, rest: str = ""
) -> list[CompletionItem]:
    positional, given = _given_arguments(inner)
    given |= set(re.findall(r"([A-Za-z_]\w*)\s*=(?!=)", rest))  # after the cursor too
    spec = lookup(callee)
    items: list[CompletionItem] = []
    if spec is not None:
        taken = (
            len(spec.signature().inputs) if spec.kind in (OpKind.FUNCTION, OpKind.OPERATOR) else 0
        )
        by_position = {a.name for a in spec.args[: max(0, positional - taken)]}
        for a in spec.args:
            if a.name in given or a.name in by_position:
                continue
            default = "" if a.required else f" = {format_value(a.default)}"
            items.append(
                CompletionItem(
                    f"{a.name}=", "argument", f"{a.type_text()}{default}", a.doc, f"{a.name} = "
                )
            )
        return items
    value = snap.scope.names.get(callee) if snap.scope else None
    if isinstance(value, DefRef):
        params = value.definition.params
        by_position = {p.name.name for p in params[:positional]}
        for p in params:
            if p.name.name not in given and p.name.name not in by_position:
                items.append(
                    CompletionItem(
                        f"{p.name.name}=",
                        "argument",
                        _param_text(value, p).split(":", 1)[1].strip(),
                        "",
                        f"{p.name.name} = ",
                    )
                )
    return items


# -- markdown -----------------------------------------------------------------------------------
def _scalar(value: ScalarVal) -> str:
    v = value.value
    return "?" if v is None else format_value(v)


def _clean_doc(doc: str) -> str:
    return "\n".join(line.removeprefix("##").strip() for line in doc.splitlines()).strip()


def _param_text(ref: DefRef, p: ast.Param) -> str:
    return _param_source(ref.module.file, p)


def _param_source(file: SourceFile, p: ast.Param) -> str:
    default = ""
    if p.default is not None:
        default = f" = {file.text[p.default.span.start : p.default.span.end]}"
    return f"{p.name.name}: {p.type.name}{default}"


def _def_signature_text(file: SourceFile, d: ast.Definition) -> str:
    params = ", ".join(_param_source(file, p) for p in d.params)
    return f"{d.kind} {d.name.name}({params})"


def _def_signature(ref: DefRef) -> str:
    return _def_signature_text(ref.module.file, ref.definition)


def _def_markdown(ref: DefRef) -> str:
    doc = _clean_doc(ref.definition.doc)
    md = f"```nn\n{_def_signature(ref)}\n```"
    return md + (f"\n\n{doc}" if doc else "")


def _model_counts(graph: Graph | None) -> str:
    """A model's parameters and forward FLOPs per example (at its default arguments): both
    arithmetic on the checked graph, a repeat counted once times its count."""
    if graph is None:
        return ""
    trainable, frozen = graph.param_counts()
    count = graph_flops(graph)
    total = count.total
    shown = readable_flops(total) if total is not None else count.text()
    return f"\n\n{trainable + frozen:,} parameters, {shown} FLOPs per example (forward)"


def _spec_markdown(spec: OpSpec) -> str:
    sig = spec.signature()
    parts = [f"```nn\n{sig.text()}\n```", f"*{spec.kind.value}*"]
    if sig.doc:
        parts.append(sig.doc)
    if spec.rule:
        parts.append(f"**Shape:** {spec.rule}")
    if spec.example:
        parts.append(f"Example: `{spec.example}`")
    return "\n\n".join(parts)


def _active(commas: int, keyword: re.Match[str] | None, names: list[str]) -> int:
    """The parameter being typed: the one named by `name =`, else the comma count."""
    if keyword is not None and keyword.group(1) in names:
        return names.index(keyword.group(1))
    return commas


# -- rename, code actions -----------------------------------------------------------------------
def _is_stdlib(path: str) -> bool:
    root = _norm(stdlib_dir())
    return _norm(path).startswith(root + os.sep)


def _invalid_name(name: str) -> str | None:
    if not _IDENT.fullmatch(name):
        return f"`{name}` is not a name: use letters, digits and `_`, not starting with a digit"
    if name in KEYWORDS:
        return f"`{name}` is a keyword"
    if name in DTYPES or name in PARAM_TYPES:
        return f"`{name}` is a type name"
    spec = lookup(name)
    if spec is not None:
        return f"`{name}` is the built-in {spec.kind.value} `{spec.name}`"
    return None


def _scope_kind(index: FileIndex, scope: int) -> str:
    for item in index.module.items:
        if isinstance(item, ast.Definition) and item.span.start == scope:
            return f"{item.kind} `{item.name.name}`"
    return "body"


def _fuzzy(query: str, name: str) -> bool:
    it = iter(name.lower())
    return all(ch in it for ch in query.lower())


def _import_insertion(file: SourceFile, module: ast.Module) -> int:
    """Where a new import goes: after the last import's line, else at the top."""
    imports = [i for i in module.items if isinstance(i, ast.Import)]
    if not imports:
        return 0
    end = file.text.find("\n", imports[-1].span.end)
    return len(file.text) if end < 0 else end + 1


_STDLIB_EXPORTS: dict[str, tuple[str, ...]] | None = None


def _stdlib_exports() -> dict[str, tuple[str, ...]]:
    """Name -> the `std.<module>`s defining it (blocks, models and constants)."""
    global _STDLIB_EXPORTS
    if _STDLIB_EXPORTS is None:
        found: dict[str, list[str]] = {}
        for nn in sorted(stdlib_dir().glob("*.nn")):
            try:
                module = parse(nn.read_text(encoding="utf-8"), str(nn)).module
            except (OSError, UnicodeDecodeError):
                continue
            for item in module.items:
                if isinstance(item, ast.Definition | ast.Const):
                    found.setdefault(item.name.name, []).append(f"std.{nn.stem}")
        _STDLIB_EXPORTS = {k: tuple(v) for k, v in found.items()}
    return _STDLIB_EXPORTS
