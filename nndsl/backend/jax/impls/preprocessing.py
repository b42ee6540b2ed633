"""JAX implementations of the preprocessing specs."""
