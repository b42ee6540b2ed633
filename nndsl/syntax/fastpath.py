"""The parser's fast path: Lark's contextual lexer and LALR loop, fused, for the same results.

`install` puts it into the Lark parser `nndsl.syntax.parser` builds: `FastContextualLexer`
replaces Lark's lexer and `FusedLALR` its parse loop. Both read Lark's private state, so they
are installed only for the Lark versions in `LARK_VERSIONS` (those the differential tests,
`tests/frontend/test_fast_lexer.py` and `test_fused_parser.py`, have run on; `pyproject.toml`
caps `lark` to the same range) and unless `NNDSL_FAST_PARSER=0` (like `NNDSL_LSP_BOOTSTRAP`).
Off, Lark's own lexer and loop run and every tree, span and diagnostic is the same.
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Iterator
from typing import Any

import lark as lark_module
from lark import Lark, Token, UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.lexer import ContextualLexer, Lexer, LexerState
from lark.parse_tree_builder import ExpandSingleChild
from lark.parsers.lalr_analysis import Shift
from lark.parsers.lalr_interactive_parser import InteractiveParser

from nndsl.syntax.keywords import KEYWORDS

ENV = "NNDSL_FAST_PARSER"
# The Lark versions the fast path is tested on: [lowest, first untested).
LARK_VERSIONS = ((1, 3), (1, 4))


def enabled() -> bool:
    """`NNDSL_FAST_PARSER=0` (or `false`, `no`, `off`) turns the fast path off."""
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def supported(version: str = lark_module.__version__) -> bool:
    """Whether the fast path has been tested with this Lark version."""
    major, minor = (int(part) for part in re.findall(r"\d+", version)[:2])
    low, high = LARK_VERSIONS
    return low <= (major, minor) < high


def install(lark: Lark) -> bool:
    """Put the fast path into `lark` (LALR, contextual lexer); False where it stays out: turned
    off, an untested Lark, or a parser other than the one it was written for."""
    frontend: Any = lark.parser
    if not enabled() or not supported() or not isinstance(frontend.lexer, ContextualLexer):
        return False
    frontend.lexer = FastContextualLexer(frontend.lexer)
    inner: Any = frontend.parser.parser  # lark.parsers.lalr_parser._Parser
    fast = FusedLALR.make(inner, frontend.lexer)
    if fast is not None:
        inner.parse_from_state = fast.parse_from_state  # also what resume_parse calls
    return True


class FastContextualLexer(Lexer):
    """Lark's contextual lexer with a fast path, giving the same tokens and the same errors.

    Lark compiles one scanner regex per distinct parser state (the largest part of a short
    check: bench/README.md) and goes through several calls per token. Here every token
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


# The root scanner's pattern the fused loop's own scanner was written for (see `Scanner`).
LARK_SCANNER_CRC = 0x9921ECFC


class Scanner:
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
    pattern against `LARK_SCANNER_CRC`, and `tests/frontend/test_fused_parser.py` compares
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
        r"|(?P<POW>\*\*)"
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
        text = "\n".join([*(m.pattern for m in root.scanner._mres), *sorted(root.ignore_types)])
        return zlib.crc32(text.encode())


class FusedLALR:
    """Lark's LALR loop (`_Parser.parse_from_state`) fused with `FastContextualLexer`'s fast
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

    def __init__(self, inner: Any, lexer: FastContextualLexer, table: list[Any]) -> None:
        self.inner = inner
        self.lexer = lexer
        self.table = table
        self.states = inner.parse_table.states
        self.callbacks = inner.callbacks
        self.original = inner.parse_from_state
        self.scanner = Scanner()
        # (state below, state on top, terminal) -> where a run of unit reductions ends
        self.chains: dict[tuple[int, int, str], tuple[int, Any]] = {}

    def _unexpected(self, at: int, token: Token, state: Any) -> UnexpectedToken:
        """What Lark raises for `token` in parser state `at` (error path only)."""
        expected = {s for s in self.states[at].keys() if s.isupper()}
        return UnexpectedToken(token, expected, state=state, interactive_parser=None)  # type: ignore[no-untyped-call]

    @classmethod
    def make(cls, inner: Any, lexer: FastContextualLexer) -> FusedLALR | None:
        """None when the parser is not what the fused loop assumes (then Lark's loop runs)."""
        states = inner.parse_table.states
        callbacks = inner.callbacks
        root: Any = lexer.inner.root_lexer
        _ = root.scanner  # builds the scanner (as the first token would) and `callback`
        if inner.debug or root.callback or not isinstance(states, dict):
            return None
        if Scanner.lark_crc(root) != LARK_SCANNER_CRC:  # another grammar: Lark's loop
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
