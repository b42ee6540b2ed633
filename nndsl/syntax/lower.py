"""Lark parse tree to the typed syntax tree: one method per grammar rule."""

from __future__ import annotations

from typing import Any

from lark import Token, Transformer, v_args
from lark.tree import Meta

from nndsl.source import Span
from nndsl.syntax import ast

MISSING_NAME = "<missing>"  # value of names the error recovery inserted


def _span(meta: Meta) -> Span:
    if getattr(meta, "empty", True):
        return Span(0, 0)
    return Span(meta.start_pos, meta.end_pos)


def _tok_span(tok: Token) -> Span:
    start = tok.start_pos or 0
    end = tok.end_pos if tok.end_pos is not None else start + len(tok)
    return Span(start, end)


def _ident(tok: Token) -> ast.Ident:
    return ast.Ident(str(tok), _tok_span(tok))


def _expr_span(e: Any) -> Span:
    span = getattr(e, "span", None)
    return span if isinstance(span, Span) else Span(0, 0)


@v_args(meta=True)
class ToAst(Transformer[Token, ast.Module]):
    """Each method receives the rule's children already lowered."""

    # -- items -------------------------------------------------------------------------
    def start(self, meta: Meta, items: list[Any]) -> ast.Module:
        return ast.Module(tuple(i for i in items if i is not None), _span(meta))

    def empty_item(self, meta: Meta, _: list[Any]) -> None:
        return None

    def empty_stmt(self, meta: Meta, _: list[Any]) -> None:
        return None

    def import_item(self, meta: Meta, ch: list[Any]) -> ast.Import:
        target = ch[0]
        if isinstance(target, Token):
            return ast.Import(_unquote(str(target)), True, _span(meta))
        return ast.Import(str(target), False, _span(meta))

    def dotted_name(self, meta: Meta, ch: list[Token]) -> str:
        return ".".join(str(t) for t in ch)

    def const_item(self, meta: Meta, ch: list[Any]) -> ast.Const:
        return ast.Const(_ident(ch[0]), ch[1], _span(meta))

    def _definition(self, kind: str, meta: Meta, ch: list[Any]) -> ast.Definition:
        name, params, body = ch
        return ast.Definition(kind, _ident(name), tuple(params or ()), body, _span(meta))

    def block_item(self, meta: Meta, ch: list[Any]) -> ast.Definition:
        return self._definition("block", meta, ch)

    def model_item(self, meta: Meta, ch: list[Any]) -> ast.Definition:
        return self._definition("model", meta, ch)

    def params(self, meta: Meta, ch: list[Any]) -> tuple[ast.Param, ...]:
        return tuple(p for p in ch if p is not None)

    def param(self, meta: Meta, ch: list[Any]) -> ast.Param:
        return ast.Param(_ident(ch[0]), _ident(ch[1]), ch[2], _span(meta))

    def body(self, meta: Meta, ch: list[Any]) -> tuple[ast.Stmt, ...]:
        return tuple(s for s in ch if s is not None)

    def data_item(self, meta: Meta, ch: list[Any]) -> ast.DataDef:
        return ast.DataDef(_ident(ch[0]), ch[1], _span(meta))

    def train_item(self, meta: Meta, ch: list[Any]) -> ast.TrainDef:
        return ast.TrainDef(ch[0], _ident(ch[1]), tuple(ch[2:]), _span(meta))

    def setting(self, meta: Meta, ch: list[Any]) -> ast.Setting:
        return ast.Setting(_ident(ch[0]), ch[1], _span(meta))

    # -- statements --------------------------------------------------------------------
    def input_stmt(self, meta: Meta, ch: list[Any]) -> ast.InputStmt:
        return ast.InputStmt(_ident(ch[0]), ch[1], _span(meta))

    def assign_stmt(self, meta: Meta, ch: list[Any]) -> ast.Assign:
        return ast.Assign(tuple(ch[:-1]), ch[-1], _span(meta))

    def target(self, meta: Meta, ch: list[Any]) -> ast.Target:
        return ast.Target(_ident(ch[0]), ch[1], _span(meta))

    def return_stmt(self, meta: Meta, ch: list[Any]) -> ast.Return:
        return ast.Return(tuple(ch), _span(meta))

    def if_stmt(self, meta: Meta, ch: list[Any]) -> ast.If:
        cond, then, orelse = ch
        return ast.If(cond, then, orelse, _span(meta))

    def else_if(self, meta: Meta, ch: list[Any]) -> tuple[ast.Stmt, ...]:
        return (ch[0],)

    def repeat_stmt(self, meta: Meta, ch: list[Any]) -> ast.Repeat:
        return ast.Repeat(ch[0], ch[1], _span(meta))

    def tensor_type(self, meta: Meta, ch: list[Any]) -> ast.TensorTypeExpr:
        return ast.TensorTypeExpr(_ident(ch[0]), tuple(ch[1] or ()), _span(meta))

    def dims(self, meta: Meta, ch: list[Any]) -> tuple[ast.Expr, ...]:
        return tuple(d for d in ch if d is not None)

    # -- expressions -------------------------------------------------------------------
    def pipe(self, meta: Meta, ch: list[Any]) -> ast.Pipe:
        return ast.Pipe(ch[0], ch[2], _span(meta))

    def repeat_stage(self, meta: Meta, ch: list[Any]) -> ast.RepeatStage:
        return ast.RepeatStage(ch[0], ch[1], _span(meta))

    def _bin(self, meta: Meta, op: str, op_tok: Token | None, left: Any, right: Any) -> ast.BinOp:
        op_span = (
            _tok_span(op_tok)
            if op_tok is not None
            else Span(_expr_span(left).end, _expr_span(right).start)
        )
        return ast.BinOp(op, left, right, op_span, _span(meta))

    def or_op(self, meta: Meta, ch: list[Any]) -> ast.BinOp:
        return self._bin(meta, "or", None, ch[0], ch[-1])

    def and_op(self, meta: Meta, ch: list[Any]) -> ast.BinOp:
        return self._bin(meta, "and", None, ch[0], ch[-1])

    def not_op(self, meta: Meta, ch: list[Any]) -> ast.UnaryOp:
        return ast.UnaryOp("not", ch[-1], _span(meta))

    def compare(self, meta: Meta, ch: list[Any]) -> ast.BinOp:
        return self._bin(meta, str(ch[1]), ch[1], ch[0], ch[2])

    def binary(self, meta: Meta, ch: list[Any]) -> ast.BinOp:
        return self._bin(meta, str(ch[1]), ch[1], ch[0], ch[2])

    def neg(self, meta: Meta, ch: list[Any]) -> ast.Expr:
        operand = ch[-1]
        span = _span(meta)
        if isinstance(operand, ast.IntLit):
            return ast.IntLit(-operand.value, span)
        if isinstance(operand, ast.FloatLit):
            return ast.FloatLit(-operand.value, span)
        return ast.UnaryOp("-", operand, span)

    def call(self, meta: Meta, ch: list[Any]) -> ast.Call:
        return ast.Call(ch[0], tuple(ch[1] or ()), _span(meta))

    def args(self, meta: Meta, ch: list[Any]) -> tuple[ast.Argument, ...]:
        out = []
        for a in ch:
            if a is None:
                continue
            out.append(a if isinstance(a, ast.Argument) else ast.Argument(None, a, _expr_span(a)))
        return tuple(out)

    def keyword_arg(self, meta: Meta, ch: list[Any]) -> ast.Argument:
        return ast.Argument(_ident(ch[0]), ch[1], _span(meta))

    def name(self, meta: Meta, ch: list[Token]) -> ast.Name:
        ident = _ident(ch[0])
        return ast.Name(ident, ident.span)

    def int_lit(self, meta: Meta, ch: list[Token]) -> ast.IntLit:
        return ast.IntLit(int(str(ch[0]).replace("_", "")), _span(meta))

    def float_lit(self, meta: Meta, ch: list[Token]) -> ast.FloatLit:
        return ast.FloatLit(float(str(ch[0])), _span(meta))

    def string_lit(self, meta: Meta, ch: list[Token]) -> ast.StrLit:
        return ast.StrLit(_unquote(str(ch[0])), _span(meta))

    def true_lit(self, meta: Meta, ch: list[Any]) -> ast.BoolLit:
        return ast.BoolLit(True, _span(meta))

    def false_lit(self, meta: Meta, ch: list[Any]) -> ast.BoolLit:
        return ast.BoolLit(False, _span(meta))

    def list_lit(self, meta: Meta, ch: list[Any]) -> ast.ListLit:
        args = ch[0] or ()
        return ast.ListLit(tuple(a.value for a in args), _span(meta))

    def paren(self, meta: Meta, ch: list[Any]) -> ast.Expr:
        return ch[0]  # type: ignore[no-any-return]


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"'}


def _unquote(text: str) -> str:
    body = text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)
