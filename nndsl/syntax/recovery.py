"""Error recovery: the parser's repairs after a syntax error, so one mistake is one message.

Lark calls `Recovery` with each error and its interactive parser; a missing token inside a line
is inserted, open brackets are closed before a line that starts a statement, and otherwise the
parser skips to the next such line. Trials run on copies of the parser (`_trial`).
"""

from __future__ import annotations

import re
from typing import Any

from lark import Lark, Token, Tree, UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.exceptions import LarkError
from lark.parsers.lalr_interactive_parser import InteractiveParser

from nndsl.diagnostics import Diagnostic, Label
from nndsl.source import SourceFile, Span
from nndsl.syntax.lower import MISSING_NAME
from nndsl.syntax.messages import describe_expected, describe_token, expected_context, token_help
from nndsl.syntax.repair import STATEMENT_LINE

MAX_SYNTAX_ERRORS = 20
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


def is_dict_brace(text: str, pos: int) -> bool:
    """Whether the `{` at `pos` opens a dict literal rather than a body: a dict stands where a
    value does, after `=`, `(`, `[`, `,` or `:`; a body follows a header (`)`, a name, a
    count). The recovery closes a dict's `{` as it closes `(` and `[`."""
    i = pos - 1
    while i >= 0:
        ch = text[i]
        if ch in " \t\r\n":
            i -= 1
            continue
        line_start = text.rfind("\n", 0, i) + 1
        hash_at = _comment_start(text, line_start, i)
        if hash_at is not None:  # the end of a comment: look before it
            i = hash_at - 1
            continue
        return ch in "=([,:"
    return False


def _matching(text: str, pos: int) -> int | None:
    """The offset of the bracket closing the one at `pos`, skipping strings and comments."""
    depth = 0
    for m in _BRACKET_SCAN.finditer(text, pos):
        ch = m.group()
        if ch in _BRACKETS:
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return m.start()
    return None


def _comment_start(text: str, line_start: int, end: int) -> int | None:
    """The `#` starting a comment that covers `end` on its line, outside strings."""
    for m in _BRACKET_SCAN.finditer(text, line_start, end + 1):
        if m.group().startswith("#"):
            return m.start()
    return None


