"""Raw bytes at the language server over stdio: every malformed frame or message gets its
JSON-RPC error (never a popup, never a traceback) and the server still answers afterwards; a
document whose check runs over budget does not hold up the answers for another."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from nndsl.limits import MAX_SOURCE_CHARS
from nndsl.lsp.bootstrap import frame, parse_frames
from nndsl.lsp.framing import Framer, FramingError, read_chunks
from nndsl.lsp.worker import Stopped, Worker

ROOT = Path(__file__).resolve().parents[2]
URI = "file:///project/model.nn"
TEXT = "model M() {\n    input x: f32[B, 4]\n    return x |> Dense(4)\n}\n"
Json = dict[str, Any]


def msg(method: str, params: Any = None, id: Any = None, **extra: Any) -> Json:
    out: Json = {"jsonrpc": "2.0", "method": method}
    if id is not None:
        out["id"] = id
    if params is not None:
        out["params"] = params
    return {**out, **extra}


def body(message: Any) -> bytes:
    return json.dumps(message).encode()


def with_length(data: bytes, length: bytes, name: bytes = b"Content-Length") -> bytes:
    return name + b": " + length + b"\r\n\r\n" + data


def hover(id: Any, position: Any = None, uri: str = URI) -> Json:
    pos = position if position is not None else {"line": 1, "character": 4}
    return msg("textDocument/hover", {"textDocument": {"uri": uri}, "position": pos}, id)


def pos(line: Any, character: Any = 0) -> Json:
    return {"line": line, "character": character}


# (name, raw bytes, id the answer carries, expected error code; None: a result, "none": no answer)
H = hover("h", pos(1, 4))
CASES: list[tuple[str, bytes, Any, Any]] = [
    ("Content-Length too small", with_length(body(H), b"20"), None, -32700),
    ("Content-Length too large", with_length(body(H), b"%d" % (len(body(H)) + 500)), None, -32700),
    ("Content-Length not a number", with_length(body(H), b"abc"), None, -32700),
    ("Content-Length negative", with_length(body(H), b"-5"), None, -32700),
    ("Content-Length over the limit", with_length(body(H), b"999999999999"), None, -32700),
    (
        "lower-case header",
        with_length(body(hover("lc")), b"%d" % len(body(hover("lc"))), b"content-length"),
        "lc",
        None,
    ),
    ("no Content-Length", b"Content-Type: x\r\n\r\n" + body(H), None, -32700),
    ("garbage between messages", b"hello\r\n\r\n", None, "none"),
]


def framed(data: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(data) + data


CASES += [
    ("not JSON", framed(b'{"jsonrpc": "2.0", "id": 5,'), None, -32700),
    ("not UTF-8", framed(b'{"jsonrpc": "2.0", "id": "\xff\xfe"}'), None, -32700),
    ("nested 100,000 deep", framed(b"[" * 100_000 + b"]" * 100_000), None, -32700),
    ("an id of 5,000 digits", framed(b'{"jsonrpc":"2.0","id":' + b"9" * 5000 + b"}"), None, -32700),
    ("a JSON array", framed(b"[1, 2]"), None, -32600),
    ("a JSON string", framed(b'"x"'), None, -32600),
    ("no jsonrpc", framed(body({"id": "nj", "method": "shutdown"})), "nj", -32600),
    ("jsonrpc 1.0", framed(body({**hover("v1"), "jsonrpc": "1.0"})), "v1", -32600),
    ("method not a string", framed(body(msg(5, id="m5"))), "m5", -32600),  # type: ignore[arg-type]
    ("id an object", framed(body(msg("shutdown", id={"a": 1}))), None, -32600),
    ("id true", framed(body(msg("shutdown", id=True))), None, -32600),
    ("id null", framed(body({**hover(None), "id": None})), None, -32600),
    ("no method, no result", framed(body({"jsonrpc": "2.0", "id": "nm"})), "nm", -32600),
    ("line -1", framed(body(hover("l1", pos(-1)))), "l1", -32602),
    ("line 2^31", framed(body(hover("l2", pos(2**31)))), "l2", -32602),
    ("line 'a'", framed(body(hover("l3", pos("a")))), "l3", -32602),
    ("character -5", framed(body(hover("c1", pos(0, -5)))), "c1", -32602),
    (
        "position null",
        framed(body(hover("p0", None) | {"params": {"textDocument": {"uri": URI}}})),
        "p0",
        -32602,
    ),
    (
        "params null",
        framed(body({**msg("textDocument/hover", id="pn"), "params": None})),
        "pn",
        -32602,
    ),
    ("params []", framed(body(msg("textDocument/hover", [], "pa"))), "pa", -32602),
    ("params 'x'", framed(body(msg("textDocument/hover", "x", "px"))), "px", -32602),
    ("params missing", framed(body(msg("textDocument/hover", id="pm"))), "pm", -32602),
    ("uri a number", framed(body(hover("u5", uri=5))), "u5", -32602),  # type: ignore[arg-type]
    ("a document not open", framed(body(hover("no", uri="file:///dev/zero"))), "no", -32602),
    (
        "rename to a number",
        framed(
            body(
                msg(
                    "textDocument/rename",
                    {"textDocument": {"uri": URI}, "position": pos(1, 10), "newName": 5},
                    "rn",
                )
            )
        ),
        "rn",
        -32803,  # "5" (lsprotocol makes a string of it) is no name
    ),
    ("unknown method", framed(body(msg("foo/bar", {}, "fb"))), "fb", -32601),
    (
        "second initialize",
        framed(body(msg("initialize", {"capabilities": {}}, "i2"))),
        "i2",
        -32600,
    ),
    ("position past the end", framed(body(hover("pe", pos(10**6, 10**6)))), "pe", None),
    ("didChange with bad params", framed(body(msg("textDocument/didChange", [1]))), None, "none"),
    (
        "cancel with params null",
        framed(body({**msg("$/cancelRequest"), "params": None})),
        None,
        "none",
    ),
    (
        "a response to nothing",
        framed(body({"jsonrpc": "2.0", "id": "zz", "result": 1})),
        None,
        "none",
    ),
]


def run_session(
    data: bytes, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "nndsl", "lsp"],
        input=data,
        capture_output=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


@pytest.mark.parametrize("bootstrap", ["1", "0"])
def test_malformed_input_is_answered_and_the_server_goes_on(bootstrap: str) -> None:
    stream = [
        with_length(body(H), b"abc"),  # a framing error before anything: the bootstrap hands over
        frame(hover("early")),  # before initialize: -32002
        frame(msg("textDocument/didOpen", {"textDocument": {}})),  # dropped
        frame(msg("initialize", {"processId": None, "capabilities": {}}, 1)),
        frame(msg("initialized", {})),
        frame(
            msg(
                "textDocument/didOpen",
                {"textDocument": {"uri": URI, "languageId": "nn", "version": 1, "text": TEXT}},
            )
        ),
    ]
    for i, (_, raw, _, _) in enumerate(CASES):
        stream += [
            raw,
            frame(msg("textDocument/documentSymbol", {"textDocument": {"uri": URI}}, f"probe-{i}")),
        ]
    stream += [
        frame(msg("shutdown", None, "sd")),
        frame(hover("late")),  # after shutdown: -32600
        frame(msg("exit")),
    ]
    proc = run_session(b"".join(stream), {"NNDSL_LSP_BOOTSTRAP": bootstrap})
    stderr = proc.stderr.decode(errors="replace")
    assert "Traceback" not in stderr
    replies = parse_frames(proc.stdout)
    assert not [r for r in replies if r.get("method") == "window/showMessage"]
    by_id: dict[Any, list[Json]] = {}
    for r in replies:
        if "method" not in r:
            by_id.setdefault(json.dumps(r.get("id")), []).append(r)

    def answer(id: Any) -> Json:
        got = by_id.get(json.dumps(id))
        assert got, f"no answer to {id!r}: {stderr[-2000:]}"
        return got.pop(0)

    assert answer(None)["error"]["code"] == -32700  # the first framing error
    assert answer("early")["error"]["code"] == -32002
    assert "result" in answer(1)
    for i, (name, _, id, code) in enumerate(CASES):
        if code != "none":
            reply = answer(id)
            if code is None:
                assert "result" in reply, (name, reply)
            else:
                assert reply["error"]["code"] == code, (name, reply)
        probe = answer(f"probe-{i}")
        assert [s["name"] for s in probe["result"]] == ["M"], (name, probe)
    assert answer("sd")["result"] is None
    assert answer("late")["error"]["code"] == -32600
    assert not any(by_id.values()), by_id  # nothing else was answered
    assert proc.returncode == 0


# -- a document over the check budget ------------------------------------------------------------
class Session:
    """An interactive server process: send, and wait for a reply by predicate."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nndsl", "lsp"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        )
        self.got: list[tuple[float, Json]] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        framer = Framer()
        read = read_chunks(self.proc.stdout)
        while chunk := read():
            framer.feed(chunk)
            for item in framer.items():
                assert isinstance(item, bytes)
                with self.cond:
                    self.got.append((time.monotonic(), json.loads(item)))
                    self.cond.notify_all()

    def send(self, message: Json) -> float:
        assert self.proc.stdin is not None
        self.proc.stdin.write(frame(message))
        self.proc.stdin.flush()
        return time.monotonic()

    def wait(self, pred: Any, timeout: float = 60) -> tuple[float, Json]:
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for item in self.got:
                    if pred(item[1]):
                        self.got.remove(item)
                        return item
                left = end - time.monotonic()
                assert left > 0, f"no such reply; got {[m for _, m in self.got]}"
                self.cond.wait(left)

    def close(self) -> str:
        self.send(msg("shutdown", None, "bye"))
        self.send(msg("exit"))
        _, err = self.proc.communicate(timeout=60)
        return err.decode(errors="replace")


