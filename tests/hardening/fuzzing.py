"""The fuzz engine shared by `tests/hardening/test_fuzz_suite.py` and `bench/fuzz.py`.

Cases are grammar-generated programs (a seeded walk over the Lark grammar with hostile literals;
tests/frontend/test_fuzz.py uses Hypothesis' `from_lark`, ~90 ms a program, too slow here) and
mutations of every example, stdlib and golden `.nn` file; each runs through every front-end
consumer with an oracle:

- check: `check_source` never raises, never reports E9999, keeps spans inside the text, renders;
- fmt: `format_source` is None only when `check` reports a formatting blocker; otherwise its
  output re-checks to the same diagnostic codes and formats to itself;
- summary: `summarize` of every clean graph never raises and counts no negative parameters
  or FLOPs;
- ide: the editor features (diagnostics, after an incremental update from the unmutated file
  too, hover, completion, ...) never fail (they log and answer empty) and agree with `check`.

Everything is a function of (seed, index): case `i` of a run can be rebuilt alone.
"""

from __future__ import annotations

import logging
import random
import re
import signal
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import FrameType

from nndsl.diagnostics import Diagnostic, render_plain
from nndsl.frontend import CheckResult, check_source
from nndsl.ide import Workspace
from nndsl.ir.summary import summarize
from nndsl.source import Span
from nndsl.syntax.printer import FORMAT_BLOCKERS, format_source

ROOT = Path(__file__).resolve().parents[2]
ORACLES = ("check", "fmt", "summary", "ide")
# Corpus files whose unmutated check takes 0.3-2 s (models at the 20,000-node limit, E0814):
# cases made from them go through `check` alone, or they would take most of any run's time.
HEAVY = ("tests/ui/limits_model_too_large.nn", "stdlib/densenet.nn")
KINDS = ("grammar", "mutation", "splice", "grammar-mutation")

KEYWORDS = (
    "import", "const", "block", "model", "input", "return", "if", "else", "repeat", "data",
    "train", "on", "and", "or", "not", "true", "false", "none",
)  # fmt: skip
KNOWN = (
    "Dense", "Conv2D", "Conv1D", "relu", "x", "h", "B", "T", "D", "f32", "i32", "bool", "Flatten",
    "MaxPool2D", "adam", "npz", "Dropout", "LayerNorm", "Embedding", "LSTM", "concat", "add",
    "reshape", "softmax", "units", "axis", "cross_entropy", "accuracy", "epochs", "batch",
    "std", "blocks", "MultiHeadAttention", "BatchNorm", "GlobalAvgPool2D", "UpSampling1D",
)  # fmt: skip
NUMBERS = (
    "0", "1", "-1", "2", "0.0", "-0.5", "1e-3", "1e400", "1.0e-400", "10_000", "9" * 20,
    "1" + "0" * 400, "7" * 4400, "2147483648", "9223372036854775808", "00", "0x1", "1.",
)  # fmt: skip
PUNCT = (
    "(", ")", "{", "}", "[", "]", ",", ":", ";", "=", "==", "!=", "<", ">=", "+", "-", "*", "/",
    "@", "%", "|>", ".", "..", '"', "#", "## doc", "\n", "\t", "\r", "\r\n", "\\", "'", "->",
)  # fmt: skip
STRINGS = ('""', '"x"', '"same"', '"relu"', '"a\\"b"', '"\\u0000"', '"' + "s" * 300 + '"')
ODD_CHARS = ("\x00", "\u00e9", "\u202e", "\ufeff", "\u00a0", "\U0001f600", "\x0c", "\u2028")
TOKENS = (*KEYWORDS, *KNOWN, *NUMBERS, *PUNCT, *STRINGS, *ODD_CHARS)
_TOKEN = re.compile(
    r'[A-Za-z_]\w*|\d[\d_]*(?:\.\d*)?(?:[eE][+-]?\d+)?|"(?:[^"\\\n]|\\.)*"|#[^\n]*|\S'
)
_NAME = re.compile(r"[A-Za-z_]\w*")
_NUMBER = re.compile(r"\d[\d_]*(?:\.\d*)?(?:[eE][+-]?\d+)?")


# -- cases ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One input: `path` is where it pretends to live (imports resolve from there)."""

    index: int
    kind: str
    origin: str  # the corpus file(s) or "grammar"
    text: str
    path: str
    ops: tuple[str, ...] = ()
    base: str | None = None  # the unmutated text, for the incremental IDE oracle


