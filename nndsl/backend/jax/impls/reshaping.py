"""JAX implementations of the reshaping specs."""
