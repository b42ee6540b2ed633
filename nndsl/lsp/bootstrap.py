"""`nnrun lsp` start-up: the first exchange is answered before pygls is imported.

Importing pygls and lsprotocol (hundreds of attrs classes) takes longer than checking a
typical file (bench/README.md), so an editor would wait for it before seeing any diagnostic. This
module answers `initialize` (a capabilities answer precomputed from the real server, in
`initialize_result.json`), accepts `initialized`, checks the first `didOpen` document with the
same `nndsl.ide.Workspace` the server uses and publishes its diagnostics (the JSON the server
would send), all with the standard library and the front end. Then, or at the first message it
does not handle (any other request, anything malformed), it hands over: it imports the real
server, gives it the already-warm `Workspace`, replays every byte read so far, then the rest of
stdin, and drops the real server's second answer to `initialize` (and a second, identical
publication of the same diagnostics). Nothing is lost or reordered: the real server sees exactly
the stream it would have seen. `NNDSL_LSP_BOOTSTRAP=0` turns it off.

`python -m nndsl.lsp.bootstrap --regenerate` rewrites the precomputed answer from the real
server (tests/lsp/test_bootstrap.py fails when it is stale).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from pygls.uris import from_fs_path, to_fs_path  # stdlib only: pygls/__init__ and urllib

from nndsl.lsp.framing import Framer, FramingError, read_chunks
from nndsl.lsp.worker import Stopped, Worker

if TYPE_CHECKING:
    from nndsl.diagnostics import Diagnostic
    from nndsl.ide import Workspace
    from nndsl.source import SourceFile

log = logging.getLogger(__name__)
Json = dict[str, Any]

ENV = "NNDSL_LSP_BOOTSTRAP"
DATA = Path(__file__).with_name("initialize_result.json")
ENCODINGS = ("utf-8", "utf-16", "utf-32")  # pygls' supported position encodings
# What a client may send before its first didOpen without changing the check (replayed later).
IGNORED = frozenset({"$/setTrace", "$/cancelRequest", "workspace/didChangeConfiguration"})
_PUBLISH = "textDocument/publishDiagnostics"


class Unsupported(Exception):
    """A message the bootstrap leaves to the real server."""


def enabled() -> bool:
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def _verbose() -> None:
    """`NNDSL_LSP_BOOTSTRAP=verbose`: say on stderr what was answered and why it handed over."""
    if os.environ.get(ENV, "").strip().lower() == "verbose":
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter("nndsl bootstrap %(relativeCreated)6.0f ms: %(message)s")
        )
        log.addHandler(handler)
        log.setLevel(logging.DEBUG)
        log.propagate = False


# -- framing -----------------------------------------------------------------------------------
def frame(message: Json) -> bytes:
    """The bytes pygls writes for `message` (same JSON spacing, same headers)."""
    body = json.dumps(message).encode()
    return (
        b"Content-Length: %d\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n"
        % len(body)
    ) + body


# -- the initialize answer ---------------------------------------------------------------------
def _get(obj: Any, *keys: str) -> Any:
    """A nested client capability, None when absent; Unsupported when not an object on the way."""
    for key in keys:
        if obj is None:
            return None
        if not isinstance(obj, dict):
            raise Unsupported(f"capability {'.'.join(keys)} is not an object")
        obj = obj.get(key)
    return obj


def _flag(caps: Json, *keys: str) -> bool | None:
    value = _get(caps, *keys)
    if value is not None and not isinstance(value, bool):
        raise Unsupported(f"capability {'.'.join(keys)} is not a boolean")
    return value


def position_encoding(caps: Json) -> str:
    """pygls' choice: the client's first supported preference, else UTF-16."""
    wanted = _get(caps, "general", "positionEncodings")
    if wanted is None:
        return "utf-16"
    if not isinstance(wanted, list) or not all(isinstance(w, str) for w in wanted):
        raise Unsupported("general.positionEncodings is not a list of strings")
    return next((w for w in wanted if w in ENCODINGS), "utf-16")


# pygls' reader, writer and capability builder, and lsprotocol's serialization: the answer was
# stored for these exact files (another pygls/lsprotocol: the real server answers).
DEPENDENCIES = (
    ("pygls", "capabilities.py"),
    ("pygls", "protocol/language_server.py"),
    ("pygls", "protocol/json_rpc.py"),
    ("pygls", "io_.py"),
    ("lsprotocol", "types.py"),
    ("lsprotocol", "_hooks.py"),
    ("lsprotocol", "converters.py"),
)


def fingerprint() -> str:
    """A checksum of `DEPENDENCIES` (cheap: finding lsprotocol does not import it)."""
    import importlib.util
    import zlib

    crc = 0
    for package, name in DEPENDENCIES:
        spec = importlib.util.find_spec(package)
        folders = spec.submodule_search_locations if spec is not None else None
        try:
            data = (Path(next(iter(folders or []))) / name).read_bytes()
        except (OSError, StopIteration):
            data = b"missing " + name.encode()
        crc = zlib.crc32(data, crc)
    return f"{crc:08x}"


def stored_answers() -> Json:
    """The real server's stored answers (see `regenerate`), if made with these dependencies."""
    try:
        stored: Json = json.loads(DATA.read_text())
    except (OSError, ValueError) as e:
        raise Unsupported(f"no stored initialize answer: {e}") from e
    if stored.get("fingerprint") != fingerprint():
        raise Unsupported("pygls or lsprotocol changed since the initialize answer was stored")
    return stored


