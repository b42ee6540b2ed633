"""Parse-time construction of the syntax tree: one callback per grammar rule.

The parser keeps every token (`keep_all_tokens`) and calls these methods as it reduces, so no
intermediate parse tree is built and spans come from the first and last token of each rule,
which is cheaper than Lark's position propagation.
"""

from __future__ import annotations

import re
from typing import Any

from lark import Token, Transformer

from nndsl.limits import MAX_INT
from nndsl.source import Span
from nndsl.syntax import ast

MISSING_NAME = "<missing>"  # value of names the error recovery inserted


class Seq(tuple):  # type: ignore[type-arg]
    """A tuple of nodes that remembers the span of the source it came from."""

    span: Span


def _seq(items: list[Any], span: Span) -> Seq:
    s = Seq(items)
    s.span = span
    return s


_new = object.__new__
_set_start = Span.__dict__["start"].__set__
_set_end = Span.__dict__["end"].__set__


def _make_span(start: int, end: int) -> Span:
    """`Span(start, end)` without the dataclass `__init__` and `__post_init__` (half the
    cost; the parser makes one per rule and name)."""
    span = _new(Span)
    _set_start(span, start)
    _set_end(span, end if end >= start else start)  # as `Span.__post_init__`
    return span


def _tok_span(tok: Token) -> Span:
    start = tok.start_pos or 0
    end = tok.end_pos if tok.end_pos is not None else start + len(tok)
    return _make_span(start, end)


def _bounds(x: Any) -> tuple[int, int] | None:
    if x is None:
        return None
    if isinstance(x, Token):
        start = x.start_pos or 0
        return start, x.end_pos if x.end_pos is not None else start + len(x)
    span = getattr(x, "span", None)
    if isinstance(span, Span):
        return span.start, span.end
    if isinstance(x, tuple | list):
        first = last = None
        for c in x:
            first = _bounds(c)
            if first is not None:
                break
        for c in reversed(x):
            last = _bounds(c)
            if last is not None:
                break
        if first is not None and last is not None:
            return first[0], last[1]
    return None


def _span(children: list[Any]) -> Span:
    """From the start of the first child with a position to the end of the last one (called
    for every rule: plain loops, no generators)."""
    for c in children:
        first = _bounds(c)
        if first is not None:
            break
    else:
        return Span(0, 0)
    for c in reversed(children):
        last = _bounds(c)
        if last is not None:
            return _make_span(first[0], last[1])
    return Span(0, 0)  # unreachable: `first` has bounds


def _ident(tok: Token) -> ast.Ident:
    return ast.Ident(str(tok), _tok_span(tok))


def _nodes(children: list[Any]) -> list[Any]:
    """The children that are not punctuation or keywords (and not empty placeholders)."""
    return [c for c in children if c is not None and not _is_syntax(c)]


def _is_syntax(c: Any) -> bool:
    return isinstance(c, Token) and c.type not in (
        "NAME",
        "INT",
        "FLOAT",
        "STRING",
        "COMPARE",
        "ADD",
        "SUB",
        "MUL",
        "POW",
    )


