"""The nesting limit: syntax trees deeper than `MAX_NESTING` are cut before any walker sees them.

The parser (LALR, a loop) builds trees of any depth, but the checker, the formatter and the
editor features walk them recursively. Measuring depth here, in a loop, and replacing each
subtree that starts deeper than the limit with a `<missing>` name (which every walker treats
as an error already reported) bounds the recursion of all of them by one documented number,
reported as E0811 naming the expression.
"""

from __future__ import annotations

from typing import Any

from nndsl.diagnostics import Diagnostic, Label
from nndsl.limits import MAX_NESTING
from nndsl.source import SourceFile, Span
from nndsl.syntax import ast
from nndsl.syntax.lower import MISSING_NAME

# Nodes that count as one level: expressions and statements. Arguments, targets, types and
# identifiers sit between them without adding a level.
_LEVEL = (
    ast.ListLit,
    ast.TupleLit,
    ast.DictLit,
    ast.Call,
    ast.BinOp,
    ast.UnaryOp,
    ast.Pipe,
    ast.RepeatStage,
    ast.Assign,
    ast.Return,
    ast.If,
    ast.Repeat,
)
_STMT = (ast.InputStmt, ast.Assign, ast.Return, ast.If, ast.Repeat)
_LEAF = (str, int, float, bool, type(None), Span, ast.Ident)


def _children(node: ast.Node) -> list[ast.Node]:
    out: list[ast.Node] = []
    for f in node.FIELDS:
        v = getattr(node, f)
        if isinstance(v, ast.Node) and not isinstance(v, _LEAF):
            out.append(v)
        elif type(v) is tuple:
            out.extend(x for x in v if isinstance(x, ast.Node) and not isinstance(x, _LEAF))
    return out


def too_deep(item: ast.Node) -> ast.Node | None:
    """The first node of `item` (in source order) deeper than the limit, if any."""
    stack: list[tuple[ast.Node, int]] = [(item, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, _LEVEL):
            depth += 1
            if depth > MAX_NESTING and isinstance(node, ast.Node):
                return node
        stack.extend((c, depth) for c in reversed(_children(node)))
    return None


def _placeholder(node: ast.Node) -> ast.Node:
    span: Span = node.span
    name = ast.Name(ast.Ident(MISSING_NAME, span), span)
    if isinstance(node, _STMT):
        return ast.Assign((), name, span)  # a statement that binds nothing and fails nothing
    return name


def _cut(node: ast.Node, depth: int) -> ast.Node:
    """`node` with every subtree deeper than the limit replaced by a placeholder. Iterative:
    a post-order walk with an explicit stack, rebuilding only the nodes whose children
    changed."""
    # Each frame: (node, its depth after counting it, its children, the rebuilt children).
    root_depth = depth + (1 if isinstance(node, _LEVEL) else 0)
    if root_depth > MAX_NESTING:
        return _placeholder(node)
    stack: list[tuple[ast.Node, int, list[ast.Node], list[ast.Node]]] = [
        (node, root_depth, _children(node), [])
    ]
    result: ast.Node = node
    while stack:
        current, d, kids, done = stack[-1]
        if len(done) < len(kids):
            child = kids[len(done)]
            cd = d + (1 if isinstance(child, _LEVEL) else 0)
            if cd > MAX_NESTING:
                done.append(_placeholder(child))
            else:
                stack.append((child, cd, _children(child), []))
            continue
        stack.pop()
        rebuilt = _rebuild(current, kids, done)
        if stack:
            stack[-1][3].append(rebuilt)
        else:
            result = rebuilt
    return result


def _rebuild(node: ast.Node, old: list[ast.Node], new: list[ast.Node]) -> ast.Node:
    if all(a is b for a, b in zip(old, new, strict=True)):
        return node
    swap = {id(a): b for a, b in zip(old, new, strict=True)}
    values: dict[str, Any] = {}
    for f in node.FIELDS:
        v = getattr(node, f)
        if isinstance(v, ast.Node):
            v = swap.get(id(v), v)
        elif type(v) is tuple:
            v = tuple(swap.get(id(x), x) for x in v)
        values[f] = v
    return type(node)(**values)


def limit_nesting(file: SourceFile, module: ast.Module) -> tuple[ast.Module, list[Diagnostic]]:
    """`module` with too-deep items cut (see the module's doc), and one E0811 per such item."""
    items: list[ast.Item] = []
    diagnostics: list[Diagnostic] = []
    changed = False
    for item in module.items:
        deep = too_deep(item)
        if deep is None:
            items.append(item)
            continue
        diagnostics.append(
            Diagnostic(
                "E0811",
                f"this {'statement' if isinstance(deep, _STMT) else 'expression'} is nested "
                f"more than {MAX_NESTING} levels deep",
                Label(
                    Span(deep.span.start, min(deep.span.end, deep.span.start + 1)),
                    f"level {MAX_NESTING + 1} starts here",
                ),
                file,
                help="name intermediate results, or use `repeat` for a long pipeline",
            )
        )
        items.append(_cut(item, 0))  # type: ignore[arg-type]
        changed = True
    if not changed:
        return module, diagnostics
    return ast.Module(tuple(items), module.span), diagnostics
