"""Every example and standard-library file checks clean, with no warnings."""

from __future__ import annotations

from pathlib import Path

import pytest

from nndsl.diagnostics import render_plain
from nndsl.frontend import check_file

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted([*ROOT.glob("examples/*.nn"), *ROOT.glob("stdlib/**/*.nn")])


def test_there_are_examples() -> None:
    names = {p.name for p in FILES}
    assert {"digits_mlp.nn", "digits_cnn.nn", "residual_mlp.nn", "blocks.nn"} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_checks_clean(path: Path) -> None:
    result = check_file(path)
    assert not result.diagnostics, render_plain(result.diagnostics)


@pytest.mark.parametrize("name", ["digits_mlp.nn", "digits_cnn.nn", "residual_mlp.nn"])
def test_examples_train(name: str) -> None:
    result = check_file(ROOT / "examples" / name)
    assert result.program is not None and result.program.train is not None
    assert result.program.train.graph.outputs[0].type.shape[-1].as_int() == 10