class ToAst(Transformer[Token, ast.Module]):
    """Each method receives the rule's children, already lowered, tokens included."""

    # -- items -------------------------------------------------------------------------
    def start(self, ch: list[Any]) -> ast.Module:
        items = [i for i in ch if i is not None and not isinstance(i, Token)]
        return ast.Module(tuple(items), _span(ch))

    def empty_item(self, ch: list[Any]) -> None:
        return None

    def empty_stmt(self, ch: list[Any]) -> None:
        return None

    def import_item(self, ch: list[Any]) -> ast.Import:
        target = ch[1]
        if isinstance(target, Token):
            return ast.Import(_unquote(str(target)), True, _span(ch))
        return ast.Import(".".join(str(t) for t in target if t.type == "NAME"), False, _span(ch))

    def dotted_name(self, ch: list[Token]) -> Seq:
        return _seq(ch, _span(ch))

    def const_item(self, ch: list[Any]) -> ast.Const:
        name, value = _nodes(ch)
        return ast.Const(_ident(name), value, _span(ch))

    def _definition(self, kind: str, ch: list[Any]) -> ast.Definition:
        # KEYWORD NAME ( [params] ) body
        name, params, body = ch[1], ch[3], ch[5]
        return ast.Definition(kind, _ident(name), tuple(params or ()), tuple(body), _span(ch))

    def block_item(self, ch: list[Any]) -> ast.Definition:
        return self._definition("block", ch)

    def model_item(self, ch: list[Any]) -> ast.Definition:
        return self._definition("model", ch)

    def params(self, ch: list[Any]) -> Seq:
        return _seq([p for p in ch if isinstance(p, ast.Param)], _span(ch))

    def param(self, ch: list[Any]) -> ast.Param:
        # NAME : NAME [= expr]
        default = ch[4] if len(ch) > 4 else None
        return ast.Param(_ident(ch[0]), _ident(ch[2]), default, _span(ch))

    def body(self, ch: list[Any]) -> Seq:
        return _seq([s for s in ch if s is not None and not isinstance(s, Token)], _span(ch))

    def data_item(self, ch: list[Any]) -> ast.DataDef:
        # data NAME = call
        return ast.DataDef(_ident(ch[1]), ch[3], _span(ch))

    def train_item(self, ch: list[Any]) -> ast.TrainDef:
        # train callee on NAME { setting* }
        settings = tuple(s for s in ch[5:] if isinstance(s, ast.Setting))
        sections = tuple(s for s in ch[5:] if isinstance(s, ast.Section))
        return ast.TrainDef(ch[1], _ident(ch[3]), settings, _span(ch), sections)

    def setting(self, ch: list[Any]) -> ast.Setting:
        return ast.Setting(_ident(ch[0]), ch[2], _span(ch))

    def section(self, ch: list[Any]) -> ast.Section:
        # NAME { setting* }
        settings = tuple(s for s in ch[2:] if isinstance(s, ast.Setting))
        return ast.Section(_ident(ch[0]), settings, _span(ch))

    # -- statements --------------------------------------------------------------------
    def input_stmt(self, ch: list[Any]) -> ast.InputStmt:
        # input NAME : tensor_type
        return ast.InputStmt(_ident(ch[1]), ch[3], _span(ch))

    def assign_stmt(self, ch: list[Any]) -> ast.Assign:
        targets = tuple(t for t in ch[:-1] if isinstance(t, ast.Target))
        return ast.Assign(targets, ch[-1], _span(ch))

    def target(self, ch: list[Any]) -> ast.Target:
        annotation = ch[2] if len(ch) > 2 else None
        return ast.Target(_ident(ch[0]), annotation, _span(ch))

    def return_stmt(self, ch: list[Any]) -> ast.Return:
        return ast.Return(tuple(_nodes(ch)), _span(ch))

    def if_stmt(self, ch: list[Any]) -> ast.If:
        # if expr body [else_clause]
        orelse = ch[3] if len(ch) > 3 else None
        return ast.If(ch[1], tuple(ch[2]), None if orelse is None else tuple(orelse), _span(ch))

    def else_clause(self, ch: list[Any]) -> Seq:
        body = ch[1]
        return _seq(list(body), _span(ch))

    def else_if(self, ch: list[Any]) -> Seq:
        return _seq([ch[1]], _span(ch))

    def repeat_stmt(self, ch: list[Any]) -> ast.Repeat:
        return ast.Repeat(ch[1], tuple(ch[2]), _span(ch))

    def tensor_type(self, ch: list[Any]) -> ast.TensorTypeExpr:
        # NAME [ [dims] ]
        return ast.TensorTypeExpr(_ident(ch[0]), tuple(ch[2] or ()), _span(ch))

    def dims(self, ch: list[Any]) -> Seq:
        return _seq(_nodes(ch), _span(ch))

    # -- expressions -------------------------------------------------------------------
    def pipe(self, ch: list[Any]) -> ast.Pipe:
        return ast.Pipe(ch[0], ch[2], _span(ch))

    def repeat_stage(self, ch: list[Any]) -> ast.RepeatStage:
        return ast.RepeatStage(ch[1], ch[2], _span(ch))

    def _bin(self, op: str, op_tok: Token, left: Any, right: Any, ch: list[Any]) -> ast.BinOp:
        return ast.BinOp(op, left, right, _tok_span(op_tok), _span(ch))

    def or_op(self, ch: list[Any]) -> ast.BinOp:
        return self._bin("or", ch[1], ch[0], ch[2], ch)

    def and_op(self, ch: list[Any]) -> ast.BinOp:
        return self._bin("and", ch[1], ch[0], ch[2], ch)

    def not_op(self, ch: list[Any]) -> ast.UnaryOp:
        return ast.UnaryOp("not", ch[1], _span(ch))

    def compare(self, ch: list[Any]) -> ast.BinOp:
        return self._bin(str(ch[1]), ch[1], ch[0], ch[2], ch)

    def binary(self, ch: list[Any]) -> ast.BinOp:
        return self._bin(str(ch[1]), ch[1], ch[0], ch[2], ch)

    def neg(self, ch: list[Any]) -> ast.Expr:
        operand = ch[1]
        span = _span(ch)
        if isinstance(operand, ast.IntLit):
            return ast.IntLit(-operand.value, span)
        if isinstance(operand, ast.FloatLit):
            return ast.FloatLit(-operand.value, span)
        return ast.UnaryOp("-", operand, span)

    def call(self, ch: list[Any]) -> ast.Call:
        # postfix ( [args] )
        return ast.Call(ch[0], tuple(ch[2] or ()), _span(ch))

    def args(self, ch: list[Any]) -> Seq:
        out = []
        for a in ch:
            if a is None or isinstance(a, Token):
                continue
            out.append(a if isinstance(a, ast.Argument) else ast.Argument(None, a, a.span))
        return _seq(out, _span(ch))

    def keyword_arg(self, ch: list[Any]) -> ast.Argument:
        return ast.Argument(_ident(ch[0]), ch[2], _span(ch))

    def name(self, ch: list[Token]) -> ast.Name:
        ident = _ident(ch[0])
        return ast.Name(ident, ident.span)

    def int_lit(self, ch: list[Token]) -> ast.IntLit:
        digits = str(ch[0]).replace("_", "")
        # Longer than any int64: kept as "just over the limit" (the checker reports E0815;
        # the formatter prints the spelling), never converted (Python refuses > 4,300 digits).
        value = int(digits) if len(digits) <= 20 else MAX_INT + 1
        return ast.IntLit(value, _span(ch))

    def float_lit(self, ch: list[Token]) -> ast.FloatLit:
        return ast.FloatLit(float(str(ch[0])), _span(ch))

    def string_lit(self, ch: list[Token]) -> ast.StrLit:
        return ast.StrLit(_unquote(str(ch[0])), _span(ch))

    def true_lit(self, ch: list[Any]) -> ast.BoolLit:
        return ast.BoolLit(True, _span(ch))

    def false_lit(self, ch: list[Any]) -> ast.BoolLit:
        return ast.BoolLit(False, _span(ch))

    def none_lit(self, ch: list[Any]) -> ast.NoneLit:
        return ast.NoneLit(_span(ch))

    def list_lit(self, ch: list[Any]) -> ast.ListLit:
        args = ch[1] or ()
        return ast.ListLit(tuple(a.value for a in args), _span(ch))

    def tuple_lit(self, ch: list[Any]) -> ast.TupleLit:
        items = tuple(c for c in ch[1:-1] if not isinstance(c, Token) and c is not None)
        return ast.TupleLit(items, _span(ch))

    def dict_lit(self, ch: list[Any]) -> ast.DictLit:
        # { [dict_entries] }
        entries = ch[1] or ()
        return ast.DictLit(tuple(entries), _span(ch))

    def dict_entries(self, ch: list[Any]) -> Seq:
        return _seq([e for e in ch if isinstance(e, ast.DictEntry)], _span(ch))

    def dict_entry(self, ch: list[Any]) -> ast.DictEntry:
        # (NAME | STRING) : expr
        key = ch[0]
        span = _tok_span(key)
        name = _unquote(str(key)) if key.type == "STRING" else str(key)
        return ast.DictEntry(ast.Ident(name, span), ch[2], _span(ch))

    def paren(self, ch: list[Any]) -> ast.Expr:
        return ch[1]  # type: ignore[no-any-return]


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"'}
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)  # a backslash and the character it escapes


def _unquote(text: str) -> str:
    body = text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text
    if "\\" not in body:
        return body
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m[1], m[1]), body)
