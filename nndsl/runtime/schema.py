"""A small validator for the JSON files nndsl reads back (checkpoint and weights metadata).

Those files are untrusted input: anyone can hand over a run directory. Each check below takes
a value and the dotted path of its field and returns the value or raises `SchemaError`, whose
message names the field and the problem in one line, e.g. `step: expected an integer in
0..2147483647, found "abc"`. Keys a schema does not list are accepted and ignored, so a newer
nndsl's extra fields do not break an older reader. No dependency: a dozen combinators cover
these files, and their messages are ours.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

Check = Callable[[Any, str], Any]

MAX_JSON_BYTES = 256 * 2**20  # a text vocabulary of millions of tokens fits well inside


class SchemaError(ValueError):
    """A value that does not fit its schema; `str()` is `field: problem`."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}" if field else problem)
        self.field, self.problem = field, problem


def show(value: Any) -> str:
    """A short rendering of a found value for a message."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value) if isinstance(value, str | bool | None) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _join(field: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{field}[{key}]"
    return f"{field}.{key}" if field else key


def integer(lo: int = 0, hi: int = 2**31 - 1) -> Check:
    def check(value: Any, field: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise SchemaError(field, f"expected an integer in {lo}..{hi}, found {show(value)}")
        return value

    return check


def number(*, finite: bool = True) -> Check:
    def check(value: Any, field: str) -> float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or (finite and not math.isfinite(value)):
            what = "a finite number" if finite else "a number"
            raise SchemaError(field, f"expected {what}, found {show(value)}")
        return float(value)

    return check


def string(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise SchemaError(field, f"expected a string, found {show(value)}")
    return value


def boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise SchemaError(field, f"expected true or false, found {show(value)}")
    return value


def anything(value: Any, field: str) -> Any:
    return value


def equal(expected: str) -> Check:
    def check(value: Any, field: str) -> str:
        if value != expected:
            raise SchemaError(field, f"expected {json.dumps(expected)}, found {show(value)}")
        return expected

    return check


def optional(inner: Check) -> Check:
    """`inner`, or JSON null."""

    def check(value: Any, field: str) -> Any:
        return None if value is None else inner(value, field)

    return check


def list_of(item: Check) -> Check:
    def check(value: Any, field: str) -> list[Any]:
        if not isinstance(value, list):
            raise SchemaError(field, f"expected a list, found {show(value)}")
        return [item(v, _join(field, i)) for i, v in enumerate(value)]

    return check


def mapping(item: Check) -> Check:
    """A JSON object with any keys, every value checked by `item`."""

    def check(value: Any, field: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise SchemaError(field, f"expected an object, found {show(value)}")
        return {k: item(v, _join(field, k)) for k, v in value.items()}

    return check


def obj(required: Mapping[str, Check], optional: Mapping[str, Check] | None = None) -> Check:
    """A JSON object with these keys (unlisted keys are kept unchecked)."""

    def check(value: Any, field: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise SchemaError(field, f"expected an object, found {show(value)}")
        out = dict(value)
        for key, inner in required.items():
            if key not in value:
                raise SchemaError(_join(field, key), "missing")
            out[key] = inner(value[key], _join(field, key))
        for key, inner in (optional or {}).items():
            if key in value:
                out[key] = inner(value[key], _join(field, key))
        return out

    return check


def read_json(path: str | Path, schema: Check, *, limit: int = MAX_JSON_BYTES) -> Any:
    """The JSON document at `path`, checked by `schema`. A `SchemaError` names what is wrong
    (the file's type or size, its syntax, or a field); `FileNotFoundError` passes through.
    Only regular files are opened: a FIFO would block and a device never end."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise SchemaError("", "not a regular file")
    if info.st_size > limit:
        raise SchemaError("", f"{info.st_size} bytes, over the limit of {limit} for this file")
    with open(path, "rb") as f:
        raw = f.read(limit + 1)
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SchemaError("", "not UTF-8 text") from None
    except RecursionError:
        raise SchemaError("", "not valid JSON (nested too deeply)") from None
    except ValueError as exc:
        raise SchemaError("", f"not valid JSON ({exc})") from None
    return schema(value, "")
