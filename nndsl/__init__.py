"""nndsl: a statically shape-checked language for neural networks, compiled to JAX.

The package root stays import-light: it pulls in neither JAX nor the front end.
"""

__version__ = "0.1.0"
