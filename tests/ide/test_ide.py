"""Editor features on cursor-marked fixtures: `$0` marks the offset (rust-analyzer style)."""

from __future__ import annotations

from pathlib import Path

from nndsl.ide import Location, Workspace
from nndsl.source import Span

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


def test_hover_on_model_shows_parameters_and_flops() -> None:
    ws, off = at("M(classes")
    hover = ws.hover(PATH, off)
    assert hover is not None and "model M(classes: int = 10)" in hover.markdown
    # 2*64*128 + 128 + 128 (bias, relu), 2*128*128 + 128, 2*128*10 + 10
    assert "26,122 parameters, 52.11 K FLOPs per example (forward)" in hover.markdown
    ws, off = at("Pair(128)")
    hover = ws.hover(PATH, off)
    assert hover is not None and "FLOPs" not in hover.markdown  # a block: no graph of its own


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
    assert "rate=" in got and "units=" not in got  # units: given by position


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


# -- references and rename ----------------------------------------------------------------------
def spans(locs: list[Location], src: str = SRC) -> list[tuple[int, str]]:
    return [(loc.span.start, src[loc.span.start : loc.span.end]) for loc in locs]


def test_references_of_block_include_definition_and_uses() -> None:
    ws, off = at("Pair(128)")
    refs = ws.references(PATH, off)
    assert spans(refs) == [(SRC.index("Pair(units"), "Pair"), (SRC.index("Pair(128)"), "Pair")]
    assert spans(ws.references(PATH, off, include_declaration=False)) == [
        (SRC.index("Pair(128)"), "Pair")
    ]


def test_references_of_tensor_stay_in_its_body() -> None:
    ws, off = at("x |> Dense(units)")
    refs = ws.references(PATH, off)
    assert [s for _, s in spans(refs)] == ["x", "x"]
    assert all(SRC.index("block Pair") < r.span.start < SRC.index("model M") for r in refs)


def test_references_of_param_include_keyword_arguments() -> None:
    src = SRC.replace("h |> Pair(128)", "h |> Pair(128, rate = 0.2)")
    ws, off = fixture(src.replace("rate: float", "$0rate: float"))
    got = [(src[loc.span.start : loc.span.end], loc.span.start) for loc in ws.references(PATH, off)]
    assert got == [
        ("rate", src.index("rate: float")),
        ("rate", src.index("rate)")),
        ("rate", src.index("rate = 0.2")),
    ]


def test_rename_const_across_files_and_importers() -> None:
    ws = Workspace(read=_no_disk)
    lib = "const WIDTH = 8\nblock Wide() {\n    input x: f32[B, WIDTH]\n    return x\n}\n"
    ws.open("/project/lib.nn", lib)
    src = 'import "lib.nn"\nmodel M() {\n    input x: f32[B, WIDTH]\n    return x |> Wide()\n}\n'
    ws.open(PATH, src)
    result = ws.rename(PATH, src.index("WIDTH]"), "SIZE")
    assert result.error is None
    edits = {fe.path: [(e.span.start, e.text) for e in fe.edits] for fe in result.changes}
    assert edits == {
        "/project/lib.nn": [(lib.index("WIDTH"), "SIZE"), (lib.index("WIDTH]"), "SIZE")],
        PATH: [(src.index("WIDTH]"), "SIZE")],
    }
    # from the defining file too: its importer is open
    result = ws.rename("/project/lib.nn", lib.index("Wide"), "Broad")
    assert {fe.path for fe in result.changes} == {"/project/lib.nn", PATH}


def test_rename_finds_importers_under_roots_that_are_not_open(tmp_path: Path) -> None:
    (tmp_path / "lib.nn").write_text("const WIDTH = 8\n")
    user = 'import "lib.nn"\nmodel M() {\n    input x: f32[B, WIDTH]\n    return x\n}\n'
    (tmp_path / "user.nn").write_text(user)
    ws = Workspace(roots=[str(tmp_path)])
    ws.open(str(tmp_path / "lib.nn"), "const WIDTH = 8\n")
    result = ws.rename(str(tmp_path / "lib.nn"), 6, "SIZE")
    assert sorted(Path(fe.path).name for fe in result.changes) == ["lib.nn", "user.nn"]