@dataclass(frozen=True)
class Failure:
    oracle: str  # e.g. "check/E9999", "fmt/idempotent", "ide/hover"
    message: str
    case: Case

    @property
    def signature(self) -> tuple[str, str]:
        """What makes two failures the same bug: the oracle and the message, numbers erased."""
        first = self.message.strip().splitlines()[-1] if self.message.strip() else ""
        return self.oracle, re.sub(r"\d+", "N", first)[:200]


@dataclass
class Outcome:
    case: Case
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0


@cache
def corpus() -> tuple[tuple[str, str], ...]:
    """(absolute path, text) of every example, stdlib and golden `.nn` file."""
    files = sorted(
        [*ROOT.glob("examples/*.nn"), *ROOT.glob("stdlib/*.nn"), *ROOT.glob("tests/ui/**/*.nn")]
    )
    return tuple((str(p), p.read_text(encoding="utf-8")) for p in files)


def mutate(rng: random.Random, text: str, pool: Sequence[str] = ()) -> tuple[str, list[str]]:
    """1-4 stacked edits: characters, tokens, literals, lines, truncation, duplication."""
    ops: list[str] = []
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
        op, text = _one_mutation(rng, text, pool)
        ops.append(op)
    return text, ops


def _one_mutation(rng: random.Random, text: str, pool: Sequence[str]) -> tuple[str, str]:
    n = len(text)
    i = rng.randrange(n + 1)
    r = rng.random()
    tokens = list(_TOKEN.finditer(text))
    lines = text.split("\n")
    if r < 0.12:
        j = min(n, i + rng.randint(1, 12))
        return f"delete {i}:{j}", text[:i] + text[j:]
    if r < 0.32:
        tok = rng.choice(TOKENS)
        return f"insert {tok[:20]!r} at {i}", text[:i] + f" {tok} " * rng.randint(
            0, 1
        ) + tok + text[i:]
    if r < 0.44 and tokens:
        m = rng.choice(tokens)
        new = rng.choice(TOKENS)
        return f"replace {m.group()[:20]!r} by {new[:20]!r}", text[: m.start()] + new + text[
            m.end() :
        ]
    if r < 0.52 and tokens:
        m = rng.choice(tokens)
        return f"drop token {m.group()[:20]!r}", text[: m.start()] + text[m.end() :]
    if r < 0.60:
        names = [m for m in _NAME.finditer(text)]
        if names:
            m, other = rng.choice(names), rng.choice(names).group()
            return f"rename {m.group()!r} to {other!r}", text[: m.start()] + other + text[m.end() :]
    if r < 0.68:
        nums = list(_NUMBER.finditer(text))
        if nums:
            m, new = rng.choice(nums), rng.choice(NUMBERS)
            return f"number {m.group()!r} to {new[:20]!r}", text[: m.start()] + new + text[
                m.end() :
            ]
    if r < 0.76 and len(lines) > 1:
        a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[a], lines[b] = lines[b], lines[a]
        return f"swap lines {a},{b}", "\n".join(lines)
    if r < 0.82 and lines:
        a = rng.randrange(len(lines))
        b = min(len(lines), a + rng.randint(1, 4))
        copies = rng.choice((1, 1, 2, 50))
        return f"duplicate lines {a}:{b} x{copies}", "\n".join(
            lines[:b] + lines[a:b] * copies + lines[b:]
        )
    if r < 0.87 and lines:
        a = rng.randrange(len(lines))
        return f"delete line {a}", "\n".join(lines[:a] + lines[a + 1 :])
    if r < 0.91:
        return f"truncate at {i}", text[:i]
    if r < 0.95:
        j = min(n, i + rng.randint(1, 80))
        return f"duplicate {i}:{j}", text[:j] + text[i:j] + text[j:]
    if r < 0.98 and pool:
        other = rng.choice(pool)
        k = rng.randrange(len(other) + 1)
        piece = other[k : k + rng.randint(1, 200)]
        return f"graft {len(piece)} chars at {i}", text[:i] + piece + text[i:]
    ch = chr(rng.choice((rng.randrange(32, 127), rng.randrange(0, 0x3000))))
    return f"char {ch!r} at {i}", text[:i] + ch + text[i:]


