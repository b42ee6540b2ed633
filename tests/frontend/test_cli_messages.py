"""`nnrun`'s first word: a command, a model file, or a clear error (issue 18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nndsl.cli.main import main


def test_a_mistyped_command_suggests_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sumary", "x.nn"]) == 2
    assert capsys.readouterr().err == (
        "nnrun: error: unknown command `sumary`, did you mean `summary`?\n"
    )


def test_an_unknown_word_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnrun: error: unknown command `frobnicate` (and no such file)")
    assert "summary" in err and "nnrun --help" in err


def test_a_file_is_still_trained(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["nosuch.nn"]) == 2  # `nnrun FILE` = `nnrun train FILE`
    assert capsys.readouterr().err == "nnrun: error: no such file: nosuch.nn\n"
    (tmp_path / "summery").write_text("")  # a file, however close to a command
    main(["summery"])
    assert "unknown command" not in capsys.readouterr().err
