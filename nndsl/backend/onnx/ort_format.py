"""ONNX -> ONNX Runtime's `.ort` format, what ONNX Runtime Mobile loads on Android and iOS,
with ONNX Runtime's own converter (`onnxruntime.tools.convert_onnx_models_to_ort`)."""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import tempfile
import warnings
from pathlib import Path

import onnx


class OrtConversionError(Exception):
    """The converter failed; the message is its last line."""


def to_ort(model: onnx.ModelProto) -> bytes:
    from onnxruntime.tools.convert_onnx_models_to_ort import (
        OptimizationStyle,
        convert_onnx_models_to_ort,
    )

    with tempfile.TemporaryDirectory(prefix="nndsl-ort-") as tmp:
        src = Path(tmp, "model.onnx")
        onnx.save(model, src)
        out_dir = Path(tmp, "out")
        log = io.StringIO()
        logging.disable(logging.INFO)  # the converter logs its config file at INFO
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                with warnings.catch_warnings():
                    # the converter leaves a file object open: collect it here, silently
                    warnings.simplefilter("ignore", ResourceWarning)
                    convert_onnx_models_to_ort(
                        src, output_dir=out_dir, optimization_styles=[OptimizationStyle.Fixed]
                    )
                    gc.collect()
        except Exception as exc:  # the converter raises bare exceptions
            raise OrtConversionError(f"ONNX Runtime could not convert the model: {exc}") from None
        finally:
            logging.disable(logging.NOTSET)
        found = sorted(out_dir.glob("*.ort"))
        if not found:
            lines = [line for line in log.getvalue().splitlines() if line.strip()]
            raise OrtConversionError(
                "ONNX Runtime wrote no .ort file" + (f": {lines[-1]}" if lines else "")
            )
        return found[0].read_bytes()