def initialize_result(params: Any, stored: Json | None = None) -> Json:
    """What the real server answers to `initialize` with these params. pygls' capability
    builder reads three things from the client: the position encodings, rename's
    prepareSupport and the willSave flags; `stored` holds the server's answers to a client
    without capabilities ("plain") and to one with all three flags on ("full").
    Unsupported when pygls could reject the params."""
    if not isinstance(params, dict) or not isinstance(params.get("capabilities"), dict):
        raise Unsupported("initialize without capabilities")
    for key in ("rootUri", "rootPath"):
        if params.get(key) is not None and not isinstance(params[key], str):
            raise Unsupported(f"{key} is not a string")
    if params.get("processId") is not None and type(params["processId"]) is not int:
        raise Unsupported("processId is not an integer")
    _roots(params)  # validates workspaceFolders
    caps = params["capabilities"]
    stored = stored or stored_answers()
    result: Json = json.loads(json.dumps(stored["plain"]))
    full = stored["full"]["capabilities"]
    server = result["capabilities"]
    server["positionEncoding"] = position_encoding(caps)
    if _flag(caps, "textDocument", "rename", "prepareSupport"):
        server["renameProvider"] = full["renameProvider"]
    plain_sync = server["textDocumentSync"]
    sync: Json = {}
    for key, value in full["textDocumentSync"].items():  # pygls' key order
        if key in ("willSave", "willSaveWaitUntil"):
            flag = _flag(caps, "textDocument", "synchronization", key)
            if flag is not None:  # pygls: `client_flag and feature_registered`
                sync[key] = flag and value
        elif key in plain_sync:
            sync[key] = plain_sync[key]
    server["textDocumentSync"] = sync
    return result


def _roots(params: Json) -> list[str]:
    """The server's `initialized` handler: workspace folders, else the root uri."""
    folders = params.get("workspaceFolders") or []
    if not isinstance(folders, list) or not all(
        isinstance(f, dict) and isinstance(f.get("uri"), str) and isinstance(f.get("name"), str)
        for f in folders
    ):
        raise Unsupported("workspaceFolders is not a list of folders")
    roots = list(dict.fromkeys(f["uri"] for f in folders))
    root_uri = params.get("rootUri")
    if root_uri is None and isinstance(params.get("rootPath"), str):
        root_uri = from_fs_path(params["rootPath"])
    if not roots and root_uri:
        roots = [root_uri]
    return roots


