"""The REPL: session logic directly, and the prompt through prompt-toolkit's pipe input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from prompt_toolkit.application import create_app_session
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from nndsl.repl.session import Session

ROOT = Path(__file__).resolve().parents[2]


def _texts(session: Session, line: str) -> list[str]:
    return [r.text for r in session.handle(line)]


def test_statements_show_types_and_accumulate() -> None:
    s = Session()
    assert _texts(s, "input x: f32[B, 64]") == ["x: f32[B, 64]"]
    assert _texts(s, "h = x |> Dense(32) |> relu") == ["h: f32[B, 32]"]
    assert _texts(s, "h |> Dense(3)") == ["it: f32[B, 3]"]


def test_definitions_and_redefinition() -> None:
    s = Session()
    assert _texts(s, "block P(n: int) {\n    input x: f32[B, D]\n    return x |> Dense(n)\n}") == [
        "defined block P"
    ]
    s.handle("input x: f32[B, 8]")
    assert _texts(s, "y = x |> P(5)") == ["y: f32[B, 5]"]
    s.handle("block P(n: int) {\n    input x: f32[B, D]\n    return x |> Dense(2 * n)\n}")
    assert _texts(s, ":shape x |> P(5)") == ["it: f32[B, 10]"]


def test_errors_keep_the_session() -> None:
    s = Session()
    s.handle("input x: f32[B, 8]")
    [reply] = s.handle("y = x |> Dnese(4)")
    assert reply.kind == "error" and "did you mean `Dense`?" in reply.text
    assert [d.code for d in reply.diagnostics] == ["E0101"]
    [bad] = s.handle("block Q() { return 3 }")
    assert bad.kind == "error"
    assert "block Q" not in s.items
    assert _texts(s, "y = x |> Dense(4)") == ["y: f32[B, 4]"]


def test_completeness_drives_multiline_input() -> None:
    assert not Session.is_complete("block B(n: int) {")
    assert not Session.is_complete("h = relu(")
    assert not Session.is_complete("h = x +")
    assert Session.is_complete("h = relu(x)")
    assert Session.is_complete(":help")


def test_commands(tmp_path: Path) -> None:
    s = Session()
    assert "Dense(units: int" in _texts(s, ":doc Dense")[0]
    assert _texts(s, ":load " + str(ROOT / "examples" / "digits_mlp.nn"))[0].startswith("defined")
    assert "Total params: 26,122" in _texts(s, ":summary DigitsMLP")[0]
    out = tmp_path / "s.nn"
    assert _texts(s, f":save {out}")[0].startswith("wrote")
    assert "model DigitsMLP" in out.read_text()
    assert s.handle(":nope")[0].kind == "error"
    assert _texts(s, ":reset") == ["session cleared"]
    assert s.items == {}


def test_prompt_session_end_to_end() -> None:
    from nndsl.repl.app import run

    console = Console(record=True, width=100, color_system=None)
    keys = (
        "input x: f32[B, 4]\r"
        "block D(n: int) {\r"  # Enter inside the open block continues the input
        "input x: f32[B, K]\r"
        "return x |> Dense(n)\r"
        "}\r"
        "y = x |> D(6)\r"
        "y |> Dnse(2)\r"
        ":quit\r"
    )
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        with create_app_session(input=pipe, output=DummyOutput()):
            assert run(history=InMemoryHistory(), console=console) == 0
    text = console.export_text()
    assert "defined block D" in text
    assert "y: f32[B, 6]" in text
    assert "E0101" in text and "did you mean" in text


def test_repl_starts_without_jax() -> None:
    code = (
        "import sys; from nndsl.repl.session import Session; import nndsl.repl.app; "
        "Session().handle('input x: f32[B, 2]'); "
        "assert 'jax' not in sys.modules, 'jax imported'"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
