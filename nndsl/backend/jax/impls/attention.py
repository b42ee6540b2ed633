"""JAX implementations of the attention specs."""
