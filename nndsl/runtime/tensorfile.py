"""`.safetensors` files: written byte-for-byte reproducibly with a checksum, read with every
header entry checked before any tensor is.

The format (https://github.com/huggingface/safetensors): an 8-byte little-endian header
length, a JSON header `{name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}`, then
the tensor bytes. The writer here sorts the header's keys (the `safetensors` package's order
of `__metadata__` varies from run to run, so identical runs gave different files) and stores
the sha256 of the tensor bytes under `__metadata__["sha256"]`; the reader verifies it when it
is there (files written before it are accepted without). The reader refuses, with the field
named, anything inconsistent: unknown dtypes, negative dims, offsets that overlap, leave gaps
or run past the end, a size that does not match dtype x shape, before allocating anything.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

CHECKSUM_KEY = "sha256"
MAX_HEADER_BYTES = 100 * 2**20  # the `safetensors` package's own limit

_DTYPES: dict[str, np.dtype[Any]] = {
    "F64": np.dtype(np.float64),
    "F32": np.dtype(np.float32),
    "F16": np.dtype(np.float16),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "F8_E4M3": np.dtype(ml_dtypes.float8_e4m3fn),
    "F8_E5M2": np.dtype(ml_dtypes.float8_e5m2),
    "I64": np.dtype(np.int64),
    "I32": np.dtype(np.int32),
    "I16": np.dtype(np.int16),
    "I8": np.dtype(np.int8),
    "U64": np.dtype(np.uint64),
    "U32": np.dtype(np.uint32),
    "U16": np.dtype(np.uint16),
    "U8": np.dtype(np.uint8),
    "BOOL": np.dtype(np.bool_),
}
_CODES = {dtype: code for code, dtype in _DTYPES.items()}


class TensorFileError(ValueError):
    """A file that is not a consistent `.safetensors` file; `str()` is `field: problem`."""


@dataclass(frozen=True)
class Entry:
    """One tensor as the header describes it."""

    dtype: np.dtype[Any]
    shape: tuple[int, ...]


def encode(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> bytes:
    """The file's bytes: tensors widest dtype first, then by name (so every tensor is aligned
    to its item size), header keys sorted, the checksum in `__metadata__`."""
    arrays = {k: np.asarray(v, order="C") for k, v in tensors.items()}
    names = sorted(arrays, key=lambda k: (-arrays[k].dtype.itemsize, k))
    header: dict[str, Any] = {}
    digest = hashlib.sha256()
    chunks: list[bytes] = []
    offset = 0
    for name in names:
        a = arrays[name]
        if a.dtype.byteorder == ">":
            a = a.astype(a.dtype.newbyteorder("<"))
        code = _CODES.get(a.dtype)
        if code is None:
            raise TypeError(f"{name}: dtype {a.dtype} has no safetensors code")
        data = a.tobytes()
        span = [offset, offset + len(data)]
        header[name] = {"dtype": code, "shape": list(a.shape), "data_offsets": span}
        digest.update(data)
        chunks.append(data)
        offset += len(data)
    header["__metadata__"] = dict(sorted({**metadata, CHECKSUM_KEY: digest.hexdigest()}.items()))
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the tensor bytes start 8-aligned
    return len(text).to_bytes(8, "little") + text + b"".join(chunks)


def decode(
    path: str | Path, expect: Callable[[Mapping[str, Entry]], None] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(tensors, metadata) of the file at `path`. `expect` sees the header's entries before any
    tensor is read (to refuse another model's weights by raising). `FileNotFoundError` passes
    through; every other problem is a `TensorFileError`."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise TensorFileError(f"cannot read it ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise TensorFileError("not a regular file")
    try:
        with open(path, "rb") as f:
            prefix = f.read(8)
            if len(prefix) < 8:
                raise TensorFileError("too short for a .safetensors file")
            n = int.from_bytes(prefix, "little")
            if n > min(info.st_size - 8, MAX_HEADER_BYTES):
                raise TensorFileError(f"header length {n} is past the end of the file")
            entries, offsets, metadata = _header(f.read(n), info.st_size - 8 - n)
            if expect is not None:
                expect(entries)
            data = bytearray(info.st_size - 8 - n)
            if f.readinto(data) != len(data):
                raise TensorFileError("the file is shorter than its header says")
    except OSError as exc:
        raise TensorFileError(f"cannot read it ({exc.strerror})") from None
    saved = metadata.get(CHECKSUM_KEY)
    if saved is not None and hashlib.sha256(data).hexdigest() != saved:
        raise TensorFileError(
            f"__metadata__.{CHECKSUM_KEY}: the tensor bytes do not match their checksum "
            "(the file is corrupt or was changed)"
        )
    tensors = {
        name: np.frombuffer(data, e.dtype, math.prod(e.shape), offsets[name]).reshape(e.shape)
        for name, e in entries.items()
    }
    return tensors, metadata


def _header(raw: bytes, size: int) -> tuple[dict[str, Entry], dict[str, int], dict[str, str]]:
    """The header's entries, their start offsets and the metadata, checked against the data
    section's `size`."""
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, RecursionError, ValueError) as exc:
        problem = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise TensorFileError(f"header: not valid JSON ({problem})") from None
    if not isinstance(header, dict):
        raise TensorFileError("header: expected a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise TensorFileError("header: __metadata__: expected an object of strings")
    entries: dict[str, Entry] = {}
    spans: list[tuple[int, int, str]] = []
    for name, e in header.items():
        if not isinstance(e, dict):
            raise TensorFileError(f"header: {name}: expected an object")
        dtype = _DTYPES.get(e.get("dtype"))  # type: ignore[arg-type]
        if dtype is None:
            raise TensorFileError(f"header: {name}.dtype: unknown dtype {e.get('dtype')!r}")
        shape, span = e.get("shape"), e.get("data_offsets")
        if not isinstance(shape, list) or not all(_count(d) for d in shape) or len(shape) > 64:
            raise TensorFileError(
                f"header: {name}.shape: expected a list of sizes, found {shape!r}"
            )
        if not isinstance(span, list) or len(span) != 2 or not all(_count(v) for v in span):
            raise TensorFileError(f"header: {name}.data_offsets: expected [begin, end]")
        begin, end = span
        if end - begin != math.prod(shape) * dtype.itemsize:
            raise TensorFileError(
                f"header: {name}.data_offsets: {end - begin} bytes, but {dtype} x {shape} "
                f"takes {math.prod(shape) * dtype.itemsize}"
            )
        entries[name] = Entry(dtype, tuple(shape))
        spans.append((begin, end, name))
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            raise TensorFileError(f"header: {name}.data_offsets: tensors overlap or leave a gap")
        position = end
    if position != size:
        raise TensorFileError(
            f"header: the tensors take {position} bytes, the file holds {size} after the header"
        )
    return entries, {name: begin for begin, _, name in spans}, metadata


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**62
