"""Files changed on disk outside the editor, through the real server process: the watcher is
registered when the client supports it, and a watched change re-checks the open importers."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.lsp.common import accept_registrations

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

USER = """\
import "lib.nn"
model M() {
    input x: f32[B, 8]
    return x |> Wide()
}
"""
LIB = """\
block Wide() {
    input x: f32[B, D]
    return x |> Dense(16)
}
"""


@pytest_lsp.fixture(  # type: ignore[untyped-decorator]
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "nndsl", "lsp"],
        server_env={"PYTHONPATH": str(ROOT)},
    )
)
async def client(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    yield
    await lsp_client.shutdown_session()


async def _until(what: str, done: Callable[[], bool], client: LanguageClient) -> None:
    try:
        async with asyncio.timeout(10):
            while not done():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"{what}: {client.diagnostics}") from None


def _clean(client: LanguageClient, uri: str) -> bool:
    return uri in client.diagnostics and len(client.diagnostics[uri]) == 0


def _codes(diagnostics: Sequence[Any]) -> list[str]:
    return [str(d.code) for d in diagnostics]


async def _session(client: LanguageClient, tmp_path: Path, caps: str) -> tuple[str, list[Any]]:
    registered = accept_registrations(client)
    await client.initialize_session(
        types.InitializeParams(
            capabilities=pytest_lsp.client_capabilities(caps),
            root_uri=from_fs_path(str(tmp_path)),
        )
    )
    uri = from_fs_path(str(tmp_path / "user.nn")) or ""
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="nn", version=1, text=USER)
        )
    )
    return uri, registered


def _changed(client: LanguageClient, path: Path, kind: types.FileChangeType) -> None:
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=from_fs_path(str(path)) or "", type=kind)]
        )
    )


async def test_watched_import_created_changed_and_deleted(
    client: LanguageClient, tmp_path: Path
) -> None:
    uri, registered = await _session(client, tmp_path, "visual-studio-code")
    await _until("missing import", lambda: bool(client.diagnostics.get(uri)), client)
    missing = _codes(client.diagnostics[uri])
    await _until("registration", lambda: bool(registered), client)
    [registration] = registered
    assert registration.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
    options = registration.register_options
    assert options is not None
    watchers = options["watchers"] if isinstance(options, dict) else options.watchers
    assert [w["globPattern"] if isinstance(w, dict) else w.glob_pattern for w in watchers] == [
        "**/*.nn"
    ]

    lib = tmp_path / "lib.nn"
    lib.write_text(LIB)
    _changed(client, lib, types.FileChangeType.Created)
    await _until("import created", lambda: _clean(client, uri), client)

    lib.write_text(LIB.replace("block Wide", "block Narrow"))
    _changed(client, lib, types.FileChangeType.Changed)
    await _until(
        "import changed", lambda: _codes(client.diagnostics.get(uri, [])) == ["E0101"], client
    )

    lib.unlink()
    _changed(client, lib, types.FileChangeType.Deleted)
    await _until(
        "import deleted", lambda: _codes(client.diagnostics.get(uri, [])) == missing, client
    )


async def test_no_watcher_without_dynamic_registration(
    client: LanguageClient, tmp_path: Path
) -> None:
    uri, registered = await _session(client, tmp_path, "neovim")  # dynamicRegistration false
    await _until("first diagnostics", lambda: uri in client.diagnostics, client)
    # a later request is answered after the registration would have been sent
    await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="M"))
    assert registered == []
    # events still work (a client may watch statically: VS Code's `synchronize.fileEvents`)
    (tmp_path / "lib.nn").write_text(LIB)
    _changed(client, tmp_path / "lib.nn", types.FileChangeType.Created)
    await _until("import created", lambda: _clean(client, uri), client)
