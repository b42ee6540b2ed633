"""The start-up bootstrap of `nnrun lsp` (nndsl.lsp.bootstrap) must be invisible to a client:
the same answers as the pygls server, in the same order, and the server fully working after
the hand-over."""

from __future__ import annotations

import io
import json
import logging
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import converters, types
from pygls.workspace import PositionCodec
from pytest_lsp import ClientServerConfig, LanguageClient

from nndsl.ide import Workspace
from nndsl.lsp import bootstrap, convert
from tests.lsp.common import BROKEN, DOC, URI, accept_registrations, fix_broken

ROOT = Path(__file__).resolve().parents[2]
CONVERTER = converters.get_converter()
SMALL = """\
model M(classes: int = 10) {
    input x: f32[B, 64]
    h = x |> Dense(128, activation = "relu") |> Dropout(0.2)
    return h |> Dense(classes)
}
"""


def _caps(name: str) -> dict[str, Any]:
    caps: dict[str, Any] = CONVERTER.unstructure(pytest_lsp.client_capabilities(name))
    return caps


def _with(caps: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(caps))
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return out


CLIENTS = {
    "none": {},
    "vscode": _caps("visual-studio-code"),
    "neovim": _caps("neovim"),
    "utf-8 first": _with({}, "general.positionEncodings", ["utf-8", "utf-16"]),
    "utf-32 after an unknown one": _with({}, "general.positionEncodings", ["utf-7", "utf-32"]),
    "only unknown encodings": _with({}, "general.positionEncodings", ["ebcdic"]),
    "no prepareSupport": _with({}, "textDocument.rename.prepareSupport", False),
    "willSave false": _with({}, "textDocument.synchronization.willSave", False),
    "willSaveWaitUntil only": _with({}, "textDocument.synchronization.willSaveWaitUntil", True),
    "notebooks": _with({}, "notebookDocument.synchronization.dynamicRegistration", True),
}


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def request(msg_id: int, method: str, params: Any = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}


def notify(method: str, params: Any = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params}


def did_open(uri: str, text: str, version: int = 1) -> dict[str, Any]:
    return notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "nn", "version": version, "text": text}},
    )


