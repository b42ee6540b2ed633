"""The fast fuzz suite: a few thousand generated and mutated programs through every front-end
consumer (check, fmt, summary, the editor features), with the oracles of `fuzzing.py`.

Deterministic (fixed seeds) and bounded (about 2,000 cases, under 20 s of CPU besides pytest's
start-up); the long run is `bench/fuzz.py`. The two corpus files whose unmutated check alone
takes 0.3-2 s (`fuzzing.HEAVY`) are left to the long run. A failure prints the case's kind,
origin, edits and text.
"""

from __future__ import annotations

import random

import pytest

from tests.hardening.fuzzing import (
    HEAVY,
    ROOT,
    Case,
    Outcome,
    corpus,
    grammar_program,
    make_cases,
    minimize,
    mutate,
    run_case,
)

FAKE = str(ROOT / "tests" / "hardening" / "fuzz.nn")


def _light(case: Case) -> bool:
    return not any(h in case.origin for h in HEAVY)


def _report(outcomes: list[Outcome]) -> str:
    lines = []
    for o in outcomes:
        for f in o.failures[:1]:
            c = f.case
            lines.append(
                f"case {c.index} {c.kind} {c.origin} {list(c.ops)}: {f.oracle}: "
                f"{f.message.strip()[-400:]}\n--- text ---\n{c.text[:1500]}\n---"
            )
    return "\n".join(lines[:5])


def _run(cases: list[Case], oracles: tuple[str, ...]) -> None:
    failed = [o for o in (run_case(c, oracles) for c in cases if _light(c)) if o.failures]
    assert not failed, f"{len(failed)} failing cases; the first:\n{_report(failed)}"


@pytest.mark.parametrize("part", range(3))
def test_grammar_programs(part: int) -> None:
    """600 grammar-generated programs, plain and mutated: check, fmt, summary."""
    cases = make_cases(1, part * 200, 200, ("grammar", "grammar-mutation"))
    _run(cases, ("check", "fmt", "summary"))


@pytest.mark.parametrize("part", range(3))
def test_mutated_corpus(part: int) -> None:
    """750 mutations and splices of the examples, stdlib and golden files (every file
    mutated twice or more): check, fmt, summary."""
    cases = make_cases(2, part * 250, 250, ("mutation", "splice"))
    _run(cases, ("check", "fmt", "summary"))


def test_mutated_corpus_check_only() -> None:
    """400 more mutations through `check` alone (its oracle is the cheapest)."""
    _run(make_cases(4, 0, 400, ("mutation",)), ("check",))


def test_every_corpus_file_once_through_everything() -> None:
    """Each light corpus file, mutated once, through every oracle (the editor included)."""
    files = [(p, t) for p, t in corpus() if not any(p.endswith(h) for h in HEAVY)]
    cases = []
    for i, (path, text) in enumerate(files):
        mutated, ops = mutate(random.Random(f"every:{i}"), text)
        cases.append(Case(i, "mutation", path, mutated, path, tuple(ops), text))
    _run(cases, ("check", "fmt", "summary", "ide"))


def test_editor_features() -> None:
    """100 cases of every kind through the editor features as well."""
    _run(make_cases(3, 0, 100), ("check", "fmt", "summary", "ide"))


def test_generation_is_deterministic() -> None:
    a, b = make_cases(7, 40, 12), make_cases(7, 40, 12)
    assert a == b
    assert [c.index for c in a] == list(range(40, 52))
    assert grammar_program(random.Random(5)) == grammar_program(random.Random(5))
    assert make_cases(7, 44, 1) == [a[4]]  # a case is rebuilt alone from (seed, index)


def test_oracles_catch_and_minimize_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine reports an exception by oracle and shrinks its reproducer."""
    from nndsl.frontend import check_source as real

    def broken(text: str, path: str = "<input>") -> object:
        if "Dense(" in text:
            raise ZeroDivisionError("injected")
        return real(text, path)

    monkeypatch.setattr("tests.hardening.fuzzing.check_source", broken)
    [path_text] = [pt for pt in corpus() if pt[0].endswith("examples/digits_mlp.nn")]
    case = Case(0, "corpus", "digits_mlp", path_text[1], path_text[0])
    [failure] = run_case(case, ("check",)).failures
    assert failure.oracle == "check/raises" and "ZeroDivisionError" in failure.message
    assert minimize(failure, budget=400) == "Dense("


# -- regressions: what the long run found (bench/fuzz.py --seed 0 --case N rebuilds each) --------
def _nested_repeats(depth: int) -> str:
    body = "repeat 1 { " * depth + "x = x |> relu" + " }" * depth
    return f"model M() {{\n    input x: f32[B, 4]\n    {body}\n    return x\n}}\n"


def test_nested_repeats_are_linear_in_the_editor_index() -> None:
    """Semantic tokens (the editor's index) ran each loop's body twice per enclosing loop:
    2^depth passes, 140 s at depth 22 (seed 0, case 12991 timed out)."""
    text = _nested_repeats(40)
    [outcome] = [run_case(Case(0, "regression", "repeats", text, FAKE), timeout=10)]
    assert outcome.failures == [] and outcome.seconds < 10


def test_replayed_block_depth_error_is_said_once() -> None:
    """E0812 is said once per analysis; an editor re-check that replayed it from the memo
    said it again for a later block (seed 0, cases 5961 and 9501)."""
    [(path, base)] = [pt for pt in corpus() if pt[0].endswith("limits_blocks_too_deep.nn")]
    text = base.replace("block B35() { input x: f32", "block B35() { input x f32")
    assert text != base
    case = Case(0, "regression", "blocks", text, path, (), base)
    assert run_case(case, ("check", "ide")).failures == []
