"""Editor features (hover, completion, diagnostics, ...) as pure functions of the text.

No editor protocol here: `nndsl.lsp` only transports these answers. Offsets are characters.
"""

from nndsl.ide.model import (
    CompletionItem,
    Hover,
    InlayHint,
    Location,
    ParamInfo,
    SignatureHelp,
    Symbol,
)
from nndsl.ide.workspace import Workspace

__all__ = [
    "CompletionItem",
    "Hover",
    "InlayHint",
    "Location",
    "ParamInfo",
    "SignatureHelp",
    "Symbol",
    "Workspace",
]
