"""`nnrun lsp`: a pygls language server that only transports `nndsl.ide` answers.

Diagnostics are debounced per document and published only if the version is still current.
Every handler catches and logs its exceptions: a bug in one feature never stops the server.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from nndsl.ide import Workspace
from nndsl.lsp import convert
from nndsl.source import SourceFile

log = logging.getLogger(__name__)
DEBOUNCE_S = 0.15
F = TypeVar("F", bound=Callable[..., Any])

COMPLETION_KINDS = {
    "layer": types.CompletionItemKind.Class,
    "function": types.CompletionItemKind.Function,
    "loss": types.CompletionItemKind.Function,
    "metric": types.CompletionItemKind.Function,
    "optimizer": types.CompletionItemKind.Function,
    "data": types.CompletionItemKind.Function,
    "block": types.CompletionItemKind.Module,
    "model": types.CompletionItemKind.Module,
    "const": types.CompletionItemKind.Constant,
    "tensor": types.CompletionItemKind.Variable,
    "param": types.CompletionItemKind.Variable,
    "argument": types.CompletionItemKind.Property,
    "dtype": types.CompletionItemKind.TypeParameter,
    "keyword": types.CompletionItemKind.Keyword,
}
SYMBOL_KINDS = {
    "model": types.SymbolKind.Class,
    "block": types.SymbolKind.Function,
    "data": types.SymbolKind.Variable,
    "train": types.SymbolKind.Event,
    "const": types.SymbolKind.Constant,
    "param": types.SymbolKind.TypeParameter,
}


class NNLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("nndsl", "0.1.0")
        self.ide = Workspace()
        self.pending: dict[str, asyncio.Task[None]] = {}

    def path(self, uri: str) -> str:
        return to_fs_path(uri) or uri

    def document(self, uri: str) -> TextDocument:
        return self.workspace.get_text_document(uri)

    def sync(self, uri: str) -> tuple[TextDocument, str]:
        doc = self.document(uri)
        path = self.path(uri)
        self.ide.update(path, doc.source)
        return doc, path

    def schedule(self, uri: str) -> None:
        previous = self.pending.pop(uri, None)
        if previous is not None:
            previous.cancel()
        self.pending[uri] = asyncio.ensure_future(self.publish_later(uri))

    async def publish_later(self, uri: str) -> None:
        await asyncio.sleep(DEBOUNCE_S)
        try:
            doc, path = self.sync(uri)
            version = doc.version
            diagnostics = [
                convert.diagnostic(doc.position_codec, d) for d in self.ide.diagnostics(path)
            ]
            if self.document(uri).version != version:
                return  # a newer change is on its way
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, version=version, diagnostics=diagnostics)
            )
        except Exception:
            log.exception("publishing diagnostics for %s failed", uri)


server = NNLanguageServer()


def guarded(default: Any = None) -> Callable[[F], F]:
    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(ls: NNLanguageServer, params: Any) -> Any:
            try:
                return fn(ls, params)
            except Exception:
                log.exception("%s failed", fn.__name__)
                return default

        return inner  # type: ignore[return-value]

    return wrap


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
@guarded()
def did_open(ls: NNLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
@guarded()
def did_change(ls: NNLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
@guarded()
def did_close(ls: NNLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    task = ls.pending.pop(uri, None)
    if task is not None:
        task.cancel()
    ls.ide.close(ls.path(uri))
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


@server.feature(types.TEXT_DOCUMENT_HOVER)
@guarded()
def hover(ls: NNLanguageServer, params: types.HoverParams) -> types.Hover | None:
    doc, path = ls.sync(params.text_document.uri)
    result = ls.ide.hover(path, convert.offset(doc.position_codec, doc.source, params.position))
    if result is None:
        return None
    file = SourceFile(path, doc.source)
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=result.markdown),
        range=convert.span_range(doc.position_codec, file, result.span),
    )


@server.feature(
    types.TEXT_DOCUMENT_COMPLETION,
    types.CompletionOptions(trigger_characters=["(", ",", " ", "|"]),
)
@guarded([])
def completion(ls: NNLanguageServer, params: types.CompletionParams) -> list[types.CompletionItem]:
    doc, path = ls.sync(params.text_document.uri)
    offset = convert.offset(doc.position_codec, doc.source, params.position)
    return [
        types.CompletionItem(
            label=item.label,
            kind=COMPLETION_KINDS.get(item.kind, types.CompletionItemKind.Text),
            detail=item.detail or None,
            documentation=(
                types.MarkupContent(kind=types.MarkupKind.Markdown, value=item.doc)
                if item.doc
                else None
            ),
            insert_text=item.insert_text,
            sort_text=f"{0 if item.kind in ('argument', 'tensor', 'param') else 1}{item.label}",
        )
        for item in ls.ide.completions(path, offset)
    ]


@server.feature(
    types.TEXT_DOCUMENT_SIGNATURE_HELP,
    types.SignatureHelpOptions(trigger_characters=["(", ","]),
)
@guarded()
def signature_help(
    ls: NNLanguageServer, params: types.SignatureHelpParams
) -> types.SignatureHelp | None:
    doc, path = ls.sync(params.text_document.uri)
    offset = convert.offset(doc.position_codec, doc.source, params.position)
    sig = ls.ide.signature_help(path, offset)
    if sig is None:
        return None
    info = types.SignatureInformation(
        label=sig.label,
        documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=sig.doc),
        parameters=[
            types.ParameterInformation(label=p.label, documentation=p.doc or None)
            for p in sig.params
        ],
    )
    return types.SignatureHelp(signatures=[info], active_signature=0, active_parameter=sig.active)


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
@guarded()
def definition(ls: NNLanguageServer, params: types.DefinitionParams) -> types.Location | None:
    doc, path = ls.sync(params.text_document.uri)
    offset = convert.offset(doc.position_codec, doc.source, params.position)
    loc = ls.ide.definition(path, offset)
    if loc is None:
        return None
    return types.Location(
        uri=convert.uri_of(loc.path),
        range=convert.span_range(doc.position_codec, loc.file, loc.span),
    )


@server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
@guarded([])
def document_symbol(
    ls: NNLanguageServer, params: types.DocumentSymbolParams
) -> list[types.DocumentSymbol]:
    doc, path = ls.sync(params.text_document.uri)
    file = SourceFile(path, doc.source)
    codec = doc.position_codec

    def build(s: Any) -> types.DocumentSymbol:
        return types.DocumentSymbol(
            name=s.name,
            kind=SYMBOL_KINDS.get(s.kind, types.SymbolKind.Object),
            range=convert.span_range(codec, file, s.span),
            selection_range=convert.span_range(codec, file, s.selection),
            detail=s.detail or None,
            children=[build(c) for c in s.children] or None,
        )

    return [build(s) for s in ls.ide.document_symbols(path)]


@server.feature(types.TEXT_DOCUMENT_INLAY_HINT, types.InlayHintOptions())
@guarded([])
def inlay_hint(ls: NNLanguageServer, params: types.InlayHintParams) -> list[types.InlayHint]:
    doc, path = ls.sync(params.text_document.uri)
    file = SourceFile(path, doc.source)
    codec = doc.position_codec
    start = convert.offset(codec, doc.source, params.range.start)
    end = convert.offset(codec, doc.source, params.range.end)
    return [
        types.InlayHint(
            position=convert.position(codec, file, h.offset),
            label=h.label,
            kind=types.InlayHintKind.Type,
        )
        for h in ls.ide.inlay_hints(path)
        if start <= h.offset <= end
    ]


def serve() -> None:
    logging.basicConfig(level=logging.WARNING)
    server.start_io()
