"""Files changed on disk outside the editor: `Workspace.invalidate` forgets what was read from
them and names the open documents to re-check."""

from __future__ import annotations

import shutil
from pathlib import Path

from nndsl.ide import Workspace

USER = """\
import "lib/layers.nn"
model M() {
    input x: f32[B, 8]
    return x |> Wide()
}
"""
LIB = """\
block Wide() {
    input x: f32[B, D]
    return x |> Dense(16)
}
"""


def codes(ws: Workspace, path: Path) -> list[str]:
    return [d.code or "" for d in ws.diagnostics(str(path))]


def test_a_changed_import_is_rechecked_after_invalidate(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    lib = tmp_path / "lib" / "layers.nn"
    lib.write_text(LIB)
    user = tmp_path / "user.nn"
    ws = Workspace()
    ws.open(str(user), USER)
    ws.open(str(tmp_path / "other.nn"), "const A = 1\n")  # imports nothing
    assert codes(ws, user) == []
    lib.write_text(LIB.replace("block Wide", "block Narrow"))
    assert codes(ws, user) == []  # cached: the disk is not watched by the workspace itself
    assert ws.invalidate(str(lib)) == [str(user)]
    assert codes(ws, user) == ["E0101"]  # `Wide` is unknown now
    # deleted, then created again: the failed import recovers
    lib.unlink()
    assert ws.invalidate(str(lib)) == [str(user)]
    assert codes(ws, user) and codes(ws, user) != ["E0101"]
    lib.write_text(LIB)
    assert ws.invalidate(str(lib)) == [str(user)]
    assert codes(ws, user) == []


def test_a_deleted_folder_invalidates_the_files_under_it(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "layers.nn").write_text(LIB)
    user = tmp_path / "user.nn"
    ws = Workspace()
    ws.open(str(user), USER)
    assert codes(ws, user) == []
    assert ws.references(str(user), USER.index("Wide"))  # the index read the import
    shutil.rmtree(tmp_path / "lib")
    assert ws.invalidate(str(tmp_path / "lib")) == [str(user)]
    assert codes(ws, user)
    assert not any(p.startswith(str(tmp_path / "lib")) for p in ws._trees)


def test_an_open_document_is_its_buffer_not_the_disk(tmp_path: Path) -> None:
    lib = tmp_path / "lib" / "layers.nn"
    user = tmp_path / "user.nn"
    ws = Workspace()
    ws.open(str(lib), LIB)  # never saved
    ws.open(str(user), USER)
    assert codes(ws, user) == []
    assert ws.invalidate(str(lib)) == []
    assert codes(ws, user) == []
