"""The "show graph" code lens through the real server process: lens, command, page, and the
request to open it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from nndsl.ide.model import SHOW_GRAPH
from tests.lsp.common import DOC, URI, accept_registrations

ROOT = Path(__file__).resolve().parents[2]
TEXT = """\
model Tiny(units: int = 8) {
    input x: f32[B, 4]
    h = x |> Dense(units, activation = "relu")
    return h + (h |> Dense(units))
}

model NeedsArgs(units: int) {
    input x: f32[B, 4]
    return x |> Dense(units)
}
"""

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


async def test_show_graph_lens_writes_the_page_and_opens_it(client: LanguageClient) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=URI, language_id="nn", version=1, text=TEXT)
        )
    )
    lenses = await client.text_document_code_lens_async(types.CodeLensParams(text_document=DOC))
    assert lenses is not None and len(lenses) == 2
    first = lenses[0]
    assert first.range.start == types.Position(line=0, character=6)
    assert first.command is not None and first.command.title == "show graph"
    assert first.command.command == SHOW_GRAPH and list(first.command.arguments or []) == [
        URI,
        "Tiny",
    ]
    answer = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(SHOW_GRAPH, first.command.arguments)
    )
    page = Path(answer["path"])
    try:
        text = page.read_text()
        assert page.name == "Tiny.html" and "<svg" in text and 'class="edge skip"' in text
        assert text.count('class="node"') == 4  # x, two Dense, add (h skips the second Dense)
    finally:
        page.unlink(missing_ok=True)
    opened = client.shown_documents  # pytest-lsp's client records window/showDocument
    assert [p.uri for p in opened] == [answer["uri"]] and opened[0].external
    # a model without defaults: a message, no page
    second = lenses[1].command
    assert second is not None
    assert (
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(SHOW_GRAPH, second.arguments)
        )
        is None
    )
    # sent before the answer; pytest-lsp's client records window/showMessage
    assert any("no model `NeedsArgs` with default arguments" in m.message for m in client.messages)
