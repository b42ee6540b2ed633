"""`nnrun`: the command line. Heavy imports (JAX, optax) happen inside the commands that need
them, so `nnrun check` and `nnrun summary` start in a fraction of a second."""
