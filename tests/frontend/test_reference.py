"""Every spec documents itself, its example checks clean, and docs/reference.md is current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nndsl.diagnostics import render_plain
from nndsl.frontend import check_source
from nndsl.ops import OpKind, OpSpec, iter_specs

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted(iter_specs(), key=lambda s: s.name)
_TENSORS = ("x", "image", "a", "b", "logits")


def _program(spec: OpSpec) -> str:
    example = spec.example
    if spec.kind is OpKind.DATA:
        return example + "\n"
    if spec.kind in (
        OpKind.LOSS,
        OpKind.METRIC,
        OpKind.OPTIMIZER,
        OpKind.SCHEDULE,
        OpKind.CALLBACK,
    ):
        settings = {"loss": "loss = mse", "optimizer": "optimizer = sgd"}
        settings[example.split("=")[0].strip()] = example
        body = "\n    ".join(settings.values())
        shape = "[B, 8, 16]" if "[B, T, classes]" in spec.rule else "[B, 16]"  # e.g. ctc
        return (
            f"model M() {{\n    input x: f32{shape}\n    return x |> Dense(10)\n}}\n"
            'data d = npz("d.npz")\n'
            f"train M on d {{\n    {body}\n}}\n"
        )
    if "input " in example:  # the example declares its own inputs: `input t: i32[B, 20]\n...`
        lines = example.strip().splitlines()
        target = lines[-1].split("=")[0].strip()
        body = "\n    ".join(lines)
        return f"model M() {{\n    {body}\n    return {target}\n}}\n"
    spatial = "H, W" in spec.rule
    shape = "[B, 8, 8, 3]" if spatial else "[B, 16]"
    inputs = "\n".join(f"    input {t}: f32{shape}" for t in _TENSORS)
    target = example.split("=")[0].strip()
    uses = " + ".join(f"(({t}) |> Flatten() |> Dense(1))" for t in _TENSORS)
    return (
        f"model M() {{\n{inputs}\n    input w: f32[16, 4]\n    {example}\n"
        f"    return {target}, {uses}, w\n}}\n"
    )


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_spec_is_documented(spec: OpSpec) -> None:
    assert spec.doc(), f"{spec.name} has no docstring"
    assert spec.example, f"{spec.name} has no example"
    for arg in spec.args:
        assert arg.doc or arg.name in ("value", "dtype"), f"{spec.name}.{arg.name} has no doc"


@pytest.mark.parametrize("spec", [s for s in SPECS if s.name != "constant"], ids=lambda s: s.name)
def test_example_checks_clean(spec: OpSpec) -> None:
    src = _program(spec)
    result = check_source(src, f"{spec.name}.nn")
    assert not result.has_errors, src + render_plain(result.diagnostics)


def test_reference_is_current() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_docs.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
