"""The REPL's logic as a pure object: text in, printable results out; no terminal involved.

Definitions (`const`, `block`, `model`, `data`, `import`) accumulate into one session module;
redefining a name replaces it. Statements (`input x: f32[B, 64]`, `h = x |> Dense(32)`) and
bare expressions accumulate into a scratch model so each answer shows the inferred types.
Every input is checked together with everything before it; one that fails is not kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nndsl.diagnostics import Diagnostic, render_plain
from nndsl.frontend import CheckResult, check_source
from nndsl.syntax import ast, parse
from nndsl.syntax.parser import open_brackets
from nndsl.syntax.repair import TRAILING_OPERATOR

SCRATCH = "__repl__"
_IT = "it"


@dataclass(frozen=True)
class Reply:
    kind: str  # "ok" | "type" | "error" | "info"
    text: str
    diagnostics: tuple[Diagnostic, ...] = ()


@dataclass
class Session:
    items: dict[str, str] = field(default_factory=dict)  # name -> source of the definition
    statements: list[str] = field(default_factory=list)  # the scratch model's body
    path: str = "<repl>"

    # -- input completeness (for multi-line editing) ---------------------------------------
    @staticmethod
    def is_complete(text: str) -> bool:
        """False while a block or bracket is open: the prompt then continues the input."""
        if not text.strip() or text.lstrip().startswith(":"):
            return True
        if open_brackets(text, len(text)):
            return False
        return not TRAILING_OPERATOR.search(text.rstrip())

    # -- evaluation ------------------------------------------------------------------------
    def source(
        self, extra_items: dict[str, str] | None = None, statements: list[str] | None = None
    ) -> str:
        items = dict(self.items, **(extra_items or {}))
        body = self.statements if statements is None else statements
        parts = list(items.values())
        if body:
            parts.append(_scratch_source(body))
        return "\n\n".join(parts) + "\n"

    def handle(self, text: str) -> list[Reply]:
        text = text.strip()
        if not text:
            return []
        if text.startswith(":"):
            return self.command(text)
        module = parse(text, "<input>")
        if not module.diagnostics and module.module.items:
            return self._define(text, module.module)
        return self._statement(text)

    def _define(self, text: str, module: ast.Module) -> list[Reply]:
        new: dict[str, str] = {}
        for item in module.items:
            new[_item_key(item)] = text[item.span.start : item.span.end]
        result = self._check(self.source(new))
        errors = [d for d in result.errors]
        if errors:
            return [_error(result)]
        self.items.update(new)
        replies = []
        for key in new:
            kind, _, name = key.partition(" ")
            replies.append(Reply("ok", f"defined {kind} {name}"))
        return replies

    def _statement(self, text: str) -> list[Reply]:
        candidates = [text]
        if not text.startswith(("input ", "return ")) and "=" not in _strip_strings(text):
            candidates.insert(0, f"{_IT} = {text}")
        last: CheckResult | None = None
        for stmt in candidates:
            body = [*self.statements, stmt]
            source = self.source(statements=body)
            result = self._check(source)
            syntax = [d for d in result.diagnostics if d.code.startswith("E00")]
            last = result
            if syntax:
                continue
            if result.has_errors:
                return [_error(result)]
            self.statements = body
            return self._types_of(result, source, stmt)
        assert last is not None
        return [_error(last)]

    def _types_of(self, result: CheckResult, source: str, stmt: str) -> list[Reply]:
        start = source.rindex(stmt)
        end = start + len(stmt)
        shown = []
        for file, span, text in result.hover:
            if file.path == self.path and start <= span.start < end:
                shown.append(f"{source[span.start : span.end]}: {text}")
        return [Reply("type", line) for line in dict.fromkeys(shown)] or [Reply("ok", "ok")]

    def _check(self, source: str) -> CheckResult:
        result = check_source(source, self.path)
        # The scratch model's `return` is synthesised: an empty body is not an error.
        return result

    # -- commands ----------------------------------------------------------------------------
    def command(self, text: str) -> list[Reply]:
        name, _, arg = text[1:].partition(" ")
        arg = arg.strip()
        handler = getattr(self, f"cmd_{name}", None)
        if handler is None:
            return [Reply("error", f"unknown command :{name}; :help lists them")]
        return handler(arg)  # type: ignore[no-any-return]

    def cmd_help(self, arg: str) -> list[Reply]:
        return [Reply("info", HELP)]

    def cmd_reset(self, arg: str) -> list[Reply]:
        self.items.clear()
        self.statements.clear()
        return [Reply("ok", "session cleared")]

    def cmd_shape(self, arg: str) -> list[Reply]:
        if not arg:
            return [Reply("error", "usage: :shape EXPR")]
        saved = list(self.statements)
        replies = self._statement(arg if "=" in arg else f"{_IT} = {arg}")
        self.statements = saved
        return replies

    def cmd_doc(self, arg: str) -> list[Reply]:
        from nndsl.ops import lookup

        spec = lookup(arg)
        if spec is not None:
            rule = f"\nShape: {spec.rule}" if spec.rule else ""
            return [Reply("info", f"{spec.signature().text()}\n\n{spec.doc()}{rule}")]
        for key, src in self.items.items():
            if key.split(" ", 1)[1] == arg:
                return [Reply("info", src)]
        return [Reply("error", f"no layer, function or definition named `{arg}`")]

    def cmd_summary(self, arg: str) -> list[Reply]:
        result = self._check(self.source())
        graph = result.graph(arg or None)
        if graph is None:
            names = sorted(result.program.graphs) if result.program else []
            return [
                Reply(
                    "error",
                    f"no model `{arg}` with default arguments; models: "
                    + (", ".join(n for n in names if n != SCRATCH) or "none"),
                )
            ]
        from nndsl.ir.summary import summarize

        s = summarize(graph)
        lines = [f"{r.name} ({r.type})  {r.output_shape}  {r.params:,}" for r in s.rows]
        lines.append(
            f"Total params: {s.total:,} (trainable {s.trainable:,}, "
            f"non-trainable {s.non_trainable:,})"
        )
        return [Reply("info", "\n".join(lines))]

    def cmd_load(self, arg: str) -> list[Reply]:
        try:
            text = Path(arg).read_text(encoding="utf-8")
        except OSError as err:
            return [Reply("error", f"cannot read {arg}: {err.strerror or err}")]
        module = parse(text, arg)
        if module.diagnostics:
            return [Reply("error", render_plain(module.diagnostics), tuple(module.diagnostics))]
        return self._define(text, module.module)

    def cmd_save(self, arg: str) -> list[Reply]:
        from nndsl.syntax.printer import format_source

        if not arg:
            return [Reply("error", "usage: :save FILE")]
        text = "\n\n".join(self.items.values()) + "\n"
        formatted = format_source(text) or text
        Path(arg).write_text(formatted, encoding="utf-8")
        return [Reply("ok", f"wrote {len(self.items)} definitions to {arg}")]

    def cmd_quit(self, arg: str) -> list[Reply]:
        raise EOFError


HELP = """\
Type definitions (const, block, model, data, import) or statements (input x: f32[B, 64],
h = x |> Dense(32)); the types of new tensors are shown at once.
  :shape EXPR      the type of an expression, without keeping it
  :doc NAME        a layer's or definition's documentation
  :summary [MODEL] layers, shapes and parameter counts
  :load FILE       add a file's definitions      :save FILE   write the definitions, formatted
  :reset           forget everything             :quit        leave (or Ctrl-D)"""


def _scratch_source(body: list[str]) -> str:
    lines = "\n".join(f"    {s}" for s in body)
    return f"model {SCRATCH}() {{\n{lines}\n    return {_last_tensor(body)}\n}}"


def _last_tensor(body: list[str]) -> str:
    for stmt in reversed(body):
        head = _strip_strings(stmt).split("=", 1)[0]
        if "=" in _strip_strings(stmt) and "==" not in head:
            return head.split(",")[-1].split(":")[0].strip()
        if stmt.startswith("input "):
            return stmt[6:].split(":")[0].strip()
    return "<missing>"


def _strip_strings(text: str) -> str:
    out, inside = [], False
    for ch in text:
        if ch == '"':
            inside = not inside
        elif not inside:
            out.append(ch)
    return "".join(out)


def _item_key(item: ast.Item) -> str:
    if isinstance(item, ast.Definition):
        return f"{item.kind} {item.name.name}"
    if isinstance(item, ast.Const):
        return f"const {item.name.name}"
    if isinstance(item, ast.DataDef):
        return f"data {item.name.name}"
    if isinstance(item, ast.Import):
        return f"import {item.path}"
    return f"train {id(item)}"


def _error(result: CheckResult) -> Reply:
    diags = tuple(d for d in result.diagnostics if d.is_error)
    return Reply("error", render_plain(diags), diags)
