"""Syntax errors in words: what a token is, what the parser expected, and a hint."""

from __future__ import annotations

from lark import Token

from nndsl.syntax.keywords import ITEM_KEYWORDS, KEYWORDS, STATEMENT_KEYWORDS

# How each terminal reads in a message.
DISPLAY: dict[str, str] = {
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "COMMA": "`,`",
    "COLON": "`:`",
    "EQUAL": "`=`",
    "DOT": "`.`",
    "SEMICOLON": "`;`",
    "PIPE_OP": "`|>`",
    "ADD": "`+`",
    "SUB": "`-`",
    "MUL": "an operator",
    "POW": "an operator",
    "COMPARE": "a comparison",
    "NAME": "a name",
    "INT": "an integer",
    "FLOAT": "a number",
    "STRING": "a string",
    "$END": "end of file",
}
_EXPRESSION_START = {
    "NAME",
    "INT",
    "FLOAT",
    "STRING",
    "LPAR",
    "LSQB",
    "LBRACE",
    "SUB",
    "TRUE",
    "FALSE",
    "NOT",
}
_STATEMENT_START = {k.upper() for k in STATEMENT_KEYWORDS}
_ITEM_START = {k.upper() for k in ITEM_KEYWORDS}


def describe_token(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    text = str(tok)
    if text in KEYWORDS:
        return f"keyword `{text}`"
    if tok.type == "NAME":
        return f"name `{text}`"
    if tok.type in ("INT", "FLOAT"):
        return f"number `{text}`"
    if tok.type == "STRING":
        return f"string {text}"
    return f"`{text}`"


def describe_expected(accepts: set[str]) -> str:
    """Turn a set of terminal names into words: "`)` or `,`", "an expression", ..."""
    words: list[str] = []
    rest = set(accepts)
    if _EXPRESSION_START <= rest or {"NAME", "INT", "LPAR"} <= rest:
        words.append("an expression")
        rest -= _EXPRESSION_START
    if _ITEM_START <= rest:
        words.append("a definition (`model`, `block`, `data`, `train`, `import` or `const`)")
        rest -= _ITEM_START
        rest.discard("SEMICOLON")
    if _STATEMENT_START <= rest:
        words.append("a statement")
        rest -= _STATEMENT_START
        rest.discard("NAME")
        rest.discard("SEMICOLON")
    operators = {"ADD", "SUB", "MUL", "POW", "COMPARE", "AND", "OR", "PIPE_OP"}
    if len(rest & operators) >= 3:
        rest -= operators
        rest.discard("LPAR")
    for t in sorted(rest, key=_order):
        if t in DISPLAY:
            words.append(DISPLAY[t])
        elif t.isupper() and t.lower() in KEYWORDS:
            words.append(f"`{t.lower()}`")
    words = list(dict.fromkeys(words))
    if not words:
        return "something else"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _order(t: str) -> tuple[int, str]:
    rank = ["RPAR", "RSQB", "RBRACE", "COMMA", "EQUAL", "COLON"]
    return (rank.index(t) if t in rank else len(rank), t)


def expected_context(accepts: set[str]) -> str:
    """Where the parser is, in words: "expected `)` or `,` after the argument"."""
    core = accepts - {"ADD", "SUB", "MUL", "POW", "COMPARE", "AND", "OR", "PIPE_OP", "LPAR"}
    if core == {"COMMA", "RPAR"}:
        return " after the argument"
    if core == {"COMMA", "RSQB"}:
        return " after the item"
    if core == {"COMMA", "RBRACE"}:
        return " after the entry"
    if core == {"RPAR"}:
        return " to close the parenthesis"
    return ""


def token_help(tok: Token, accepts: set[str]) -> str | None:
    if str(tok) == ":" and "EQUAL" in accepts:
        return "use `=` to give a value; `:` introduces a type"
    if str(tok) == "=" and "COLON" in accepts:
        return "parameters are written `name: type = default`, dict entries `key: value`"
    if accepts == {"COMMA", "RBRACE"}:
        return "separate entries with `,` and close the dict with `}`"
    if accepts == {"COMMA", "RPAR"} or accepts == {"RPAR", "COMMA"}:
        return "separate arguments with `,` and close the call with `)`"
    return None
