"""The Neovim plugin (editors/nvim/nndsl.lua) in a real headless Neovim: it starts `nnrun lsp`
for a .nn file, the file's diagnostic arrives, and hover answers (issue 18). Works on Debian
12's Neovim 0.7.2 and on 0.8+; skipped, saying so, where `nvim` is not installed (.ci/run
installs Debian's `neovim` when missing)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "editors/nvim/nndsl.lua"

SOURCE = """model M() {
    input x: f32[B, 8]
    h = x |> Dense(16)
    return h |> Dense(4) + x
}
"""

SCRIPT = """
vim.cmd("luafile " .. vim.fn.fnameescape(PLUGIN))
vim.cmd("edit " .. vim.fn.fnameescape(FILE))
local result = { filetype = vim.bo.filetype, version = tostring(vim.version().major) .. "."
  .. tostring(vim.version().minor) .. "." .. tostring(vim.version().patch) }
vim.wait(60000, function() return #vim.diagnostic.get(0) > 0 end, 100)
result.diagnostics = {}
for _, d in ipairs(vim.diagnostic.get(0)) do
  table.insert(result.diagnostics, { line = d.lnum, message = d.message })
end
local params = {
  textDocument = { uri = vim.uri_from_bufnr(0) },
  position = { line = 2, character = 14 },
}
local answers = vim.lsp.buf_request_sync(0, "textDocument/hover", params, 30000) or {}
result.hover = ""
for _, answer in pairs(answers) do
  if answer.result and answer.result.contents then
    local c = answer.result.contents
    result.hover = type(c) == "table" and (c.value or vim.inspect(c)) or tostring(c)
  end
end
local out = io.open(OUT, "w")
out:write(vim.fn.json_encode(result))
out:close()
vim.cmd("qa!")
"""


def test_neovim_shows_the_diagnostic_and_answers_hover(tmp_path: Path) -> None:
    nvim = shutil.which("nvim")
    if nvim is None:
        pytest.skip("nvim is not installed (Debian: apt-get install neovim; .ci/run does it)")
    (tmp_path / "pyproject.toml").write_text("")
    source = tmp_path / "bad.nn"
    source.write_text(SOURCE)
    out = tmp_path / "result.json"
    script = tmp_path / "test.lua"
    script.write_text(
        f"PLUGIN = {json.dumps(str(PLUGIN))}\nFILE = {json.dumps(str(source))}\n"
        f"OUT = {json.dumps(str(out))}\n" + SCRIPT
    )
    bin_dir = str(Path(sys.executable).parent)  # the venv's, where `nnrun` lives
    env = {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    run = subprocess.run(
        [nvim, "--headless", "--clean", "-c", f"luafile {script}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.exists(), (run.returncode, run.stdout[-2000:], run.stderr[-2000:])
    result = json.loads(out.read_text())
    assert result["filetype"] == "nndsl", result
    assert result["diagnostics"], result  # f32[B, 4] + f32[B, 8] does not broadcast
    assert result["diagnostics"][0]["line"] == 3
    assert "Dense" in result["hover"], result
