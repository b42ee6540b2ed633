"""LSP base-protocol framing that survives a client's framing mistakes (standard library only).

pygls' reader trusts the `Content-Length` header: one too small, too large, non-numeric,
negative or spelt in lower case left it reading headers out of a body (or a body out of the next
message) for good, silent. `Framer` instead:

- reads header names case-insensitively (HTTP's rule, which the LSP headers follow);
- reports a header block without a valid `Content-Length` (or without one at all) as a
  `FramingError` and skips to the next header;
- ends a body early where a header starts inside it: a raw `Content-Length: N` followed by CR LF
  cannot occur in JSON (raw line breaks are only whitespace between tokens, and the name is not
  a JSON token), so the declared length was too large (a `FramingError`, and the next message is
  read from there);
- leaves a too-small length to the JSON parser (the truncated body is no JSON: a parse error),
  and drops the rest of that body as garbage before the next header (logged, not answered, so
  one mistake gets one error reply);
- refuses a body over `MAX_BODY` without buffering it.

Bytes are scanned once: a body arriving in many chunks is not rescanned from its start.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024 * 1024  # a 256 MiB message is no editor's; a lie, or an attack
MAX_HEADER = 8192  # a header block longer than this is garbage
_NAME = b"content-length"
_HEADER_AT = re.compile(rb"content-length[ \t]*:[ \t]*([^\r\n]*)\r\n", re.IGNORECASE)
_HEADER_LINE = re.compile(rb"[A-Za-z0-9-]+[ \t]*:[^\r\n]*")
_NUMBER = re.compile(rb"[ \t]*(\d{1,12})[ \t]*")


@dataclass(frozen=True)
class FramingError:
    """A framing mistake, answered as a JSON-RPC parse error (-32700, id null)."""

    message: str


Item = bytes | FramingError


class Framer:
    """Feed it bytes as they arrive; take message bodies and framing errors from `items`."""

    def __init__(self, max_body: int = MAX_BODY) -> None:
        self.max_body = max_body
        self.buf = bytearray()
        self.consumed = 0  # stream bytes before `buf` (all dealt with)
        self._length: int | None = None  # the body being read, once its header is parsed
        self._scanned = 0  # body bytes already searched for a header
        self._skipping = False  # inside a refused body: drop bytes until the next header

    def feed(self, data: bytes) -> None:
        self.buf += data

    def items(self) -> Iterator[Item]:
        """Every complete body or error in what was fed so far."""
        while True:
            item = self._next()
            if item is None:
                return
            yield item

    def pending(self) -> bool:
        """Whether bytes of an unfinished message are buffered (at end of input: truncated)."""
        return bool(self.buf.strip()) or self._length is not None

    def _drop(self, n: int) -> None:
        del self.buf[:n]
        self.consumed += n

    def _next(self) -> Item | None:
        if self._length is None:
            return self._header()
        return self._body(self._length)

    def _header(self) -> Item | None:
        match = _find_header(self.buf, 0)
        if match is None:
            if self._skipping or len(self.buf) > MAX_HEADER:
                keep = len(_NAME) + 32  # a header may be starting at the end
                if len(self.buf) > keep:
                    self._drop(len(self.buf) - keep)
            return None
        garbage = bytes(self.buf[: match.start()])
        if garbage.strip() and not self._skipping and not _only_headers(garbage):
            end = garbage.find(b"\r\n\r\n")
            if end >= 0 and _only_headers(garbage[: end + 2]):  # a whole header block, no length
                self._drop(end + 4)
                self._skipping = True
                return FramingError("a header without Content-Length")
            log.warning("skipped %d bytes that are not a message before a header", len(garbage))
        self._skipping = False
        end = self.buf.find(b"\r\n\r\n", match.start())
        if end < 0:
            if len(self.buf) - match.start() > MAX_HEADER:
                self._drop(match.end())
                return FramingError("a header block without an end (no empty line)")
            return None
        block = bytes(self.buf[match.start() : end + 2])
        self._drop(end + 4)
        lengths = [m.group(1) for m in _HEADER_AT.finditer(block)]
        if len(set(lengths)) > 1:
            self._skipping = True
            return FramingError("Content-Length given twice, with different values")
        number = _NUMBER.fullmatch(lengths[0])
        if number is None:
            self._skipping = True
            shown = lengths[0][:40].decode("ascii", "replace")
            return FramingError(f"Content-Length {shown!r} is not a non-negative integer")
        length = int(number.group(1))
        if length > self.max_body:
            self._skipping = True
            return FramingError(f"Content-Length {length} is over the limit ({self.max_body})")
        self._length, self._scanned = length, 0
        return self._body(length)

    def _body(self, length: int) -> Item | None:
        available = min(len(self.buf), length)
        start = max(0, self._scanned - 64)  # a header may straddle the last chunk boundary
        match = _find_header(self.buf, start, available)
        if match is not None:  # a header inside the body: the length was too large
            self._length = None
            self._drop(match.start())
            return FramingError(
                f"Content-Length {length}, but a header starts after {match.start()} bytes"
            )
        self._scanned = available
        if len(self.buf) < length:
            return None
        body = bytes(self.buf[:length])
        self._drop(length)
        self._length = None
        return body


def _find_header(buf: bytearray, start: int, end: int | None = None) -> re.Match[bytes] | None:
    """The first raw `Content-Length: ...` CR LF line starting in buf[start:end]
    (case-insensitive)."""
    end = len(buf) if end is None else end
    lower = bytes(buf[start:end]).lower()
    rel = lower.find(_NAME)
    while rel >= 0:
        match = _HEADER_AT.match(buf, start + rel)
        if match is not None:
            return match
        rel = lower.find(_NAME, rel + 1)
    return None


def _only_headers(data: bytes) -> bool:
    """Header lines before `Content-Length` (e.g. `Content-Type` first) are no garbage."""
    lines = data.split(b"\r\n")
    return lines[-1] == b"" and all(_HEADER_LINE.fullmatch(line) for line in lines[:-1])


def read_chunks(stream: Any) -> Callable[[], bytes]:
    """The stream's "what is available now" reader (`read1`), else line by line."""
    read1 = getattr(stream, "read1", None)
    if callable(read1):
        return lambda: bytes(read1(65536))
    readline = stream.readline
    return lambda: bytes(readline())
