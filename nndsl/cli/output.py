"""Standard error for diagnostics: rich colours on a terminal, plain text otherwise.

Plain text needs no rich import, which keeps `nnrun check` in scripts and CI fast; the text is
the same either way because both come from `nndsl.diagnostics.render`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

from nndsl.diagnostics import Diagnostic, render_plain


def use_colour() -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stderr.isatty()


class ErrorStream:
    def __init__(self) -> None:
        self.colour = use_colour()

    def diagnostics(self, diags: Iterable[Diagnostic]) -> None:
        if self.colour:
            from rich.console import Console

            from nndsl.terminal.diagnostics import print_diagnostics

            print_diagnostics(Console(stderr=True, highlight=False), diags)
        else:
            sys.stderr.write(render_plain(diags))
            sys.stderr.flush()

    def status(self, word: str, rest: str, *, ok: bool) -> None:
        if self.colour:
            from rich.console import Console

            style = "bold green" if ok else "bold red"
            Console(stderr=True, highlight=False).print(f"[{style}]{word}[/]: {rest}")
        else:
            sys.stderr.write(f"{word}: {rest}\n")
