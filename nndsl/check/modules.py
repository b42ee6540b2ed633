"""Loading a file and its imports into module scopes; detects import cycles."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from nndsl.check.paths import (
    UnreadableSource,
    is_inside,
    outside_allowed,
    project_root,
    read_source,
)
from nndsl.check.report import Reporter
from nndsl.check.values import ERROR, DefRef, ModuleScope, ScalarVal, Value
from nndsl.diagnostics import Label
from nndsl.limits import MAX_IMPORT_DEPTH
from nndsl.resources import stdlib_dir
from nndsl.source import Span
from nndsl.syntax import ParseResult, ast, parse

Reader = Callable[[Path], str]


def read_text(path: Path) -> str:
    """A source file: regular files only, size capped (see `nndsl.check.paths`)."""
    return read_source(path)


class ModuleLoader:
    def __init__(self, rep: Reporter, read: Reader = read_text) -> None:
        self.rep = rep
        self.read = read
        self.cache: dict[str, ModuleScope] = {}
        self._loading: list[str] = []
        self.const_evaluator: Callable[[ModuleScope, ast.Expr], Value] | None = None
        self.parse: Callable[[str, str], ParseResult] = parse  # the editor's is incremental
        self.root: Path | None = None  # the entry file's project; set by the first load

    def load_text(self, text: str, path: str) -> ModuleScope:
        if self.root is None:
            self.root = project_root(Path(path).parent)
        result = self.parse(text, path)
        self.rep.parsed(result.diagnostics)
        scope = ModuleScope(result.file, result.module)
        key = _key(path)
        self.cache[key] = scope
        self._loading.append(key)
        try:
            self._populate(scope)
        finally:
            self._loading.pop()
        return scope

    def _resolve(self, scope: ModuleScope, item: ast.Import) -> Path | None:
        if item.is_file:
            base = Path(scope.file.path).parent
            return (base / item.path).resolve()
        parts = item.path.split(".")
        if parts[0] != "std" or len(parts) < 2:
            return None
        return stdlib_dir().joinpath(*parts[1:]).with_suffix(".nn")

    def _import(self, scope: ModuleScope, item: ast.Import) -> ModuleScope | None:
        file = scope.file
        try:
            target = self._resolve(scope, item)
        except (OSError, ValueError):
            target = None
        if target is None:
            self.rep.error(
                "E0103",
                f"cannot import `{item.path}`",
                file,
                item.span,
                "not a module",
                help="write `import std.name` for the standard "
                'library or `import "file.nn"` for a file beside this one',
            )
            return None
        key = _key(str(target))
        if key in self._loading:
            chain = [Path(p).name for p in self._loading[self._loading.index(key) :]]
            self.rep.error(
                "E0104",
                f"import cycle: {' -> '.join([*chain, Path(key).name])}",
                file,
                item.span,
                "this import closes the cycle",
                help="move the shared definitions into a third file",
            )
            return None
        if key in self.cache:
            return self.cache[key]
        if len(self._loading) >= MAX_IMPORT_DEPTH:  # each level recurses: bounded (E0819)
            self.rep.error(
                "E0819",
                f"imports nest more than {MAX_IMPORT_DEPTH} files deep here",
                file,
                item.span,
                "imports nest too deeply",
                help="import the files from one place rather than in a chain",
            )
            return None
        if item.is_file and not self._may_read(target):
            self.rep.error(
                "E0802",
                f"cannot import `{item.path}`: it is outside the project",
                file,
                item.span,
                "outside the project",
                notes=[f"the project is {self.root}"],
                help="move the file into the project, or run with `--allow-outside-project` "
                "if you trust this model file",
            )
            return None
        try:
            text = self.read(target)
        except (OSError, UnicodeDecodeError, ValueError) as err:
            shown = item.path if not item.is_file else str(target)
            self.rep.error(
                "E0103",
                f"cannot import `{item.path}`: {_reason(err)}",
                file,
                item.span,
                "not found" if isinstance(err, FileNotFoundError) else "cannot be read",
                notes=[f"looked for {shown!s}"] if item.is_file else [f"looked for {target}"],
            )
            return None
        return self.load_text(text, str(target))

    def _may_read(self, target: Path) -> bool:
        """Imports stay in the project (symlinks resolved) or the standard library; the file
        is then never opened, so nothing of it reaches a code frame."""
        if outside_allowed() or self.root is None:
            return True
        return is_inside(target, self.root) or is_inside(target, stdlib_dir().resolve())

    def _populate(self, scope: ModuleScope) -> None:
        file = scope.file
        seen: list[ModuleScope] = []  # a file imported twice is merged once
        for item in scope.module.items:
            if isinstance(item, ast.Import):
                imported = self._import(scope, item)
                if imported is None or imported in seen:
                    continue
                seen.append(imported)
                for name, value in imported.names.items():
                    if name in imported.spans and _is_own(imported, name):
                        self._define(scope, name, value, item.span, imported_from=item.path)
                for name, data in imported.data.items():
                    if name not in scope.data:
                        scope.data[name] = data
                        scope.data_files[name] = imported.data_files.get(name, imported.file)
            elif isinstance(item, ast.Definition):
                self._define(scope, item.name.name, DefRef(item, scope), item.name.span)
            elif isinstance(item, ast.Const):
                value = self.const_evaluator(scope, item.value) if self.const_evaluator else ERROR
                if not isinstance(value, ScalarVal | type(ERROR)):
                    self.rep.error(
                        "E0504",
                        f"constant `{item.name.name}` must be a number, boolean or string",
                        file,
                        item.value.span,
                        "not a constant",
                    )
                    value = ERROR
                self._define(scope, item.name.name, value, item.name.span)
            elif isinstance(item, ast.DataDef):
                if item.name.name in scope.data:
                    self._duplicate(
                        scope, item.name.name, item.name.span, scope.data[item.name.name].name.span
                    )
                scope.data[item.name.name] = item
                scope.data_files[item.name.name] = file

    def _define(
        self,
        scope: ModuleScope,
        name: str,
        value: Value,
        span: Span,
        imported_from: str | None = None,
    ) -> None:
        if name in scope.names:
            self._duplicate(scope, name, span, scope.spans.get(name), imported_from)
            return
        scope.names[name] = value
        if imported_from is None:
            scope.spans[name] = span

    def _duplicate(
        self,
        scope: ModuleScope,
        name: str,
        span: Span,
        first: Span | None,
        imported_from: str | None = None,
    ) -> None:
        what = f"`{name}` (from `{imported_from}`)" if imported_from else f"`{name}`"
        secondary = [Label(first, "first defined here")] if first is not None else []
        self.rep.error(
            "E0102",
            f"{what} is defined twice",
            scope.file,
            span,
            "defined again here",
            secondary=secondary,
            help="rename one of them",
        )


def _is_own(scope: ModuleScope, name: str) -> bool:
    return name in scope.spans


def _key(path: str) -> str:
    try:
        return str(Path(path).resolve())
    except (OSError, ValueError):
        return path


def _reason(err: BaseException) -> str:
    if isinstance(err, UnreadableSource):
        return str(err)
    if isinstance(err, FileNotFoundError):
        return "no such file"
    if isinstance(err, IsADirectoryError):
        return "it is a directory"
    if isinstance(err, UnicodeDecodeError):
        return "the file is not UTF-8 text"
    return err.__class__.__name__
