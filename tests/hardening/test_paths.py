"""Path containment: a model file reaches nothing outside its project (issue 13).

Every writing callback and every import and data form, with absolute, `..` and symlinked
paths, at check time (the diagnostic and its span) and at run time (symlinks resolved, one
line, nothing read or written); special files (FIFOs, devices, folders) refused by type before
anything opens them. Each project here holds an `nndsl.toml`, so its root does not depend on
what lies above the temporary folder.
"""

from __future__ import annotations

import contextvars
import functools
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nndsl.check.paths import (
    UnreadableSource,
    allow_outside_project,
    project_root,
    read_source,
    write_path_problem,
)
from nndsl.diagnostics import Diagnostic, render_plain
from nndsl.frontend import CheckResult, check_file

SECRET = "SECRET_TOKEN=hunter2"
MODEL = """model M() {
    input x: f32[B, 4]
    return x |> Dense(3)
}
"""
TRAIN = """
train M on d {{
    loss = cross_entropy(from_logits = true)
    optimizer = adam
    callbacks = [{callbacks}]
}}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """`tmp/proj` (the project, marked by nndsl.toml) beside `tmp/outside` holding a secret."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "nndsl.toml").write_text("")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.nn").write_text(f"{SECRET}\nmodel Bad() {{ oops }}\n")
    (outside / "victim.txt").write_text("untouched\n")
    return root


def _check(path: Path, text: str) -> CheckResult:
    path.write_text(text)
    return check_file(path)


def _codes(result: CheckResult) -> list[str]:
    return [d.code for d in result.diagnostics]


def _underlined(d: Diagnostic) -> str:
    span = d.primary.span
    return d.file.text[span.start : span.end]


# -- writes: callbacks ---------------------------------------------------------------------------
WRITERS = ["csv_log", "jsonl_log", "tensorboard"]
ESCAPES = ["../outside/victim.txt", "/abs/path.log", "logs/../../victim.txt", "..", ""]


@pytest.mark.parametrize("callback", WRITERS)
@pytest.mark.parametrize("path", ESCAPES)
def test_a_callback_path_outside_the_run_directory_is_refused_at_check_time(
    project: Path, callback: str, path: str
) -> None:
    if callback == "tensorboard":
        pytest.importorskip("tensorboardX")
    text = MODEL + 'data d = npz("d.npz")' + TRAIN.format(callbacks=f'{callback}("{path}")')
    result = _check(project / "m.nn", text)
    assert _codes(result) == ["E0801"], render_plain(result.diagnostics)
    assert _underlined(result.diagnostics[0]) == f'"{path}"'


@pytest.mark.parametrize("path", ["log.csv", "logs/log.csv", "./a/b.csv", "a..b.csv"])
def test_paths_inside_the_run_directory_pass(project: Path, path: str) -> None:
    text = MODEL + 'data d = npz("d.npz")' + TRAIN.format(callbacks=f'csv_log("{path}")')
    assert _codes(_check(project / "m.nn", text)) == []


def test_write_path_rules() -> None:
    assert write_path_problem("a/b.csv") is None
    assert write_path_problem("/x") == "it is absolute"
    assert write_path_problem("\\x") == "it is absolute"
    assert write_path_problem("C:\\x") == "it is absolute"
    assert write_path_problem("a\\..\\..\\x") == "it contains `..`"
    assert write_path_problem("a\0b") == "it contains a NUL character"


def _callbacks(project: Path, callbacks: str) -> list[Any]:
    from nndsl.runtime.callbacks import build_callbacks

    text = MODEL + 'data d = npz("d.npz")' + TRAIN.format(callbacks=callbacks)
    result = _check(project / "m.nn", text)
    assert result.program is not None and result.program.train is not None, result.diagnostics
    return build_callbacks(result.program.train)


@pytest.mark.parametrize(
    ("callbacks", "link"),
    [
        ('csv_log("log.csv")', "log.csv"),
        ('jsonl_log("logs/log.jsonl")', "logs"),
        ('tensorboard("tb")', "tb"),
        ("checkpoint(every = 1)", "checkpoints"),
        ('checkpoint(best = "loss")', "best.safetensors"),
    ],
)
def test_a_symlink_out_of_the_run_directory_stops_the_run_before_anything_is_written(
    project: Path, callbacks: str, link: str
) -> None:
    from nndsl.runtime.callbacks import check_written_paths
    from nndsl.runtime.checkpoint import CheckpointError

    if "tensorboard" in callbacks:
        pytest.importorskip("tensorboardX")
    built = _callbacks(project, callbacks)
    run_dir = project / "runs" / "M"
    run_dir.mkdir(parents=True)
    check_written_paths(run_dir, built)  # no link yet: fine
    victim = project.parent / "outside" / "victim.txt"
    target = victim if "." in link else victim.parent
    (run_dir / link).symlink_to(target)
    with pytest.raises(CheckpointError, match="outside it") as err:
        check_written_paths(run_dir, built)
    assert "\n" not in str(err.value) and str(target.resolve()) in str(err.value)
    assert victim.read_text() == "untouched\n"