def test_rename_validates_the_new_name() -> None:
    ws, off = at("h |> Pair")
    assert ws.rename(PATH, off, "g").error == "`g` is already defined in this model `M`"
    assert "keyword" in (ws.rename(PATH, off, "model").error or "")
    assert "not a name" in (ws.rename(PATH, off, "2h").error or "")
    assert "built-in layer" in (ws.rename(PATH, off, "Dense").error or "")
    assert "top-level" in (ws.rename(PATH, off, "HIDDEN").error or "")
    ws, off = at("Pair(128)")
    assert "already defined" in (ws.rename(PATH, off, "M").error or "")
    result = ws.rename(PATH, off, "Twin")
    assert result.error is None
    [fe] = result.changes
    assert [SRC[e.span.start : e.span.end] for e in fe.edits] == ["Pair", "Pair"]


def test_rename_tensor_renames_only_the_binding_that_reaches_the_use() -> None:
    src = SRC.replace(
        '    h = image |> Dense(HIDDEN, activation = "relu")\n',
        '    h = image |> Dense(HIDDEN, activation = "relu")\n    h = h |> relu\n',
    )
    ws, off = fixture(src.replace("h |> Pair", "$0h |> Pair"))
    [fe] = ws.rename(PATH, off, "hidden").changes
    edited = src
    for e in sorted(fe.edits, key=lambda e: -e.span.start):
        edited = edited[: e.span.start] + e.text + edited[e.span.end :]
    assert "h = image" in edited and "hidden = h |> relu" in edited
    assert "hidden |> Pair" in edited
    ws.update(PATH, edited)
    assert ws.diagnostics(PATH) == []


def test_rename_refuses_stdlib_and_builtins() -> None:
    src = "import std.blocks\nmodel M() {\n    input x: f32[B, 8]\n    return x |> MLPBlock(4)\n}\n"
    ws = Workspace(read=_no_disk)
    ws.open(PATH, src)
    target = ws.prepare_rename(PATH, src.index("MLPBlock"))
    assert target.span is None
    assert target.error is not None and "standard library (`std.blocks`)" in target.error
    assert ws.rename(PATH, src.index("MLPBlock"), "Mine").error == target.error
    assert "import" in (ws.prepare_rename(PATH, src.index("blocks")).error or "")
    assert ws.prepare_rename(PATH, src.index("f32")).error == "`f32` is part of the language"
    ws2, off = at("Dense(classes)")
    assert "built-in layer" in (ws2.prepare_rename(PATH, off).error or "")
    ws2, off = at("classes)\n}")
    target = ws2.prepare_rename(PATH, off)
    assert target.error is None and target.placeholder == "classes"


def test_references_to_stdlib_block_reach_into_stdlib() -> None:
    src = "import std.blocks\nmodel M() {\n    input x: f32[B, 8]\n    return x |> MLPBlock(4)\n}\n"
    ws = Workspace(read=_no_disk)
    ws.open(PATH, src)
    refs = ws.references(PATH, src.index("MLPBlock"))
    assert {Path(r.path).name for r in refs} == {"blocks.nn", "model.nn"}


# -- workspace symbols, tokens, code actions, formatting ----------------------------------------
def test_workspace_symbols_cover_open_files_and_imports() -> None:
    src = "import std.blocks\n" + SRC
    ws = Workspace(read=_no_disk)
    ws.open(PATH, src)
    got = {(s.name, s.kind, s.container) for s in ws.workspace_symbols("")}
    assert {("Pair", "block", "model.nn"), ("M", "model", "model.nn")} <= got
    assert ("MLPBlock", "block", "blocks.nn") in got
    assert [s.name for s in ws.workspace_symbols("mlpb")] == ["MLPBlock"]


