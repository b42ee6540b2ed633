-- nndsl for Neovim 0.7 or newer (Debian 12 ships 0.7.2): filetype detection, comments, and the
-- `nnrun lsp` language server (diagnostics, hover, completion, go to definition, ...).
-- Put this file in ~/.config/nvim/plugin/ (or `luafile` it from your init). `nnrun` must be on
-- $PATH (or set vim.g.nndsl_cmd = { "/path/to/nnrun", "lsp" } before this file runs).
if vim.fn.has("nvim-0.7") == 0 then
  vim.api.nvim_echo({ { "nndsl.lua needs Neovim 0.7 or newer", "ErrorMsg" } }, true, {})
  return
end

local markers = { "nndsl.toml", "pyproject.toml", ".git" }

-- The project folder of a buffer: the nearest folder above it holding one of `markers`.
local function root_of(buf)
  if vim.fs and vim.fs.root then -- 0.10+
    return vim.fs.root(buf, markers) or vim.fn.getcwd()
  end
  local dir = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(buf), ":p:h")
  while dir ~= "" do
    for _, m in ipairs(markers) do
      if vim.loop.fs_stat(dir .. "/" .. m) then
        return dir
      end
    end
    local parent = vim.fn.fnamemodify(dir, ":h")
    if parent == dir then
      break
    end
    dir = parent
  end
  return vim.fn.getcwd()
end

-- Filetype: `vim.filetype.add` (0.7's is only read with g:do_filetype_lua = 1, so an autocmd too).
vim.filetype.add({ extension = { nn = "nndsl" } })
if vim.fn.has("nvim-0.8") == 0 then
  vim.cmd("autocmd BufRead,BufNewFile *.nn setfiletype nndsl")
end

local clients = {} -- 0.7: one client per project folder, started once

vim.api.nvim_create_autocmd("FileType", {
  pattern = "nndsl",
  callback = function(args)
    vim.bo[args.buf].commentstring = "# %s"
    local config = {
      name = "nndsl",
      cmd = vim.g.nndsl_cmd or { "nnrun", "lsp" },
      root_dir = root_of(args.buf),
    }
    if vim.lsp.start then -- 0.8+: reuses a running client of the same name and root
      vim.lsp.start(config)
      return
    end
    local id = clients[config.root_dir]
    if id == nil or vim.lsp.get_client_by_id(id) == nil then
      id = vim.lsp.start_client(config)
      clients[config.root_dir] = id
    end
    if id then
      vim.lsp.buf_attach_client(args.buf, id)
    end
  end,
})