def _open(s: Session, uri: str, text: str) -> None:
    s.send(
        msg(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "nn", "version": 1, "text": text}},
        )
    )


def _published(uri: str) -> Any:
    return lambda m: (
        m.get("method") == "textDocument/publishDiagnostics" and (m["params"]["uri"] == uri)
    )


@pytest.mark.parametrize("slow_first", [True, False])
def test_a_slow_document_does_not_block_the_others(slow_first: bool) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from check_speed import generate

    per_block = len(generate(10)) / 10
    slow = generate(min(1000, int(MAX_SOURCE_CHARS * 0.9 / per_block)))
    assert len(slow) > 150_000  # ~4 s to check here at least: far over a 0.5 s budget
    slow_uri = "file:///project/slow.nn"
    s = Session({"NNDSL_LSP_CHECK_BUDGET_S": "0.5"})
    try:
        s.send(msg("initialize", {"processId": None, "capabilities": {}}, 1))
        s.send(msg("initialized", {}))
        order = [(slow_uri, slow), (URI, TEXT)] if slow_first else [(URI, TEXT), (slow_uri, slow)]
        for uri, text in order:
            _open(s, uri, text)
        sent = s.send(hover("h", pos(2, 11)))
        answered, reply = s.wait(lambda m: m.get("id") == "h")
        assert reply["result"] is not None
        assert answered - sent < 10.0  # the budget and its grace (and pygls' import)
        _, published = s.wait(_published(slow_uri))
        [d] = published["params"]["diagnostics"]
        assert d["message"].startswith(
            "nndsl stopped checking this file: it took longer than 0.5 s"
        )
        sent = s.send(hover("again", pos(3, 0), slow_uri))  # answered at once (empty)
        answered, reply = s.wait(lambda m: m.get("id") == "again")
        assert reply["result"] is None and answered - sent < 1.0
    finally:
        err = s.close()
    assert "Traceback" not in err


