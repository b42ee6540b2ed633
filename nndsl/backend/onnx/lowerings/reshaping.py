"""ONNX lowerings of the `reshaping` family (see `nndsl.ops.reshaping`)."""

from __future__ import annotations
