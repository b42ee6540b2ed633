"""What the CLI and the REPL share on a terminal: the `.nn` lexer, diagnostics through rich,
the training progress view and Ctrl-C around `fit`. Both consumers import this package; neither
imports the other's modules."""
