"""Character offsets <-> LSP positions (in the negotiated encoding, UTF-16 by default)."""

from __future__ import annotations

from lsprotocol import types
from pygls.workspace import PositionCodec

from nndsl.diagnostics import Diagnostic, Severity
from nndsl.ide.model import editor_message
from nndsl.source import SourceFile, Span


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True) or [""]


def position(codec: PositionCodec, file: SourceFile, offset: int) -> types.Position:
    pos = file.position(offset)
    server = types.Position(line=pos.line - 1, character=pos.column - 1)
    return codec.position_to_client_units(_lines(file.text), server)


def span_range(codec: PositionCodec, file: SourceFile, span: Span) -> types.Range:
    return types.Range(start=position(codec, file, span.start), end=position(codec, file, span.end))


def offset(codec: PositionCodec, text: str, pos: types.Position) -> int:
    lines = _lines(text)
    server = codec.position_from_client_units(lines, pos)
    if server.line >= len(lines):
        return len(text)
    start = sum(len(line) for line in lines[: server.line])
    return min(start + server.character, len(text))


def uri_of(path: str) -> str:
    from pygls.uris import from_fs_path

    return from_fs_path(path) or path


def diagnostic(codec: PositionCodec, d: Diagnostic) -> types.Diagnostic:
    message = editor_message(d)
    related = []
    for label in d.secondary:
        file = label.file or d.file
        related.append(
            types.DiagnosticRelatedInformation(
                location=types.Location(
                    uri=uri_of(file.path), range=span_range(codec, file, label.span)
                ),
                message=label.text or "related",
            )
        )
    severity = (
        types.DiagnosticSeverity.Error
        if d.severity is Severity.ERROR
        else types.DiagnosticSeverity.Warning
    )
    return types.Diagnostic(
        range=span_range(codec, d.file, d.primary.span),
        message=message,
        severity=severity,
        code=d.code,
        source="nndsl",
        related_information=related or None,
    )
