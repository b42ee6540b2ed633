"""Running `python -m nndsl` as a user does, for the tests that drive the CLI. No JAX here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def nnrun(
    *args: str, cwd: Path = ROOT, timeout: float = 300, columns: int = 120
) -> subprocess.CompletedProcess[str]:
    """Plain output (no colour, a fixed width) so the tests can match text."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "COLUMNS": str(columns),
        "NO_COLOR": "1",
        "TERM": "dumb",
    }
    return subprocess.run(
        [sys.executable, "-m", "nndsl", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
