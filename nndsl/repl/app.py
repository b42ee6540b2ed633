"""The terminal side of the REPL: prompt-toolkit input, rich output; logic is in `Session`."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import Completer, WordCompleter
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.lexers import PygmentsLexer
from rich.console import Console

from nndsl.cli.lexer import NNLexer
from nndsl.ops import iter_specs
from nndsl.repl.session import Reply, Session
from nndsl.syntax import KEYWORDS

BANNER = "nndsl REPL: definitions and statements are checked as you go. :help for commands."
COMMANDS = (":help", ":shape", ":doc", ":summary", ":load", ":save", ":reset", ":quit")


def history_path() -> Path:
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "nndsl" / "repl_history"


class SessionCompleter(Completer):
    """Registry names, keywords, commands and the session's own names."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get_completions(self, document, complete_event):  # type: ignore[no-untyped-def]
        names = [*KEYWORDS, *COMMANDS, *(s.name for s in iter_specs())]
        names += [k.split(" ", 1)[1] for k in self.session.items]
        yield from WordCompleter(sorted(set(names)), WORD=True).get_completions(
            document, complete_event
        )


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
    for reply in replies:
        if reply.kind == "error" and reply.diagnostics:
            from nndsl.cli.render import print_diagnostics

            print_diagnostics(console, reply.diagnostics)
        elif reply.kind == "error":
            console.print(f"[bold red]error[/]: {reply.text}", highlight=False)
        elif reply.kind == "type":
            name, _, t = reply.text.partition(": ")
            console.print(f"[bold]{name}[/]: [cyan]{t}[/]", highlight=False)
        else:
            console.print(reply.text, highlight=False, markup=False)


def run(
    file: str | None = None, *, history: History | None = None, console: Console | None = None
) -> int:
    session = Session()
    console = console or Console(highlight=False)
    if history is None:
        path = history_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            history = FileHistory(str(path))
        except OSError:
            history = InMemoryHistory()
    prompt: PromptSession[str] = PromptSession(
        multiline=True,
        key_bindings=_bindings(session),
        history=history,
        lexer=PygmentsLexer(NNLexer),
        completer=SessionCompleter(session),
        prompt_continuation="... ",
    )
    console.print(BANNER)
    if file:
        render(console, session.handle(f":load {file}"))
    while True:
        try:
            text = prompt.prompt(">>> ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            return 0
        try:
            render(console, session.handle(text))
        except EOFError:
            return 0
        except Exception as exc:  # the session survives anything
            console.print(f"[bold red]internal error[/]: {exc!r}", highlight=False)
