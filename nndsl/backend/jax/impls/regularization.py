"""JAX implementations of the regularization specs."""