def splice(rng: random.Random, a: str, b: str) -> tuple[str, str]:
    """The head of one file on the tail of another, cut at line boundaries."""
    la, lb = a.split("\n"), b.split("\n")
    i, j = rng.randrange(len(la) + 1), rng.randrange(len(lb) + 1)
    return f"splice {i}|{j}", "\n".join(la[:i] + lb[j:])


# -- grammar-generated programs ---------------------------------------------------------------
# Terminals with a pattern, drawn from ordinary and hostile spellings alike.
_TERMINALS: dict[str, tuple[str, ...]] = {
    "NAME": (*KNOWN, "a", "b", "M", "Blk", "units", "_", "x1", "long_name_" * 3),
    "INT": ("0", "1", "2", "3", "4", "8", "16", "64", "10_000", "9" * 20, "1" + "0" * 400),
    "FLOAT": ("0.5", "1.", ".25", "1e-3", "2.5E+2", "1e400", "1e-400", "0.0"),
    "STRING": (*STRINGS, '"std.blocks"', '"examples/data/digits.npz"'),
    "COMPARE": ("==", "!=", "<=", ">=", "<", ">"),
    "MUL": ("*", "/", "@", "%"),
}


@cache
def _grammar() -> tuple[
    dict[str, list[tuple[tuple[str, bool], ...]]], dict[str, str], dict[str, int]
]:
    """The compiled grammar's rules by name, the literal terminals, and each rule's height (the
    fewest levels of rules it needs to reach terminals only), to end a walk that runs deep."""
    from lark import Lark

    from nndsl.resources import grammar_path

    lark = Lark(grammar_path().read_text(), parser="lalr")
    rules: dict[str, list[tuple[tuple[str, bool], ...]]] = {}
    for r in lark.rules:
        rules.setdefault(r.origin.name, []).append(tuple((s.name, s.is_term) for s in r.expansion))
    literals = {t.name: t.pattern.value for t in lark.terminals if t.pattern.type == "str"}
    height: dict[str, int] = {}
    changed = True
    while changed:
        changed = False
        for name, expansions in rules.items():
            for exp in expansions:
                hs = [0 if term else height.get(sym, -1) for sym, term in exp]
                if -1 not in hs:
                    h = 1 + max(hs, default=0)
                    if h < height.get(name, 1 << 30):
                        height[name], changed = h, True
    return rules, literals, height


def grammar_program(rng: random.Random, max_depth: int = 14, budget: int = 300) -> str:
    """A program derived from the grammar by a seeded random walk (fast, unlike Hypothesis'
    `from_lark`, used by tests/frontend/test_fuzz.py): once deep or over the token budget, each
    rule takes its shallowest expansion, so the walk always ends."""
    rules, literals, height = _grammar()
    out: list[str] = []
    stack: list[tuple[str, bool, int]] = [("start", False, 0)]
    while stack:
        sym, term, depth = stack.pop()
        if term:
            if sym in literals:
                out.append(literals[sym])
            else:
                out.append(rng.choice(_TERMINALS[sym]))
            continue
        options = rules[sym]
        if sym == "start":
            options = [e for e in options if e] or options  # an empty file is one case, not half
        if depth >= max_depth or len(out) >= budget:

            def h(exp: tuple[tuple[str, bool], ...]) -> int:
                return max((0 if t else height[s] for s, t in exp), default=0)

            low = min(h(e) for e in options)
            options = [e for e in options if h(e) == low]
        exp = rng.choice(options)
        stack.extend((s, t, depth + 1) for s, t in reversed(exp))
    return _layout(out)


def _layout(tokens: list[str]) -> str:
    """Tokens joined by spaces, with a line break after braces and before statements."""
    text = " ".join(tokens)
    return re.sub(r"([{}]) ", "\\1\n", text)


