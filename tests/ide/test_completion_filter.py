"""Completion filters by the word typed before the cursor and never offers an argument the
call already has, by keyword (before or after the cursor) or by position (issue 18)."""

from __future__ import annotations

from nndsl.ide import Workspace

PATH = "/project/m.nn"
SRC = """model M(width: int = 8) {
    input image: f32[B, 4]
    h = image |> Dense(CALL)
    return h |> Dense(3)
}
"""


def _labels(call: str) -> list[str]:
    text = SRC.replace("CALL", call)
    offset = text.index("$0")
    text = text.replace("$0", "")
    ws = Workspace()
    ws.update(PATH, text)
    return [c.label for c in ws.completions(PATH, offset)]


def test_the_typed_prefix_filters_case_insensitively_own_case_first() -> None:
    got = _labels("8, activation = relu)\n    k = De$0")
    assert got and all(label.lower().startswith("de") for label in got)
    assert got[0].startswith("De") and "Dense" in got and "DepthwiseConv2D" in got
    assert "image" not in got and "Conv2D" not in got
    got = _labels("8)\n    k = ima$0")
    assert got[0] == "image" and all(label.startswith("ima") for label in got)


def test_arguments_given_by_position_or_keyword_are_not_offered() -> None:
    got = _labels("8, $0")
    assert "units=" not in got and "activation=" in got  # units given by position
    got = _labels('$0, activation = "relu"')
    assert "activation=" not in got and "units=" in got  # given after the cursor
    got = _labels("8, use_bias = false, ac$0")
    assert got[0] == "activation=" and all(label.lower().startswith("ac") for label in got)
    assert "use_bias=" not in got and "units=" not in got
