"""The wheel carries `grammar/` and `stdlib/` (pyproject force-includes them as `nndsl/_data/`),
and the installed package finds them there rather than in a source checkout."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _build_wheel(out: Path) -> Path:
    if importlib.util.find_spec("build") is not None:
        # Without isolation when the backend is already installed: no index needed, and faster.
        isolation = [] if importlib.util.find_spec("hatchling") is None else ["--no-isolation"]
        cmd = [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            *isolation,
            "--outdir",
            str(out),
            str(ROOT),
        ]
    else:
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(ROOT)]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    wheels = sorted(out.glob("nndsl-*.whl"))
    assert len(wheels) == 1, f"expected one wheel in {out}, found {wheels}"
    return wheels[0]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_wheel(tmp_path_factory.mktemp("dist"))


def test_wheel_contains_grammar_and_stdlib(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "nndsl/_data/grammar/nn.lark" in names
    assert "nndsl/_data/stdlib/blocks.nn" in names
    assert "nndsl/resources.py" in names
    assert not any(n.startswith(("tests/", "examples/", "bench/")) for n in names)


def test_installed_wheel_uses_its_own_data(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:  # a pure-Python wheel installs by unzipping
        zf.extractall(site)
    blocks = site / "nndsl" / "_data" / "stdlib" / "blocks.nn"
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = (
        "import nndsl, nndsl.resources as r; "
        "print(nndsl.__file__); print(r.grammar_path()); print(r.stdlib_dir())"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    package, grammar, stdlib = (Path(line) for line in proc.stdout.split())
    assert package.is_relative_to(site), f"imported nndsl from {package}, not the wheel"
    assert grammar == site / "nndsl" / "_data" / "grammar" / "nn.lark"
    assert stdlib == blocks.parent
    # The installed package checks its own stdlib file with its own grammar.
    proc = subprocess.run(
        [sys.executable, "-m", "nndsl", "check", str(blocks)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