def init(caps: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return request(1, "initialize", {"processId": None, "capabilities": caps or {}, **extra})


def nnrun_lsp(stdin: bytes, mode: str) -> subprocess.CompletedProcess[bytes]:
    """`python -m nndsl lsp` fed `stdin` at once, until it exits."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), bootstrap.ENV: mode}
    return subprocess.run(
        [sys.executable, "-m", "nndsl", "lsp"],
        input=stdin,
        capture_output=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )


# -- in-process: the precomputed initialize answer and the diagnostic JSON -------------------
@pytest.mark.slow
@pytest.mark.parametrize("client", list(CLIENTS))
def test_initialize_answer_is_the_servers(client: str) -> None:
    """Fails when server.py's features change without `--regenerate`."""
    params = {"processId": 7, "rootUri": None, "capabilities": CLIENTS[client]}
    real = bootstrap.server_initialize(params)["result"]
    ours = bootstrap.initialize_result(params)
    assert ours == real, "run `python -m nndsl.lsp.bootstrap --regenerate`"
    assert json.dumps(ours) == json.dumps(real)  # same key order too: the same bytes


@pytest.mark.slow
def test_initialize_answer_with_everything_an_editor_sends() -> None:
    params = {
        "processId": 4242,
        "clientInfo": {"name": "Visual Studio Code", "version": "1.95.0"},
        "locale": "en",
        "rootPath": "/project",
        "rootUri": "file:///project",
        "capabilities": CLIENTS["vscode"],
        "initializationOptions": {"anything": [1, 2]},
        "trace": "off",
        "workspaceFolders": [{"uri": "file:///project", "name": "project"}],
    }
    assert bootstrap.initialize_result(params) == bootstrap.server_initialize(params)["result"]


def test_stored_answer_is_for_the_installed_pygls() -> None:
    stored = json.loads(bootstrap.DATA.read_text())
    assert stored["fingerprint"] == bootstrap.fingerprint(), (
        "run `python -m nndsl.lsp.bootstrap --regenerate`"
    )
    assert stored["plain"]["serverInfo"]["name"] == "nndsl"
    assert stored["full"]["capabilities"]["renameProvider"] == {"prepareProvider": True}


def test_another_pygls_leaves_initialize_to_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    params: dict[str, Any] = {"processId": None, "capabilities": {}}
    assert bootstrap.initialize_result(params)["serverInfo"]["name"] == "nndsl"
    monkeypatch.setattr(bootstrap, "fingerprint", lambda: "0badf00d")
    with pytest.raises(bootstrap.Unsupported, match="changed"):
        bootstrap.initialize_result(params)


@pytest.mark.parametrize(
    "params",
    [
        None,
        {"processId": None},  # pygls answers "Invalid Params" (no capabilities)
        {"processId": "12", "capabilities": {}},
        {"processId": None, "capabilities": {"general": []}},
        {"processId": None, "capabilities": _with({}, "general.positionEncodings", "utf-8")},
        {"processId": None, "capabilities": _with({}, "textDocument.rename.prepareSupport", 1)},
        {"processId": None, "capabilities": {}, "workspaceFolders": [{"uri": 3}]},
        {"processId": None, "capabilities": {}, "rootUri": 5},
    ],
)
def test_params_pygls_might_reject_are_left_to_it(params: Any) -> None:
    with pytest.raises(bootstrap.Unsupported):
        bootstrap.initialize_result(params)


def _corpus() -> list[tuple[str, str]]:
    """Documents with many diagnostics: examples and stdlib files with characters of 1 to 4
    UTF-8 bytes (and 2 UTF-16 units) spliced in, CRLF and form-feed line ends."""
    rng = random.Random(5)
    files = sorted((ROOT / "examples").glob("*.nn")) + sorted((ROOT / "stdlib").glob("*.nn"))
    out = [(str(ROOT / "tests" / "broken.nn"), BROKEN)]
    junk = ["é", "😋", "中", "\r\n", "\x0c", "x", ")", "Dense(", " ", "\u2028"]
    for path in files:
        text = path.read_text()
        out.append((str(path), text))
        for _ in range(3):
            chars = list(text)
            for _ in range(6):
                chars.insert(rng.randrange(len(chars) + 1), rng.choice(junk))
            out.append((str(path), "".join(chars).replace("\n    ", "\r\n    ", 2)))
    return out


@pytest.mark.parametrize("encoding", bootstrap.ENCODINGS)
def test_diagnostic_json_is_the_servers(encoding: str) -> None:
    """The bootstrap's stdlib conversion against `convert.diagnostic` + lsprotocol's JSON."""
    codec = PositionCodec(encoding)
    ours = bootstrap.Converter(encoding)
    count = 0
    related = 0
    for path, text in _corpus():
        ide = Workspace()
        ide.update(path, text)
        for d in ide.diagnostics(path):
            expected = CONVERTER.unstructure(convert.diagnostic(codec, d))
            assert ours.diagnostic(d) == expected, (path, d.code)
            count += 1
            related += "relatedInformation" in expected
    assert count > 50 and related > 0, (count, related)


def test_positions_count_code_units_of_the_encoding() -> None:
    from nndsl.source import SourceFile

    file = SourceFile("/x.nn", "a😋é\nb")
    offset = len("a😋é")
    assert bootstrap.Converter("utf-32").position(file, offset) == {"line": 0, "character": 3}
    assert bootstrap.Converter("utf-16").position(file, offset) == {"line": 0, "character": 4}
    assert bootstrap.Converter("utf-8").position(file, offset) == {"line": 0, "character": 7}


def test_the_server_keeps_a_default_workspace() -> None:
    """The hand-over gives the server the bootstrap's `Workspace()`: it must be configured as
    the server's own (same disk reader, no roots until `initialized`)."""
    from nndsl.lsp.server import NNLanguageServer

    theirs, ours = vars(NNLanguageServer().ide), vars(Workspace())
    assert theirs.keys() == ours.keys()
    for key, value in theirs.items():
        assert value == ours[key], key


# -- in-process: the replayed stream and the filtered output -----------------------------------
def test_replay_reads_the_consumed_bytes_then_the_rest() -> None:
    replay = bootstrap.Replay(
        b"Content-Length: 2\r\n\r\n{}Conte", io.BytesIO(b"nt-Length: 3\r\nxyz")
    )
    assert replay.readline() == b"Content-Length: 2\r\n"
    assert replay.readline() == b"\r\n"
    assert replay.read(2) == b"{}"
    assert replay.readline() == b"Content-Length: 3\r\n"  # a line cut at the boundary
    assert replay.read(3) == b"xyz"
    assert replay.readline() == b""
    replay = bootstrap.Replay(b"abc", io.BytesIO(b"defg"))
    assert replay.read(5) == b"abcde"
    assert replay.read(5) == b"fg"


def test_filter_drops_only_what_was_already_sent(caplog: pytest.LogCaptureFixture) -> None:
    out = io.BytesIO()
    published: dict[str, Any] = {"uri": "file:///a.nn", "diagnostics": [], "version": 1}
    other = {"uri": "file:///a.nn", "diagnostics": [], "version": 2}
    writer = bootstrap.Filter(out, 1, {"capabilities": {}}, {"file:///a.nn": published})
    sent: list[dict[str, Any]] = [
        {"id": 1, "jsonrpc": "2.0", "result": {"capabilities": {}}},  # dropped
        {"params": published, "method": bootstrap._PUBLISH, "jsonrpc": "2.0"},  # dropped
        {"params": published, "method": bootstrap._PUBLISH, "jsonrpc": "2.0"},  # once only
        {"id": 1, "jsonrpc": "2.0", "result": None},  # a later answer to a reused id
        {"params": other, "method": bootstrap._PUBLISH, "jsonrpc": "2.0"},
    ]
    for message in sent:
        writer.write(bootstrap.frame(message))
    assert bootstrap.parse_frames(out.getvalue()) == sent[2:]
    # a different answer to initialize is dropped too, but said loudly
    writer = bootstrap.Filter(io.BytesIO(), 1, {"capabilities": {"a": 1}}, {})
    with caplog.at_level(logging.WARNING, logger="nndsl.lsp.bootstrap"):
        writer.write(bootstrap.frame({"id": 1, "jsonrpc": "2.0", "result": {"capabilities": {}}}))
    assert "--regenerate" in caplog.text


def test_a_different_publication_is_not_dropped() -> None:
    out = io.BytesIO()
    published = {"uri": "file:///a.nn", "diagnostics": [], "version": 1}
    changed = {**published, "diagnostics": [{"message": "x"}]}
    writer = bootstrap.Filter(out, None, None, {"file:///a.nn": published})
    writer.write(
        bootstrap.frame({"params": changed, "method": bootstrap._PUBLISH, "jsonrpc": "2.0"})
    )
    writer.write(
        bootstrap.frame({"params": published, "method": bootstrap._PUBLISH, "jsonrpc": "2.0"})
    )
    assert [m["params"] for m in bootstrap.parse_frames(out.getvalue())] == [changed, published]


# -- a real process fed raw frames: on and off give the same bytes -----------------------------
SESSIONS = {
    "open, hover, shutdown": [
        init(),
        notify("initialized", {}),
        did_open(URI, BROKEN),
        request(
            2,
            "textDocument/hover",
            {"textDocument": {"uri": URI}, "position": {"line": 2, "character": 4}},
        ),
        request(3, "shutdown"),
        notify("exit"),
    ],
    "vscode client, utf-8 positions, two documents": [
        init(_with(_caps("visual-studio-code"), "general.positionEncodings", ["utf-8"])),
        notify("initialized", {}),
        notify("$/setTrace", {"value": "off"}),
        did_open(URI, "// é😋\n" + BROKEN),
        did_open("file:///project/other.nn", SMALL),
        request(2, "textDocument/documentSymbol", {"textDocument": {"uri": URI}}),
        request(3, "shutdown"),
        notify("exit"),
    ],
    "a request before didOpen": [
        init(),
        notify("initialized", {}),
        request(2, "workspace/symbol", {"query": "M"}),
        did_open(URI, BROKEN),
        request(3, "shutdown"),
        notify("exit"),
    ],
    "shutdown without a document": [
        init(),
        notify("initialized", {}),
        request(2, "shutdown"),
        notify("exit"),
    ],
    "not initialize first": [did_open(URI, BROKEN), init(), request(3, "shutdown"), notify("exit")],
    "initialize without capabilities": [
        request(1, "initialize", {"processId": None}),
        request(3, "shutdown"),
        notify("exit"),
    ],
    "workspace folders": [
        init(workspaceFolders=[{"uri": "file:///project", "name": "p"}], rootUri="file:///x"),
        notify("initialized", {}),
        did_open(URI, SMALL),
        request(2, "shutdown"),
        notify("exit"),
    ],
}


def _stdin(session: list[dict[str, Any]]) -> bytes:
    return b"".join(frame(m) for m in session)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SESSIONS))
