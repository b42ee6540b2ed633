"""Editor features around dict literals and zipped data sources."""

from __future__ import annotations

from pathlib import Path

from nndsl.ide import Workspace

PATH = "/project/model.nn"
SRC = """\
model Two() {
    input seq: f32[B, 3]
    input static: f32[B, 2]
    price = (seq, static) |> Concatenate() |> Dense(1)
    return price
}
data arrays = npz("s.npz", x = ["seq"], y = ["price"])
data table = csv("t.csv", x = {static: ["a", "b"]}, y = {})
data both = zip(arrays, table)
train Two on both {
    loss = mse
    optimizer = adam
}
"""


def _workspace() -> Workspace:
    def no_disk(path: Path) -> str:
        if "stdlib" in str(path):
            return path.read_text(encoding="utf-8")
        raise FileNotFoundError(path)

    ws = Workspace(read=no_disk)
    ws.open(PATH, SRC)
    return ws


def test_checks_clean_and_keys_are_properties() -> None:
    ws = _workspace()
    assert ws.diagnostics(PATH) == []
    key = SRC.index("{static") + 1  # a dict's keys are names, not references
    assert [t.kind for t in ws.semantic_tokens(PATH) if t.start == key] == ["property"]


def test_renaming_a_zipped_source_renames_its_use_in_zip() -> None:
    ws = _workspace()
    result = ws.rename(PATH, SRC.index("data table") + len("data "), "features")
    assert result.error is None, result.error
    [changes] = result.changes
    starts = sorted(e.span.start for e in changes.edits)
    assert starts == [SRC.index("data table") + len("data "), SRC.index("zip(arrays, table") + 12]
