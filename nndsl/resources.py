"""Locates `grammar/` and `stdlib/` in an editable checkout and in an installed wheel alike."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def data_dir(name: str) -> Path:
    """`grammar` or `stdlib`: the wheel maps them to `nndsl/_data/<name>`."""
    installed = _PACKAGE / "_data" / name
    if installed.is_dir():
        return installed
    checkout = _PACKAGE.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"nndsl is installed without its {name}/ folder")


def grammar_path() -> Path:
    return data_dir("grammar") / "nn.lark"


def stdlib_dir() -> Path:
    return data_dir("stdlib")
