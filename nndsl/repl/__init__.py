"""The interactive REPL: a session of definitions checked as one module (no JAX until used)."""
