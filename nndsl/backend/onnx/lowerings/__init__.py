"""ONNX lowerings, one module per op family, mirroring `nndsl/backend/jax/impls/`."""