def make_cases(seed: int, start: int, count: int, kinds: Sequence[str] = KINDS) -> list[Case]:
    """Cases `start .. start+count` of the run `seed`, kinds in rotation."""
    files = corpus()
    texts = [t for _, t in files]
    wanted = [(i, kinds[i % len(kinds)]) for i in range(start, start + count)]
    fake = str(ROOT / "tests" / "hardening" / "fuzz.nn")
    cases: list[Case] = []
    for i, kind in wanted:
        rng = random.Random(f"{seed}:{i}")
        if kind == "grammar":
            cases.append(Case(i, kind, "grammar", grammar_program(rng), fake))
        elif kind == "grammar-mutation":
            src = grammar_program(rng)
            text, ops = mutate(rng, src, texts)
            cases.append(Case(i, kind, "grammar", text, fake, tuple(ops), src))
        elif kind == "mutation":
            path, src = files[i // len(kinds) % len(files)]
            text, ops = mutate(rng, src, texts)
            cases.append(Case(i, kind, _rel(path), text, path, tuple(ops), src))
        elif kind == "splice":
            (pa, a), (pb, b) = rng.choice(files), rng.choice(files)
            op, text = splice(rng, a, b)
            cases.append(Case(i, kind, f"{_rel(pa)}+{_rel(pb)}", text, pa, (op,), a))
        else:
            raise ValueError(f"unknown case kind {kind!r}")
    return cases


def _rel(path: str) -> str:
    try:
        return str(Path(path).relative_to(ROOT))
    except ValueError:
        return path


# -- oracles ----------------------------------------------------------------------------------
class CaseTimeout(BaseException):
    """Raised by the alarm of `time_limit`; a BaseException so no `except Exception` hides it."""


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Interrupt the block after `seconds` (main thread only; None: no limit)."""
    if not seconds:
        yield
        return

    def alarm(signum: int, frame: FrameType | None) -> None:
        raise CaseTimeout(f"over {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class _Collect(logging.Handler):
    """Errors the editor layer logged instead of raising (its `_safe` wrapper)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


_IDE_LOG = logging.getLogger("nndsl.ide")
_HANDLER = _Collect()
_IDE_LOG.addHandler(_HANDLER)


def _codes(diags: Sequence[Diagnostic]) -> list[str]:
    return sorted(d.code for d in diags)


def _tb(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)[-3:])


def run_case(case: Case, oracles: Sequence[str] = ORACLES, timeout: float | None = None) -> Outcome:
    """Every oracle on one case; a failure per broken property (never raises but on Ctrl-C)."""
    out = Outcome(case)
    t0 = time.perf_counter()
    if any(h in case.origin for h in HEAVY):
        oracles = [o for o in oracles if o == "check"]

    def fail(oracle: str, message: str) -> None:
        out.failures.append(Failure(oracle, message, case))

    try:
        with time_limit(timeout):
            result = _oracle_check(case, fail)
            if result is not None:
                if "fmt" in oracles:
                    _guard("fmt", fail, lambda: _oracle_fmt(case, result, fail))
                if "summary" in oracles:
                    _guard("summary", fail, lambda: _oracle_summary(result, fail))
                if "ide" in oracles:
                    _guard("ide", fail, lambda: _oracle_ide(case, result, fail))
    except CaseTimeout as exc:
        fail("timeout", str(exc))
    out.seconds = time.perf_counter() - t0
    return out


def _guard(oracle: str, fail: Callable[[str, str], None], fn: Callable[[], None]) -> None:
    try:
        fn()
    except RecursionError as exc:
        fail(f"{oracle}/raises", f"RecursionError: {exc}")
    except Exception as exc:
        fail(f"{oracle}/raises", _tb(exc))


def _oracle_check(case: Case, fail: Callable[[str, str], None]) -> CheckResult | None:
    try:
        result = check_source(case.text, case.path)
    except Exception as exc:
        fail("check/raises", _tb(exc))
        return None
    for d in result.diagnostics:
        if d.code == "E9999":
            fail("check/E9999", d.internal_traceback or d.message)
        for lab in [d.primary, *d.secondary]:
            n = len((lab.file or d.file).text)  # an import of the same path reads the disk
            if not 0 <= lab.span.start <= lab.span.end <= n:
                fail("check/span", f"{d.code} label {lab.span} outside 0..{n}")
    try:
        render_plain(result.diagnostics)
    except Exception as exc:
        fail("check/render", _tb(exc))
    return result


def _oracle_fmt(case: Case, result: CheckResult, fail: Callable[[str, str], None]) -> None:
    formatted = format_source(case.text, case.path)
    codes = _codes(result.diagnostics)
    if formatted is None:
        if not FORMAT_BLOCKERS & set(codes):
            fail("fmt/none", f"formatter refused a file whose codes are {codes}")
        return
    again = check_source(formatted, case.path)
    if _codes(again.diagnostics) != codes:
        fail("fmt/codes", f"codes {codes} became {_codes(again.diagnostics)}")
    twice = format_source(formatted, case.path)
    if twice != formatted:
        fail("fmt/idempotent", "format(format(x)) != format(x)")


