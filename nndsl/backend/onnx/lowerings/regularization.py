"""ONNX lowerings of the `regularization` family (see `nndsl.ops.regularization`)."""

from __future__ import annotations
