"""ONNX lowerings of the `operators` family (see `nndsl.ops.operators`)."""

from __future__ import annotations