def test_a_dangling_symlink_out_of_the_run_directory_is_refused(project: Path) -> None:
    from nndsl.backend.jax.impls.callbacks import OutsideRunDir, inside_run_dir

    run_dir = project / "runs" / "M"
    run_dir.mkdir(parents=True)
    (run_dir / "log.csv").symlink_to(project.parent / "outside" / "new.csv")
    with pytest.raises(OutsideRunDir):
        inside_run_dir(run_dir, "log.csv")
    (run_dir / "ok").symlink_to(run_dir / "sub")  # a link that stays inside is fine
    assert inside_run_dir(run_dir, "ok/log.csv") == (run_dir / "sub" / "log.csv").resolve()


def test_a_symlinked_log_in_training_is_one_line_and_overwrites_nothing(project: Path) -> None:
    """End to end through `nnrun train`: the error comes before the log is opened."""
    from nndsl.cli.main import main

    x = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    np.savez(project / "d.npz", x=x, y=np.arange(32) % 3)
    text = MODEL + 'data d = npz("d.npz")' + TRAIN.format(callbacks='csv_log("log.csv")')
    (project / "m.nn").write_text(text.replace("optimizer = adam", "optimizer = adam\nepochs = 1"))
    run_dir = project / "run"
    run_dir.mkdir()
    victim = project.parent / "outside" / "victim.txt"
    (run_dir / "log.csv").symlink_to(victim)
    code = main(["train", str(project / "m.nn"), "--out", str(run_dir), "--quiet", "--no-cache"])
    assert code == 1
    assert victim.read_text() == "untouched\n"
    assert not (run_dir / "model.safetensors").exists()


# -- reads: imports ------------------------------------------------------------------------------
def _no_secret(result: CheckResult) -> None:
    shown = render_plain(result.diagnostics)
    assert SECRET not in shown and "oops" not in shown, shown


@pytest.mark.parametrize(
    "target",
    ["/etc/passwd", "../outside/secret.nn", "{outside}/secret.nn", "sub/../../outside/secret.nn"],
)
def test_an_import_outside_the_project_is_refused_and_not_read(project: Path, target: str) -> None:
    target = target.format(outside=project.parent / "outside")
    result = _check(project / "m.nn", f'import "{target}"\n' + MODEL)
    assert _codes(result) == ["E0802"]
    assert _underlined(result.diagnostics[0]) == f'import "{target}"'
    assert str(project.resolve()) in "".join(result.diagnostics[0].notes)
    _no_secret(result)


def test_a_symlink_pointing_outside_counts_as_outside(project: Path) -> None:
    (project / "link.nn").symlink_to(project.parent / "outside" / "secret.nn")
    (project / "dir").symlink_to(project.parent / "outside")
    result = _check(project / "m.nn", 'import "link.nn"\nimport "dir/secret.nn"\n' + MODEL)
    assert _codes(result) == ["E0802", "E0802"]
    _no_secret(result)


def test_imports_of_imports_stay_in_the_entry_files_project(project: Path) -> None:
    (project / "lib").mkdir()
    (project / "lib" / "a.nn").write_text('import "../../outside/secret.nn"\n')
    result = _check(project / "m.nn", 'import "lib/a.nn"\n' + MODEL)
    assert _codes(result) == ["E0802"]
    assert result.diagnostics[0].file.path.endswith("a.nn")
    _no_secret(result)


def test_the_flag_lets_an_import_leave_the_project(project: Path) -> None:
    (project.parent / "outside" / "shared.nn").write_text("const K = 3\n")
    text = 'import "../outside/shared.nn"\n' + MODEL
    assert _codes(_check(project / "m.nn", text)) == ["E0802"]
    with allow_outside_project():
        assert _codes(check_file(project / "m.nn")) == []
    assert _codes(check_file(project / "m.nn")) == ["E0802"]  # only within the block


def test_the_project_root_is_the_nearest_marker_else_the_entry_folder(tmp_path: Path) -> None:
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "a" / "pyproject.toml").write_text("")
    assert project_root(tmp_path / "a" / "b" / "c") == (tmp_path / "a").resolve()
    (tmp_path / "a" / "b" / "nndsl.toml").write_text("")
    assert project_root(tmp_path / "a" / "b" / "c") == (tmp_path / "a" / "b").resolve()
    # an import up to the marked folder is inside
    (tmp_path / "a" / "b" / "shared.nn").write_text("const K = 3\n")
    result = _check(tmp_path / "a" / "b" / "c" / "m.nn", 'import "../shared.nn"\n' + MODEL)
    assert _codes(result) == []


