"""The parser: a cached LALR Lark, error recovery by token insertion, errors in words."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import field
from functools import cache
from typing import Any

from lark import Lark, Token, Tree, UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.exceptions import LarkError
from lark.lexer import ContextualLexer, Lexer, LexerState
from lark.parse_tree_builder import ExpandSingleChild
from lark.parsers.lalr_analysis import Shift
from lark.parsers.lalr_interactive_parser import InteractiveParser
from lark.utils import TextSlice

from nndsl.diagnostics import Diagnostic, Label
from nndsl.limits import MAX_SOURCE_CHARS
from nndsl.records import record
from nndsl.resources import grammar_path
from nndsl.source import SourceFile, Span
from nndsl.syntax import ast
from nndsl.syntax.keywords import ITEM_KEYWORDS, KEYWORDS, STATEMENT_KEYWORDS
from nndsl.syntax.lower import MISSING_NAME, ToAst
from nndsl.syntax.nesting import limit_nesting, too_deep
from nndsl.syntax.repair import STATEMENT_LINE, repair

MAX_SYNTAX_ERRORS = 20
# The codes of syntax errors: the parser and its lexical repairs report these, nothing else does.
SYNTAX_CODES = frozenset({"E0001", "E0002", "E0003"})

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
    "SUB",
    "TRUE",
    "FALSE",
    "NOT",
}
_STATEMENT_START = {k.upper() for k in STATEMENT_KEYWORDS}
_ITEM_START = {k.upper() for k in ITEM_KEYWORDS}
# Tokens the recovery may invent, in order of preference, and the text they stand for.
_INSERTABLE = {
    "COMMA": ",",
    "RPAR": ")",
    "RSQB": "]",
    "RBRACE": "}",
    "EQUAL": "=",
    "COLON": ":",
    "NAME": MISSING_NAME,
    "LBRACE": "{",
    "LPAR": "(",
}
_CLOSERS = ("RPAR", "RSQB", "RBRACE")


@cache
def lark_parser() -> Lark:
    lark = Lark(
        grammar_path().read_text(encoding="utf-8"),
        parser="lalr",
        keep_all_tokens=True,
        maybe_placeholders=True,
        cache=True,
        transformer=ToAst(),
    )
    frontend: Any = lark.parser
    if isinstance(frontend.lexer, ContextualLexer):
        frontend.lexer = _FastContextualLexer(frontend.lexer)
        inner: Any = frontend.parser.parser  # lark.parsers.lalr_parser._Parser
        fast = _FusedLALR.make(inner, frontend.lexer)
        if fast is not None:
            inner.parse_from_state = fast.parse_from_state  # also what resume_parse calls
    return lark


class _FastContextualLexer(Lexer):
    """Lark's contextual lexer with a fast path, giving the same tokens and the same errors.

    Lark compiles one scanner regex per distinct parser state (about 30 for this grammar, the
    largest part of a short check) and goes through several calls per token. Here every token
    is matched by the root scanner (all terminals, in Lark's priority order, compiled once) in
    a tight loop. When the root match is a terminal the current parser state accepts, the
    state's own scanner (a subset of the same alternatives in the same order) would have
    matched exactly that, so the token is the same. Otherwise, which happens only around
    errors, the token is left to Lark's lexer for that state, which decides what the
    contextual lexer always did (a shorter token, `UnexpectedToken` or `UnexpectedCharacters`).
    """

    def __init__(self, inner: ContextualLexer) -> None:
        self.inner = inner

    def lex(self, lexer_state: LexerState, parser_state: Any) -> Iterator[Token]:
        inner = self.inner
        root: Any = inner.root_lexer  # a BasicLexer: its scanner and type sets
        mres = root.scanner._mres  # built once, on first use
        ignore = root.ignore_types
        callbacks = root.callback  # empty for this grammar; any callback takes the slow path
        multiline = root.newline_types
        states = parser_state.parse_conf.states
        text_slice = lexer_state.text
        text, end = text_slice.text, text_slice.end
        ctr = lexer_state.line_ctr
        while True:
            pos = ctr.char_pos  # re-read: the error recovery may move it between tokens
            if pos >= end:
                return
            m = None
            for mre in mres:
                m = mre.match(text, pos, end)
                if m:
                    break
            kind = m.lastgroup if m else None
            if kind is not None and kind in ignore and kind not in callbacks:
                value = m.group(0)  # type: ignore[union-attr]
                newlines = value.count("\n")
                if newlines:
                    ctr.line += newlines
                    ctr.line_start_pos = pos + value.rindex("\n") + 1
                ctr.char_pos = pos + len(value)
                ctr.column = ctr.char_pos - ctr.line_start_pos + 1
                continue
            if kind is None or kind in callbacks or kind not in states[parser_state.position]:
                try:
                    yield inner.lexers[parser_state.position].next_token(lexer_state, parser_state)
                except EOFError:
                    return
                except UnexpectedCharacters as e:  # as ContextualLexer.lex reports it
                    try:
                        last_token = lexer_state.last_token
                        token = root.next_token(lexer_state, parser_state)
                        raise UnexpectedToken(  # type: ignore[no-untyped-call]
                            token,
                            e.allowed,
                            state=parser_state,
                            token_history=[last_token],
                            terminals_by_name=root.terminals_by_name,
                        ) from None
                    except UnexpectedCharacters:
                        raise e from None
                continue
            value = m.group(0)  # type: ignore[union-attr]
            token = Token(kind, value, pos, ctr.line, ctr.column)
            newlines = value.count("\n") if kind in multiline else 0
            if newlines:
                ctr.line += newlines
                ctr.line_start_pos = pos + value.rindex("\n") + 1
            ctr.char_pos = pos + len(value)
            ctr.column = ctr.char_pos - ctr.line_start_pos + 1
            token.end_line = ctr.line
            token.end_column = ctr.column
            token.end_pos = ctr.char_pos
            lexer_state.last_token = token
            yield token


# The root scanner's pattern the fused loop's own scanner was written for (see `_Scanner`).
_LARK_SCANNER_CRC = 0x89DD9ACA


class _Scanner:
    """The terminals of Lark's root scanner, matched faster, with the same tokens.

    Lark's scanner is one alternation of every terminal in priority order, with whitespace and
    comments as separate tokens; a `NAME` match first runs a negative lookahead over the
    eighteen keywords, and so does every other token, since `NAME` comes before `WS` and the
    punctuation. Here one match skips whitespace and comments (possessively: no backtracking
    into them) and takes the next token; identifiers are matched once and a keyword is
    recognised by a dict lookup where `\\b` holds after it (Lark's lookahead: a keyword is
    `NAME` when a Unicode word character follows it). The alternatives are reordered only
    where their first characters differ (`FLOAT` stays before `INT` and before `.`; `==`
    before `=`), so each match is Lark's. Written for one grammar: `make` checks Lark's
    pattern against `_LARK_SCANNER_CRC`, and `tests/frontend/test_fused_parser.py` compares
    the tokens with Lark's on random text.
    """

    PATTERN = (
        r"(?:[ \t\f\r\n]+|\#[^\n]*)*+"  # WS and COMMENT, Lark's `%ignore`d terminals
        r"(?:(?P<NAME>[A-Za-z_][A-Za-z0-9_]*)"
        r"|(?P<FLOAT>(?:[0-9]+[eE][+-]?[0-9]+|[0-9]+\.[0-9]*([eE][+-]?[0-9]+)?"
        r"|\.[0-9]+([eE][+-]?[0-9]+)?))"
        r"|(?P<INT>(?:[0-9]+(_[0-9]+)+|[0-9]+))"
        r'|(?P<STRING>"[^"\\\n]*(?:\\.[^"\\\n]*)*")'
        r"|(?P<PIPE_OP>\|>)"
        r"|(?P<COMPARE>(?:==|!=|<=|>=|<|>))"
        r"|(?P<MUL>[*/@%])"
        r"|(?P<PUNCT>[-+:,.={}()\[\];]))?"
    )
    PUNCT = {
        "+": "ADD",
        "-": "SUB",
        ":": "COLON",
        ",": "COMMA",
        ".": "DOT",
        "=": "EQUAL",
        "{": "LBRACE",
        "}": "RBRACE",
        "(": "LPAR",
        ")": "RPAR",
        "[": "LSQB",
        "]": "RSQB",
        ";": "SEMICOLON",
    }

    def __init__(self) -> None:
        self.match = re.compile(self.PATTERN).match
        self.keywords = {k: k.upper() for k in KEYWORDS}

    @staticmethod
    def lark_crc(root: Any) -> int:
        """A checksum of what Lark's root scanner matches and ignores."""
        import zlib

        text = "\n".join([*(m.pattern for m in root.scanner._mres), *sorted(root.ignore_types)])
        return zlib.crc32(text.encode())


_SLOW = object()  # `_FusedLALR._run`: hand the rest of the input to Lark's own loop


class _FusedLALR:
    """Lark's LALR loop (`_Parser.parse_from_state`) fused with `_FastContextualLexer`'s fast
    path, for the same stacks, tokens, callbacks, results and errors at less cost per token.

    Lark's loop goes through a generator, `Token.__new__`, and per action a dict lookup keyed
    by `Rule` objects (hashing the rule's symbols) and a callback; most reductions in this
    grammar are unit chains (`?expr: pipe`, ... `?postfix: primary`) whose `ExpandSingleChild`
    callback returns its only child. Here each state's actions are precomputed once: a shift
    is the next state, a reduction its size, callback (None for a unit rule that leaves the
    value stack alone) and goto symbol. Whenever the fast lexer would defer to Lark (a token
    the state does not accept, no match), the loop stops before that token and Lark's own
    loop goes on from the same state; an action missing after reductions raises what Lark's
    `feed_token` raises, with the stacks as Lark leaves them.
    """

    def __init__(self, inner: Any, lexer: _FastContextualLexer, table: list[Any]) -> None:
        self.inner = inner
        self.lexer = lexer
        self.table = table
        self.states = inner.parse_table.states
        self.callbacks = inner.callbacks
        self.original = inner.parse_from_state
        self.scanner = _Scanner()
        # (state below, state on top, terminal) -> where a run of unit reductions ends
        self.chains: dict[tuple[int, int, str], tuple[int, Any]] = {}

    def _unexpected(self, at: int, token: Token, state: Any) -> UnexpectedToken:
        """What Lark raises for `token` in parser state `at` (error path only)."""
        expected = {s for s in self.states[at].keys() if s.isupper()}
        return UnexpectedToken(token, expected, state=state, interactive_parser=None)  # type: ignore[no-untyped-call]

    @classmethod
    def make(cls, inner: Any, lexer: _FastContextualLexer) -> _FusedLALR | None:
        """None when the parser is not what the fused loop assumes (then Lark's loop runs)."""
        states = inner.parse_table.states
        callbacks = inner.callbacks
        root: Any = lexer.inner.root_lexer
        _ = root.scanner  # builds the scanner (as the first token would) and `callback`
        if inner.debug or root.callback or not isinstance(states, dict):
            return None
        if _Scanner.lark_crc(root) != _LARK_SCANNER_CRC:  # another grammar: Lark's loop
            return None
        if any(isinstance(k, str) for k in callbacks):  # terminal callbacks
            return None
        if sorted(states) != list(range(len(states))):
            return None
        reductions: dict[int, tuple[int, Any, str]] = {}
        table: list[dict[str, Any]] = []
        for state in range(len(states)):
            row: dict[str, Any] = {}
            for symbol, (action, arg) in states[state].items():
                if action is Shift:
                    row[symbol] = arg
                    continue
                info = reductions.get(id(arg))
                if info is None:
                    size = len(arg.expansion)
                    callback = callbacks[arg]
                    unit = size == 1 and type(callback) is ExpandSingleChild
                    info = (size, None if unit else callback, arg.origin.name)
                    reductions[id(arg)] = info
                row[symbol] = info
            table.append(row)
        return cls(inner, lexer, table)

    def _unit_chain(self, below: int, top: int, kind: str, action: Any) -> tuple[int, Any]:
        """The state left on top of `below` by unit reductions on `kind`, and the next action
        there (None: `kind` is not accepted). Each unit reduction pops the top state and
        pushes the goto from `below`, so the run depends on these three only."""
        table = self.table
        while action is not None and action.__class__ is not int and action[1] is None:
            top = table[below][action[2]]
            action = table[top].get(kind)
        return top, action

    def parse_from_state(self, state: Any, last_token: Token | None = None) -> Any:
        conf = state.parse_conf
        if (
            conf.states is not self.states
            or conf.callbacks is not self.callbacks
            or state.lexer.lexer is not self.lexer
            or state.lexer.state is None
        ):
            return self.original(state, last_token)
        try:
            done, result = self._run(state, last_token)
            if done:
                return result
        except UnexpectedInput as e:  # as Lark's loop: the error carries a parser to resume
            e.interactive_parser = InteractiveParser(self.inner, state, state.lexer)
            raise e
        return self.original(state, result)  # from the token Lark's lexer must decide

    def _run(self, state: Any, last_token: Token | None) -> tuple[bool, Any]:
        table = self.table
        scanner = self.scanner
        match: Any = scanner.match  # never None: everything in the pattern is optional
        keywords, punct = scanner.keywords, scanner.PUNCT
        lexer_state = state.lexer.state
        text_slice = lexer_state.text
        text, end = text_slice.text, text_slice.end
        ctr = lexer_state.line_ctr
        state_stack: list[int] = state.state_stack
        value_stack: list[Any] = state.value_stack
        new = str.__new__
        chains = self.chains
        token = last_token
        # The line counter's fields live in locals; `finally` stores them on every exit, so
        # Lark's loop, the error recovery and the next resume see what Lark's lexer leaves.
        pos, line, line_start = ctr.char_pos, ctr.line, ctr.line_start_pos
        start_pos = pos
        try:
            while pos < end:
                m = match(text, pos, end)
                kind = m.lastgroup
                start = m.start(kind) if kind is not None else m.end()
                if start != pos:  # whitespace and comments, which no token spans
                    newlines = text.count("\n", pos, start)
                    if newlines:
                        line += newlines
                        line_start = text.rindex("\n", pos, start) + 1
                    pos = start
                if kind is None:  # the end, or a character no terminal starts with
                    if pos < end:
                        return False, token
                    break
                value = m.group(kind)
                if kind == "NAME":
                    keyword = keywords.get(value)
                    if keyword is not None:
                        after = pos + len(value)  # Lark's `\b` after the keyword
                        if after >= end or not (text[after].isalnum() or text[after] == "_"):
                            kind = keyword
                elif kind == "PUNCT":
                    kind = punct[value]
                action = table[state_stack[-1]].get(kind)
                if action is None:
                    return False, token
                token = new(Token, value)
                token.type = kind
                token.value = value
                token.start_pos = pos
                token.line = line
                token.column = pos - line_start + 1
                pos += len(value)  # no token but whitespace and comments spans a newline
                token.end_line = line
                token.end_column = pos - line_start + 1
                token.end_pos = pos
                lexer_state.last_token = token
                while action.__class__ is not int:  # reduce until the token shifts
                    size, callback, origin = action
                    if callback is None:  # a chain of unit reductions: one lookup
                        key = (state_stack[-2], state_stack[-1], kind)
                        hit = chains.get(key)
                        if hit is None:
                            hit = chains[key] = self._unit_chain(*key, action)
                        state_stack[-1], action = hit
                        if action is None:
                            raise self._unexpected(state_stack[-1], token, state)
                        continue
                    else:
                        if size:
                            children = value_stack[-size:]
                            del state_stack[-size:]
                            del value_stack[-size:]
                        else:
                            children = []
                        reduced = callback(children)
                        state_stack.append(table[state_stack[-1]][origin])
                        value_stack.append(reduced)
                    action = table[state_stack[-1]].get(kind)
                    if action is None:
                        raise self._unexpected(state_stack[-1], token, state)
                state_stack.append(action)
                value_stack.append(token)
        finally:
            if pos != start_pos:
                ctr.char_pos = pos
                ctr.line = line
                ctr.line_start_pos = line_start
                ctr.column = pos - line_start + 1
        end_token = Token.new_borrow_pos("$END", "", token) if token else Token("$END", "", 0, 1, 1)
        end_state = state.parse_conf.end_state
        while True:  # Lark's `feed_token(end_token, is_end=True)`
            action = table[state_stack[-1]].get("$END")
            if action is None:
                raise self._unexpected(state_stack[-1], end_token, state)
            if action.__class__ is int:
                return True, state.feed_token(end_token, True)  # never in Lark's tables
            size, callback, origin = action
            if callback is None:
                del state_stack[-1]
                state_stack.append(table[state_stack[-1]][origin])
            else:
                if size:
                    children = value_stack[-size:]
                    del state_stack[-size:]
                    del value_stack[-size:]
                else:
                    children = []
                reduced = callback(children)
                state_stack.append(table[state_stack[-1]][origin])
                value_stack.append(reduced)
            if state_stack[-1] == end_state:
                return True, value_stack[-1]


@record
class ParseResult:
    file: SourceFile
    module: ast.Module
    diagnostics: list[Diagnostic] = field(default_factory=list)


def _describe_token(tok: Token) -> str:
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
    operators = {"ADD", "SUB", "MUL", "COMPARE", "AND", "OR", "PIPE_OP"}
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


_STATEMENT_LINE = STATEMENT_LINE
_BRACKETS = {"(": ")", "[": "]", "{": "}"}


_BRACKET_SCAN = re.compile(r'#[^\n]*|"[^"]*"?|[()\[\]{}]')


def open_brackets(text: str, end: int) -> list[tuple[str, int]]:
    """Brackets opened before `end` and not yet closed, skipping strings (which may span
    lines here) and comments; a closer that does not match the innermost opener is ignored."""
    stack: list[tuple[str, int]] = []
    for m in _BRACKET_SCAN.finditer(text, 0, end):
        ch = m.group()
        if ch in _BRACKETS:
            stack.append((ch, m.start()))
        elif ch in ")]}" and stack and _BRACKETS[stack[-1][0]] == ch:
            stack.pop()
    return stack


def _trial(ip: InteractiveParser) -> Any:
    """A copy of `ip` to try tokens on. Lark's own copy deep-copies the value stack, which
    holds every item parsed so far (seconds per error in a 2,000-line file); the syntax tree
    nodes and tokens on it are immutable and shared here. Only Lark's trees are copied: its
    rules for repetitions (`item*`) extend a tree's children list in place."""
    trial = ip.copy(deepcopy_values=False)  # type: ignore[no-untyped-call]
    values = trial.parser_state.value_stack
    for i, value in enumerate(values):
        if isinstance(value, Tree):
            values[i] = _copy_trees(value)
    return trial


def _copy_trees(value: Any) -> Any:
    if isinstance(value, Tree):
        return Tree(value.data, [_copy_trees(c) for c in value.children], value._meta)
    return value


class _Recovery:
    """Collects diagnostics and repairs the parser state so parsing goes on.

    A missing token inside a line is inserted (`Dense(64 x)` gets its `,`); otherwise the
    parser skips to the next line that starts a statement, closing brackets left open, so one
    mistake yields one diagnostic.
    """

    def __init__(self, file: SourceFile) -> None:
        self.file = file
        self.diagnostics: list[Diagnostic] = []
        self._quiet_until = -1  # errors before this offset are consequences of a skip
        self._reported_brackets: set[int] = set()
        self.met_end = False  # an error at the end of the input (see `parse_region`)

    def _add(self, code: str, message: str, span: Span, label: str, help: str | None) -> None:
        if len(self.diagnostics) < MAX_SYNTAX_ERRORS:
            self.diagnostics.append(
                Diagnostic(code, message, Label(span, label), self.file, help=help)
            )

    def __call__(self, err: UnexpectedInput) -> bool:
        if len(self.diagnostics) >= MAX_SYNTAX_ERRORS:
            return False
        if isinstance(err, UnexpectedCharacters):
            pos = err.pos_in_stream or 0
            char = self.file.text[pos] if pos < len(self.file.text) else ""
            help = 'strings use double quotes: "..."' if char == "'" else None
            self._add(
                "E0002",
                f"unexpected character `{char}`",
                Span(pos, pos + 1),
                "not part of the language",
                help,
            )
            return True
        if not isinstance(err, UnexpectedToken):
            return False
        tok = err.token
        accepts = set(err.accepts or err.expected)
        ip = err.interactive_parser
        if tok.type == "$END":
            self.met_end = True
            end = len(self.file.text)
            if end > self._quiet_until:
                self._report_eof(accepts)
            return self._close_at_eof(ip)
        start = tok.start_pos or 0
        quiet = start < self._quiet_until
        first_on_line = self._starts_line(tok)
        if first_on_line:
            closers = self._close_and_feed(ip, tok)
            if closers is not None:
                if not quiet:
                    self._report_unclosed(tok, accepts, missing_expression="NAME" in closers)
                return True
        if not first_on_line and self._unclosed_before_statement(tok):
            if not quiet:
                self._report_unclosed(tok, accepts, missing_expression=False)
            self._skip_to_next_statement(ip, start)
            return True
        if not quiet:
            self._add(
                "E0001",
                f"expected {describe_expected(accepts)}{_context(accepts)}, "
                f"found {_describe_token(tok)}",
                Span(start, start + max(len(str(tok)), 1)),
                f"unexpected {_describe_token(tok)}",
                _token_help(tok, accepts),
            )
        if not first_on_line:
            for cand in ("COMMA", "RPAR", "RSQB", "EQUAL", "COLON"):
                if cand in accepts and self._try_insert(ip, cand, tok):
                    return True
        elif self._complete_and_feed(ip, tok):
            return True
        self._skip_to_next_statement(ip, start)
        return True

    def _complete_and_feed(self, ip: InteractiveParser, tok: Token) -> bool:
        """A name left alone on its line (`z`, being typed) becomes `z = <missing>`, so the
        statement on the next line parses as one: skipping it would leave the parser inside
        the unfinished statement, and every statement after it would be an error."""
        trial = _trial(ip)
        fillers = [Token.new_borrow_pos(t, _INSERTABLE[t], tok) for t in ("EQUAL", "NAME")]
        try:
            for filler in fillers:
                trial.feed_token(filler)
            if tok.type not in trial.accepts():
                return False
        except (UnexpectedInput, LarkError, KeyError):
            return False
        for filler in fillers:
            ip.feed_token(filler)
        ip.feed_token(tok)
        return True

    def _try_insert(self, ip: InteractiveParser, cand: str, tok: Token) -> bool:
        inserted = Token.new_borrow_pos(cand, _INSERTABLE[cand], tok)
        trial = _trial(ip)
        try:
            trial.feed_token(inserted)
            trial.feed_token(tok)
        except (UnexpectedInput, LarkError, KeyError):
            return False
        # Accept the repair only if the rest of the line parses too.
        rest = self._rest_of_line(tok)
        if rest and not self._line_fits(trial, rest):
            return False
        ip.feed_token(inserted)
        ip.feed_token(tok)
        return True

    def _rest_of_line(self, tok: Token) -> str:
        end = tok.end_pos if tok.end_pos is not None else (tok.start_pos or 0) + len(tok)
        nl = self.file.text.find("\n", end)
        return self.file.text[end : len(self.file.text) if nl < 0 else nl]

    def _line_fits(self, trial: InteractiveParser, rest: str) -> bool:
        try:
            for t in lark_parser().lex(rest):
                trial.feed_token(t)
        except (UnexpectedInput, LarkError, KeyError):
            return False
        return True

    def _close_and_feed(self, ip: InteractiveParser, tok: Token) -> list[str] | None:
        """Close open brackets until `tok` (which starts a line) fits; commit if it does."""
        trial = _trial(ip)
        closers: list[Token] = []
        for _ in range(32):
            if tok.type in trial.accepts():
                break
            accepts = trial.accepts()
            cand = next((c for c in ("RPAR", "RSQB") if c in accepts), None)
            if cand is None and "NAME" in accepts and not closers:
                cand = "NAME"  # `h =` with nothing after it
            if cand is None:
                return None
            closer = Token.new_borrow_pos(cand, _INSERTABLE[cand], tok)
            try:
                trial.feed_token(closer)
            except (UnexpectedInput, LarkError, KeyError):
                return None
            closers.append(closer)
        else:
            return None
        if not closers:
            return None
        for c in closers:
            ip.feed_token(c)
        ip.feed_token(tok)
        return [c.type for c in closers]

    def _starts_line(self, tok: Token) -> bool:
        start = tok.start_pos or 0
        before = self.file.text[:start].rstrip(" \t")
        return before.endswith("\n") or before == ""

    def _unclosed_before_statement(self, tok: Token) -> bool:
        start = tok.start_pos or 0
        text = self.file.text
        line_start = text.rfind("\n", 0, start) + 1
        if not _STATEMENT_LINE.match(text, line_start):
            return False
        return any(
            b != "{" and i not in self._reported_brackets
            for b, i in open_brackets(text, line_start)
        )

    def _report_unclosed(self, tok: Token, accepts: set[str], missing_expression: bool) -> None:
        start = tok.start_pos or 0
        if missing_expression:
            self._add(
                "E0001",
                f"expected an expression, found {_describe_token(tok)}",
                Span(start, start + max(len(str(tok)), 1)),
                "the statement before this one is incomplete",
                None,
            )
            return
        line = self.file.position(start).line
        line_start = self.file.text.rfind("\n", 0, start) + 1
        open_before = [
            (b, i)
            for b, i in open_brackets(self.file.text, line_start)
            if b != "{" and i not in self._reported_brackets
        ]
        if open_before:
            bracket, pos = open_before[-1]
            self._reported_brackets.add(pos)
            self._add(
                "E0003",
                f"unclosed `{bracket}`",
                Span(pos, pos + 1),
                f"this `{bracket}` is never closed",
                f"add `{_BRACKETS[bracket]}` at the end of line {line - 1}",
            )

    def _skip_to_next_statement(self, ip: InteractiveParser, start: int) -> None:
        text = self.file.text
        pos = text.find("\n", start)
        while pos >= 0:
            line_start = pos + 1
            if _STATEMENT_LINE.match(text, line_start):
                break
            pos = text.find("\n", line_start)
        target = len(text) if pos < 0 else pos + 1
        state = ip.lexer_thread.state
        assert state is not None
        current = state.line_ctr.char_pos
        if target > current:
            state.line_ctr.feed(text[current:target])
        self._quiet_until = target

    def _report_eof(self, accepts: set[str]) -> None:
        end = len(self.file.text)
        opened = [
            (b, i)
            for b, i in open_brackets(self.file.text, end)
            if i not in self._reported_brackets
        ]
        if opened:
            bracket, pos = opened[-1]
            self._add(
                "E0003",
                f"unclosed `{bracket}`",
                Span(pos, pos + 1),
                f"this `{bracket}` is never closed",
                f"add the missing `{_BRACKETS[bracket]}`",
            )
        else:
            self._add(
                "E0003",
                f"unexpected end of file: expected {describe_expected(accepts)}",
                Span(end, end),
                "the file ends here",
                None,
            )

    def _close_at_eof(self, ip: InteractiveParser) -> bool:
        n = len(self.file.text)
        pos = self.file.position(n)
        end = Token("$END", "", n, pos.line, pos.column, pos.line, pos.column, n)
        for _ in range(200):
            trial = _trial(ip)
            try:
                trial.feed_eof(end)
                return True
            except (UnexpectedInput, LarkError, KeyError):
                pass
            accepts = ip.accepts()  # type: ignore[no-untyped-call]
            cand = next((c for c in (*_CLOSERS, "NAME") if c in accepts), None)
            if cand is None:
                return False
            try:
                ip.feed_token(Token.new_borrow_pos(cand, _INSERTABLE[cand], end))
            except (UnexpectedInput, LarkError, KeyError):
                return False
        return False


def _context(accepts: set[str]) -> str:
    """Where the parser is, in words: "expected `)` or `,` after the argument"."""
    core = accepts - {"ADD", "SUB", "MUL", "COMPARE", "AND", "OR", "PIPE_OP", "LPAR"}
    if core == {"COMMA", "RPAR"}:
        return " after the argument"
    if core == {"COMMA", "RSQB"}:
        return " after the item"
    if core == {"RPAR"}:
        return " to close the parenthesis"
    return ""


def _token_help(tok: Token, accepts: set[str]) -> str | None:
    if str(tok) == ":" and "EQUAL" in accepts:
        return "use `=` to give a value; `:` introduces a type"
    if str(tok) == "=" and "COLON" in accepts:
        return "parameters are written `name: type = default`"
    if accepts == {"COMMA", "RPAR"} or accepts == {"RPAR", "COMMA"}:
        return "separate arguments with `,` and close the call with `)`"
    return None


def _eof_help(accepts: set[str]) -> str | None:
    for closer in _CLOSERS:
        if closer in accepts:
            return f"add the missing {DISPLAY[closer]}"
    return None


def parse(text: str, path: str = "<input>") -> ParseResult:
    """Parse `.nn` text; never raises for bad input. Recovered trees contain `<missing>` names."""
    file = SourceFile(path, text)
    if len(text) > MAX_SOURCE_CHARS:
        return ParseResult(file, ast.Module((), Span(0, 0)), [_too_large(file)])
    repaired, repairs = repair(file)
    recovery = _Recovery(file)
    recovery.diagnostics.extend(repairs)
    try:
        parsed: object = lark_parser().parse(repaired, on_error=recovery)
        if not isinstance(parsed, ast.Module):
            raise LarkError("the parse produced no module")
        module = parsed
    except (UnexpectedInput, LarkError, RecursionError):
        if not recovery.diagnostics:
            recovery.diagnostics.append(
                Diagnostic(
                    "E0001",
                    "the parser could not recover from the errors above",
                    Label(Span(0, 0)),
                    file,
                )
            )
        module = ast.Module((), Span(0, len(text)))
    module, deep = limit_nesting(file, module)
    recovery.diagnostics.extend(deep)
    _attach_docs(file, module)
    return ParseResult(file, module, recovery.diagnostics)


def _too_large(file: SourceFile) -> Diagnostic:
    return Diagnostic(
        "E0810",
        f"this source has {len(file.text):,} characters, over the limit of {MAX_SOURCE_CHARS:,}",
        Label(Span(0, 0), "nothing of it is parsed"),
        file,
        help="split the file, or move data into a data file",
    )


def parse_region(
    file: SourceFile, repaired: str, start: int, end: int, before: list[Diagnostic]
) -> tuple[tuple[ast.Item, ...], list[Diagnostic]] | None:
    """The items of `repaired[start:end]` and their syntax diagnostics, exactly as `parse`
    gives them for that region, when the whole file's parser is between two items at
    `start` and at `end` (the editor's item pieces: `nndsl.syntax.incremental`); `before`
    are the diagnostics `parse` has reported before `start` (lexical repairs, earlier
    regions: they count towards `MAX_SYNTAX_ERRORS`).

    The parser's state at an item boundary is the same wherever it is, and recovery reads no
    text past the line after an error and, before the region, only the brackets left open,
    so a region with no bracket open before it whose errors are all recovered before its end
    parses as in the whole file. None when that does not hold: a bracket open before
    `start`, an error at the region's end (there `parse` would see the next item, here the
    end of the input), or a recovery that gave up."""
    if open_brackets(file.text, start):  # recovery reads brackets left open before `start`
        return None
    recovery = _Recovery(file)
    recovery.diagnostics.extend(before)
    try:
        parsed: object = lark_parser().parse(TextSlice(repaired, start, end), on_error=recovery)
    except (UnexpectedInput, LarkError, RecursionError):
        return None
    if recovery.met_end or not isinstance(parsed, ast.Module):
        return None
    if any(too_deep(item) is not None for item in parsed.items):
        return None  # cut as the whole file's parse cuts it
    return parsed.items, recovery.diagnostics[len(before) :]


def _attach_docs(file: SourceFile, module: ast.Module) -> None:
    """`##` comment lines right above a `block` or `model` become its documentation."""
    for item in module.items:
        if isinstance(item, ast.Definition):
            line = file.position(item.span.start).line - 1
            doc: list[str] = []
            while line >= 1:
                text = file.line_text(line).strip()
                if not text.startswith("##"):
                    break
                doc.append(text[2:].strip())
                line -= 1
            if doc:
                object.__setattr__(item, "doc", "\n".join(reversed(doc)))