def test_bootstrap_is_transparent(name: str) -> None:
    stdin = _stdin(SESSIONS[name])
    off = nnrun_lsp(stdin, "0")
    on = nnrun_lsp(stdin, "verbose")
    assert off.stdout and on.stdout == off.stdout, on.stderr.decode()
    assert on.returncode == off.returncode
    assert b"differs" not in on.stderr


@pytest.mark.slow
def test_bootstrap_answers_the_first_exchange_itself() -> None:
    stdin = _stdin(SESSIONS["open, hover, shutdown"])
    on = nnrun_lsp(stdin, "verbose")
    log = on.stderr.decode()
    assert "answered initialize (position encoding utf-16)" in log
    assert f"published 1 diagnostics for {URI}" in log
    replies = bootstrap.parse_frames(on.stdout)
    assert [r.get("id", r.get("method")) for r in replies] == [
        1,
        "textDocument/publishDiagnostics",
        2,
        3,
    ]
    [d] = replies[1]["params"]["diagnostics"]
    assert d["code"] == "E0202" and d["range"]["start"] == {"line": 3, "character": 11}
    assert "h: f32[B, 8]" in replies[2]["result"]["contents"]["value"]
    assert on.returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    "garbage",
    [
        b"Content-Length: 5\r\n\r\n{oops",  # not JSON
        b"Content-Length: 2\r\n\r\n[]",  # not an object
        b'Content-Length: 17\r\n\r\n{"jsonrpc": "1"}\n',  # not JSON-RPC 2.0
        b"content-length: 2\r\n\r\n{}",  # a header pygls does not read
    ],
)
def test_malformed_input_is_left_to_pygls(garbage: bytes) -> None:
    stdin = frame(init()) + garbage + frame(did_open(URI, BROKEN))
    stdin += frame(request(2, "shutdown")) + frame(notify("exit"))
    on = nnrun_lsp(stdin, "verbose")
    off = nnrun_lsp(stdin, "0")
    assert on.stdout == off.stdout
    assert "handing over" in on.stderr.decode()
    assert bootstrap.parse_frames(on.stdout)[0] == {
        "id": 1,
        "jsonrpc": "2.0",
        "result": bootstrap.initialize_result(init()["params"]),
    }


