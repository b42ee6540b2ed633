"""`python -m nndsl` as a user runs it: exit codes, one-line usage errors, help, explain."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import nnrun

ROOT = Path(__file__).resolve().parents[2]
MLP = ROOT / "examples" / "digits_mlp.nn"


BROKEN = "model M() {\n    input x: f32[B, 8]\n    return x |> Dnese(4)\n}\n"
WARN = "model M() {\n    input x: f32[B, 8]\n    h = x |> Dense(2)\n    return x\n}\n"


def test_check_clean_file_exits_0() -> None:
    proc = nnrun("check", str(MLP))
    assert proc.returncode == 0, proc.stderr
    assert "1 file checked, 0 errors, 0 warnings" in proc.stderr


def test_check_quiet_clean_file_prints_nothing() -> None:
    proc = nnrun("check", "--quiet", str(MLP))
    assert proc.returncode == 0
    assert proc.stdout == "" and proc.stderr == ""


def test_check_errors_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.nn"
    bad.write_text(BROKEN)
    proc = nnrun("check", str(bad), str(MLP))
    assert proc.returncode == 1
    assert "E0101" in proc.stderr and "did you mean `Dense`?" in proc.stderr
    assert "2 files checked, 1 error, 0 warnings" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_check_warnings_only_exit_0(tmp_path: Path) -> None:
    warn = tmp_path / "warn.nn"
    warn.write_text(WARN)
    proc = nnrun("check", str(warn))
    assert proc.returncode == 0
    assert "W0101" in proc.stderr and "0 errors, 1 warning" in proc.stderr


@pytest.mark.parametrize("command", ["check", "summary"])
def test_missing_file_is_a_one_line_usage_error(command: str) -> None:
    proc = nnrun(command, "does/not/exist.nn")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnrun: error:"), proc.stderr
    assert "does/not/exist.nn" in lines[0]


def test_directory_is_a_usage_error(tmp_path: Path) -> None:
    proc = nnrun("check", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("nnrun: error:") and "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", ["train", "check", "summary", "predict", "explain"])
def test_help_for_each_command(command: str) -> None:
    proc = nnrun(command, "--help")
    assert proc.returncode == 0
    assert "usage:" in proc.stdout


def test_top_level_help_and_version() -> None:
    assert nnrun("--help").returncode == 0
    proc = nnrun("--version")
    assert proc.returncode == 0 and "nndsl" in proc.stdout


def test_explain_prints_the_explanation() -> None:
    proc = nnrun("explain", "E0201")
    assert proc.returncode == 0
    assert "E0201: shape mismatch" in proc.stdout
    assert "inferred [B, 16]" in proc.stdout
    assert nnrun("explain", "e0201").returncode == 0  # case-insensitive


def test_explain_unknown_code() -> None:
    proc = nnrun("explain", "E4242")
    assert proc.returncode == 2
    assert proc.stderr.startswith("nnrun: error:") and "Traceback" not in proc.stderr


def test_summary_prints_totals_and_params() -> None:
    proc = nnrun("summary", str(MLP))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "DigitsMLP" in out
    assert "Total params: 26,122" in out
    assert "Trainable params: 26,122" in out
    assert "Non-trainable params: 0" in out
    assert "[B, 128]" in out and "8,320" in out


def test_summary_counts_non_trainable_state(tmp_path: Path) -> None:
    f = tmp_path / "bn.nn"
    f.write_text("model M() {\n    input x: f32[B, 4]\n    return x |> BatchNorm()\n}\n")
    proc = nnrun("summary", str(f))
    assert proc.returncode == 0, proc.stderr
    assert "Total params: 16" in proc.stdout
    assert "Non-trainable params: 8" in proc.stdout


def test_summary_shows_forward_flops_per_example() -> None:
    proc = nnrun("summary", str(MLP))
    assert proc.returncode == 0, proc.stderr
    # 64 -> 128 -> 128 -> 10, each `2 * in * out` plus the bias (and the ReLUs)
    assert "Forward FLOPs per example: 52,234 (52.23 K)" in proc.stdout
    assert "FLOPs" in proc.stdout.splitlines()[2] and "16.64 K" in proc.stdout


SEQ = (
    "model M() {\n    input t: f32[B, T, 16]\n"
    "    return t |> LSTM(32, return_sequences = true) |> sample_normal |> Dense(4)\n}\n"
)


def test_summary_flops_of_a_symbolic_length(tmp_path: Path) -> None:
    f = tmp_path / "seq.nn"
    f.write_text(SEQ)
    proc = nnrun("summary", str(f))
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if "Forward FLOPs" in x)
    assert "13092*T (depends on T; fix with --size T=N)" in line
    assert line.endswith("not counted: sample_normal")
    proc = nnrun("summary", str(f), "--size", "T=10")
    assert "Forward FLOPs per example: 130,920 (130.92 K)" in proc.stdout
    proc = nnrun("summary", str(f), "--size", "T=ten")
    assert proc.returncode == 2 and proc.stderr.startswith("nnrun: error: `--size T=ten`")


def test_summary_flops_take_a_length_from_the_data(tmp_path: Path) -> None:
    f = tmp_path / "text.nn"
    f.write_text(
        "model M() {\n    input t: i32[B, T]\n"
        "    return t |> Embedding(100, 8) |> LSTM(16) |> Dense(2)\n}\n"
        'data d = text_folder("texts", max_tokens = 100, output_sequence_length = 12)\n'
        "train M on d {\n    loss = cross_entropy(from_logits = true)\n    optimizer = sgd\n}\n"
    )
    proc = nnrun("summary", str(f))
    assert "Forward FLOPs per example: 40,194 (40.19 K)" in proc.stdout, proc.stdout + proc.stderr
    assert "FLOPs with T = 12 (from data `d`)" in proc.stdout
    proc = nnrun("summary", str(f), "--size", "T=3")
    assert "Forward FLOPs per example: 10,098 (10.10 K)" in proc.stdout
    assert "FLOPs with T = 3\n" in proc.stdout


def test_summary_unknown_model_is_one_line() -> None:
    proc = nnrun("summary", str(MLP), "--model", "Nope")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnrun: error:")
    assert "Nope" in lines[0] and "DigitsMLP" in lines[0]
    assert "Traceback" not in proc.stderr


def test_summary_of_broken_file_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.nn"
    bad.write_text(BROKEN)
    proc = nnrun("summary", str(bad))
    assert proc.returncode == 1
    assert "E0101" in proc.stderr and "Traceback" not in proc.stderr


def test_no_command_prints_help_and_exits_2() -> None:
    proc = nnrun()
    assert proc.returncode == 2
    assert "usage:" in proc.stdout


def test_fmt_check_write_and_syntax_errors(tmp_path: Path) -> None:
    messy = tmp_path / "m.nn"
    messy.write_text("model M(){input x:f32[B,4]   # in\n return x|>Dense( 2 )}\n")
    check = nnrun("fmt", "--check", str(messy))
    assert check.returncode == 1 and "would reformat" in check.stderr
    assert nnrun("fmt", str(messy)).returncode == 0
    assert messy.read_text() == (
        "model M() {\n    input x: f32[B, 4]  # in\n    return x |> Dense(2)\n}\n"
    )
    assert nnrun("fmt", "--check", str(messy)).returncode == 0
    broken = tmp_path / "b.nn"
    broken.write_text("model M( {\n")
    run = nnrun("fmt", str(broken))
    assert run.returncode == 1 and "E00" in run.stderr and "Traceback" not in run.stderr
    assert broken.read_text() == "model M( {\n"
