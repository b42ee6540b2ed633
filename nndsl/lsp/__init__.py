"""The language server: transports `nndsl.ide` answers over LSP (pygls). Never imports JAX.

`bootstrap` answers the editor's first exchange (initialize, the first diagnostics) before
pygls is imported, then hands the stream to `server`."""
