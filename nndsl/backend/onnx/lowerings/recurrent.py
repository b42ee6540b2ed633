"""ONNX lowerings of the `recurrent` family (see `nndsl.ops.recurrent`)."""

from __future__ import annotations