# -- diagnostics as JSON (nndsl.lsp.convert without lsprotocol) --------------------------------
def _units(encoding: str, text: str) -> int:
    if encoding == "utf-32":
        return len(text)
    if encoding == "utf-8":
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class Converter:
    """`nndsl.lsp.convert.diagnostic` as plain JSON, in the negotiated position encoding."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._lines: dict[int, tuple[str, list[str]]] = {}

    def lines(self, text: str) -> list[str]:
        cached = self._lines.get(id(text))
        if cached is None or cached[0] is not text:
            cached = (text, text.splitlines(keepends=True) or [""])
            self._lines[id(text)] = cached
        return cached[1]

    def position(self, file: SourceFile, offset: int) -> Json:
        pos = file.position(offset)
        lines = self.lines(file.text)
        try:
            character = _units(self.encoding, lines[pos.line - 1][: pos.column - 1])
        except IndexError:
            return {"line": len(lines), "character": 0}
        return {"line": pos.line - 1, "character": character}

    def range(self, file: SourceFile, start: int, end: int) -> Json:
        return {"start": self.position(file, start), "end": self.position(file, end)}

    def diagnostic(self, d: Diagnostic) -> Json:
        from nndsl.diagnostics import Severity
        from nndsl.ide.model import editor_message

        message = editor_message(d)
        related = []
        for label in d.secondary:
            file = label.file or d.file
            related.append(
                {
                    "location": {
                        "uri": from_fs_path(file.path) or file.path,
                        "range": self.range(file, label.span.start, label.span.end),
                    },
                    "message": label.text or "related",
                }
            )
        out: Json = {
            "range": self.range(d.file, d.primary.span.start, d.primary.span.end),
            "message": message,
            "severity": 1 if d.severity is Severity.ERROR else 2,
        }
        if d.code is not None:
            out["code"] = d.code
        out["source"] = "nndsl"
        if related:
            out["relatedInformation"] = related
        return out


# -- the bootstrap loop ------------------------------------------------------------------------
class Bootstrap:
    """Reads and answers until it is time to hand over; keeps every byte it read."""

    def __init__(self, stdin: BinaryIO, stdout: BinaryIO) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self.raw = bytearray()
        self.init_id: int | str | None = None
        self.init_result: Json | None = None
        self.published: dict[str, Json] = {}
        self.ide: Workspace | None = None
        self.eof = False
        self.handled = 0  # bytes of `raw` fully dealt with (answered or safely ignored)
        self.framer = Framer()
        self.worker: Worker | None = None  # the first check's, handed to the server
        self.stopped: dict[str, tuple[str, str]] = {}  # path -> (text, why its check stopped)

    def send(self, message: Json) -> None:
        self.stdout.write(frame(message))
        self.stdout.flush()

    def next(self) -> Json:
        body = self.read_body()
        try:
            message = json.loads(body)
        except ValueError as e:
            raise Unsupported("not JSON") from e
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            raise Unsupported("not JSON-RPC 2.0")
        return message

    def read_body(self) -> bytes:
        """The next message body, framed as the server frames it (`nndsl.lsp.framing`); every
        byte read goes to `raw`. A framing error is the server's to answer."""
        read = read_chunks(self.stdin)
        while True:
            for item in self.framer.items():
                if isinstance(item, FramingError):
                    raise Unsupported(f"framing error: {item.message}")
                return item
            chunk = read()
            if not chunk:
                self.eof = True
                raise Unsupported("end of input")
            self.raw += chunk
            self.framer.feed(chunk)

    def run(self) -> None:
        """Returns when the real server must take over (or at end of input: see `eof`)."""
        try:
            self._run()
        except Unsupported as e:
            log.info("handing over: %s", e)
        except Exception:  # a bug here must not cost the session: the real server answers
            log.exception("bootstrap failed; handing over")

    def _run(self) -> None:
        message = self.next()
        msg_id = message.get("id")
        if message.get("method") != "initialize" or type(msg_id) not in (int, str):
            raise Unsupported("first message is not initialize")
        params: Json = message.get("params")  # type: ignore[assignment]  # checked next
        result = initialize_result(params)
        encoding = result["capabilities"]["positionEncoding"]
        self.init_id, self.init_result = msg_id, result
        self.send({"id": msg_id, "jsonrpc": "2.0", "result": result})
        log.info("answered initialize (position encoding %s)", encoding)
        roots: list[str] | None = None
        while True:
            self.handled = self.framer.consumed
            message = self.next()
            method = message.get("method")
            if "id" in message:
                raise Unsupported(f"request {method}")
            if method == "initialized":
                roots = _roots(params)
            elif method == "textDocument/didOpen":
                self.publish(message.get("params"), encoding, roots)
                return
            elif method not in IGNORED:
                raise Unsupported(f"notification {method}")

    def publish(self, params: Any, encoding: str, roots: list[str] | None) -> None:
        doc = _get(params, "textDocument")
        if not isinstance(doc, dict):
            raise Unsupported("didOpen without a document")
        uri, text, version = doc.get("uri"), doc.get("text"), doc.get("version")
        if not (isinstance(uri, str) and isinstance(text, str) and type(version) is int):
            raise Unsupported("malformed didOpen")
        if not isinstance(doc.get("languageId"), str):
            raise Unsupported("malformed didOpen")
        from nndsl.ide import Workspace

        ide = Workspace()
        if roots is not None:
            ide.roots = [to_fs_path(r) or r for r in roots]
        path = to_fs_path(uri) or uri
        log.info("checking %s (%d characters)", uri, len(text))
        convert = Converter(encoding)

        def check() -> list[Json]:
            ide.update(path, text)
            return [convert.diagnostic(d) for d in ide.diagnostics(path)]

        # On the worker, under its budget: a pathological first document must not hold up
        # the hand-over (the server then publishes why the check stopped).
        self.worker = Worker()
        self.ide = ide
        try:
            diagnostics = self.worker.submit(check, f"checking {uri}").result()
        except Stopped as e:
            self.ide = None  # the stopped check may have left its caches half-updated
            self.stopped[path] = (text, e.reason)
            raise Unsupported(f"the check of {uri} stopped: it {e.reason}") from None
        published: Json = {"uri": uri, "diagnostics": diagnostics, "version": version}
        self.send({"params": published, "method": _PUBLISH, "jsonrpc": "2.0"})
        self.published[uri] = published
        log.info("published %d diagnostics for %s; handing over", len(diagnostics), uri)


