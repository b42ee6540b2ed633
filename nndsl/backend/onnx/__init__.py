"""The ONNX backend: lowers the checked IR to an ONNX model (a second backend beside JAX).

Imported only by `nnrun export` / `nnrun check --target onnx`; it needs the `export` extra
(`onnx`, and `onnxruntime` to verify, quantize and convert).
"""

from nndsl.backend.onnx.emit import ExportError, check_exportable, export_onnx
from nndsl.backend.onnx.registry import missing_lowerings

__all__ = ["ExportError", "check_exportable", "export_onnx", "missing_lowerings"]
