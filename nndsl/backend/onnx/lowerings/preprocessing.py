"""ONNX lowerings of the `preprocessing` family (see `nndsl.ops.preprocessing`)."""

from __future__ import annotations
