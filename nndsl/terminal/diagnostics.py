"""Diagnostics through rich: the styled segments of `nndsl.diagnostics.render`, coloured."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.text import Text

from nndsl.diagnostics import Diagnostic
from nndsl.diagnostics.render import render_segments

STYLES = {
    "error": "bold red",
    "warning": "bold yellow",
    "bold": "bold",
    "gutter": "bold blue",
    "secondary": "bold blue",
    "help": "bold cyan",
    "": "",
}


def diagnostic_text(diag: Diagnostic) -> Text:
    text = Text()
    for chunk, style in render_segments(diag):
        text.append(chunk, style=STYLES.get(style, ""))
    return text


def print_diagnostics(console: Console, diagnostics: Iterable[Diagnostic]) -> None:
    for i, diag in enumerate(diagnostics):
        if i:
            console.print()
        console.print(diagnostic_text(diag), end="", soft_wrap=True, highlight=False)