# -- the parts, in process -----------------------------------------------------------------------
def test_framer_resynchronises_fed_byte_by_byte() -> None:
    good = framed(b'{"a": 1}')
    data = (
        with_length(b'{"b": 2}', b"3")
        + good
        + with_length(b'{"c": 3}', b"100")
        + good
        + with_length(b"{}", b"x1")
        + good
    )
    framer = Framer()
    items: list[Any] = []
    for i in range(len(data)):
        framer.feed(data[i : i + 1])
        items += framer.items()
    assert items[0] == b'{"b'  # too small: the parser's error
    assert [i for i in items if i == b'{"a": 1}'] == [b'{"a": 1}'] * 3
    assert [type(i) for i in items if not isinstance(i, bytes)] == [FramingError] * 2


def test_worker_stops_spinning_and_stuck_jobs() -> None:
    stops: list[str] = []
    worker = Worker(on_stop=stops.append, budget=0.3, memory=10_000)

    def spin() -> None:
        while True:
            pass

    fifo = Path(f"/tmp/nndsl-test-fifo-{os.getpid()}")
    os.mkfifo(fifo)
    try:
        for job in (spin, lambda: fifo.read_bytes()):  # a system call: abandoned
            with pytest.raises(Stopped):
                worker.submit(job).result(timeout=10)
            assert worker.submit(lambda: 42).result(timeout=10) == 42
    finally:
        fifo.unlink()
        worker.close()
    assert len(stops) == 2