def test_the_standard_library_is_always_readable(project: Path) -> None:
    assert _codes(_check(project / "m.nn", "import std.resnet\n" + MODEL)) == []


# -- reads: data ---------------------------------------------------------------------------------
DATA_FORMS = [
    ('npz("{p}")', "{p}"),
    ('npy(x = "{p}", y = "y.npy")', "{p}"),
    ('npy(x = "x.npy", y = "{p}")', "{p}"),
    ('npy(x = "x.npy", y = "y.npy", sample_weight = "{p}")', "{p}"),
    ('csv("{p}", label = "y")', "{p}"),
    ('image_folder("{p}")', "{p}"),
    ('text_folder("{p}")', "{p}"),
    ('text_file("{p}")', "{p}"),
]
DATA_ESCAPES = ["/etc/passwd", "../outside/victim.txt", "sub/../../outside/victim.txt"]


@pytest.mark.parametrize(("form", "shown"), DATA_FORMS, ids=[f[0][:14] for f in DATA_FORMS])
@pytest.mark.parametrize("path", DATA_ESCAPES)
def test_a_data_path_outside_the_project_is_refused_at_check_time(
    project: Path, form: str, shown: str, path: str
) -> None:
    text = MODEL + f"data d = {form.format(p=path)}\n"
    result = _check(project / "m.nn", text)
    assert _codes(result) == ["E0803"], render_plain(result.diagnostics)
    assert _underlined(result.diagnostics[0]).endswith(f'"{shown.format(p=path)}"')
    with allow_outside_project():
        assert _codes(check_file(project / "m.nn")) == []


def _load(source: str, attrs: dict[str, Any], base: Path) -> Any:
    from nndsl.backend.jax import implementation
    from nndsl.ops import lookup
    from nndsl.ops.spec import REQUIRED

    spec = lookup(source)
    assert spec is not None
    full = {a.name: a.default for a in spec.args if a.default is not REQUIRED} | attrs
    return implementation(spec)(full, base)


RUN_FORMS: list[tuple[str, Callable[[str], dict[str, Any]]]] = [
    ("npz", lambda p: {"path": p}),
    ("npy", lambda p: {"x": p, "y": p}),
    ("csv", lambda p: {"path": p, "label": "y"}),
    ("image_folder", lambda p: {"path": p}),
    ("text_folder", lambda p: {"path": p}),
    ("text_file", lambda p: {"path": p}),
]


@pytest.mark.parametrize(("source", "attrs"), RUN_FORMS, ids=[f[0] for f in RUN_FORMS])
def test_at_run_time_data_through_a_symlink_outside_is_not_read(
    project: Path, source: str, attrs: Callable[[str], dict[str, Any]]
) -> None:
    from nndsl.backend.errors import DataError

    (project / "link").symlink_to(project.parent / "outside" / "victim.txt")
    for path in ("link", "/etc/passwd", "../outside/victim.txt"):
        with pytest.raises(DataError, match="outside the project") as err:
            _load(source, attrs(path), project)
        assert "untouched" not in str(err.value)


def test_folder_members_are_regular_files_inside_the_project(project: Path) -> None:
    from nndsl.backend.errors import DataError

    (project / "texts" / "pos").mkdir(parents=True)
    (project / "texts" / "pos" / "a.txt").write_text("good")
    assert list(_load("text_folder", {"path": "texts"}, project)["x"]) == ["good"]
    member = project / "texts" / "pos" / "b.txt"
    member.symlink_to(project.parent / "outside" / "victim.txt")
    with pytest.raises(DataError, match="outside the project"):
        _load("text_folder", {"path": "texts"}, project)
    with allow_outside_project():
        assert sorted(_load("text_folder", {"path": "texts"}, project)["x"]) == [
            "good",
            "untouched\n",
        ]
    member.unlink()
    os.mkfifo(member)
    with pytest.raises(DataError, match=r"b\.txt: is a FIFO, not a regular file"):
        _finishes(lambda: _load("text_folder", {"path": "texts"}, project))


# -- special files -------------------------------------------------------------------------------
def _finishes(fn: Callable[[], Any], seconds: float = 20) -> Any:
    """`fn()`, failing the test (not hanging it) if it blocks, as a FIFO read would."""
    out: dict[str, Any] = {}
    context = contextvars.copy_context()  # `allow_outside_project` holds in the thread too

    def run() -> None:
        try:
            out["value"] = context.run(fn)
        except BaseException as exc:  # re-raised below
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "blocked (a special file was opened)"
    if "error" in out:
        raise out["error"]
    return out.get("value")


