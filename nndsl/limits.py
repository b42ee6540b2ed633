"""The documented limits on what the front end accepts (docs/language.md, "Limits").

Each one keeps checking bounded in time and memory on hostile or broken input, and each is
reported as an ordinary diagnostic (E0810-E0819) naming what crossed it, never as an internal
error. All are far above what a real model needs.
"""

from __future__ import annotations

import os

MAX_SOURCE_CHARS = 2**19  # E0810: characters in one source text (a file, an import, a buffer)
MAX_NESTING = 100  # E0811: expressions and statements nested in one another (`a + b + ...`)
MAX_BLOCK_DEPTH = 32  # E0812: blocks using blocks using blocks ...
MAX_IMPORT_DEPTH = 16  # E0819: files importing files importing files ...
MAX_REPEAT = 10_000  # E0813: the count of one `repeat`
MAX_GRAPH_NODES = 20_000  # E0814: layers and ops one model instantiates (repeats unrolled)
MAX_INT = 2**63 - 1  # E0815: integers, literal or computed (int64)
MAX_TENSOR_ELEMENTS = 2**32  # E0817: elements of one tensor per example (batch sizes excluded)
DEFAULT_MAX_PARAMS = 2**31  # E0818: parameters of one model (8 GiB of f32)
MAX_PARAMS_ENV = "NNDSL_MAX_PARAMS"  # overrides DEFAULT_MAX_PARAMS


def max_params() -> int:
    """The parameter budget: `$NNDSL_MAX_PARAMS` when set to a positive integer, else 2^31."""
    raw = os.environ.get(MAX_PARAMS_ENV, "").replace("_", "").strip()
    if raw.isdigit() and len(raw) <= 30 and int(raw) > 0:
        return int(raw)
    return DEFAULT_MAX_PARAMS
