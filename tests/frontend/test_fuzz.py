"""Grammar-based fuzzing: generated programs parse; the checker never raises on anything.

See /work/shared/design/tooling-notes.md §4.2: `from_lark` only sometimes puts whitespace
between tokens, so terminals are overridden through `explicit` and padded with spaces.
"""

from __future__ import annotations

from functools import cache

from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark

from nndsl.diagnostics import render_plain
from nndsl.frontend import check_source
from nndsl.resources import grammar_path
from nndsl.syntax import KEYWORDS, parse


@cache
def _lark() -> Lark:
    return Lark(grammar_path().read_text(), parser="lalr", propagate_positions=True)


def _pad(s: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return s.map(lambda t: f" {t} ")


ident = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True).filter(
    lambda s: s not in KEYWORDS
)
# Names the checker knows, so that generated programs reach deeper checks now and then.
known = st.sampled_from(
    ["Dense", "Conv2D", "relu", "x", "B", "f32", "i32", "Flatten", "MaxPool2D", "adam", "npz"]
)
EXPLICIT = {
    "NAME": _pad(st.one_of(ident, known)),
    "INT": _pad(st.integers(0, 4096).map(str)),
    "FLOAT": _pad(st.sampled_from(["0.5", "1.", ".25", "1e-3", "2.5E+2"])),
    "STRING": _pad(st.sampled_from(['"relu"', '"same"', '"valid"', '"a\\"b"', '""'])),
    "COMMENT": st.just(" # c\n"),
    "WS": st.just(" "),
    "PIPE_OP": st.just(" |> "),
    "COMPARE": _pad(st.sampled_from(["==", "!=", "<=", ">=", "<", ">"])),
    "ADD": st.just(" + "),
    "SUB": st.just(" - "),
    "MUL": _pad(st.sampled_from(["*", "/", "@", "%"])),
}


@cache
def programs() -> st.SearchStrategy[str]:
    explicit = dict(EXPLICIT)
    # Keywords and punctuation are anonymous string terminals: pad them too, so that
    # `and true` never becomes the single name `andtrue`.
    for term in _lark().terminals:
        if term.name not in explicit and term.pattern.type == "str":
            explicit[term.name] = st.just(f" {term.pattern.value} ")
    return from_lark(_lark(), start="start", explicit=explicit)


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _assert_no_crash(text: str, *, allow_internal: bool = True) -> None:
    """`check_source` returns (never raises) diagnostics whose spans lie inside the text.

    A reported internal error (E9999) is the documented fallback, so it is tolerated on
    mutated or random text (known E9999 sources have xfail tests in test_checker.py), but not
    on grammar-valid programs.
    """
    result = check_source(text, "fuzz.nn")
    assert isinstance(result.diagnostics, list)
    n = len(text)
    for d in result.diagnostics:
        if not allow_internal:
            assert d.code != "E9999", (text, d.message, d.internal_traceback)
        for lab in [d.primary, *d.secondary]:
            if lab.file is None or lab.file.path == "fuzz.nn":
                assert 0 <= lab.span.start <= lab.span.end <= n, (d, lab)
    render_plain(result.diagnostics)  # rendering never raises either


@FUZZ
@given(st.deferred(lambda: programs()))
def test_generated_programs_parse_and_check(src: str) -> None:
    result = parse(src, "fuzz.nn")
    assert result.diagnostics == [], (src, render_plain(result.diagnostics))
    _assert_no_crash(src, allow_internal=False)


@FUZZ
@given(st.deferred(lambda: programs()), st.data())
def test_mutated_programs_never_crash(src: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(src)))
    j = data.draw(st.integers(i, min(len(src), i + 10)))
    junk = data.draw(
        st.one_of(st.text(max_size=5), st.sampled_from(["(", ")", "{", "}", "[", '"', "#", "\n"]))
    )
    _assert_no_crash(src[:i] + junk + src[j:])


@FUZZ
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(src: str) -> None:
    _assert_no_crash(src)


@FUZZ
@given(st.text(alphabet='(){}[],=:|>+-*/ \nabxBf32modelinputreturn0123456789."#', max_size=120))
def test_token_soup_never_crashes(src: str) -> None:
    _assert_no_crash(src)


TEMPLATE = """model M() {
    input x: f32[B, 8, 8, 1]
    h = x |> Conv2D(4, 3, padding = "same") |> relu
    h = h |> Flatten() |> Dense(10)
    return h
}
"""


@FUZZ
@given(st.integers(0, len(TEMPLATE)), st.integers(0, 6), st.text(max_size=4))
def test_mutated_valid_model_never_crashes(i: int, cut: int, junk: str) -> None:
    _assert_no_crash(TEMPLATE[:i] + junk + TEMPLATE[i + cut :])


def test_deep_nesting_is_reported_not_raised() -> None:
    src = "model M() { input x: f32[B, 1]\n return " + "(" * 3000 + "x" + ")" * 3000 + " }"
    result = check_source(src, "deep.nn")
    assert isinstance(result.diagnostics, list)