@pytest.fixture
def fifo(project: Path) -> Iterator[Path]:
    path = project / "pipe.nn"
    os.mkfifo(path)
    yield path


def test_special_files_as_the_checked_file(fifo: Path) -> None:
    for path, what in [(fifo, "is a FIFO"), (Path("/dev/zero"), "is a device")]:
        result = _finishes(functools.partial(check_file, path))
        assert _codes(result) == ["E0103"] and what in result.diagnostics[0].message
    result = check_file(fifo.parent)
    assert "is a folder, not a regular file" in result.diagnostics[0].message


def test_special_files_as_imports(project: Path, fifo: Path) -> None:
    (project / "zero.nn").symlink_to("/dev/zero")
    text = 'import "pipe.nn"\nimport "."\n' + MODEL
    result = _finishes(lambda: _check(project / "m.nn", text))
    messages = [d.message for d in result.diagnostics]
    assert messages == [
        "cannot import `pipe.nn`: is a FIFO, not a regular file",
        "cannot import `.`: is a folder, not a regular file",
    ]
    with allow_outside_project():  # a device is refused by type, not only by place
        result = _finishes(lambda: _check(project / "m.nn", 'import "zero.nn"\n' + MODEL))
    assert [d.message for d in result.diagnostics] == [
        "cannot import `zero.nn`: is a device, not a regular file"
    ]


def test_source_files_are_capped(tmp_path: Path) -> None:
    big = tmp_path / "big.nn"
    big.write_text("#" * 101)
    with pytest.raises(UnreadableSource, match="larger than"):
        read_source(big, limit=100)
    assert read_source(big, limit=101) == "#" * 101


@pytest.mark.parametrize("source", ["npz", "npy", "csv", "text_file"])
def test_special_data_files_are_named_by_their_type(project: Path, fifo: Path, source: str) -> None:
    from nndsl.backend.errors import DataError

    attrs = dict(RUN_FORMS)[source]
    with pytest.raises(DataError, match=r"pipe\.nn: is a FIFO, not a regular file"):
        _finishes(lambda: _load(source, attrs("pipe.nn"), project))
    with allow_outside_project(), pytest.raises(DataError, match="is a device, not a regular"):
        _load(source, attrs("/dev/zero"), project)
    with pytest.raises(DataError, match="is a folder, not a regular file"):
        _load(source, attrs("."), project)


def test_the_cli_refuses_special_files_before_opening_them(project: Path, fifo: Path) -> None:
    from nndsl.cli.main import main

    assert _finishes(lambda: main(["check", str(fifo)])) == 2
    assert main(["check", "/dev/zero"]) == 2
    (project / "m.nn").write_text(MODEL)
    code = _finishes(
        lambda: main(["predict", str(project / "m.nn"), "--weights", str(fifo), "--input", "x"])
    )
    assert code == 2


def test_the_cli_flag(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from nndsl.cli.main import main

    (project.parent / "outside" / "shared.nn").write_text("const K = 3\n")
    (project / "m.nn").write_text('import "../outside/shared.nn"\n' + MODEL)
    assert main(["check", str(project / "m.nn")]) == 1
    assert "E0802" in capsys.readouterr().err
    assert main(["check", "--allow-outside-project", str(project / "m.nn")]) == 0


def test_go_to_definition_does_not_follow_an_import_outside_the_project(project: Path) -> None:
    from nndsl.ide.workspace import Workspace

    (project.parent / "outside" / "shared.nn").write_text("const K = 3\n")
    (project / "inside.nn").write_text("const J = 2\n")
    text = 'import "../outside/shared.nn"\nimport "inside.nn"\nconst L = K + J\n' + MODEL
    path = str(project / "m.nn")
    Path(path).write_text(text)
    ws = Workspace()
    ws.open(path, text)
    assert ws.definition(path, text.index("K + J")) is None
    inside = ws.definition(path, text.index("J\n"))
    assert inside is not None and inside.path.endswith("inside.nn")
    with allow_outside_project():
        ws.close(path)
        ws.open(path, text)
        outside = ws.definition(path, text.index("K + J"))
    assert outside is not None and outside.path.endswith("shared.nn")


def test_the_repl_loads_regular_files_only(project: Path, fifo: Path) -> None:
    from nndsl.repl.session import Session

    session = Session(autorun=False)
    for special in (str(fifo), "/dev/zero", str(project)):
        [reply] = _finishes(functools.partial(session.handle, f":load {special}"))
        assert reply.kind == "error" and reply.text.startswith(f"cannot read {special}: ")
        assert "\n" not in reply.text
    assert session.items == {}