def token_kinds(ws: Workspace, src: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for t in ws.semantic_tokens(PATH):
        out.setdefault(src[t.start : t.start + t.length], set()).add(t.kind)
    return out


def test_semantic_tokens_classify_names() -> None:
    ws, _ = at("model")
    kinds = token_kinds(ws, SRC)
    assert kinds["block"] == {"keyword"} and kinds["Pair"] == {"class"}
    assert kinds["Dense"] == {"function"} and kinds["f32"] == {"type"}
    assert kinds["units"] == {"parameter"} and kinds["h"] == {"variable"}
    assert kinds["activation"] == {"property"} and kinds['"relu"'] == {"string"}
    assert kinds["128"] == {"number"} and kinds["## Two dense layers."] == {"comment"}
    assert kinds["B"] == {"typeParameter"} and kinds["HIDDEN"] == {"variable"}
    tokens = ws.semantic_tokens(PATH)
    assert [t.start for t in tokens] == sorted(t.start for t in tokens)


def test_semantic_tokens_in_file_with_syntax_error() -> None:
    src = SRC.replace("return x |> Dense(units)", "return x |> Dense(units,, ")
    ws, _ = fixture("$0" + src)
    assert any(d.code.startswith("E00") for d in ws.diagnostics(PATH))
    kinds = token_kinds(ws, src)
    assert "class" in kinds["M"] and "keyword" in kinds["model"]
    assert "function" in kinds["Dense"] and "comment" in kinds["## Two dense layers."]


def test_code_action_did_you_mean() -> None:
    src = SRC.replace("Dense(classes)", "Dens(classes)")
    ws, _ = fixture("$0" + src)
    at_ = src.index("Dens(")
    [action] = [a for a in ws.code_actions(PATH, Span(at_, at_)) if "Dense" in a.title]
    assert action.title == "Change to `Dense`" and action.preferred
    [fe] = action.changes
    [edit] = fe.edits
    assert (src[edit.span.start : edit.span.end], edit.text) == ("Dens", "Dense")
    assert action.diagnostic is not None and action.diagnostic.code == "E0101"


def test_code_action_did_you_mean_keyword_argument() -> None:
    src = SRC.replace('activation = "relu"', 'activaton = "relu"')
    ws, _ = fixture("$0" + src)
    at_ = src.index("activaton")
    titles = [a.title for a in ws.code_actions(PATH, Span(at_, at_ + 3))]
    assert "Change to `activation`" in titles


def test_code_action_inserts_missing_stdlib_import() -> None:
    src = "const K = 1\nmodel M() {\n    input x: f32[B, 8]\n    return x |> MLPBlock(4)\n}\n"
    ws, _ = fixture("$0" + src)
    at_ = src.index("MLPBlock")
    [action] = [a for a in ws.code_actions(PATH, Span(at_, at_)) if a.title.startswith("Import")]
    assert action.title == "Import `MLPBlock` from `std.blocks`"
    [edit] = action.changes[0].edits
    assert edit.span == Span(0, 0) and edit.text == "import std.blocks\n"
    ws.update(PATH, edit.text + src)
    assert ws.diagnostics(PATH) == []
    src2 = "import std.resnet\n" + src
    ws.update(PATH, src2)
    at_ = src2.index("MLPBlock")
    [action] = [a for a in ws.code_actions(PATH, Span(at_, at_)) if a.title.startswith("Import")]
    assert action.changes[0].edits[0].span == Span(
        len("import std.resnet\n"), len("import std.resnet\n")
    )


def test_format_matches_nnrun_fmt_and_refuses_syntax_errors() -> None:
    ws = Workspace(read=_no_disk)
    ws.open(PATH, "model M(){input x:f32[B,4]\nreturn x}\n")
    formatted = ws.format(PATH)
    assert formatted is not None and "    input x: f32[B, 4]\n" in formatted
    ws.update(PATH, formatted)
    assert ws.format(PATH) == formatted
    ws.update(PATH, "model M( {\n")
    assert ws.format(PATH) is None


def test_importers_of_an_open_file() -> None:
    ws = Workspace(read=_no_disk)
    ws.open("/project/lib.nn", "const WIDTH = 8\n")
    ws.open(PATH, 'import "lib.nn"\nconst K = WIDTH\n')
    ws.open("/project/other.nn", "const Z = 1\n")
    assert ws.importers("/project/lib.nn") == [PATH]
    assert ws.diagnostics(PATH) == []
    ws.update("/project/lib.nn", "const SIZE = 8\n")
    [d] = ws.diagnostics(PATH)
    assert "WIDTH" in d.message


def test_features_keep_working_beside_a_syntax_error() -> None:
    src = SRC + "\nblock Broken( {\n    input y: f32[B, \n"
    ws, _ = fixture("$0" + src)
    assert any(d.code.startswith("E00") for d in ws.diagnostics(PATH))
    hover = ws.hover(PATH, src.index("h |> Pair"))
    assert hover is not None and "f32[B, 128]" in hover.markdown
    assert len(ws.references(PATH, src.index("Pair(128)"))) == 2
    assert ws.rename(PATH, src.index("Pair(128)"), "Twin").error is None
    assert [s.name for s in ws.document_symbols(PATH)][:3] == ["HIDDEN", "Pair", "M"]
    assert ws.inlay_hints(PATH)
