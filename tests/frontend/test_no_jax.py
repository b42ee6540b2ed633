"""The front end, `check` and `summary` never import JAX (or optax)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import contextlib, io, sys
from nndsl.frontend import check_file, check_source
example = sys.argv[1]
result = check_file(example)
assert not result.has_errors, result.diagnostics
assert result.graph() is not None
check_source("model M() { input x: f32[B, 2]\\n return x |> Dense(2) }", "x.nn")
from nndsl.cli.commands import cmd_check  # noqa: F401
from nndsl.cli.main import main
out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    assert main(["check", example]) == 0
    assert main(["summary", example]) == 0
    assert main(["explain", "E0201"]) == 0
assert "Total params" in out.getvalue(), out.getvalue()
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("jax", "jaxlib", "optax"))
assert not bad, bad
print("NO-JAX-OK")
"""


def test_frontend_and_check_do_not_import_jax() -> None:
    example = ROOT / "examples" / "digits_cnn.nn"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(example)],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "120"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "NO-JAX-OK" in proc.stdout
