"""Round trips through the real server process (`python -m nndsl lsp`) with pytest-lsp."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

from nndsl.ide.model import TOKEN_TYPES
from tests.lsp.common import BROKEN, DOC, URI, accept_registrations, fix_broken

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "nndsl", "lsp"],
        server_env={"PYTHONPATH": str(ROOT)},
    )
)
async def client(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    accept_registrations(lsp_client)
    await lsp_client.initialize_session(
        types.InitializeParams(capabilities=pytest_lsp.client_capabilities("visual-studio-code"))
    )
    yield
    await lsp_client.shutdown_session()


def _open(client: LanguageClient, text: str) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=URI, language_id="nn", version=1, text=text)
        )
    )


async def test_diagnostics_then_fixed(client: LanguageClient) -> None:
    _open(client, BROKEN)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    [d] = client.diagnostics[URI]
    assert d.code == "E0202"
    assert d.range.start == types.Position(line=3, character=11)
    assert d.severity == types.DiagnosticSeverity.Error
    fix_broken(client)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert len(client.diagnostics[URI]) == 0


async def test_hover_and_completion(client: LanguageClient) -> None:
    text = BROKEN.replace("Dense(8)", "Dense(4)")
    _open(client, text)
    doc = types.TextDocumentIdentifier(uri=URI)
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=doc, position=types.Position(line=2, character=4))
    )
    assert hover is not None
    assert isinstance(hover.contents, types.MarkupContent)
    assert "f32[B, 4]" in hover.contents.value
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=doc, position=types.Position(line=2, character=19))
    )
    items = result.items if isinstance(result, types.CompletionList) else result or []
    assert "units=" in [i.label for i in items]
    sig = await client.text_document_signature_help_async(
        types.SignatureHelpParams(text_document=doc, position=types.Position(line=2, character=19))
    )
    assert sig is not None and sig.signatures[0].label.startswith("Dense(")
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=doc)
    )
    assert symbols is not None and [s.name for s in symbols] == ["M"]


LIB_URI = "file:///project/lib.nn"
GOOD = BROKEN.replace("Dense(8)", "Dense(4)")


def _open_uri(client: LanguageClient, uri: str, text: str) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="nn", version=1, text=text)
        )
    )


async def _published(
    client: LanguageClient, uri: str, done: Callable[[Sequence[Any]], bool]
) -> None:
    """Wait until the diagnostics published for `uri` satisfy `done`."""
    try:
        async with asyncio.timeout(10):
            while uri not in client.diagnostics or not done(client.diagnostics[uri]):
                await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    except TimeoutError:
        raise AssertionError(f"diagnostics for {uri}: {client.diagnostics.get(uri)}") from None


def _pos(text: str, marker: str) -> types.Position:
    i = text.index(marker)
    line = text.count("\n", 0, i)
    return types.Position(line=line, character=i - (text.rfind("\n", 0, i) + 1))


async def test_references_and_rename_across_files(client: LanguageClient) -> None:
    _open_uri(client, LIB_URI, "const WIDTH = 4\n")
    text = 'import "lib.nn"\nmodel M() {\n    input x: f32[B, WIDTH]\n    return x\n}\n'
    _open(client, text)
    refs = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=DOC,
            position=_pos(text, "WIDTH]"),
            context=types.ReferenceContext(include_declaration=True),
        )
    )
    assert refs is not None
    assert sorted((r.uri, r.range.start.line) for r in refs) == [(LIB_URI, 0), (URI, 2)]
    prep = await client.text_document_prepare_rename_async(
        types.PrepareRenameParams(text_document=DOC, position=_pos(text, "WIDTH]"))
    )
    assert isinstance(prep, types.PrepareRenamePlaceholder) and prep.placeholder == "WIDTH"
    edit = await client.text_document_rename_async(
        types.RenameParams(text_document=DOC, position=_pos(text, "WIDTH]"), new_name="SIZE")
    )
    assert edit is not None and edit.changes is not None
    assert edit.changes[LIB_URI][0].range.start == types.Position(line=0, character=6)
    assert [e.new_text for e in edit.changes[URI]] == ["SIZE"]


async def test_rename_in_stdlib_is_refused_with_a_message(client: LanguageClient) -> None:
    text = (
        "import std.blocks\nmodel M() {\n    input x: f32[B, 8]\n    return x |> MLPBlock(4)\n}\n"
    )
    _open(client, text)
    with pytest.raises(JsonRpcException, match="read-only"):
        await client.text_document_rename_async(
            types.RenameParams(text_document=DOC, position=_pos(text, "MLPBlock"), new_name="M2")
        )
    with pytest.raises(JsonRpcException, match="keyword"):
        await client.text_document_rename_async(
            types.RenameParams(text_document=DOC, position=_pos(text, "x |>"), new_name="model")
        )


async def test_formatting(client: LanguageClient) -> None:
    _open(client, "model M(){input x:f32[B,4]\nreturn x}\n")
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(
            text_document=DOC, options=types.FormattingOptions(tab_size=4, insert_spaces=True)
        )
    )
    assert edits is not None and len(edits) == 1
    assert "    input x: f32[B, 4]\n" in edits[0].new_text


async def test_semantic_tokens(client: LanguageClient) -> None:
    _open(client, GOOD)
    result = await client.text_document_semantic_tokens_full_async(
        types.SemanticTokensParams(text_document=DOC)
    )
    assert result is not None
    types_ = TOKEN_TYPES  # the legend the server announces
    decoded: list[tuple[int, int, int, str]] = []
    line = char = 0
    data = result.data
    for i in range(0, len(data), 5):
        line += data[i]
        char = data[i + 1] if data[i] else char + data[i + 1]
        decoded.append((line, char, data[i + 2], types_[data[i + 3]]))
    assert decoded[:3] == [(0, 0, 5, "keyword"), (0, 6, 1, "class"), (1, 4, 5, "keyword")]
    assert (2, 13, 5, "function") in decoded  # Dense
    assert (2, 4, 1, "variable") in decoded  # h


async def test_inlay_hints(client: LanguageClient) -> None:
    _open(client, GOOD)
    hints = await client.text_document_inlay_hint_async(
        types.InlayHintParams(
            text_document=DOC,
            range=types.Range(start=types.Position(line=0, character=0), end=_pos(GOOD, "}")),
        )
    )
    assert hints is not None
    assert [(h.position, h.label) for h in hints] == [
        (types.Position(line=2, character=5), ": f32[B, 4]")
    ]


async def test_code_actions(client: LanguageClient) -> None:
    text = GOOD.replace("Dense(4)", "Dens(4)").replace(
        "return h + x", "return h + x |> MLPBlock(4)"
    )
    _open(client, text)
    await _published(client, URI, lambda ds: len(ds) >= 2)
    here = types.Range(start=_pos(text, "Dens("), end=_pos(text, "Dens("))
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=DOC, range=here, context=types.CodeActionContext(diagnostics=[])
        )
    )
    assert actions is not None
    [fix] = [a for a in actions if isinstance(a, types.CodeAction) and "Dense" in a.title]
    assert fix.edit is not None and fix.edit.changes is not None
    [edit] = fix.edit.changes[URI]
    assert edit.new_text == "Dense" and edit.range.start == _pos(text, "Dens(")
    there = types.Range(start=_pos(text, "MLPBlock"), end=_pos(text, "MLPBlock"))
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=DOC, range=there, context=types.CodeActionContext(diagnostics=[])
        )
    )
    assert actions is not None
    titles = [a.title for a in actions]
    assert "Import `MLPBlock` from `std.blocks`" in titles


async def test_features_work_beside_a_syntax_error(client: LanguageClient) -> None:
    text = GOOD + "\nblock Broken( {\n    input y: f32[B,\n"
    _open(client, text)
    await _published(client, URI, lambda ds: any(str(d.code).startswith("E00") for d in ds))
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=DOC, position=_pos(text, "h + x"))
    )
    assert hover is not None and "f32[B, 4]" in str(hover.contents)
    refs = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=DOC,
            position=_pos(text, "h + x"),
            context=types.ReferenceContext(include_declaration=True),
        )
    )
    assert refs is not None and len(refs) == 2
    tokens = await client.text_document_semantic_tokens_full_async(
        types.SemanticTokensParams(text_document=DOC)
    )
    assert tokens is not None and len(tokens.data) > 5 * 10


async def test_change_in_imported_file_republishes_importer(client: LanguageClient) -> None:
    _open_uri(client, LIB_URI, "const WIDTH = 4\n")
    text = 'import "lib.nn"\nmodel M() {\n    input x: f32[B, 8]\n    return x |> Dense(WIDTH)\n}\n'
    _open(client, text)
    await _published(client, URI, lambda ds: len(ds) == 0)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=LIB_URI, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="const SIZE = 4\n")],
        )
    )
    await _published(client, URI, lambda ds: len(ds) == 1)
    [d] = client.diagnostics[URI]
    assert "WIDTH" in d.message and d.range.start.line == 3


# -- a shadowed binding: rename, references and definition through the server --------
SHADOW = """\
model M() {
    input x: f32[B, 8]
    h = x |> Dense(4)
    h = h |> Dropout(0.1)
    return h |> Dense(2)
}
"""


def _line_col(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


async def test_rename_of_a_shadowed_binding_edits_only_it_and_its_uses(
    client: LanguageClient,
) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=URI, language_id="nn", version=1, text=SHADOW)
        )
    )
    edit = await client.text_document_rename_async(
        types.RenameParams(text_document=DOC, position=_line_col(2, 4), new_name="dense")
    )
    assert edit is not None and edit.changes is not None
    assert sorted((e.range.start.line, e.range.start.character) for e in edit.changes[URI]) == [
        (2, 4),  # h = x |> Dense(4)
        (3, 8),  # h = h |> Dropout(0.1): the read, not the new binding
    ]
    refs = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=DOC,
            position=_line_col(4, 11),  # return h
            context=types.ReferenceContext(include_declaration=True),
        )
    )
    assert refs is not None
    assert sorted((r.range.start.line, r.range.start.character) for r in refs) == [(3, 4), (4, 11)]
    loc = await client.text_document_definition_async(
        types.DefinitionParams(text_document=DOC, position=_line_col(3, 8))
    )
    assert isinstance(loc, types.Location) and loc.range.start == _line_col(2, 4)