# -- handing over ------------------------------------------------------------------------------
class Replay:
    """The bytes the bootstrap read, then the rest of stdin: what pygls' reader reads."""

    def __init__(self, consumed: bytes, rest: BinaryIO) -> None:
        self._head = consumed
        self._pos = 0
        self._rest = rest

    def readline(self) -> bytes:
        if self._pos < len(self._head):
            end = self._head.find(b"\n", self._pos)
            end = len(self._head) if end < 0 else end + 1
            line = self._head[self._pos : end]
            self._pos = end
            return line if line.endswith(b"\n") else line + self._rest.readline()
        return self._rest.readline()

    def read1(self, n: int) -> bytes:
        """What the server's reader uses: the replayed bytes first, then what stdin has."""
        if self._pos < len(self._head):
            chunk = self._head[self._pos : self._pos + n]
            self._pos += len(chunk)
            return chunk
        return read_chunks(self._rest)()

    def read(self, n: int) -> bytes:
        if self._pos < len(self._head):
            chunk = self._head[self._pos : self._pos + n]
            self._pos += len(chunk)
            return chunk + (self._rest.read(n - len(chunk)) if len(chunk) < n else b"")
        return self._rest.read(n)


class Filter:
    """The real server's stdout, minus what the bootstrap already sent: its answer to
    `initialize` (logged if it differs) and the first publication per document if identical."""

    def __init__(
        self, out: BinaryIO, init_id: int | str | None, init_result: Json | None, published: Json
    ) -> None:
        self._out = out
        self._init_id = init_id
        self._init_result = init_result
        self._published = dict(published)
        self._lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self._lock:
            if (self._init_id is not None or self._published) and self._duplicate(data):
                return
            self._out.write(data)

    def _duplicate(self, data: bytes) -> bool:
        _, sep, body = data.partition(b"\r\n\r\n")
        if not sep:
            return False
        try:
            message = json.loads(body)
        except ValueError:
            return False
        if not isinstance(message, dict):
            return False
        if self._init_id is not None and "method" not in message:
            if message.get("id") == self._init_id:
                if message.get("result") != self._init_result:
                    log.warning(
                        "the bootstrap's initialize answer differs from the server's; "
                        "run `python -m nndsl.lsp.bootstrap --regenerate`: %s",
                        json.dumps(message),
                    )
                self._init_id = None
                return True
        if message.get("method") == _PUBLISH and isinstance(message.get("params"), dict):
            params = message["params"]
            sent = self._published.pop(params.get("uri"), None)
            return sent is not None and sent == params
        return False

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        self._out.close()


