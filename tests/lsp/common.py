"""What the language-server tests share: a document with one shape error and the edit that
fixes it."""

from __future__ import annotations

from lsprotocol import types
from pytest_lsp import LanguageClient

URI = "file:///project/model.nn"
DOC = types.TextDocumentIdentifier(uri=URI)
BROKEN = """\
model M() {
    input x: f32[B, 4]
    h = x |> Dense(8)
    return h + x
}
"""


def fix_broken(client: LanguageClient, version: int = 2) -> None:
    """`Dense(8)` -> `Dense(4)`: `h + x` is well-typed again."""
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=version),
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


def accept_registrations(client: LanguageClient) -> list[types.Registration]:
    """Answer `client/registerCapability` as an editor does (pytest-lsp's client announces
    dynamic registration but has no handler); returns the list the registrations go to."""
    registered: list[types.Registration] = []

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)  # type: ignore[untyped-decorator]
    def register(params: types.RegistrationParams) -> None:
        registered.extend(params.registrations)

    return registered