def _oracle_summary(result: CheckResult, fail: Callable[[str, str], None]) -> None:
    if result.has_errors or result.program is None:
        return
    graphs = list(result.program.graphs.values())
    if result.program.train is not None:
        graphs.append(result.program.train.graph)
    for graph in graphs:
        s = summarize(graph)
        if s.trainable < 0 or s.non_trainable < 0 or any(r.params < 0 for r in s.rows):
            fail("summary/negative", f"{graph.name}: {s.trainable} + {s.non_trainable} params")
        if s.flops.known < 0 or any(r.flops is not None and r.flops.known < 0 for r in s.rows):
            fail("summary/flops", f"{graph.name}: {s.flops.known} FLOPs")


def _offsets(case: Case) -> list[int]:
    """A few cursor positions: a word start, a word end, a random one, the end of the text."""
    rng = random.Random(f"ide:{case.index}:{len(case.text)}")
    words = list(_NAME.finditer(case.text))
    offs = [rng.randrange(len(case.text) + 1), len(case.text)]
    if words:
        offs += [rng.choice(words).start(), rng.choice(words).end()]
    return offs


def _oracle_ide(case: Case, result: CheckResult, fail: Callable[[str, str], None]) -> None:
    _HANDLER.records.clear()
    ws = Workspace()
    if case.base is not None:  # an edit of a document already open: the incremental path
        ws.open(case.path, case.base)
        ws.diagnostics(case.path)
    ws.open(case.path, case.text)
    got = ws.diagnostics(case.path)
    mine = [d for d in result.diagnostics if d.file.path == case.path]
    if [(d.code, d.primary.span) for d in got] != [(d.code, d.primary.span) for d in mine]:
        fail("ide/diagnostics", f"{_codes(got)} in the editor, {_codes(mine)} from check")
    for off in _offsets(case):
        ws.hover(case.path, off)
        ws.completions(case.path, off)
        ws.signature_help(case.path, off)
        ws.definition(case.path, off)
        ws.references(case.path, off)
        ws.prepare_rename(case.path, off)
    ws.document_symbols(case.path)
    ws.inlay_hints(case.path)
    tokens = ws.semantic_tokens(case.path)
    ws.format(case.path)
    ws.code_actions(case.path, Span(0, len(case.text)))
    n = len(case.text)
    for t in tokens:
        if not 0 <= t.start <= t.start + t.length <= n:
            fail("ide/semantic_tokens", f"token {t} outside 0..{n}")
            break
    for rec in _HANDLER.records:
        exc = rec.exc_info[1] if rec.exc_info else None
        detail = _tb(exc) if exc is not None else rec.getMessage()
        fail(f"ide/{rec.getMessage().split()[1] if ' ' in rec.getMessage() else 'log'}", detail)
    _HANDLER.records.clear()


# -- reproducers ------------------------------------------------------------------------------
def minimize(failure: Failure, budget: int = 300, timeout: float | None = None) -> str:
    """A shorter text failing the same way: whole lines, then runs of characters, removed."""
    sig = failure.signature
    oracle = failure.oracle.split("/")[0]
    oracles = [o for o in ORACLES if o == oracle] or ["check"]
    case = failure.case
    tries = 0

    def still(text: str) -> bool:
        nonlocal tries
        tries += 1
        probe = Case(case.index, case.kind, case.origin, text, case.path, case.ops, case.base)
        outcome = run_case(probe, oracles, timeout)
        return any(f.signature == sig for f in outcome.failures)

    text = case.text
    for unit in ("\n", ""):
        chunk = max(1, len(_split(text, unit)) // 2)
        while chunk >= 1 and tries < budget:
            parts = _split(text, unit)
            i, shrunk = 0, False
            while i < len(parts) and tries < budget:
                candidate = (unit).join(parts[:i] + parts[i + chunk :])
                if candidate != text and still(candidate):
                    text, parts, shrunk = candidate, parts[:i] + parts[i + chunk :], True
                else:
                    i += chunk
            if not shrunk:
                chunk //= 2
    return text


def _split(text: str, unit: str) -> list[str]:
    return text.split(unit) if unit else list(text)


def tally(outcomes: Sequence[Outcome]) -> Counter[tuple[str, str]]:
    """Distinct failures (oracle, message shape) and how often each occurred."""
    return Counter(f.signature for o in outcomes for f in o.failures)
