"""The REPL: session logic directly, and the prompt through prompt-toolkit's pipe input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from nndsl.diagnostics import render_plain
from nndsl.frontend import check_file
from nndsl.ide import Workspace
from nndsl.repl.session import Session

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "examples" / "data" / "digits.npz"
BLOCK = "block P(n: int) {\n    input x: f32[B, D]\n    return x |> Dense(n)\n}"


def _texts(session: Session, line: str) -> list[str]:
    return [r.text for r in session.handle(line)]


def test_statements_show_types_and_accumulate() -> None:
    s = Session(autorun=False)
    assert _texts(s, "input x: f32[B, 64]") == ["x: f32[B, 64]"]
    assert _texts(s, "h = x |> Dense(32) |> relu") == ["h: f32[B, 32]"]
    assert _texts(s, "h |> Dense(3)") == ["it: f32[B, 3]"]
    assert _texts(s, "mask = h > 0.5") == ["mask: bool[B, 32]"]


def test_definitions_and_redefinition() -> None:
    s = Session(autorun=False)
    assert _texts(s, BLOCK) == ["defined block P"]
    s.handle("input x: f32[B, 8]")
    assert _texts(s, "y = x |> P(5)") == ["y: f32[B, 5]"]
    s.handle(BLOCK.replace("Dense(n)", "Dense(2 * n)"))
    assert _texts(s, ":shape x |> P(5)") == ["it: f32[B, 10]"]


def test_redefinition_sets_dependents_aside_until_they_check_again() -> None:
    s = Session(autorun=False)
    s.handle(BLOCK)
    s.handle("model M() {\n    input x: f32[B, 8]\n    return x |> P(3)\n}")
    s.handle("input x: f32[B, 8]")
    s.handle("y = x |> P(5)")
    replies = s.handle(BLOCK.replace("(n: int)", "(n: int, m: int)"))
    assert [r.kind for r in replies] == ["ok", "warning", "warning"]
    assert replies[1].text == "model M no longer checks; set aside until it does"
    [diag] = replies[1].diagnostics
    # The dependent's error points into the input that defined it (the 2nd), not the module.
    assert diag.location() == "<input 2>:3:17"
    assert "dropped `y = x |> P(5)`" in replies[2].text
    assert list(s.items) == ["block P"] and [p.text for p in s.statements] == ["input x: f32[B, 8]"]
    replies = s.handle(BLOCK)
    assert [r.text for r in replies] == ["defined block P", "model M checks again; restored"]
    assert "model M" in s.items and not s.set_aside


def test_diagnostics_point_into_the_users_input() -> None:
    s = Session(autorun=False)
    s.handle("input x: f32[B, 8]")
    [reply] = s.handle("y = x |> Dnese(4)")
    assert reply.kind == "error" and [d.code for d in reply.diagnostics] == ["E0101"]
    assert reply.text.splitlines()[1:4] == [
        " --> <input 2>:1:10",
        "  |",
        "1 | y = x |> Dnese(4)",
    ]
    assert reply.diagnostics[0].fixes[0].span.start == 9  # the quick fix moved too
    [reply] = s.handle("Dense(2)(x) + zz")  # a bare expression: `it = ` is not shown
    assert " --> <input 3>:1:15" in reply.text and "1 | Dense(2)(x) + zz" in reply.text
    [reply] = s.handle("x |> Dense(2) + x")  # a syntax error, reported as the user wrote it
    assert reply.diagnostics[0].location() == "<input 4>:1:15"
    [bad] = s.handle("block Q() { return 3 }")
    assert bad.kind == "error" and "<input 5>:1:" in bad.text
    assert "block Q" not in s.items
    assert _texts(s, "y = x |> Dense(4)") == ["y: f32[B, 4]"]


def test_loaded_file_errors_render_exactly_as_nnrun_check(tmp_path: Path) -> None:
    bad = tmp_path / "bad.nn"
    bad.write_text(
        "const W = 3\n\nmodel M() {\n    input x: f32[B, 4]\n"
        "    h = x |> Dense(W)\n    return h + x\n}\n"
    )
    s = Session(autorun=False)
    [reply] = s.handle(f":load {bad}")
    expected = check_file(bad)
    assert reply.kind == "error"
    assert reply.text == render_plain(expected.errors)
    assert s.items == {}
    bad.write_text(bad.read_text().replace("Dense(W)", "Dense(4)"))
    assert _texts(s, ":reload")[1:] == ["defined const W", "defined model M"]


def test_completeness_drives_multiline_input() -> None:
    assert not Session.is_complete("block B(n: int) {")
    assert not Session.is_complete("h = relu(")
    assert not Session.is_complete("h = x +")
    assert Session.is_complete("h = relu(x)")
    assert Session.is_complete(":help")
    assert not Session.is_complete("## Doc of the block below.")  # the definition follows
    assert Session().handle("# just a comment") == []
    s = Session(autorun=False)
    assert _texts(s, "## Doc.\n" + BLOCK) == ["defined block P"]
    assert s.items["block P"].text.startswith("## Doc.")


def test_commands(tmp_path: Path) -> None:
    s = Session(autorun=False)
    assert "Dense(units: int" in _texts(s, ":doc Dense")[0]
    assert _texts(s, ":load " + str(ROOT / "examples" / "digits_mlp.nn"))[0].startswith("defined")
    summary = _texts(s, ":summary DigitsMLP")[0]
    assert "Total params: 26,122" in summary
    assert "Forward FLOPs per example: 52,234 (52.23 K)" in summary
    params = _texts(s, ":params DigitsMLP")[0]
    assert "dense/kernel" in params and "[64, 128]" in params and "untrained" in params
    out = tmp_path / "s.nn"
    assert _texts(s, f":save {out}")[0].startswith("wrote")
    saved = out.read_text()
    assert "model DigitsMLP" in saved and "## Two hidden ReLU layers" in saved  # doc comment kept
    assert s.handle(":nope")[0].kind == "error"
    assert s.handle(":summary Nope")[0].text.startswith("no model `Nope`")
    assert _texts(s, ":reset") == ["session cleared"]
    assert s.items == {}


def test_bare_expressions_run_on_concrete_inputs(tmp_path: Path) -> None:
    s = Session()
    s.handle("input x: f32[B, 3]")
    replies = s.handle("x * 2.0")
    assert [r.kind for r in replies] == ["type", "value"]
    value = replies[1].text
    assert value.startswith("it =\n") and "shape [2, 3]  dtype float32  min" in value
    data = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.save(tmp_path / "x.npy", data)
    assert s.handle(f":input x = {tmp_path / 'x.npy'}")[0].kind == "ok"
    value = s.handle("x * 2.0")[1].text
    assert "shape [4, 3]" in value and "max 22  mean 11" in value
    s.handle(":input x = random")
    s.handle(":input B = 5")
    assert "shape [5, 3]" in s.handle("x")[1].text
    big = s.handle("x |> Dense(200)")[1].text
    assert "..." in big and "shape [5, 200]" in big  # abridged
    assert s.handle(":input x = nope.npy")[0].kind == "error"


def test_train_params_predict(tmp_path: Path) -> None:
    s = Session(autorun=False)
    s.handle(f'data digits = npz("{DIGITS}", x = "images", y = "labels", test_split = 0.2)')
    s.handle("model Tiny() {\n    input image: f32[B, 64]\n    return image |> Dense(10)\n}")
    events: list[object] = []
    s.on_event = events.append
    [used, reply] = s.handle(":train Tiny on digits 1")
    assert used.kind == "info" and used.text.startswith("train Tiny on digits {")  # the settings
    assert "loss = " in used.text and "epochs = 1" in used.text
    assert reply.kind == "ok", reply.text
    assert reply.text.startswith("trained Tiny: 1 epoch(s)") and "test loss" in reply.text
    assert type(events[0]).__name__ == "FitStart" and type(events[-1]).__name__ == "FitEnd"
    assert "dense/kernel  shape [64, 10]" in _texts(s, ":params Tiny")[0]
    [value] = s.handle(":predict Tiny")
    assert value.kind == "value" and "class: [" in value.text
    assert s.handle(":train Nope on digits")[0].kind == "error"
    assert s.handle(":train Tiny")[0].text.startswith("usage")
    saved = _texts(s, f":save {tmp_path / 'tiny.nn'} --weights")
    assert saved[1] == f"wrote the weights of Tiny to {tmp_path / 'tiny.Tiny.safetensors'}"
    assert (tmp_path / "tiny.Tiny.json").is_file()


def test_save_keeps_data_paths_valid_from_the_new_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    source = tmp_path / "a/m.nn"
    source.write_text(
        'data d = npz("d.npz", x = "xs")\ndata e = csv(path = "t/e.csv", label = "y")\n'
    )
    s = Session(autorun=False)
    s.handle(f":load {source}")
    out = tmp_path / "b/saved.nn"
    assert _texts(s, f":save {out}")[0].startswith("wrote")
    text = out.read_text()
    assert 'npz("../a/d.npz", x = "xs")' in text and 'path = "../a/t/e.csv"' in text
    assert s.handle(f":save {out} --weights")[1].kind == "warning"  # nothing trained


def test_completion_and_signature_help_come_from_the_ide_layer() -> None:
    from nndsl.repl.app import SessionCompleter, signature_toolbar

    s = Session(autorun=False)
    s.handle(BLOCK)
    s.handle("input image: f32[B, 8]")
    completer = SessionCompleter(s)

    def complete(text: str) -> list[str]:
        doc = Document(text, len(text))
        return [c.text for c in completer.get_completions(doc, CompleteEvent())]

    assert "Dense" in complete("h = image |> Den")
    assert "image" in complete("h = ima")
    assert {"P", "PReLU"} <= set(complete("h = image |> P(3) |> P"))  # the session's block
    assert ":train" in complete(":tr")
    assert complete(":summary P") == []  # blocks are not models, but names are offered
    toolbar = signature_toolbar(s, Workspace(), Document("h = image |> Dense(4, ", 22))
    text = "".join(t for _, t in toolbar)
    assert text.startswith("Dense(units: int") and "activation" in text


def test_history_goes_to_the_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from nndsl.repl.app import history_path

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert history_path() == tmp_path / "nndsl" / "repl_history"


def test_prompt_session_end_to_end() -> None:
    from nndsl.repl.app import run

    console = Console(record=True, width=100, color_system=None)
    keys = (
        "input x: f32[B, 4]\r"
        "block D(n: int) {\r"  # Enter inside the open block continues the input
        "input x: f32[B, K]\r"
        "return x |> Dense(n)\r"
        "}\r"
        "y = relu(\x03"  # Ctrl-C drops the unfinished input, the session goes on
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
    assert "relu(" not in text
    assert "E0101" in text and "did you mean" in text and "<input 4>:1:6" in text


def test_ctrl_d_leaves() -> None:
    from nndsl.repl.app import run

    console = Console(record=True, width=100, color_system=None)
    with create_pipe_input() as pipe:
        pipe.send_text("\x04")
        with create_app_session(input=pipe, output=DummyOutput()):
            assert run(history=InMemoryHistory(), console=console) == 0


def test_repl_starts_without_jax() -> None:
    code = (
        "import sys; from prompt_toolkit.document import Document; "
        "from nndsl.repl.session import Session; from nndsl.repl import app; "
        "s = Session(); s.handle('input x: f32[B, 2]'); s.handle('h = x |> Dense(3)'); "
        "s.handle(':summary'); s.handle(':params'); "
        "list(app.SessionCompleter(s).get_completions(Document('h |> De'), None)); "
        "from nndsl.terminal.progress import ProgressView; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('jax', 'jaxlib', 'optax')]; "
        "assert not bad, bad"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


@pytest.mark.slow
# pexpect forks (then execs at once) in a process where other tests imported JAX, which warns.
@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_nnrun_repl_in_a_terminal(tmp_path: Path) -> None:
    """The real `nnrun repl` in a pseudo-terminal: define, shape, err, recover, train, exit."""
    pexpect = pytest.importorskip("pexpect")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "nndsl", "repl"],
        cwd=str(ROOT),
        env={**env, "PYTHONPATH": str(ROOT), "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1"},
        dimensions=(40, 120),
        encoding="utf-8",
        timeout=60,
    )
    try:
        child.expect_exact(">>>")
        for line in ("block P(n: int) {", "input x: f32[B, D]", "return x |> Dense(n)", "}"):
            child.send(line + "\r")
        child.expect_exact("defined block P")
        child.send("input x: f32[B, 8]\r")
        child.send(":shape x |> P(5)\r")
        child.expect_exact("f32[B, 5]")
        child.send("y = x |> Dnese(4)\r")
        child.expect_exact("E0101")
        child.expect_exact("did you mean `Dense`?")
        child.send("y = x |> P(3)\r")
        child.expect_exact("f32[B, 3]")
        child.send(f'data digits = npz("{DIGITS}", x = "images", y = "labels")\r')
        child.expect_exact("defined data digits")
        for line in ("model Tiny() {", "input image: f32[B, 64]", "return image |> Dense(10)", "}"):
            child.send(line + "\r")
        child.expect_exact("defined model Tiny")
        child.send(":train Tiny on digits 1\r")
        child.expect_exact("trained Tiny: 1 epoch(s)", timeout=180)
        # Between prompts the terminal is in cooked mode, where a typed-ahead Ctrl-D is eaten.
        child.expect_exact(">>>")
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, child.before
    assert (tmp_path / "nndsl" / "repl_history").read_text().count("+:train Tiny on digits 1")
