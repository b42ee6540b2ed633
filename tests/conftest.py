"""Shared test set-up: make the repository root importable. Must not import JAX."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Tests compare float32 results with NumPy and Keras at ~1e-5; on GPUs JAX's default matmul
# precision (TF32 on Ampere and later) differs by ~1e-3. JAX reads this when first imported.
os.environ.setdefault("JAX_DEFAULT_MATMUL_PRECISION", "highest")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
