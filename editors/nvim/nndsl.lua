-- nndsl for Neovim (>= 0.10): filetype detection and the `nnrun lsp` language server.
-- Put this file in ~/.config/nvim/plugin/ (or require it from your init.lua).
vim.filetype.add({ extension = { nn = "nndsl" } })

vim.api.nvim_create_autocmd("FileType", {
  pattern = "nndsl",
  callback = function(args)
    vim.bo[args.buf].commentstring = "# %s"
    vim.lsp.start({
      name = "nndsl",
      cmd = { "nnrun", "lsp" },
      root_dir = vim.fs.root(args.buf, { "pyproject.toml", ".git" }) or vim.fn.getcwd(),
    })
  end,
})