@pytest.mark.slow
def test_input_closed_early_exits_quietly() -> None:
    for stdin in (b"", frame(init()), frame(init()) + frame(notify("initialized", {}))):
        on = nnrun_lsp(stdin, "verbose")
        off = nnrun_lsp(stdin, "0")
        assert (on.returncode, on.stdout) == (off.returncode, off.stdout)
    # cut inside a message: pygls gets the bytes and decides
    stdin = frame(init()) + b"Content-Length: 40\r\n\r\n{"
    assert nnrun_lsp(stdin, "1").stdout == nnrun_lsp(stdin, "0").stdout


# -- a real client (pytest-lsp) through the bootstrap ------------------------------------------
@pytest_lsp.fixture(  # type: ignore[untyped-decorator]
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "nndsl", "lsp"],
        server_env={"PYTHONPATH": str(ROOT), bootstrap.ENV: "1"},
    )
)
async def client(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    accept_registrations(lsp_client)
    yield  # each test initializes (and checks the answer)
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(  # type: ignore[untyped-decorator]
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "nndsl", "lsp"],
        server_env={"PYTHONPATH": str(ROOT), bootstrap.ENV: "0"},
    )
)
async def plain_client(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    accept_registrations(lsp_client)
    yield
    await lsp_client.shutdown_session()


VSCODE = pytest_lsp.client_capabilities("visual-studio-code")


def _open(client: LanguageClient, text: str, uri: str = URI) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="nn", version=1, text=text)
        )
    )


async def _initialize(client: LanguageClient) -> None:
    """As VS Code does; the answer must be the real server's."""
    result = await client.initialize_session(types.InitializeParams(capabilities=VSCODE))
    expected = bootstrap.server_initialize(
        {"processId": None, "capabilities": CONVERTER.unstructure(VSCODE)}
    )["result"]
    assert CONVERTER.unstructure(result) == expected


async def _diagnostics_then_features(client: LanguageClient) -> None:
    """First diagnostics (the bootstrap's), then the real server's features and edits."""
    _open(client, BROKEN)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    [d] = client.diagnostics[URI]
    assert d.code == "E0202" and d.range.start == types.Position(line=3, character=11)
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=DOC, position=types.Position(line=2, character=4))
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert "f32[B, 8]" in hover.contents.value
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=DOC, position=types.Position(line=2, character=19))
    )
    items = result.items if isinstance(result, types.CompletionList) else result or []
    assert "units=" in [i.label for i in items]
    fix_broken(client)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert len(client.diagnostics[URI]) == 0


@pytest.mark.slow
async def test_client_session_through_the_bootstrap(client: LanguageClient) -> None:
    await _initialize(client)
    await _diagnostics_then_features(client)


@pytest.mark.slow
async def test_client_session_without_the_bootstrap(plain_client: LanguageClient) -> None:
    await _initialize(plain_client)
    await _diagnostics_then_features(plain_client)


@pytest.mark.slow
async def test_request_before_any_document(client: LanguageClient) -> None:
    """The bootstrap hands over at the request: the real server answers it, then diagnostics."""
    await _initialize(client)
    symbols = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="zzz"))
    assert symbols == []
    await _diagnostics_then_features(client)


@pytest.mark.slow
async def test_shutdown_right_after_initialize(client: LanguageClient) -> None:
    await _initialize(client)  # the fixture then shuts down: the real server answers
