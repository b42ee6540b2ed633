"""What the editor features return: plain frozen records in character offsets."""

from __future__ import annotations

from dataclasses import dataclass, field

from nndsl.source import SourceFile, Span


@dataclass(frozen=True)
class Hover:
    markdown: str
    span: Span


@dataclass(frozen=True)
class CompletionItem:
    """`kind` is one of: layer, function, loss, metric, optimizer, data, block, model, const,
    tensor, param, argument, dtype, keyword."""

    label: str
    kind: str
    detail: str = ""
    doc: str = ""
    insert_text: str | None = None


@dataclass(frozen=True)
class ParamInfo:
    label: str
    doc: str = ""


@dataclass(frozen=True)
class SignatureHelp:
    label: str
    params: tuple[ParamInfo, ...]
    active: int
    doc: str = ""


@dataclass(frozen=True)
class Location:
    path: str
    span: Span
    file: SourceFile = field(compare=False, hash=False, repr=False)


@dataclass(frozen=True)
class Symbol:
    """An outline entry; `kind` is model, block, data, train or param."""

    name: str
    kind: str
    span: Span
    selection: Span
    detail: str = ""
    children: tuple[Symbol, ...] = ()


@dataclass(frozen=True)
class InlayHint:
    offset: int
    label: str
