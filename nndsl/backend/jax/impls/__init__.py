"""JAX implementations, one module per family, mirroring `nndsl.ops`."""