def _trial(ip: InteractiveParser) -> Any:
    """A copy of `ip` to try tokens on. Lark's own copy deep-copies the value stack, which
    holds every item parsed so far (slow on a long file: bench/README.md); the syntax tree
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


class Recovery:
    """Collects diagnostics and repairs the parser state so parsing goes on.

    A missing token inside a line is inserted (`Dense(64 x)` gets its `,`); otherwise the
    parser skips to the next line that starts a statement, closing brackets left open, so one
    mistake yields one diagnostic.
    """

    def __init__(self, file: SourceFile, lark: Lark) -> None:
        self.file = file
        self.lark = lark  # the parser being recovered: lexes the rest of a line on trial
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
                    self._report_unclosed(
                        tok,
                        accepts,
                        missing_expression="NAME" in closers and "RBRACE" not in closers,
                    )
                return True
        if not first_on_line and self._unclosed_before_statement(tok):
            if not quiet:
                self._report_unclosed(tok, accepts, missing_expression=False)
            self._skip_to_next_statement(ip, start)
            self._close_dicts(ip, tok)  # the dict ends where the statement line starts
            return True
        if not quiet:
            self._add(
                "E0001",
                f"expected {describe_expected(accepts)}{expected_context(accepts)}, "
                f"found {describe_token(tok)}",
                Span(start, start + max(len(str(tok)), 1)),
                f"unexpected {describe_token(tok)}",
                token_help(tok, accepts),
            )
        if not first_on_line:
            for cand in ("COMMA", "RPAR", "RSQB", "EQUAL", "COLON"):
                if cand in accepts and self._try_insert(ip, cand, tok):
                    return True
            if self._skip_in_dict(ip, tok):
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

    def _skip_in_dict(self, ip: InteractiveParser, tok: Token) -> bool:
        """An error inside a dict literal whose `}` is written: the entry is finished with
        `<missing>` parts, the dict closed at its `}`, and parsing goes on after it (instead of
        skipping the line, which would leave the dict open)."""
        text = self.file.text
        start = tok.start_pos or 0
        opened = open_brackets(text, start)
        if not opened or opened[-1][0] != "{" or not is_dict_brace(text, opened[-1][1]):
            return False
        close = _matching(text, opened[-1][1])
        if close is None or close < start:
            return False
        at = Token("RBRACE", "}", close, *self._line_col(close), end_pos=close + 1)
        trial = _trial(ip)
        fillers = self._dict_fillers(trial, at)
        if fillers is None:
            return False
        for f in fillers:
            ip.feed_token(f)
        ip.feed_token(at)
        state = ip.lexer_thread.state
        assert state is not None
        current = state.line_ctr.char_pos
        if close + 1 > current:
            state.line_ctr.feed(text[current : close + 1])
        elif tok.type != "RBRACE" or start != close:
            return True  # cannot happen: the lexer is past the `}` only when `tok` is it
        self._quiet_until = max(self._quiet_until, close + 1)
        return True

    def _dict_fillers(self, trial: Any, at: Token) -> list[Token] | None:
        """The tokens that let `trial` take `at` (a `}`): a `:` and a `<missing>` value for an
        unfinished entry, closers of brackets left open inside it."""
        fillers: list[Token] = []
        for _ in range(16):
            accepts = trial.accepts()
            if "RBRACE" in accepts:
                try:
                    trial.feed_token(at)
                except (UnexpectedInput, LarkError, KeyError):
                    return None
                return fillers
            cand = next((c for c in ("RPAR", "RSQB", "COLON", "NAME") if c in accepts), None)
            if cand is None:
                return None
            filler = Token.new_borrow_pos(cand, _INSERTABLE[cand], at)
            try:
                trial.feed_token(filler)
            except (UnexpectedInput, LarkError, KeyError):
                return None
            fillers.append(filler)
        return None

    def _close_dicts(self, ip: InteractiveParser, tok: Token) -> None:
        """Close the dict literals left open before `tok`'s line (their `}` never written)."""
        text = self.file.text
        line_start = text.rfind("\n", 0, tok.start_pos or 0) + 1
        opened = open_brackets(text, line_start)
        while opened and opened[-1][0] == "{" and is_dict_brace(text, opened[-1][1]):
            at = Token.new_borrow_pos("RBRACE", "}", tok)
            fillers = self._dict_fillers(_trial(ip), at)
            if fillers is None:
                return
            for f in fillers:
                ip.feed_token(f)
            ip.feed_token(at)
            opened.pop()

    def _line_col(self, offset: int) -> tuple[int, int]:
        pos = self.file.position(offset)
        return pos.line, pos.column

    def _rest_of_line(self, tok: Token) -> str:
        end = tok.end_pos if tok.end_pos is not None else (tok.start_pos or 0) + len(tok)
        nl = self.file.text.find("\n", end)
        return self.file.text[end : len(self.file.text) if nl < 0 else nl]

    def _line_fits(self, trial: InteractiveParser, rest: str) -> bool:
        try:
            for t in self.lark.lex(rest):
                trial.feed_token(t)
        except (UnexpectedInput, LarkError, KeyError):
            return False
        return True

    def _close_and_feed(self, ip: InteractiveParser, tok: Token) -> list[str] | None:
        """Close open brackets until `tok` (which starts a line) fits; commit if it does."""
        trial = _trial(ip)
        closers: list[Token] = []
        text = self.file.text
        opened = open_brackets(text, tok.start_pos or 0)
        for _ in range(32):
            # a statement line ends an open dict: `tok` must not become its value
            in_dict = bool(opened) and opened[-1][0] == "{" and is_dict_brace(text, opened[-1][1])
            if tok.type in trial.accepts() and not in_dict:
                break
            accepts = trial.accepts()
            cand = next((c for c in ("RPAR", "RSQB") if c in accepts), None)
            if cand is None and in_dict:  # `{key` or `{key:` left unfinished: finish, close
                cand = next((c for c in ("RBRACE", "COLON") if c in accepts), None)
            if cand is None and "NAME" in accepts and (not closers or closers[-1].type == "COLON"):
                cand = "NAME"  # `h =` (or a dict's `key:`) with nothing after it
            if cand is None:
                return None
            if cand in ("RPAR", "RSQB", "RBRACE"):
                bracket = {"RPAR": "(", "RSQB": "[", "RBRACE": "{"}[cand]
                at = next(
                    (k for k in range(len(opened) - 1, -1, -1) if opened[k][0] == bracket), None
                )
                if at is not None:
                    del opened[at:]
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
        if not STATEMENT_LINE.match(text, line_start):
            return False
        return any(
            (b != "{" or is_dict_brace(text, i)) and i not in self._reported_brackets
            for b, i in open_brackets(text, line_start)
        )

    def _report_unclosed(self, tok: Token, accepts: set[str], missing_expression: bool) -> None:
        start = tok.start_pos or 0
        if missing_expression:
            self._add(
                "E0001",
                f"expected an expression, found {describe_token(tok)}",
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
            if (b != "{" or is_dict_brace(self.file.text, i)) and i not in self._reported_brackets
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
            if STATEMENT_LINE.match(text, line_start):
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
