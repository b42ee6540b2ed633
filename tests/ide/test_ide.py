"""Editor features on cursor-marked fixtures: `$0` marks the offset (rust-analyzer style)."""

from __future__ import annotations

from pathlib import Path

from nndsl.ide import Workspace

PATH = "/project/model.nn"

SRC = """\
const HIDDEN = 128

## Two dense layers.
block Pair(units: int, rate: float = 0.1) {
    input x: f32[B, D]
    return x |> Dense(units) |> Dropout(rate)
}

model M(classes: int = 10) {
    input image: f32[B, 64]
    h = image |> Dense(HIDDEN, activation = "relu")
    g: f32[B, 128] = h |> Pair(128)
    return g |> Dense(classes)
}
"""


def fixture(src: str) -> tuple[Workspace, int]:
    offset = src.index("$0")
    ws = Workspace(read=_no_disk)
    ws.open(PATH, src.replace("$0", "", 1))
    return ws, offset


def _no_disk(path: Path) -> str:
    if "stdlib" in str(path):
        return path.read_text(encoding="utf-8")
    raise FileNotFoundError(path)


def at(marker: str, src: str = SRC) -> tuple[Workspace, int]:
    """Put the cursor just before the first occurrence of `marker`."""
    i = src.index(marker)
    return fixture(src[:i] + "$0" + src[i:])


def labels(ws: Workspace, offset: int) -> list[str]:
    return [c.label for c in ws.completions(PATH, offset)]


def test_clean_program_has_no_diagnostics() -> None:
    ws, _ = at("model")
    assert ws.diagnostics(PATH) == []


def test_diagnostics_of_unsaved_buffer() -> None:
    ws, _ = at("model")
    ws.update(PATH, SRC.replace("Pair(128)", "Pair(64)"))
    [d] = ws.diagnostics(PATH)
    assert d.code.startswith("E")
    assert d.file.path == PATH


def test_hover_on_assignment_target_shows_type() -> None:
    ws, off = at("h = image")
    hover = ws.hover(PATH, off)
    assert hover is not None and "h: f32[B, 128]" in hover.markdown


def test_hover_on_tensor_use_shows_type() -> None:
    ws, off = at("h |> Pair")
    hover = ws.hover(PATH, off)
    assert hover is not None and "f32[B, 128]" in hover.markdown


def test_hover_on_layer_shows_signature_doc_and_rule() -> None:
    ws, off = at("Dense(HIDDEN")
    hover = ws.hover(PATH, off)
    assert hover is not None
    assert "Dense(units: int" in hover.markdown and "**Shape:**" in hover.markdown


def test_hover_on_block_shows_signature_and_doc() -> None:
    ws, off = at("Pair(128)")
    hover = ws.hover(PATH, off)
    assert hover is not None
    assert "block Pair(units: int, rate: float = 0.1)" in hover.markdown
    assert "Two dense layers." in hover.markdown


def test_hover_on_const() -> None:
    ws, off = at("HIDDEN, activation")
    hover = ws.hover(PATH, off)
    assert hover is not None and "const HIDDEN = 128" in hover.markdown


def test_hover_on_whitespace_is_none() -> None:
    ws, off = at("\n\n## Two")
    assert ws.hover(PATH, off) is None


def test_completion_keyword_arguments_inside_call() -> None:
    src = SRC.replace('Dense(HIDDEN, activation = "relu")', "Dense($0)")
    ws, off = fixture(src)
    items = {c.label: c for c in ws.completions(PATH, off)}
    assert "units=" in items and items["units="].detail == "int"
    assert items["activation="].detail.endswith('= "linear"')


def test_completion_skips_given_keyword_arguments() -> None:
    src = SRC.replace('Dense(HIDDEN, activation = "relu")', 'Dense(activation = "relu", $0)')
    ws, off = fixture(src)
    got = labels(ws, off)
    assert "units=" in got and "activation=" not in got


def test_completion_names_in_scope() -> None:
    src = SRC.replace("g |> Dense(classes)", "$0g |> Dense(classes)")
    ws, off = fixture(src)
    got = labels(ws, off)
    for name in ("image", "h", "g", "classes", "Pair", "M", "HIDDEN", "Dense", "relu"):
        assert name in got
    assert "x" not in got  # defined in another body


def test_completion_only_earlier_tensors() -> None:
    ws, off = at("h = image")
    got = labels(ws, off)
    assert "image" in got and "h" not in got and "g" not in got


