"""ONNX lowerings of the `attention` family (see `nndsl.ops.attention`)."""

from __future__ import annotations
