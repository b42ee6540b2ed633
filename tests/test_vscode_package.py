"""The VS Code extension packages cleanly with `vsce package` into a .vsix holding the
esbuild bundle, the grammar and the manifest, and no node_modules (issue 18). Needs Node, npm
and editors/vscode/node_modules (`npm ci` there; .ci/run does it); skipped, saying so,
without them."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXT = ROOT / "editors/vscode"


def test_vsce_packages_the_bundled_extension(tmp_path: Path) -> None:
    npx = shutil.which("npx")
    if npx is None or shutil.which("node") is None:
        pytest.skip("node/npm are not installed (Debian: apt-get install nodejs npm)")
    if not (EXT / "node_modules/.bin/vsce").exists():
        pytest.skip("editors/vscode/node_modules is missing: run `npm ci` there (.ci/run does)")
    out = tmp_path / "nndsl.vsix"
    run = subprocess.run(
        [
            npx,
            "vsce",
            "package",
            "--no-dependencies",
            "--allow-missing-repository",
            "--out",
            str(out),
        ],
        cwd=EXT,
        env={**os.environ, "CI": "true"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "WARNING" not in run.stdout + run.stderr, run.stdout + run.stderr
    names = set(zipfile.ZipFile(out).namelist())
    for wanted in (
        "extension/package.json",
        "extension/dist/extension.js",
        "extension/syntaxes/nndsl.tmLanguage.json",
        "extension/language-configuration.json",
        "extension/LICENSE.txt",
    ):
        assert wanted in names, sorted(names)
    assert not [n for n in names if "node_modules" in n or n == "extension/extension.js"]
    bundle = zipfile.ZipFile(out).read("extension/dist/extension.js").decode()
    assert 'require("vscode-languageclient' not in bundle  # bundled, not required
