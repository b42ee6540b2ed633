"""The language server: transports `nndsl.ide` answers over LSP (pygls). Never imports JAX."""
