"""ONNX lowerings of the `pool` family (see `nndsl.ops.pool`)."""

from __future__ import annotations
