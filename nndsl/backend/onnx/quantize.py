"""int8 quantization with ONNX Runtime's own tools (`onnxruntime.quantization`).

Without calibration data: dynamic quantization (weights stored as int8, activations
quantized on the fly per batch), which suits MLPs, recurrent nets and Transformers. With
calibration rows: static quantization in the QDQ format (per-channel weights, activation
ranges from the calibration data), which is what convolutional nets need to get faster.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process


class _Rows(CalibrationDataReader):  # type: ignore[misc]
    """Feeds the calibration arrays in batches of `batch` rows."""

    def __init__(self, arrays: Mapping[str, np.ndarray], batch: int = 32) -> None:
        n = len(next(iter(arrays.values())))
        self._batches: Iterator[dict[str, np.ndarray]] = iter(
            [{k: v[i : i + batch] for k, v in arrays.items()} for i in range(0, n, batch)]
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def quantize_int8(
    model: onnx.ModelProto, calibration: Mapping[str, np.ndarray] | None = None
) -> onnx.ModelProto:
    """The int8 model: static (QDQ, per channel) with `calibration` inputs, else dynamic."""
    with tempfile.TemporaryDirectory(prefix="nndsl-quant-") as tmp:
        src, prepared, out = Path(tmp, "f32.onnx"), Path(tmp, "pre.onnx"), Path(tmp, "i8.onnx")
        onnx.save(model, src)
        # shape inference and graph cleanup first, as ONNX Runtime recommends
        quant_pre_process(str(src), str(prepared), skip_symbolic_shape=True)
        if calibration is None:
            quantize_dynamic(prepared, out, weight_type=QuantType.QInt8)
        else:
            quantize_static(
                prepared,
                out,
                _Rows(calibration),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
            )
        quantized = onnx.load(out)
    del quantized.metadata_props[:]
    quantized.metadata_props.extend(model.metadata_props)
    return quantized