def handover(boot: Bootstrap | None, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Start the real pygls server on the replayed stream."""
    if boot is None:
        from nndsl.lsp.server import serve

        serve(stdin, stdout)
        return
    # The first check (done with the collector off) stays alive in the server: frozen, the
    # collections during the import below do not walk it (walking it slowed the import after
    # a large file; bench/README.md). The import's own cyclic garbage is collected as it goes.
    # Unfrozen after: the first check's garbage (after an edit) must stay collectable.
    gc.freeze()
    gc.enable()
    from nndsl.lsp import server as real  # pygls + lsprotocol: the slow import

    gc.unfreeze()
    if boot.ide is not None:
        real.server.ide = boot.ide  # the replayed didOpen finds its check cached
    if boot.worker is not None:
        real.server.worker = boot.worker  # a stopped check's Workspace is replaced first
    real.server.stopped.update(boot.stopped)
    log.info("server imported; replaying %d bytes", len(boot.raw))
    reader = Replay(bytes(boot.raw), stdin)
    writer = Filter(stdout, boot.init_id, boot.init_result, boot.published)
    real.serve(stdin=reader, stdout=writer)  # type: ignore[arg-type]


def main(stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> int:
    """`nnrun lsp`."""
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    if not enabled():
        gc.enable()  # `nnrun lsp` imports with the collector off (nndsl.cli.main)
        handover(None, stdin, stdout)
        return 0
    _verbose()
    gc.disable()  # until the hand-over: a short burst of allocation, little of it garbage
    boot = Bootstrap(stdin, stdout)
    boot.run()
    if boot.eof and not boot.raw[boot.handled :].strip():
        gc.enable()
        return 0  # input closed after what was answered: pygls would only exit
    handover(boot, stdin, stdout)
    return 0


# -- the precomputed answer --------------------------------------------------------------------
def server_initialize(params: Json, env: dict[str, str] | None = None) -> Json:
    """The real server's answer to `initialize` (a subprocess, bootstrap off): the reference
    for `initialize_result` and what `--regenerate` stores."""
    import subprocess

    message = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}
    proc = subprocess.run(
        [sys.executable, "-m", "nndsl", "lsp"],
        input=frame(message),
        capture_output=True,
        timeout=120,
        env={**os.environ, **(env or {}), ENV: "0"},
        cwd=Path(__file__).resolve().parents[2],
    )
    for reply in parse_frames(proc.stdout):
        if reply.get("id") == 1:
            return reply
    raise RuntimeError(f"no answer to initialize: {proc.stdout!r} {proc.stderr!r}")


def parse_frames(data: bytes) -> list[Json]:
    """Split a captured stdout into its JSON-RPC messages."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        out.append(json.loads(rest[:length]))
        data = rest[length:]
    return out


FULL_CLIENT: Json = {
    "general": {"positionEncodings": ["utf-16"]},
    "textDocument": {
        "rename": {"prepareSupport": True},
        "synchronization": {"willSave": True, "willSaveWaitUntil": True},
    },
}


def regenerate(write: Callable[[str], object] = DATA.write_text) -> Json:
    """Ask the real server and store its answers (see `initialize_result`)."""
    stored: Json = {
        "fingerprint": fingerprint(),
        "plain": server_initialize({"processId": None, "capabilities": {}})["result"],
        "full": server_initialize({"processId": None, "capabilities": FULL_CLIENT})["result"],
    }
    write(json.dumps(stored, indent=2) + "\n")
    return stored


if __name__ == "__main__":
    if sys.argv[1:] == ["--regenerate"]:
        regenerate()
        print(f"wrote {DATA}")
    else:
        raise SystemExit(main())
