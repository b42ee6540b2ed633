"""`nnrun lsp`: a pygls language server that only transports `nndsl.ide` answers.

Diagnostics are debounced per document (an isolated edit is checked at once, a burst of edits
once it pauses) and published only if the version is still current; a change also re-checks the
open documents that import the changed one. Every handler catches and logs its exceptions: a
bug in one feature never stops the server.

Every check and query runs on one worker thread under a time and memory budget
(`nndsl.lsp.worker`): the event loop keeps answering while a pathological document is checked,
and a check over budget is stopped, the document gets one diagnostic saying so, and its queries
get empty answers until it (or a document it imports) changes. Malformed messages are answered
per JSON-RPC before pygls sees them (`nndsl.lsp.transport`).

Python's automatic garbage collection is off from a check until the server is idle: on the heap
of a large document (its syntax trees, graphs and memos) a collection that fires in the middle of
a check costs more than the incremental check itself. The server collects `IDLE_GC_S` after the
last publication (and at least every `GC_EVERY` publications), then turns it on again.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from nndsl.ide import Workspace
from nndsl.ide.model import SHOW_GRAPH, TOKEN_MODIFIERS, TOKEN_TYPES, FileEdits
from nndsl.lsp import convert
from nndsl.lsp.transport import Protocol, configure_logging, one_line, serve_io
from nndsl.lsp.worker import Stopped, Worker
from nndsl.source import SourceFile, Span

log = logging.getLogger(__name__)
DEBOUNCE_S = 0.15
IDLE_GC_S = 1.0
GC_EVERY = 25
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
Checked = tuple[int | None, list[types.Diagnostic]]  # a version and its diagnostics
WATCH_ID = "nndsl/watch-nn-files"  # the id of the request registering the file watcher

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


WORKSPACE_SYMBOL_KINDS = {
    "model": types.SymbolKind.Class,
    "block": types.SymbolKind.Function,
    "data": types.SymbolKind.Variable,
    "const": types.SymbolKind.Constant,
}
LEGEND = types.SemanticTokensLegend(
    token_types=list(TOKEN_TYPES), token_modifiers=list(TOKEN_MODIFIERS)
)


class RequestFailed(JsonRpcException):
    """LSP's RequestFailed: the request was valid but cannot be done (e.g. rename in stdlib)."""

    CODE = -32803
    MESSAGE = "Request failed"


class NNLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "nndsl",
            "0.1.0",
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=Protocol,
        )
        self.ide = Workspace()
        self._worker: Worker | None = None  # the bootstrap may hand over its own
        self.stopped: dict[str, tuple[str, str]] = {}  # path -> (text, why its check stopped)
        self.pending: dict[str, asyncio.Task[None]] = {}
        self.last_change: dict[str, float] = {}
        self.uris: dict[str, str] = {}  # normalized path -> the uri the client opened it as
        self.idle_gc: asyncio.TimerHandle | None = None
        self.since_gc = 0  # publications since the last collection
        self.watch_pending = False  # a `**/*.nn` watcher to register (see `watch_files`)

    def report_server_error(self, error: Exception, source: Any) -> None:
        """One log line; never pygls' `window/showMessage` popup (requests are answered with
        their error, and a broken notification is the client's bug, not the user's). A
        client's mistake (a JsonRpcException: unknown method...) is logged at INFO only."""
        level = logging.INFO if isinstance(error, JsonRpcException) else logging.ERROR
        log.log(level, "%s: %s", getattr(source, "__name__", source), one_line(error))

    @property
    def worker(self) -> Worker:
        if self._worker is None:
            self._worker = Worker()
        self._worker.on_stop = self.replace_workspace
        return self._worker

    @worker.setter
    def worker(self, worker: Worker) -> None:
        self._worker = worker

    def replace_workspace(self, reason: str) -> None:
        """After a stopped job (on the worker): a fresh Workspace with the same documents, as
        the stopped one may have left its caches half-updated."""
        old = self.ide
        ide = Workspace(roots=old.roots)
        for path, text in list(old.documents.items()):
            ide.update(path, text)
        self.ide = ide
        gc.collect()

    async def run(self, uri: str | None, fn: Callable[[], T], label: str) -> T:
        """`fn` on the worker. Stopped if it runs over budget, or at once if `uri`'s check
        was already stopped at this text (recorded here for the queries that follow)."""
        path = self.path(uri) if uri is not None else None
        seen: list[str] = []

        def job() -> T:
            if path is not None and uri is not None:
                text = self.document(uri).source
                seen.append(text)
                record = self.stopped.get(path)
                if record is not None and record[0] == text:
                    raise Stopped(record[1])
            return fn()

        try:
            return await asyncio.wrap_future(self.worker.submit(job, label))
        except Stopped as e:
            if path is not None and seen:
                self.stopped[path] = (seen[0], e.reason)
            raise

    def path(self, uri: str) -> str:
        return to_fs_path(uri) or uri

    def document(self, uri: str) -> TextDocument:
        """An open document (pygls would read any other from disk: a FIFO, /dev/zero...)."""
        doc: TextDocument | None = self.workspace.text_documents.get(uri)
        if doc is None:
            raise JsonRpcInvalidParams(f"{uri} is not open")
        return doc

    def sync(self, uri: str) -> tuple[TextDocument, str]:
        doc = self.document(uri)
        path = self.path(uri)
        self.ide.update(path, doc.source)
        self.uris[os.path.normpath(os.path.abspath(path))] = uri
        return doc, path

    def uri(self, path: str) -> str:
        return self.uris.get(path) or convert.uri_of(path)

    async def changed(self, uri: str, edited: bool = True) -> None:
        """Re-check `uri` and the open documents importing it. An isolated edit is synced and
        checked in one worker job, so its diagnostics go out before the answers to requests
        sent after it (what the bootstrap's replay relies on: the same bytes either way)."""
        if edited:
            self.stopped.clear()  # any edit may be what made a stopped check fast again
        now = time.monotonic()
        burst = now - self.last_change.get(uri, 0.0) < DEBOUNCE_S
        self.last_change[uri] = now
        previous = self.pending.pop(uri, None)
        if previous is not None:
            previous.cancel()

        def importers() -> list[str]:
            _, path = self.sync(uri)
            return self.ide.importers(path)

        def sync_and_check() -> tuple[list[str], Checked]:
            return importers(), self.check(uri)

        if burst:
            others = await self.run(None, importers, f"syncing {uri}")
            self.schedule(uri, DEBOUNCE_S)
        else:
            try:
                others, checked = await self.run(uri, sync_and_check, f"checking {uri}")
            except Stopped as e:
                others, checked = [], (self.document(uri).version, [stopped_diagnostic(e.reason)])
            self.publish(uri, *checked)
        for other in others:
            self.schedule(self.uri(other), DEBOUNCE_S)

    def schedule(self, uri: str, delay: float) -> None:
        previous = self.pending.pop(uri, None)
        if previous is not None:
            previous.cancel()
        self.pending[uri] = asyncio.ensure_future(self.publish_later(uri, delay))

    def collect_when_idle(self) -> None:
        """Collect garbage once no check has run for `IDLE_GC_S`, or now after `GC_EVERY`
        publications without a pause (the collection then delays the next request, not
        this publication)."""
        if self.idle_gc is not None:
            self.idle_gc.cancel()
        self.since_gc += 1
        loop = asyncio.get_running_loop()
        delay = 0.0 if self.since_gc >= GC_EVERY else IDLE_GC_S
        self.idle_gc = loop.call_later(delay, self.collect)

    def collect(self) -> None:
        self.idle_gc = None
        self.since_gc = 0

        def collect() -> None:
            gc.collect()
            gc.enable()  # automatic again while idle (hover, completion); off at the next check

        self.worker.submit(collect, "collecting garbage")  # not in the middle of a check

    def check(self, uri: str) -> Checked:
        """On the worker: the document's version and diagnostics."""
        gc.disable()  # see the module docstring: collected in `collect_when_idle`
        doc, path = self.sync(uri)
        version = doc.version
        codec = doc.position_codec
        return version, [convert.diagnostic(codec, d) for d in self.ide.diagnostics(path)]

    async def publish_later(self, uri: str, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            try:
                checked = await self.run(uri, lambda: self.check(uri), f"checking {uri}")
            except Stopped as e:
                checked = (self.document(uri).version, [stopped_diagnostic(e.reason)])
        except JsonRpcInvalidParams:
            return  # closed meanwhile
        except Exception as e:
            log.error("checking %s failed: %s", uri, one_line(e))
            return
        self.publish(uri, *checked)

    def publish(self, uri: str, version: int | None, diagnostics: list[types.Diagnostic]) -> None:
        """Publish, unless a newer change is on its way."""
        try:
            if self.document(uri).version == version:
                self.text_document_publish_diagnostics(
                    types.PublishDiagnosticsParams(
                        uri=uri, version=version, diagnostics=diagnostics
                    )
                )
        except JsonRpcInvalidParams:
            pass  # closed meanwhile
        except Exception as e:
            log.error("publishing diagnostics for %s failed: %s", uri, one_line(e))
        finally:
            self.collect_when_idle()
            self.watch_files()

    def watch_files(self) -> None:
        """Ask the client to report `.nn` files changed on disk (`did_change_watched_files`).

        Sent after the first publication rather than at `initialized`: the bootstrap has
        already published the first diagnostics when the real server sees `initialized`
        (replayed), and the session must be the same bytes with and without it. The id is
        fixed for the same reason."""
        if not self.watch_pending:
            return
        self.watch_pending = False
        watcher = types.FileSystemWatcher(glob_pattern="**/*.nn")
        registration = types.Registration(
            id=WATCH_ID,
            method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=[watcher]),
        )
        future = self.protocol.send_request(
            types.CLIENT_REGISTER_CAPABILITY,
            types.RegistrationParams(registrations=[registration]),
            msg_id=WATCH_ID,
        )
        future.add_done_callback(_registered)


