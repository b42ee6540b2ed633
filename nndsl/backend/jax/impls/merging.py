"""JAX implementations of the merging specs."""
