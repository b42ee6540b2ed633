"""Renaming a model's input or output follows into the `train` sections that name it: the loss
expression, the labels `y_<output>`, `per_output(...)` and dict keys, in any file."""

from __future__ import annotations

import re
from pathlib import Path

from nndsl.ide import Workspace

LIB = "/project/lib.nn"
MAIN = "/project/main.nn"

MODEL = """\
model Heads() {
    input x: f32[B, 8]
    h = x |> Dense(8, activation = "relu")
    price = h |> Dense(1)
    code = h |> Dense(4)
    return price, code
}
"""

TRAIN = """\
data d = npz("d.npz", x = "x", y = ["price", "code"])

train Heads on d {
    loss = mse(y_price, price) + cross_entropy(y_code, code, from_logits = true) + mean(x)
    metrics = per_output(price = [mae], code = [accuracy])
    optimizer = adam(learning_rate = 1e-3)
}
"""

KEYED = TRAIN.replace(
    "mse(y_price, price) + cross_entropy(y_code, code, from_logits = true) + mean(x)",
    "{price: mse, code: cross_entropy(from_logits = true)}",
).replace("per_output(price = [mae], code = [accuracy])", "{price: [mae], code: [accuracy]}")


def _workspace(files: dict[str, str]) -> Workspace:
    def read(path: Path) -> str:
        if str(path) in files:
            return files[str(path)]
        if "stdlib" in str(path):
            return path.read_text(encoding="utf-8")
        raise FileNotFoundError(path)

    ws = Workspace(read=read)
    for path, text in files.items():
        ws.open(path, text)
    return ws


def _apply(
    ws: Workspace, files: dict[str, str], path: str, offset: int, new: str
) -> dict[str, str]:
    result = ws.rename(path, offset, new)
    assert result.error is None, result.error
    out = dict(files)
    for fe in result.changes:
        text = out[fe.path]
        for e in sorted(fe.edits, key=lambda e: -e.span.start):
            text = text[: e.span.start] + e.text + text[e.span.end :]
        out[fe.path] = text
    return out


def _errors(files: dict[str, str], path: str) -> list[str]:
    ws = _workspace(files)
    return [d.message for d in ws.diagnostics(path) if d.is_error]


def test_an_output_renamed_in_the_model_is_renamed_in_the_loss_and_keys() -> None:
    files = {MAIN: MODEL + TRAIN}
    ws = _workspace(files)
    src = files[MAIN]
    out = _apply(ws, files, MAIN, src.index("price = h"), "cost")[MAIN]
    assert "return cost, code" in out
    assert "mse(y_cost, cost)" in out
    assert "per_output(cost = [mae], code = [accuracy])" in out
    assert 'y = ["price", "code"]' in out  # the file's array keeps its name
    # the npz keys name the file's arrays: renamed with the file, the program checks again
    assert _errors({MAIN: out.replace('"price"', '"cost"')}, MAIN) == []


def test_an_input_renamed_from_the_loss_expression() -> None:
    files = {MAIN: MODEL + TRAIN}
    ws = _workspace(files)
    src = files[MAIN]
    out = _apply(ws, files, MAIN, src.index("mean(x)") + 5, "features")[MAIN]
    assert "input features: f32[B, 8]" in out and "h = features |>" in out
    assert "+ mean(features)" in out


def test_dict_keys_name_outputs_too() -> None:
    files = {MAIN: MODEL + KEYED}
    ws = _workspace(files)
    out = _apply(ws, files, MAIN, files[MAIN].index("code = h"), "digit")[MAIN]
    assert "{price: mse, digit: cross_entropy(from_logits = true)}" in out
    assert "{price: [mae], digit: [accuracy]}" in out


def test_a_train_section_in_another_file_follows() -> None:
    files = {LIB: MODEL, MAIN: 'import "lib.nn"\n\n' + TRAIN}
    ws = _workspace(files)
    out = _apply(ws, files, LIB, MODEL.index("code = h"), "digit")
    assert "return price, digit" in out[LIB]
    assert "cross_entropy(y_digit, digit, from_logits = true)" in out[MAIN]
    assert "code = [accuracy]" not in out[MAIN] and "digit = [accuracy]" in out[MAIN]
    # and from the train section's side: references reach the model's binding
    main = files[MAIN]
    refs = ws.references(MAIN, main.index("y_code") + 3)
    assert {(r.path, r.span.start) for r in refs} >= {
        (LIB, MODEL.index("code = h")),
        (MAIN, main.index("y_code") + 2),
        (MAIN, [m.start() for m in re.finditer(r"\bcode\b", main)][-1]),
    }


def test_renaming_to_the_labels_name_is_refused() -> None:
    files = {MAIN: MODEL + TRAIN}
    ws = _workspace(files)
    error = ws.rename(MAIN, files[MAIN].index("price = h"), "y").error
    assert error is not None and "labels" in error
