"""The terminal side of the REPL: prompt-toolkit input, rich output; logic is in `Session`.

Completion and signature help come from the editor layer (`nndsl.ide.Workspace`), asked about
the session module with the text being typed in place, so they agree with the language server.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.lexers import PygmentsLexer
from rich.console import Console
from rich.text import Text

from nndsl.ide import Workspace
from nndsl.repl.session import HELP, Reply, Session
from nndsl.terminal.lexer import NNLexer

BANNER = "nndsl REPL: definitions and statements are checked as you go. :help for commands."
COMMANDS = tuple(sorted({m.split()[0] for m in re.findall(r"^\s+(:\w+)", HELP, re.M)} | {":help"}))
_NAME_COMMANDS = (":doc", ":summary", ":plot", ":params", ":train", ":predict")


def history_path() -> Path:
    """The history file in the user's data dir: $XDG_DATA_HOME, else the platform's."""
    if os.environ.get("XDG_DATA_HOME"):
        base = Path(os.environ["XDG_DATA_HOME"])
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    elif sys.platform == "win32" and os.environ.get("APPDATA"):
        base = Path(os.environ["APPDATA"])
    else:
        base = Path.home() / ".local" / "share"
    return base / "nndsl" / "repl_history"


class SessionCompleter(Completer):
    """Commands after `:`; otherwise what the editor layer offers at the cursor."""

    def __init__(self, session: Session, workspace: Workspace | None = None) -> None:
        self.session = session
        self.workspace = workspace or Workspace()

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterator[Completion]:
        text = document.text_before_cursor
        word = re.search(r"[A-Za-z_]\w*$", text)
        prefix = word.group() if word else ""
        stripped = text.lstrip()
        if stripped.startswith(":"):
            if " " not in stripped:
                for c in COMMANDS:
                    if c.startswith(stripped):
                        yield Completion(c, -len(stripped))
                return
            if stripped.split()[0] not in _NAME_COMMANDS:
                return
            names = [k.split(" ", 1)[1] for k in self.session.items if " " in k]
            if stripped.startswith(":doc"):
                from nndsl.ops import iter_specs

                names += [s.name for s in iter_specs()]
            for name in sorted(set(names)):
                if name.startswith(prefix) and name != prefix:
                    yield Completion(name, -len(prefix))
            return
        if not prefix:
            return
        source, start = self.session.draft(document.text)
        self.workspace.open(self.session.path, source)
        seen: set[str] = set()
        for item in self.workspace.completions(self.session.path, start + document.cursor_position):
            if item.label.startswith(prefix) and item.label not in seen:
                seen.add(item.label)
                yield Completion(
                    item.insert_text or item.label,
                    -len(prefix),
                    display=item.label,
                    display_meta=item.detail or item.kind,
                )


def signature_toolbar(session: Session, workspace: Workspace, document: Document) -> FormattedText:
    """The signature of the call around the cursor, the current argument in bold."""
    if document.text.lstrip().startswith(":"):
        return FormattedText([])
    source, start = session.draft(document.text)
    workspace.open(session.path, source)
    help_ = workspace.signature_help(session.path, start + document.cursor_position)
    if help_ is None:
        return FormattedText([])
    parts: list[tuple[str, str]] = [("", help_.label)]
    if 0 <= help_.active < len(help_.params):
        active = help_.params[help_.active].label
        parts.append(("", "   "))
        parts.append(("bold", active))
    return FormattedText(parts)


def _bindings(session: Session) -> KeyBindings:
    kb = KeyBindings()

    @kb.add("enter")
    def _(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        if session.is_complete(buffer.text):
            buffer.validate_and_handle()
        else:
            buffer.insert_text("\n    ")

    return kb


def render(console: Console, replies: Iterable[Reply]) -> None:
    from nndsl.terminal.diagnostics import print_diagnostics

    for reply in replies:
        if reply.kind in ("error", "warning") and reply.diagnostics:
            if reply.text and not reply.text.startswith(("error[", "warning[")):
                console.print(f"[bold yellow]warning[/]: {reply.text}", highlight=False)
            print_diagnostics(console, reply.diagnostics)
        elif reply.kind in ("error", "warning"):
            style = "bold red" if reply.kind == "error" else "bold yellow"
            console.print(Text.assemble((reply.kind, style), f": {reply.text}"))
        elif reply.kind == "type":
            name, _, t = reply.text.partition(": ")
            console.print(Text.assemble((name, "bold"), ": ", (t, "cyan")))
        elif reply.kind == "value":
            head, *body, stats = reply.text.split("\n")
            console.print(Text(head, style="bold"))
            console.print("\n".join(body), highlight=True, markup=False)
            console.print(Text(stats, style="dim"))
        else:
            console.print(reply.text, highlight=False, markup=False)


def _progress(console: Console) -> Callable[[object], None]:
    """Training events to the same progress bar and lines as `nnrun train`; a fresh view per
    run (a view keeps its bar's task), imported at the first event (rich.progress is slow)."""
    views: list[Callable[[object], None]] = []

    def on_event(event: object) -> None:
        from nndsl.runtime import FitStart
        from nndsl.terminal.progress import ProgressView

        if isinstance(event, FitStart) or not views:
            views[:] = [ProgressView(console, quiet=False)]
        views[0](event)

    return on_event


def run(
    file: str | None = None, *, history: History | None = None, console: Console | None = None
) -> int:
    session = Session()
    console = console or Console(highlight=False)
    workspace = Workspace()
    if history is None:
        path = history_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            history = FileHistory(str(path))
        except OSError:
            history = InMemoryHistory()
    session.on_event = _progress(console)
    prompt: PromptSession[str] = PromptSession(
        multiline=True,
        key_bindings=_bindings(session),
        history=history,
        lexer=PygmentsLexer(NNLexer),
        completer=SessionCompleter(session, workspace),
        complete_while_typing=False,
        bottom_toolbar=lambda: signature_toolbar(
            session, workspace, prompt.default_buffer.document
        ),
        prompt_continuation="... ",
    )
    console.print(BANNER)
    if file:
        render(console, session.handle(f":load {file}"))
    while True:
        try:
            text = prompt.prompt(">>> ")
        except KeyboardInterrupt:  # Ctrl-C: drop the input, keep the session
            continue
        except EOFError:  # Ctrl-D
            return 0
        try:
            render(console, session.handle(text))
        except EOFError:
            return 0
        except KeyboardInterrupt:
            console.print("[bold yellow]interrupted[/]", highlight=False)
        except Exception as exc:  # the session survives anything
            console.print(f"[bold red]internal error[/]: {exc!r}", highlight=False)
