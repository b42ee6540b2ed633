"""The server's side of JSON-RPC: frames in (`framing`), one answer per request out.

pygls' own loop hands every malformed message to an error handler that logs a traceback and
pops up `window/showMessage`, and the client's request is never answered. Here each message is
checked before pygls sees it, in the order the specs give:

    not JSON (or a framing error)             -32700 parse error, id null
    not an object, no `"jsonrpc": "2.0"`,
    a bad id or method                        -32600 invalid request
    a request before `initialize`             -32002 server not initialized (notifications
                                              are dropped, except `exit`)
    a second `initialize`, or any request
    after `shutdown`                          -32600 invalid request
    params lsprotocol cannot structure        -32602 invalid params (the field and the reason)

Nothing is logged with a traceback (`OneLineFormatter`); a handler's exception is answered as
-32603 with its one-line message, never with the traceback pygls would attach.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
import traceback
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, BinaryIO

from lsprotocol.types import ResponseErrorMessage
from pygls.exceptions import JsonRpcException
from pygls.io_ import StdoutWriter
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    MsgId,
)
from pygls.protocol.language_server import LanguageServerProtocol

from nndsl.lsp.framing import Framer, FramingError, read_chunks

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
NOT_INITIALIZED = -32002
REQUEST_CANCELLED = -32800
READER_THREAD = "nndsl-stdin"
DRAIN_S = 10.0  # at most the worker's budget and grace (5 + 1 s by default), then cancelled


def one_line(exc: BaseException) -> str:
    """`Type: message` and where it was raised, on one line."""
    text = " ".join(str(exc).split()) or "(no message)"
    if len(text) > 300:
        text = text[:300] + "..."
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {text}{where}"


class OneLineFormatter(logging.Formatter):
    """Log records with exceptions as one line each: a user never sees a traceback."""

    def formatException(self, ei: Any) -> str:
        exc = ei[1]
        return "  " + one_line(exc) if isinstance(exc, BaseException) else ""

    def formatStack(self, stack_info: str) -> str:
        return ""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", " | ")


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


class InvalidMessage(Exception):
    """lsprotocol could not structure a message: the reason, in one line."""


def _describe(exc: Exception) -> str:
    try:
        from cattrs import transform_error

        parts = transform_error(exc, path="$")
    except Exception:
        parts = [str(exc)]
    text = "; ".join(parts[:3]) + ("; ..." if len(parts) > 3 else "")
    return " ".join(text.split())[:500]


class Protocol(LanguageServerProtocol):
    """pygls' LSP protocol that validates before it dispatches and never logs tracebacks."""

    initialized = False  # an `initialize` request was accepted

    def structure_message(self, data: dict[str, Any]) -> Any:
        cls: Any
        if "id" in data:
            if "error" in data:
                cls = ResponseErrorMessage
            elif "method" in data:
                cls = self.get_message_type(data["method"]) or JsonRPCRequestMessage
            else:
                cls = self._result_types.pop(data["id"], None) or JsonRPCResponseMessage
        else:
            cls = self.get_message_type(data.get("method", "")) or JsonRPCNotification
        try:
            return self._converter.structure(data, cls)
        except Exception as e:
            raise InvalidMessage(_describe(e)) from None

    def send_error(self, msg_id: MsgId | None, code: int, message: str) -> None:
        log.info("answering %s with error %d: %s", msg_id, code, message)
        error = {"code": code, "message": message}
        self._send_data({"jsonrpc": "2.0", "id": msg_id, "error": error})

    def _send_handler_result(self, future: Future[Any], *, msg_id: MsgId) -> None:
        self._request_futures.pop(msg_id, None)
        if future.cancelled():
            self.send_error(msg_id, REQUEST_CANCELLED, f"request {msg_id!r} was cancelled")
            return
        exc = future.exception()
        if exc is None:
            self._send_response(msg_id, result=future.result())
        elif isinstance(exc, JsonRpcException):
            self.send_error(msg_id, exc.code, exc.message)
        else:
            log.error("request %r failed: %s", msg_id, one_line(exc))
            self.send_error(msg_id, INTERNAL_ERROR, f"internal error: {one_line(exc)}")

    async def drain(self, timeout: float = DRAIN_S) -> None:
        """Wait for the requests and notifications being handled (on the worker)."""
        futures: list[Any] = list(self._request_futures.values())  # tasks, for coroutines
        pending = [f for f in futures if isinstance(f, asyncio.Future) and not f.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    async def dispatch(self, body: bytes) -> None:
        """Check one message body and hand it to pygls, or answer the error. `shutdown` and
        `exit` first wait for what came before them: answered, not cancelled."""
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as e:
            self.send_error(None, PARSE_ERROR, f"Parse error: {one_line(e)}")
            return
        if not isinstance(data, dict):
            self.send_error(None, INVALID_REQUEST, "a message must be a JSON object")
            return
        has_id = "id" in data
        msg_id = data.get("id")
        id_ok = has_id and (type(msg_id) is int or isinstance(msg_id, str))
        reply_id = msg_id if id_ok else None
        if "method" not in data and has_id and ("result" in data or "error" in data):
            self._response(data, id_ok)
            return
        problem = None
        if data.get("jsonrpc") != "2.0":
            problem = 'no "jsonrpc": "2.0"'
        elif not isinstance(data.get("method"), str):
            problem = "no method name (a string)" if "method" not in data else "method not a string"
        elif has_id and not id_ok:
            problem = "the id must be an integer or a string"
        if problem is not None:
            self.send_error(reply_id, INVALID_REQUEST, f"Invalid request: {problem}")
            return
        method: str = data["method"]
        params = data.get("params")
        if method == "exit":
            pass
        elif self._shutdown:
            if has_id:
                self.send_error(reply_id, INVALID_REQUEST, f"{method}: the server is shut down")
            return
        elif not self.initialized and method != "initialize":
            if has_id:
                self.send_error(reply_id, NOT_INITIALIZED, f"{method}: send initialize first")
            return
        elif method == "initialize" and self.initialized:
            self.send_error(reply_id, INVALID_REQUEST, "initialize was already sent")
            return
        if params is not None and not isinstance(params, (dict, list)):
            message: Any = None
            reason = "params must be an object or an array"
        else:
            try:
                message, reason = self.structure_message(data), ""
            except InvalidMessage as e:
                message, reason = None, str(e)
        if message is None:
            if has_id:
                self.send_error(reply_id, INVALID_PARAMS, f"Invalid params for {method}: {reason}")
            else:
                log.warning("ignored %s notification with invalid params: %s", method, reason)
            return
        if method == "initialize":
            self.initialized = True
        if method in ("shutdown", "exit"):
            await self.drain()
        self.handle_message(message)

    def _response(self, data: dict[str, Any], id_ok: bool) -> None:
        """A client's answer to a server request (e.g. registerCapability)."""
        if not id_ok or data.get("jsonrpc") != "2.0":
            log.warning("ignored a malformed response: %s", json.dumps(data)[:200])
            return
        try:
            self.handle_message(self.structure_message(data))
        except InvalidMessage as e:
            log.warning("ignored a malformed response to %r: %s", data.get("id"), e)


async def read_loop(protocol: Protocol, stdin: BinaryIO, stop: threading.Event) -> None:
    """Read stdin on a daemon thread (a blocked read never holds up exit), frame, dispatch."""
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue()
    read = read_chunks(stdin)

    def reader() -> None:
        while True:
            try:
                chunk = read()
            except (OSError, ValueError):
                chunk = b""
            loop.call_soon_threadsafe(chunks.put_nowait, chunk)
            if not chunk:
                return

    thread = threading.Thread(target=reader, name=READER_THREAD, daemon=True)
    thread.start()
    framer = Framer()
    while not stop.is_set():
        chunk = await chunks.get()
        if not chunk:
            if framer.pending():
                log.warning("input ended inside a message")
            await protocol.drain()  # let what was read finish (not cancelled mid-way)
            return
        framer.feed(chunk)
        for item in framer.items():
            if isinstance(item, FramingError):
                protocol.send_error(None, PARSE_ERROR, f"Parse error: {item.message}")
            else:
                await protocol.dispatch(item)
            await asyncio.sleep(0)  # let the handlers just scheduled start, in order


def serve_io(server: LanguageServer, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """pygls' `start_io`, with this module's reader."""
    protocol = server.protocol
    assert isinstance(protocol, Protocol)
    stop = threading.Event()
    server._stop_event = stop
    protocol.set_writer(StdoutWriter(stdout))
    try:
        asyncio.run(read_loop(protocol, stdin, stop))
    except BrokenPipeError:
        log.error("the client closed the connection")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()  # type: ignore[no-untyped-call]
    if any(t.name == READER_THREAD and t.is_alive() for t in threading.enumerate()):
        # `exit` while the client keeps stdin open: the reader holds stdin's lock in a read,
        # and the interpreter would abort at shutdown waiting for it. Nothing is left to do.
        for stream in (stdout, sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(0)
