"""ONNX lowerings of the `merging` family (see `nndsl.ops.merging`)."""

from __future__ import annotations