def test_completion_dtypes_after_input() -> None:
    src = SRC.replace("input image: f32[B, 64]", "input image: $0")
    ws, off = fixture(src)
    got = labels(ws, off)
    assert "f32" in got and "bf16" in got and "Dense" not in got


def test_completion_block_keyword_arguments() -> None:
    src = SRC.replace("Pair(128)", "Pair(128, $0)")
    ws, off = fixture(src)
    got = labels(ws, off)
    assert "rate=" in got and "units=" in got


def test_signature_help_active_parameter() -> None:
    src = SRC.replace('Dense(HIDDEN, activation = "relu")', "Dense(HIDDEN, $0)")
    ws, off = fixture(src)
    sig = ws.signature_help(PATH, off)
    assert sig is not None and sig.label.startswith("Dense(units: int")
    assert sig.active == 1 and sig.params[0].label == "units: int"


def test_signature_help_keyword_argument() -> None:
    src = SRC.replace('activation = "relu"', 'use_bias = $0"relu"')
    ws, off = fixture(src)
    sig = ws.signature_help(PATH, off)
    assert sig is not None and sig.params[sig.active].label.startswith("use_bias")


def test_signature_help_block() -> None:
    src = SRC.replace("Pair(128)", "Pair(128, $0)")
    ws, off = fixture(src)
    sig = ws.signature_help(PATH, off)
    assert sig is not None
    assert sig.label == "block Pair(units: int, rate: float = 0.1)" and sig.active == 1


def test_signature_help_outside_call_is_none() -> None:
    ws, off = at("h = image")
    assert ws.signature_help(PATH, off) is None


def test_definition_of_block_const_and_tensor() -> None:
    ws, off = at("Pair(128)")
    loc = ws.definition(PATH, off)
    assert loc is not None and SRC[loc.span.start : loc.span.end] == "Pair"
    assert loc.span.start == SRC.index("Pair(units")
    ws, off = at("HIDDEN, activation")
    loc = ws.definition(PATH, off)
    assert loc is not None and loc.span.start == SRC.index("HIDDEN")
    ws, off = at("h |> Pair")
    loc = ws.definition(PATH, off)
    assert loc is not None and loc.span.start == SRC.index("h = image")


def test_definition_in_stdlib() -> None:
    src = (
        "import std.blocks\nmodel M() {\n    input x: f32[B, 8]\n    return x |> $0MLPBlock(4)\n}\n"
    )
    ws, off = fixture(src)
    loc = ws.definition(PATH, off)
    assert loc is not None and loc.path.endswith("blocks.nn")
    assert loc.file.text[loc.span.start : loc.span.end] == "MLPBlock"


def test_definition_in_unsaved_imported_buffer() -> None:
    ws = Workspace(read=_no_disk)
    ws.open("/project/lib.nn", "const WIDTH = 8\n")
    src = 'import "lib.nn"\nmodel M() {\n    input x: f32[B, WIDTH]\n    return x\n}\n'
    ws.open(PATH, src)
    assert ws.diagnostics(PATH) == []
    loc = ws.definition(PATH, src.index("WIDTH]"))
    assert loc is not None and loc.path == "/project/lib.nn" and loc.span.start == 6


def test_document_symbols() -> None:
    ws, _ = at("model")
    symbols = ws.document_symbols(PATH)
    assert [(s.name, s.kind) for s in symbols] == [
        ("HIDDEN", "const"),
        ("Pair", "block"),
        ("M", "model"),
    ]
    assert [c.name for c in symbols[1].children] == ["units", "rate"]


def test_inlay_hints_skip_annotated_targets() -> None:
    ws, _ = at("model")
    hints = ws.inlay_hints(PATH)
    assert [(SRC[: h.offset].rsplit("\n", 1)[1].strip(), h.label) for h in hints] == [
        ("h", ": f32[B, 128]")
    ]


def test_broken_input_never_raises() -> None:
    src = "model M( {\n  input x: f32[B, \n  h = x |> Dense(units = , $0\n"
    ws, off = fixture(src)
    assert ws.diagnostics(PATH)
    ws.hover(PATH, off)
    assert "units=" not in labels(ws, off)  # already given
    ws.signature_help(PATH, off)
    ws.definition(PATH, off)
    ws.document_symbols(PATH)
    ws.inlay_hints(PATH)
    for i in range(len(src)):
        ws.completions(PATH, i)
        ws.hover(PATH, i)


def test_results_are_cached_per_text() -> None:
    ws, _ = at("model")
    first = ws._snapshot(PATH)
    assert ws._snapshot(PATH) is first
    ws.update(PATH, SRC + "\n")
    assert ws._snapshot(PATH) is not first
