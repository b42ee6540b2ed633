"""ONNX lowerings of the `norm` family (see `nndsl.ops.norm`)."""

from __future__ import annotations
