"""Rename and references of a shadowed binding, through the real server process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.lsp.common import DOC, URI, accept_registrations

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

SHADOW = """\
model M() {
    input x: f32[B, 8]
    h = x |> Dense(4)
    h = h |> Dropout(0.1)
    return h |> Dense(2)
}
"""


@pytest_lsp.fixture(  # type: ignore[untyped-decorator]
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


def _at(line: int, character: int) -> types.Position:
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
        types.RenameParams(text_document=DOC, position=_at(2, 4), new_name="dense")
    )
    assert edit is not None and edit.changes is not None
    assert sorted((e.range.start.line, e.range.start.character) for e in edit.changes[URI]) == [
        (2, 4),  # h = x |> Dense(4)
        (3, 8),  # h = h |> Dropout(0.1): the read, not the new binding
    ]
    refs = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=DOC,
            position=_at(4, 11),  # return h
            context=types.ReferenceContext(include_declaration=True),
        )
    )
    assert refs is not None
    assert sorted((r.range.start.line, r.range.start.character) for r in refs) == [(3, 4), (4, 11)]
    loc = await client.text_document_definition_async(
        types.DefinitionParams(text_document=DOC, position=_at(3, 8))
    )
    assert isinstance(loc, types.Location) and loc.range.start == _at(2, 4)
