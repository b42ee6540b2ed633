"""ONNX lowerings of the `regularization` family (see `nndsl.ops.regularization`): all of them
are random only while training, so an exported (inference) model passes the input through.
ActivityRegularization's penalty is a training loss term, absent at inference too."""

from __future__ import annotations

from nndsl.backend.onnx.registry import LowerCall, lowering


@lowering(
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
)
def identity_at_inference(call: LowerCall) -> str:
    return call.x
