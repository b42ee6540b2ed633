"""Golden-file ("UI") tests in the style of rustc's: each `tests/ui/<name>.nn` is a broken
program whose rendered diagnostics must equal `tests/ui/<name>.stderr`. Cases named
`export_onnx_*` check cleanly but cannot be exported: their goldens hold ONNX export's
diagnostics (`nnrun check --target onnx`).

Regenerate after an intended change with `UPDATE_GOLDENS=1 pytest tests/ui`, then review the
diff by eye: messages in words, the right span, a sensible hint. Helper files that are not test
cases (import targets) live under `tests/ui/aux/`.

Absolute paths (of imported files, of `looked for ...` notes) are written as `$ROOT`, so the
goldens do not depend on where the repository is checked out.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from nndsl.diagnostics import CODES, Diagnostic, render_plain
from nndsl.frontend import check_source

UI = Path(__file__).resolve().parent
ROOT = UI.parent.parent
CASES = sorted(UI.glob("*.nn"))
UPDATE = os.environ.get("UPDATE_GOLDENS") == "1"


def _diagnostics(case: Path) -> list[Diagnostic]:
    """The checker's diagnostics; for `export_onnx_*` cases, also ONNX export's (as
    `nnrun check --target onnx` reports them)."""
    rel = case.relative_to(ROOT).as_posix()
    result = check_source(case.read_text(encoding="utf-8"), rel)
    found = list(result.diagnostics)
    if case.stem.startswith("export_onnx_") and not result.has_errors and result.program:
        from nndsl.backend.onnx import check_exportable

        for graph in result.program.graphs.values():
            found.extend(check_exportable(graph))
    return found


def _render(case: Path) -> str:
    text = render_plain(_diagnostics(case))
    return text.replace(str(ROOT) + os.sep, "$ROOT/").replace(str(ROOT), "$ROOT")


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 24


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_golden(case: Path) -> None:
    actual = _render(case)
    golden = case.with_suffix(".stderr")
    if UPDATE:
        golden.write_text(actual, encoding="utf-8")
        return
    assert golden.exists(), f"no golden for {case.name}; run with UPDATE_GOLDENS=1"
    expected = golden.read_text(encoding="utf-8")
    assert actual == expected, f"{case.name}: diagnostics differ from {golden.name}"


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_every_case_reports_something(case: Path) -> None:
    """A UI case is a broken program: it must produce at least one diagnostic, never E9999."""
    found = _diagnostics(case)
    assert found
    assert all(d.code != "E9999" for d in found)


def test_goldens_have_no_orphans() -> None:
    stems = {c.stem for c in CASES}
    orphans = [g.name for g in UI.glob("*.stderr") if g.stem not in stems]
    assert not orphans


def _codes_in_goldens() -> set[str]:
    seen: set[str] = set()
    for golden in UI.glob("*.stderr"):
        seen |= set(re.findall(r"^(?:error|warning)\[([EW]\d{4})\]", golden.read_text(), re.M))
    return seen


# Codes the checker cannot emit yet would be listed here, with the reason, as xfail.
_UNREACHABLE: dict[str, str] = {
    "E0810": "needs a source over 512 Ki characters; tests/hardening/test_limits.py has it",
}


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=_UNREACHABLE[c]))
        if c in _UNREACHABLE
        else c
        for c in sorted(set(CODES) - {"E9999"})
    ],
)
def test_every_code_has_a_golden(code: str) -> None:
    assert code in _codes_in_goldens(), f"{code} has no UI test"


def test_golden_codes_are_known() -> None:
    assert _codes_in_goldens() <= set(CODES)


def test_several_errors_are_all_reported() -> None:
    text = (UI / "several_errors.nn").read_text()
    codes = [d.code for d in check_source(text, "several_errors.nn").diagnostics]
    for code in ("E0101", "E0201", "E0404", "E0406", "E0203"):
        assert code in codes


def test_internal_error_becomes_e9999(monkeypatch: pytest.MonkeyPatch) -> None:
    from nndsl.ops import lookup

    spec = lookup("Dense")
    assert spec is not None

    def boom(attrs: object, inputs: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(spec, "output", boom)
    src = "model M() {\n    input x: f32[B, 8]\n    return x |> Dense(4)\n}\n"
    result = check_source(src, "crash.nn")  # must not raise
    codes = [d.code for d in result.diagnostics]
    assert "E9999" in codes
    diag = next(d for d in result.diagnostics if d.code == "E9999")
    assert "boom" in diag.message or "RuntimeError" in diag.message
    assert result.has_errors
    render_plain(result.diagnostics)  # renders without raising


def test_check_source_never_raises_on_analyze_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    import nndsl.frontend as frontend

    def boom(*args: object, **kwargs: object) -> object:
        raise RuntimeError("analyze exploded")

    monkeypatch.setattr(frontend, "analyze", boom)
    result = frontend.check_source("model M() {}", "x.nn")
    assert [d.code for d in result.diagnostics] == ["E9999"]
    assert result.program is None
    assert "analyze exploded" in (result.diagnostics[0].internal_traceback or "")
