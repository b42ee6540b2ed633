"""Editor features over a set of open documents: pure functions of the text, never raising.

Every method takes and returns character offsets. Unsaved buffers are checked: imports of an
open document read its buffer, not the file on disk. Results are cached per document text.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar, cast

from nndsl.check import analyze
from nndsl.check.modules import read_text
from nndsl.check.values import DefRef, ModuleScope, ScalarVal
from nndsl.diagnostics import Diagnostic
from nndsl.frontend import check_source
from nndsl.ide.model import (
    CompletionItem,
    Hover,
    InlayHint,
    Location,
    ParamInfo,
    SignatureHelp,
    Symbol,
)
from nndsl.ops import OpKind, OpSpec, iter_specs, lookup
from nndsl.ops.spec import format_value
from nndsl.resources import stdlib_dir
from nndsl.shapes import DType
from nndsl.source import SourceFile, Span
from nndsl.syntax import KEYWORDS, ast, parse

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


def _norm(path: str | Path) -> str:
    return os.path.normpath(os.path.abspath(str(path)))


@dataclass
class _Snapshot:
    file: SourceFile
    diagnostics: list[Diagnostic]
    scope: ModuleScope | None
    types: dict[tuple[int, int], str]  # first recorded type per span of this file


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IDENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_INPUT_TYPE = re.compile(r"^\s*input\s+[A-Za-z_]\w*\s*:\s*[A-Za-z0-9_]*$")


class Workspace:
    """Open documents by path; every query checks the document (cached) and answers."""

    def __init__(self, read: Callable[[Path], str] = read_text) -> None:
        self.documents: dict[str, str] = {}
        self._read_disk = read
        self._cache: dict[str, tuple[str, int, _Snapshot]] = {}
        self._generation = 0

    # -- documents ----------------------------------------------------------------------------
    def open(self, path: str, text: str) -> None:
        self.documents[_norm(path)] = text
        self._generation += 1

    update = open

    def close(self, path: str) -> None:
        self.documents.pop(_norm(path), None)
        self._cache.pop(_norm(path), None)
        self._generation += 1

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
        try:
            analysis = analyze(text, path, self._read)
        except Exception:
            result = check_source(text, path, read=self._read)
            return _Snapshot(result.file, result.diagnostics, None, {})
        file = analysis.scope.file
        types: dict[tuple[int, int], str] = {}
        for f, span, t in analysis.hover:
            if f.path == file.path and isinstance(span, Span):
                types.setdefault((span.start, span.end), t)
        return _Snapshot(file, analysis.diagnostics, analysis.scope, types)

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
        module = snap.scope.module if snap.scope else parse(text, path).module
        definition = _enclosing(module, offset)
        if definition is not None:
            local = _local_definition(definition, word, span.start)
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
                return Hover(_def_markdown(value), span)
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
            items.extend(_keyword_items(snap, call[0], text[call[1] : offset]))
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
        for spec in iter_specs():
            if spec.kind is OpKind.OPERATOR:
                continue
            items.append(
                CompletionItem(spec.name, spec.kind.value, spec.signature().text(), spec.doc())
            )
        if call is None:
            items.extend(CompletionItem(k, "keyword") for k in sorted(KEYWORDS))
        return items

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
        definition = _enclosing(module, offset)
        if definition is not None:
            for p in definition.params:
                if p.name.name == word:
                    return Location(snap.file.path, p.name.span, snap.file)
            local = _local_definition(definition, word, span.start)
            if local is not None:
                return Location(snap.file.path, local, snap.file)
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
            return self._imported_const(snap.file, module, word, set())
        return None

    def _imported_const(
        self, file: SourceFile, module: ast.Module, name: str, seen: set[str]
    ) -> Location | None:
        for item in module.items:
            if not isinstance(item, ast.Import):
                continue
            if item.is_file:
                target = Path(file.path).parent / item.path
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
            found = self._imported_const(result.file, result.module, name, seen)
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
    def inlay_hints(self, path: str) -> list[InlayHint]:
        snap = self._snapshot(path)
        if snap.scope is None:
            return []
        hints: list[InlayHint] = []
        for item in snap.scope.module.items:
            if not isinstance(item, ast.Definition):
                continue
            for stmt in _walk(item.body):
                if isinstance(stmt, ast.Assign):
                    for target in stmt.targets:
                        if target.annotation is not None:
                            continue
                        t = snap.types.get((target.name.span.start, target.name.span.end))
                        if t is not None:
                            hints.append(InlayHint(target.name.span.end, f": {t}"))
        return hints


# -- helpers over the syntax tree ---------------------------------------------------------------
def _walk(body: Sequence[ast.Stmt]) -> Iterator[ast.Stmt]:
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If):
            yield from _walk(stmt.then)
            yield from _walk(stmt.orelse or ())
        elif isinstance(stmt, ast.Repeat):
            yield from _walk(stmt.body)


def _defined_names(body: Sequence[ast.Stmt]) -> Iterator[ast.Ident]:
    for stmt in _walk(body):
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


def _local_definition(definition: ast.Definition, name: str, before: int) -> Span | None:
    """Where the tensor `name` used at `before` was last defined in the body."""
    found: Span | None = None
    for ident in _defined_names(definition.body):
        if ident.name == name and ident.span.start <= before:
            found = ident.span
    return found


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


def _keyword_items(snap: _Snapshot, callee: str, inner: str) -> list[CompletionItem]:
    given = set(re.findall(r"([A-Za-z_]\w*)\s*=(?!=)", _mask(inner)))
    spec = lookup(callee)
    items: list[CompletionItem] = []
    if spec is not None:
        for a in spec.args:
            if a.name in given:
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
        for p in value.definition.params:
            if p.name.name not in given:
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