def stopped_diagnostic(reason: str) -> types.Diagnostic:
    """What the editor shows for a document whose check was stopped (no code: it is not a
    problem of the model's, but of the check's cost; the reason names the setting)."""
    start = types.Position(line=0, character=0)
    return types.Diagnostic(
        range=types.Range(start=start, end=start),
        message=f"nndsl stopped checking this file: it {reason}",
        severity=types.DiagnosticSeverity.Warning,
        source="nndsl",
    )


def _registered(future: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("the client refused to watch .nn files: %s", future.exception())


server = NNLanguageServer()


def guarded(default: Any = None) -> Callable[[F], F]:
    """Run the handler on the worker (budgeted); a failure is logged in one line and answered
    with `default` (an error the handler raises on purpose, a JsonRpcException, is sent)."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        async def inner(ls: NNLanguageServer, params: Any) -> Any:
            doc = getattr(params, "text_document", None)
            uri = getattr(doc, "uri", None)
            try:
                return await ls.run(uri, lambda: fn(ls, params), fn.__name__)
            except Stopped:
                return default
            except JsonRpcException:
                raise
            except Exception as e:
                log.error("%s failed: %s", fn.__name__, one_line(e))
                return default

        return inner  # type: ignore[return-value]

    return wrap


def notification(fn: Callable[[NNLanguageServer, Any], Any]) -> Callable[..., Any]:
    """A notification handler: failures logged in one line (nobody to answer)."""

    @functools.wraps(fn)
    async def inner(ls: NNLanguageServer, params: Any) -> None:
        try:
            await fn(ls, params)
        except (Stopped, JsonRpcInvalidParams) as e:
            log.warning("%s: %s", fn.__name__, e)
        except Exception as e:
            log.error("%s failed: %s", fn.__name__, one_line(e))

    return inner


@server.feature(types.EXIT)
def on_exit(ls: NNLanguageServer, params: Any) -> None:
    """No publication after `exit` (pygls closes stdout next)."""
    for task in ls.pending.values():
        task.cancel()
    ls.pending.clear()


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
@notification
async def did_open(ls: NNLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    await ls.changed(params.text_document.uri, edited=False)  # keeps the bootstrap's stops


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
@notification
async def did_change(ls: NNLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    await ls.changed(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
@notification
async def did_close(ls: NNLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    task = ls.pending.pop(uri, None)
    if task is not None:
        task.cancel()
    ls.stopped.pop(ls.path(uri), None)

    def close() -> list[str]:
        importers = ls.ide.importers(ls.path(uri))
        ls.ide.close(ls.path(uri))
        return importers

    importers = await ls.run(None, close, f"closing {uri}")
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
    for other in importers:  # they now read the file from disk
        ls.schedule(ls.uri(other), DEBOUNCE_S)


@server.feature(types.INITIALIZED)
@notification
async def initialized(ls: NNLanguageServer, params: types.InitializedParams) -> None:
    roots = [f.uri for f in (ls.workspace.folders or {}).values()]
    if not roots and ls.workspace.root_uri:
        roots = [ls.workspace.root_uri]
    caps = ls.client_capabilities.workspace
    watched = caps.did_change_watched_files if caps is not None else None
    ls.watch_pending = bool(watched is not None and watched.dynamic_registration)

    def set_roots() -> None:
        ls.ide.roots = [ls.path(r) for r in roots]

    await ls.run(None, set_roots, "setting the roots")


@server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
@notification
async def did_change_watched_files(
    ls: NNLanguageServer, params: types.DidChangeWatchedFilesParams
) -> None:
    """`.nn` files changed on disk (a checkout, another tool): forget what was read from them
    and re-check the open documents that import them (missing imports included)."""
    ls.stopped.clear()

    def invalidate() -> set[str]:
        stale: set[str] = set()
        for change in params.changes:
            stale.update(ls.ide.invalidate(ls.path(change.uri)))
        return stale

    for path in sorted(await ls.run(None, invalidate, "invalidating changed files")):
        ls.schedule(ls.uri(path), DEBOUNCE_S)


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


def _edit(ls: NNLanguageServer, changes: tuple[FileEdits, ...]) -> types.WorkspaceEdit:
    out: dict[str, list[types.TextEdit]] = {}
    for fe in changes:
        uri = convert.uri_of(fe.path)
        codec = ls.workspace.position_codec
        out[uri] = [
            types.TextEdit(range=convert.span_range(codec, fe.file, e.span), new_text=e.text)
            for e in fe.edits
        ]
    return types.WorkspaceEdit(changes=out)


@server.feature(types.TEXT_DOCUMENT_REFERENCES)
@guarded([])
def references(ls: NNLanguageServer, params: types.ReferenceParams) -> list[types.Location]:
    doc, path = ls.sync(params.text_document.uri)
    offset = convert.offset(doc.position_codec, doc.source, params.position)
    return [
        types.Location(
            uri=convert.uri_of(loc.path),
            range=convert.span_range(doc.position_codec, loc.file, loc.span),
        )
        for loc in ls.ide.references(path, offset, params.context.include_declaration)
    ]


@server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)
@guarded()
def prepare_rename(
    ls: NNLanguageServer, params: types.PrepareRenameParams
) -> types.PrepareRenamePlaceholder | None:
    doc, path = ls.sync(params.text_document.uri)
    offset = convert.offset(doc.position_codec, doc.source, params.position)
    target = ls.ide.prepare_rename(path, offset)
    if target.error is not None or target.span is None:
        raise RequestFailed(target.error or "nothing to rename here")
    file = SourceFile(path, doc.source)
    return types.PrepareRenamePlaceholder(
        range=convert.span_range(doc.position_codec, file, target.span),
        placeholder=target.placeholder,
    )


@server.feature(types.TEXT_DOCUMENT_RENAME, types.RenameOptions(prepare_provider=True))
@guarded()
def rename(ls: NNLanguageServer, params: types.RenameParams) -> types.WorkspaceEdit | None:
    doc, path = ls.sync(params.text_document.uri)
    offset = convert.offset(doc.position_codec, doc.source, params.position)
    result = ls.ide.rename(path, offset, params.new_name)
    if result.error is not None:
        raise RequestFailed(result.error)
    return _edit(ls, result.changes)


@server.feature(types.WORKSPACE_SYMBOL)
@guarded([])
def workspace_symbol(
    ls: NNLanguageServer, params: types.WorkspaceSymbolParams
) -> list[types.SymbolInformation]:
    out = []
    for s in ls.ide.workspace_symbols(params.query):
        loc = s.location
        out.append(
            types.SymbolInformation(
                name=s.name,
                kind=WORKSPACE_SYMBOL_KINDS.get(s.kind, types.SymbolKind.Object),
                location=types.Location(
                    uri=convert.uri_of(loc.path),
                    range=convert.span_range(ls.workspace.position_codec, loc.file, loc.span),
                ),
                container_name=s.container or None,
            )
        )
    return out


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
@guarded([])
def formatting(
    ls: NNLanguageServer, params: types.DocumentFormattingParams
) -> list[types.TextEdit]:
    doc, path = ls.sync(params.text_document.uri)
    formatted = ls.ide.format(path)
    if formatted is None or formatted == doc.source:
        return []
    file = SourceFile(path, doc.source)
    whole = convert.span_range(doc.position_codec, file, Span(0, len(doc.source)))
    return [types.TextEdit(range=whole, new_text=formatted)]


@server.feature(types.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL, LEGEND)
@guarded(types.SemanticTokens(data=[]))
def semantic_tokens(
    ls: NNLanguageServer, params: types.SemanticTokensParams
) -> types.SemanticTokens:
    doc, path = ls.sync(params.text_document.uri)
    file = SourceFile(path, doc.source)
    codec = doc.position_codec
    kinds = {k: i for i, k in enumerate(TOKEN_TYPES)}
    bits = {m: 1 << i for i, m in enumerate(TOKEN_MODIFIERS)}
    data: list[int] = []
    line = char = 0
    for t in ls.ide.semantic_tokens(path):
        start = convert.position(codec, file, t.start)
        end = convert.position(codec, file, t.start + t.length)
        if start.line != line:
            char = 0
        data += [
            start.line - line,
            start.character - char,
            end.character - start.character,
            kinds[t.kind],
            sum(bits[m] for m in t.modifiers),
        ]
        line, char = start.line, start.character
    return types.SemanticTokens(data=data)


@server.feature(
    types.TEXT_DOCUMENT_CODE_ACTION,
    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
)
@guarded([])
def code_action(ls: NNLanguageServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    doc, path = ls.sync(params.text_document.uri)
    codec = doc.position_codec
    start = convert.offset(codec, doc.source, params.range.start)
    end = convert.offset(codec, doc.source, params.range.end)
    out = []
    for a in ls.ide.code_actions(path, Span(start, end)):
        diagnostics = [convert.diagnostic(codec, a.diagnostic)] if a.diagnostic else None
        out.append(
            types.CodeAction(
                title=a.title,
                kind=types.CodeActionKind.QuickFix,
                diagnostics=diagnostics,
                is_preferred=a.preferred or None,
                edit=_edit(ls, a.changes),
            )
        )
    return out


@server.feature(types.TEXT_DOCUMENT_CODE_LENS, types.CodeLensOptions(resolve_provider=False))
@guarded([])
def code_lens(ls: NNLanguageServer, params: types.CodeLensParams) -> list[types.CodeLens]:
    uri = params.text_document.uri
    doc, path = ls.sync(uri)
    file = SourceFile(path, doc.source)
    return [
        types.CodeLens(
            range=convert.span_range(doc.position_codec, file, lens.span),
            # the workspace names the file by path; the client knows it by uri
            command=types.Command(lens.title, lens.command, arguments=[uri, *lens.arguments[1:]]),
        )
        for lens in ls.ide.code_lenses(path)
    ]


@server.command(SHOW_GRAPH)
async def show_graph(ls: NNLanguageServer, *args: Any) -> dict[str, str] | None:
    """Write the model's graph page (`nnrun plot`'s HTML) and ask the client to open it;
    answers its path and uri (for clients that open it themselves), or shows why not."""
    if len(args) != 2 or not all(isinstance(a, str) for a in args):
        raise JsonRpcInvalidParams(f"{SHOW_GRAPH} takes a document uri and a model name")
    uri, model = args

    def write() -> tuple[bool, str]:
        """(True, the page's path) or (False, why there is none)."""
        from nndsl.plot import write_model_picture

        _, path = ls.sync(uri)
        graph = ls.ide.model_graph(path, model)
        if isinstance(graph, str):
            return False, graph
        folder = graph_folder()
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / f"{graph.name}.html"
        write_model_picture(graph, out)
        return True, str(out)

    try:
        ok, written = await ls.run(uri, write, "show_graph")
    except (Stopped, OSError) as e:
        ok, written = False, f"could not draw `{model}`: {e}"
    if not ok:
        ls.window_show_message(types.ShowMessageParams(types.MessageType.Warning, written))
        return None
    target = convert.uri_of(written)
    window = ls.client_capabilities.window
    if window is not None and window.show_document is not None and window.show_document.support:
        ls.window_show_document(types.ShowDocumentParams(target, external=True))
    return {"path": written, "uri": target}


def graph_folder() -> Path:
    """Where "show graph" writes its pages: a folder of the user's temporary directory (the
    project stays as it is)."""
    return (
        Path(tempfile.gettempdir())
        / f"nndsl-graphs-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    )


def serve(stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
    """Serve on stdio, or on the given streams (the bootstrap's replaying reader)."""
    configure_logging()
    serve_io(server, stdin or sys.stdin.buffer, stdout or sys.stdout.buffer)
