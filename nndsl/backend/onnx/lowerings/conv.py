"""ONNX lowerings of the `conv` family (see `nndsl.ops.conv`)."""

from __future__ import annotations
