"""The code blocks of the hand-written docs work: `nn` blocks check, shell and Python parse.

Each fence in a checked page says what it holds in its info string (CONTRIBUTING.md, "Code
blocks in the docs"):

    ```nn                 a whole file: it must check without errors
    ```nn body            statements of a model body (`x`, `h`, `r` bound, `hidden = 64`)
    ```nn train           settings of a `train` section (loss, optimizer, accuracy filled in)
    ```nn parse           a file that must parse; not checked (it names files not shipped)
    ```nn error E0202     an intentional mistake: checking must report that code
    ```nn synopsis        notation, not nndsl (`[= default]`, `...`): not checked
    ```sh / ```console    commands: bash must parse them (`console`: the `$ ` lines), and
                          `nnrun` / `make` must name a real command / target
    ```python             must compile
    ```text, java, ...    output or other languages: not checked

The generated pages (docs/layers.md, docs/reference.md) are left out: their blocks are the
specs' examples, checked by tests/frontend/test_reference.py.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from nndsl.diagnostics import render_plain
from nndsl.frontend import check_source
from nndsl.ops.reference import PAGES
from nndsl.syntax import parse

ROOT = Path(__file__).resolve().parents[2]
GENERATED = {ROOT / "docs" / name for name in PAGES}
PAGES_CHECKED = sorted(
    [*(p for p in (ROOT / "docs").glob("*.md") if p not in GENERATED), ROOT / "CONTRIBUTING.md"]
)
NN_MODES = {"", "body", "train", "parse", "error", "synopsis"}
UNCHECKED = {"text", "java", "kotlin", "json", "toml", "yaml", "javascript", "js", "html"}
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)

BODY = """model Doc(hidden: int = 64) {{
    input x: f32[B, 64]
    h = x
    r = x
{body}
    return h, r
}}
"""
TRAIN = """model Doc() {{
    input x: f32[B, 16]
    return x |> Dense(10)
}}
data d = npz("d.npz")
train Doc on d {{
{body}
}}
"""
TRAIN_DEFAULTS = {
    "loss": "loss = cross_entropy(from_logits = true)",
    "optimizer": "optimizer = adam",
    "metrics": "metrics = [accuracy]",
}


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    mode: str
    code: str

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        info = m.group(1).strip().split(maxsplit=1)
        lang = info[0] if info else ""
        mode = info[1] if len(info) > 1 else ""
        out.append(Block(page, text.count("\n", 0, m.start()) + 1, lang, mode, m.group(2)))
    return out


ALL = [b for page in PAGES_CHECKED for b in blocks(page)]


def _of(*langs: str) -> list[Block]:
    return [b for b in ALL if b.lang in langs]


def _indent(code: str) -> str:
    return "\n".join("    " + line if line else line for line in code.splitlines())


def test_pages_have_blocks() -> None:
    assert any(b.page.name == "language.md" for b in ALL)
    assert len(_of("nn")) >= 10


@pytest.mark.parametrize("block", ALL, ids=str)
def test_every_fence_says_what_it_holds(block: Block) -> None:
    known = {"nn", "sh", "console", "python", *UNCHECKED}
    assert block.lang in known, f"{block}: fence info {block.lang!r}: use one of {sorted(known)}"
    if block.lang == "nn":
        assert block.mode.split(" ")[0] in NN_MODES, f"{block}: unknown nn mode {block.mode!r}"


@pytest.mark.parametrize("block", _of("nn"), ids=str)
def test_nn_block(block: Block) -> None:
    mode, _, code = block.mode.partition(" ")
    name = f"{block.page.stem}_{block.line}.nn"
    if mode == "synopsis":
        return
    if mode == "parse":
        result = parse(block.code, name)
        assert not result.diagnostics, f"{block}\n{render_plain(result.diagnostics)}"
        return
    if mode == "body":
        src = BODY.format(body=_indent(block.code))
    elif mode == "train":
        settings = dict(TRAIN_DEFAULTS)
        settings[block.code.split("=", 1)[0].strip()] = block.code.rstrip()
        src = TRAIN.format(body=_indent("\n".join(settings.values())))
    else:
        src = block.code
    result = check_source(src, name)
    errors = result.errors
    if mode == "error":
        assert errors, f"{block}: marked as an error, but it checks clean"
        codes = {d.code for d in errors}
        assert not code or code in codes, f"{block}: expected {code}, got {sorted(codes)}"
        return
    assert not errors, f"{block}\n{src}\n{render_plain(result.diagnostics)}"


def _commands(block: Block) -> list[str]:
    lines = block.code.splitlines()
    if block.lang == "console":
        return [line[2:] for line in lines if line.startswith("$ ")]
    return lines


@pytest.mark.parametrize("block", _of("sh", "console"), ids=str)
def test_shell_block_parses(block: Block) -> None:
    script = "\n".join(_commands(block)) + "\n"
    run = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
    assert run.returncode == 0, f"{block}: {run.stderr}"


def _nnrun_commands() -> set[str]:
    from nndsl.cli.main import build_parser

    parser = build_parser()
    assert parser._subparsers is not None
    return {name for a in parser._subparsers._group_actions for name in getattr(a, "choices", {})}


def _make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z-]*):", text, re.M))


@pytest.mark.parametrize("block", _of("sh", "console"), ids=str)
def test_shell_block_names_real_commands(block: Block) -> None:
    targets = _make_targets()
    for line in _commands(block):
        words = line.split("#", 1)[0].split()
        if len(words) < 2:
            continue
        if words[0] == "nnrun" and not words[1].startswith("-"):
            assert words[1] in _nnrun_commands() or words[1].endswith(".nn"), f"{block}: {line}"
        if words[0] == "make" and not words[1].startswith("-"):
            assert words[1] in targets, f"{block}: no make target {words[1]!r}"


@pytest.mark.parametrize("block", _of("python"), ids=str)
def test_python_block_compiles(block: Block) -> None:
    compile(block.code, str(block), "exec")
