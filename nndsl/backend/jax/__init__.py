"""The JAX backend: op implementations, graph compilation and jitted training steps."""

from nndsl.backend.jax.compile import CompiledModel, compile_graph
from nndsl.backend.jax.registry import (
    ApplyCall,
    LabelCall,
    impl,
    implementation,
    missing_implementations,
)

__all__ = [
    "ApplyCall",
    "CompiledModel",
    "LabelCall",
    "compile_graph",
    "impl",
    "implementation",
    "missing_implementations",
]
