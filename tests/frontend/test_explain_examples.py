"""Every diagnostic code has a failing example and a fix (`nnrun explain CODE`), and each
example really produces its code, and its fix really removes it (issue 18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nndsl.diagnostics import CODES
from nndsl.diagnostics.examples import EXAMPLES, NO_EXAMPLE, Example
from nndsl.frontend import check_source


def _codes(example: Example, text: str, tmp_path: Path) -> set[str]:
    for name, content in example.files:
        (tmp_path / name).write_text(content)
    path = tmp_path / "example.nn"
    path.write_text(text)
    result = check_source(text, str(path))
    found = {d.code for d in result.diagnostics}
    if not result.has_errors and result.program is not None and example.broken.count("/ groups"):
        from nndsl.backend.onnx import check_exportable  # E07xx: export's own check

        for graph in result.program.graphs.values():
            found |= {d.code for d in check_exportable(graph)}
    return found


def test_every_code_has_an_example_or_a_reason() -> None:
    assert set(EXAMPLES) | set(NO_EXAMPLE) == set(CODES)
    assert not set(EXAMPLES) & set(NO_EXAMPLE)


@pytest.mark.parametrize("code", sorted(EXAMPLES))
def test_the_example_fails_with_its_code_and_the_fix_removes_it(
    code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if code == "E0814":  # stop unrolling at 2,000 layers, not 20,000 (tests/ui has the real one)
        import nndsl.check.elaborate as elaborate

        monkeypatch.setattr(elaborate, "MAX_GRAPH_NODES", 2_000)
    example = EXAMPLES[code]
    assert example.old in example.broken
    assert code in _codes(example, example.broken, tmp_path), example.broken[:2000]
    fixed = _codes(example, example.fixed(), tmp_path)
    assert code not in fixed and not {c for c in fixed if c.startswith("E")}, fixed


def test_explain_prints_the_example_and_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    from nndsl.cli.main import main

    for code in sorted(CODES):
        assert main(["explain", code]) == 0
        out = capsys.readouterr().out
        if code in NO_EXAMPLE:
            assert "No example: " in out
            continue
        assert f"Example (fails with {code}):" in out and "\nFixed:\n" in out, code
    assert main(["explain", "E0201"]) == 0
    out = capsys.readouterr().out
    assert "    h: f32[B, 32] = x |> Dense(16)\n" in out.split("Fixed:")[0]
    assert "    h: f32[B, 32] = x |> Dense(32)\n" in out.split("Fixed:")[1]
