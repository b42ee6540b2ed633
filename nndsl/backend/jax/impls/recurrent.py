"""JAX implementations of the recurrent specs."""
