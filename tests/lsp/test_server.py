"""Round trips through the real server process (`python -m nndsl lsp`) with pytest-lsp."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "nndsl", "lsp"],
        server_env={"PYTHONPATH": str(ROOT)},
    )
)
async def client(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    await lsp_client.initialize_session(
        types.InitializeParams(capabilities=pytest_lsp.client_capabilities("visual-studio-code"))
    )
    yield
    await lsp_client.shutdown_session()


URI = "file:///project/model.nn"
BROKEN = """\
model M() {
    input x: f32[B, 4]
    h = x |> Dense(8)
    return h + x
}
"""


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
    # `Dense(8)` -> `Dense(4)`: the sum is well-typed again
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    text="4",
                    range=types.Range(
                        start=types.Position(line=2, character=19),
                        end=types.Position(line=2, character=20),
                    ),
                )
            ],
        )
    )
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
