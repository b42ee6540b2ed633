"""The formatter: a syntax tree back to canonical source, keeping comments.

Spacing, indentation (4 spaces) and parentheses are canonical; numbers and strings keep their
spelling; comments stay before (or at the end of) the statement they were written with.
Formatting is idempotent, and the tree of the output equals the tree of the input.
"""

from __future__ import annotations

import re

from nndsl.records import record
from nndsl.source import Span
from nndsl.syntax import ast
from nndsl.syntax.keywords import KEYWORDS
from nndsl.syntax.parser import parse

_INDENT = "    "
_PREC = {
    "or": 1,
    "and": 2,
    "==": 4,
    "!=": 4,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "@": 6,
    "%": 6,
    "**": 7,
}
# What keeps a file from being formatted: unreadable (E0103), syntax errors, limits.
FORMAT_BLOCKERS = frozenset({"E0103", "E0001", "E0002", "E0003", "E0810", "E0811"})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COMMENT = re.compile(r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"|#[^\n]*')


@record(frozen=True)
class _Comment:
    start: int
    text: str
    own_line: bool


def format_source(text: str, path: str = "<input>") -> str | None:
    """The formatted text, or None when the file has syntax errors (nothing to trust)."""
    result = parse(text, path)
    if any(d.is_error for d in result.diagnostics):  # syntax errors, or a limit (E0810/E0811)
        return None
    return _Printer(text).module(result.module)


class _Printer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.comments: list[_Comment] = []
        for m in _COMMENT.finditer(text):
            if m.group().startswith("#"):
                line_start = text.rfind("\n", 0, m.start()) + 1
                own = text[line_start : m.start()].strip() == ""
                self.comments.append(_Comment(m.start(), m.group().rstrip(), own))
        self.next_comment = 0
        self.out: list[str] = []

    # -- comments and layout ---------------------------------------------------------------
    def _leading(self, before: int, indent: str) -> None:
        """Comments that start before `before`, each on its own line; blank lines between
        them, or between them and what follows, are kept (one at most)."""
        emitted = False
        last_end = None
        while self.next_comment < len(self.comments):
            c = self.comments[self.next_comment]
            if c.start >= before:
                break
            if emitted and last_end is not None:
                self._blank_between(last_end, c.start)
            self.out.append(indent + c.text)
            last_end = c.start + len(c.text)
            emitted = True
            self.next_comment += 1
        if emitted and last_end is not None and before <= len(self.text):
            self._blank_between(last_end, before)

    def _hoist(self, node: ast.Item | ast.Stmt | ast.Setting, indent: str) -> None:
        """A construct printed on one line: the comments written inside it (a multi-line
        expression) go above it, one per line. After it they would read back as the next
        construct's, and formatting would not be idempotent."""
        if isinstance(node, ast.Definition | ast.TrainDef | ast.If | ast.Repeat):
            return  # printed over several lines: its comments stay inside
        while self.next_comment < len(self.comments):
            c = self.comments[self.next_comment]
            if c.start >= node.span.end:
                break
            self.out.append(indent + c.text)
            self.next_comment += 1

    def _closing_brace(self, start: int) -> int:
        """The offset of the first `}` after `start` outside comments: comments before it
        belong to the block it closes, comments after it to what follows."""
        i = start
        while i < len(self.text):
            ch = self.text[i]
            if ch == "#":
                newline = self.text.find("\n", i)
                i = len(self.text) if newline < 0 else newline
            elif ch == "}":
                return i
            i += 1
        return len(self.text)

    def _blank_between(self, start: int, end: int) -> None:
        """One blank line where the source has a blank line (not just code) between."""
        lines = self.text[start:end].split("\n")[1:-1]
        if any(line.strip() == "" for line in lines) and self.out and self.out[-1] != "":
            self.out.append("")

    def _trailing(self, end: int) -> str:
        """A comment on the same line right after `end`."""
        line_end = self.text.find("\n", end)
        line_end = len(self.text) if line_end < 0 else line_end
        if self.next_comment < len(self.comments):
            c = self.comments[self.next_comment]
            if end <= c.start < line_end and not c.own_line:
                self.next_comment += 1
                return "  " + c.text
        return ""

    def _blank_before(self, start: int, previous_end: int | None) -> None:
        if previous_end is None or not self.out:
            return
        between = self.text[previous_end:start]
        # A blank line in the source (outside comments) survives as one blank line.
        lines = between.split("\n")
        if any(line.strip() == "" for line in lines[1:-1]) and self.out[-1] != "":
            self.out.append("")

    # -- items ------------------------------------------------------------------------------
    def module(self, module: ast.Module) -> str:
        previous: ast.Item | None = None
        for item in module.items:
            if previous is not None:
                single = (ast.Import, ast.Const)
                same_group = isinstance(item, single) and type(item) is type(previous)
                if not same_group:
                    if self.out and self.out[-1] != "":
                        self.out.append("")
                else:
                    self._blank_before(item.span.start, previous.span.end)
            self._leading(item.span.start, "")
            self._hoist(item, "")
            self._item(item)
            previous = item
        self._leading(len(self.text) + 1, "")
        while self.out and self.out[-1] == "":
            self.out.pop()
        return "\n".join(self.out) + "\n" if self.out else ""

    def _item(self, item: ast.Item) -> None:
        if isinstance(item, ast.Import):
            target = item.path if not item.is_file else _quote(item.path)
            self.out.append(f"import {target}" + self._trailing(item.span.end))
        elif isinstance(item, ast.Const):
            line = f"const {item.name.name} = {self.expr(item.value)}"
            self.out.append(line + self._trailing(item.span.end))
        elif isinstance(item, ast.Definition):
            params = ", ".join(
                f"{p.name.name}: {p.type.name}"
                + (f" = {self.expr(p.default)}" if p.default is not None else "")
                for p in item.params
            )
            header = f"{item.kind} {item.name.name}({params}) {{"
            self._block(header, item.body, item.span, "")
        elif isinstance(item, ast.DataDef):
            line = f"data {item.name.name} = {self.expr(item.source)}"
            self.out.append(line + self._trailing(item.span.end))
        elif isinstance(item, ast.TrainDef):
            first = item.settings[0].span.start if item.settings else item.span.end
            self.out.append(
                f"train {self.expr(item.model)} on {item.data.name} {{"
                + self._trailing_before(first)
            )
            self._settings((*item.settings, *item.sections), _INDENT)
            self._leading(item.span.end - 1, _INDENT)
            self.out.append("}" + self._trailing(item.span.end))

    def _settings(self, entries: tuple[ast.Setting | ast.Section, ...], indent: str) -> None:
        """The settings and sections of a `train` section or of a section, in source order."""
        previous = None
        for s in sorted(entries, key=lambda n: n.span.start):
            self._blank_before(s.span.start, previous)
            self._leading(s.span.start, indent)
            if isinstance(s, ast.Section):
                first = s.settings[0].span.start if s.settings else s.span.end
                self.out.append(f"{indent}{s.name.name} {{" + self._trailing_before(first))
                self._settings(s.settings, indent + _INDENT)
                self._leading(s.span.end - 1, indent + _INDENT)
                self.out.append(indent + "}" + self._trailing(s.span.end))
            else:
                self._hoist(s, indent)
                line = f"{indent}{s.name.name} = {self.expr(s.value)}"
                self.out.append(line + self._trailing(s.span.end))
            previous = s.span.end

    def _trailing_before(self, limit: int) -> str:
        if self.next_comment < len(self.comments):
            c = self.comments[self.next_comment]
            if c.start < limit and not c.own_line:
                self.next_comment += 1
                return "  " + c.text
        return ""

    def _block(self, header: str, body: tuple[ast.Stmt, ...], span: Span, indent: str) -> None:
        first = body[0].span.start if body else span.end
        self.out.append(indent + header + self._trailing_before(first))
        self._body(body, indent + _INDENT)
        self._leading(span.end - 1, indent + _INDENT)
        self.out.append(indent + "}")

    def _body(self, body: tuple[ast.Stmt, ...], indent: str) -> None:
        previous: int | None = None
        for stmt in body:
            self._blank_before(stmt.span.start, previous)
            self._leading(stmt.span.start, indent)
            self._hoist(stmt, indent)
            self._stmt(stmt, indent)
            previous = stmt.span.end

    def _stmt(self, stmt: ast.Stmt, indent: str) -> None:
        if isinstance(stmt, ast.InputStmt):
            line = f"input {stmt.name.name}: {self.type(stmt.type)}"
        elif isinstance(stmt, ast.Assign):
            targets = ", ".join(
                t.name.name + (f": {self.type(t.annotation)}" if t.annotation else "")
                for t in stmt.targets
            )
            line = f"{targets} = {self.expr(stmt.value)}"
        elif isinstance(stmt, ast.Return):
            line = "return " + ", ".join(self.expr(v) for v in stmt.values)
        elif isinstance(stmt, ast.If):
            self._if(stmt, indent, prefix="")
            return
        elif isinstance(stmt, ast.Repeat):
            self._block(f"repeat {self.expr(stmt.count)} {{", stmt.body, stmt.span, indent)
            return
        else:
            raise AssertionError(stmt)
        self.out.append(indent + line + self._trailing(stmt.span.end))

    def _if(self, stmt: ast.If, indent: str, prefix: str) -> None:
        first = stmt.then[0].span.start if stmt.then else stmt.span.end
        self.out.append(
            f"{indent}{prefix}if {self.expr(stmt.cond)} {{" + self._trailing_before(first)
        )
        self._body(stmt.then, indent + _INDENT)
        orelse = stmt.orelse
        if orelse is None:
            self._leading(stmt.span.end - 1, indent + _INDENT)
            self.out.append(indent + "}")
            return
        then_end = stmt.then[-1].span.end if stmt.then else stmt.cond.span.end
        self._leading(self._closing_brace(then_end), indent + _INDENT)
        if len(orelse) == 1 and isinstance(orelse[0], ast.If):
            self.out.append(indent + "}")
            self.out[-1] += " else "
            head = self.out.pop()
            # `} else if ... {` on one line
            saved = len(self.out)
            self._if(orelse[0], indent, prefix="")
            self.out[saved] = head + self.out[saved].lstrip()
            return
        self.out.append(indent + "} else {")
        self._body(orelse, indent + _INDENT)
        self._leading(stmt.span.end - 1, indent + _INDENT)
        self.out.append(indent + "}")

    # -- expressions -----------------------------------------------------------------------
    def type(self, t: ast.TensorTypeExpr) -> str:
        return f"{t.dtype.name}[{', '.join(self.expr(d) for d in t.dims)}]"

    def expr(self, e: ast.Expr, level: int = 0) -> str:
        text, own = self._expr(e)
        return f"({text})" if own < level else text

    def _source(self, e: ast.Expr) -> str:
        return self.text[e.span.start : e.span.end]

    def _expr(self, e: ast.Expr) -> tuple[str, int]:
        if isinstance(e, ast.Name):
            return e.ident.name, 9
        if isinstance(e, ast.IntLit | ast.FloatLit):
            # the user's spelling (`1e-3`, `1_000`), minus any comment or line break inside
            # a negative literal such as `-  # note\n 0` (the comment is printed on its own)
            text = "".join(re.sub(r"#[^\n]*", "", self._source(e)).split())
            return text, 7 if text.startswith("-") else 9
        if isinstance(e, ast.StrLit):
            return _quote(e.value), 9
        if isinstance(e, ast.BoolLit):
            return ("true" if e.value else "false"), 9
        if isinstance(e, ast.NoneLit):
            return "none", 9
        if isinstance(e, ast.ListLit):
            return "[" + ", ".join(self.expr(i) for i in e.items) + "]", 9
        if isinstance(e, ast.TupleLit):
            return "(" + ", ".join(self.expr(i) for i in e.items) + ")", 9
        if isinstance(e, ast.DictLit):
            return "{" + ", ".join(
                f"{_key(d.key.name)}: {self.expr(d.value)}" for d in e.entries
            ) + "}", 9
        if isinstance(e, ast.Call):
            return f"{self.expr(e.func, 8)}({self._args(e.args)})", 8
        if isinstance(e, ast.Pipe):
            return f"{self.expr(e.value, 0)} |> {self._stage(e.stage)}", 0
        if isinstance(e, ast.RepeatStage):
            return self._stage(e), 0
        if isinstance(e, ast.UnaryOp):
            if e.op == "not":
                return f"not {self.expr(e.operand, 3)}", 3
            return f"-{self.expr(e.operand, 7)}", 7
        if isinstance(e, ast.BinOp):
            prec = _PREC[e.op]
            if prec == 4:  # comparisons do not chain
                return f"{self.expr(e.left, 5)} {e.op} {self.expr(e.right, 5)}", 4
            if e.op == "**":  # binds tighter than unary `-` on its left, right-associative
                return f"{self.expr(e.left, 8)} ** {self.expr(e.right, 7)}", 7
            return f"{self.expr(e.left, prec)} {e.op} {self.expr(e.right, prec + 1)}", prec
        raise AssertionError(e)

    def _stage(self, e: ast.Expr) -> str:
        if isinstance(e, ast.RepeatStage):
            return f"repeat {self.expr(e.count, 9)} {self._stage(e.stage)}"
        return self.expr(e, 8)

    def _args(self, args: tuple[ast.Argument, ...]) -> str:
        return ", ".join(
            (f"{a.name.name} = " if a.name is not None else "") + self.expr(a.value) for a in args
        )


def _key(name: str) -> str:
    """A dict key as written canonically: bare when it reads back as a name, else quoted."""
    return name if _NAME.fullmatch(name) and name not in KEYWORDS else _quote(name)


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped.replace(chr(9), chr(92) + "t")}"'
