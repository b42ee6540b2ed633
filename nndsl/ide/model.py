"""What the editor features return: plain frozen records in character offsets."""

from __future__ import annotations

from dataclasses import field

from nndsl.diagnostics import Diagnostic
from nndsl.records import record
from nndsl.source import SourceFile, Span


@record(frozen=True)
class Hover:
    markdown: str
    span: Span


@record(frozen=True)
class CompletionItem:
    """`kind` is one of: layer, function, loss, metric, optimizer, data, block, model, const,
    tensor, param, argument, dtype, keyword."""

    label: str
    kind: str
    detail: str = ""
    doc: str = ""
    insert_text: str | None = None


@record(frozen=True)
class ParamInfo:
    label: str
    doc: str = ""


@record(frozen=True)
class SignatureHelp:
    label: str
    params: tuple[ParamInfo, ...]
    active: int
    doc: str = ""


@record(frozen=True)
class Location:
    path: str
    span: Span
    file: SourceFile = field(compare=False, hash=False, repr=False)


@record(frozen=True)
class Symbol:
    """An outline entry; `kind` is model, block, data, train or param."""

    name: str
    kind: str
    span: Span
    selection: Span
    detail: str = ""
    children: tuple[Symbol, ...] = ()


@record(frozen=True)
class InlayHint:
    offset: int
    label: str


@record(frozen=True)
class TextEdit:
    span: Span
    text: str


@record(frozen=True)
class FileEdits:
    """Edits to one file; `file` is the text they apply to (for offset -> position)."""

    path: str
    file: SourceFile = field(compare=False, hash=False, repr=False)
    edits: tuple[TextEdit, ...] = ()


@record(frozen=True)
class RenameResult:
    """Either the edits of a rename, or why it cannot be done (`error`), never both."""

    changes: tuple[FileEdits, ...] = ()
    error: str | None = None


@record(frozen=True)
class RenameTarget:
    """What `prepareRename` answers: the span of the name under the cursor, or an error."""

    span: Span | None
    placeholder: str = ""
    error: str | None = None


@record(frozen=True)
class CodeAction:
    """`kind` is quickfix; `diagnostic` is the code of the diagnostic it fixes, if any."""

    title: str
    changes: tuple[FileEdits, ...]
    kind: str = "quickfix"
    diagnostic: Diagnostic | None = field(default=None, compare=False, hash=False)
    preferred: bool = False


@record(frozen=True)
class WorkspaceSymbol:
    name: str
    kind: str  # model, block, const, data
    location: Location
    container: str = ""  # the file name


@record(frozen=True)
class CodeLens:
    """A command shown above `span` (a model's name): `command` with `arguments` is what
    the editor sends back to run it (`SHOW_GRAPH`: the file's path and the model)."""

    span: Span
    title: str
    command: str
    arguments: tuple[str, ...] = ()


SHOW_GRAPH = "nndsl.showGraph"


@record(frozen=True)
class SemanticToken:
    """`kind` is one of `TOKEN_TYPES`; offsets are characters; a token never spans lines."""

    start: int
    length: int
    kind: str
    modifiers: tuple[str, ...] = ()


TOKEN_TYPES = (
    "keyword",
    "type",
    "function",
    "class",
    "parameter",
    "variable",
    "property",
    "number",
    "string",
    "comment",
    "namespace",
    "typeParameter",
    "operator",
)
TOKEN_MODIFIERS = ("declaration", "readonly", "defaultLibrary")


def editor_message(d: Diagnostic) -> str:
    """One diagnostic as an editor shows it: the message, the primary label, notes and help
    on their own lines (the code frame is the editor's own)."""
    message = d.message
    if d.primary.text:
        message += f": {d.primary.text}" if not message.endswith(d.primary.text) else ""
    for note in d.notes:
        message += f"\nnote: {note}"
    if d.help:
        message += f"\nhelp: {d.help}"
    return message
