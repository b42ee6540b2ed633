"""The REPL's logic as a pure object: text in, printable replies out; no terminal involved.

Definitions (`const`, `block`, `model`, `data`, `import`, `train`) accumulate into one session
module; statements (`input x: f32[B, 64]`, `h = x |> Dense(32)`) and bare expressions
accumulate into a scratch model, so every answer shows inferred types. The whole session is
rebuilt as nndsl source and checked by `check_source` after every input (one pipeline: the REPL
never checks anything its own way). Each piece of that module remembers where the user typed
it, so diagnostics are mapped back and point into the user's input or loaded file.

The session module always checks cleanly: an input that fails is not kept, and definitions
that a redefinition breaks are set aside (and restored once they check again).

Nothing here imports JAX; `nndsl.repl.execute` does, and only when something runs.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from nndsl.check.paths import read_source
from nndsl.diagnostics import Diagnostic, Label, render_plain
from nndsl.diagnostics.model import Fix
from nndsl.frontend import CheckResult, check_source
from nndsl.ir import Graph
from nndsl.source import SourceFile, Span
from nndsl.syntax import ast, parse
from nndsl.syntax.keywords import ITEM_KEYWORDS, alternation
from nndsl.syntax.parser import open_brackets
from nndsl.syntax.repair import TRAILING_OPERATOR

if TYPE_CHECKING:
    from nndsl.repl.execute import Trained

SCRATCH = "__repl__"
_IT = "it"
_DEFINITION_START = re.compile(r"^\s*(?:(?:#[^\n]*)?\n\s*)*" + alternation(ITEM_KEYWORDS))
_TRAIN_ARG = re.compile(
    r"^(?P<model>[A-Za-z_]\w*(?:\(.*\))?)\s+on\s+(?P<data>[A-Za-z_]\w*)"
    r"(?:\s+(?P<epochs>\d+))?\s*$",
    re.S,
)
_TRAIN_DEFAULTS = (
    "loss = cross_entropy(from_logits = true)",
    "optimizer = adam(learning_rate = 1e-3)",
    "metrics = [accuracy]",
)


@dataclass(frozen=True)
class Reply:
    """`kind`: ok | type | value | error | warning | info. `diagnostics` are already mapped
    to the user's text; `text` is their plain rendering (or the message)."""

    kind: str
    text: str
    diagnostics: tuple[Diagnostic, ...] = ()


@dataclass(frozen=True)
class Piece:
    """One definition or statement: its text in the session module, and where it came from
    (`origin` is the user's input or a loaded file; `offset` is where `text` starts there)."""

    text: str
    origin: SourceFile
    offset: int


@dataclass
class _Built:
    source: str
    segments: list[tuple[int, Piece]]  # (start in `source`, piece), in order


@dataclass
class Session:
    items: dict[str, Piece] = field(default_factory=dict)  # "kind name" -> definition
    statements: list[Piece] = field(default_factory=list)  # the scratch model's body
    set_aside: dict[str, Piece] = field(default_factory=dict)  # broken by a redefinition
    files: list[str] = field(default_factory=list)  # loaded with :load, for :reload
    inputs: dict[str, str] = field(default_factory=dict)  # :input NAME = FILE.npy
    sizes: dict[str, int] = field(default_factory=lambda: {"B": 2})  # :input SYMBOL = N
    trained: dict[str, Trained] = field(default_factory=dict)
    autorun: bool = True  # run bare expressions on concrete inputs (imports JAX once)
    seed: int = 0
    path: str = "<repl>"
    on_event: Callable[[object], None] | None = None  # training progress (the app's view)
    count: int = 0  # inputs so far; names their origins `<input N>`

    # -- input completeness (for multi-line editing) ---------------------------------------
    @staticmethod
    def is_complete(text: str) -> bool:
        """False while a block or bracket is open: the prompt then continues the input."""
        if not text.strip() or text.lstrip().startswith(":"):
            return True
        if text.strip().splitlines()[-1].lstrip().startswith("##"):
            return False  # a doc comment: the definition it documents follows
        if open_brackets(text, len(text)):
            return False
        return not TRAILING_OPERATOR.search(text.rstrip())

    # -- the session module ------------------------------------------------------------------
    def build(
        self, items: dict[str, Piece] | None = None, statements: list[Piece] | None = None
    ) -> _Built:
        """The session as one nndsl module, with where each piece landed in it."""
        items = self.items if items is None else items
        body = self.statements if statements is None else statements
        out: list[str] = []
        segments: list[tuple[int, Piece]] = []
        pos = 0

        def put(text: str, piece: Piece | None = None) -> None:
            nonlocal pos
            if piece is not None:
                segments.append((pos, piece))
            out.append(text)
            pos += len(text)

        for piece in items.values():
            put(piece.text, piece)
            put("\n\n")
        if body:
            put(f"model {SCRATCH}() {{\n")
            for piece in body:
                put(piece.text, piece)
                put("\n")
            put(f"return {_last_tensor([p.text for p in body])}\n}}\n")
        return _Built("".join(out), segments)

    def draft(self, text: str) -> tuple[str, int]:
        """The session module with `text` (the input being typed) in place, and the offset of
        `text` in it: what completion and signature help look at."""
        piece = Piece(text, SourceFile("<draft>", text), 0)
        if _DEFINITION_START.match(text):
            built = self.build(items={**self.items, "<draft>": piece})
        else:
            built = self.build(statements=[*self.statements, piece])
        start = next(s for s, p in built.segments if p is piece)
        return built.source, start

    def check(
        self, items: dict[str, Piece] | None = None, statements: list[Piece] | None = None
    ) -> tuple[CheckResult, _Built]:
        built = self.build(items, statements)
        return check_source(built.source, self.path), built

    def _map(self, diags: Iterable[Diagnostic], built: _Built) -> list[Diagnostic]:
        return [_map_diagnostic(d, built, self.path) for d in diags]

    # -- input -------------------------------------------------------------------------------
    def handle(self, text: str) -> list[Reply]:
        if not _code(text).strip():
            return []  # blank or only comments
        if text.strip().startswith(":"):
            return self.command(text.strip())
        self.count += 1
        origin = SourceFile(f"<input {self.count}>", text)
        if _DEFINITION_START.match(text):
            parsed = parse(text, origin.path)
            if parsed.diagnostics:
                return [_error(parsed.diagnostics)]
            return self._define(_pieces(parsed.module, origin))
        return self._statement(text, origin)

    def _define(self, new: dict[str, Piece], *, replace_file: str | None = None) -> list[Reply]:
        items = {
            k: p
            for k, p in self.items.items()
            if replace_file is None or p.origin.path != replace_file
        }
        for key, piece in new.items():
            items[key] = piece
            self.set_aside.pop(key, None)
        result, built = self.check(items)
        new_ids = {id(p) for p in new.values()}
        old = [p for p in [*items.values(), *self.statements] if id(p) not in new_ids]
        diags = self._map(result.errors, built)
        # Errors in the new text (or anywhere but the old definitions): the input is refused.
        refused = [d for d in diags if _owner(d, old) is None]
        if refused:
            return [_error(refused)]
        replies = [
            Reply("ok", f"defined {k}" if " " in k else f"defined the {k} section") for k in new
        ]
        warnings = [
            d
            for d in self._map(result.diagnostics, built)
            if not d.is_error and _owner(d, list(new.values())) is not None
        ]
        if warnings:
            replies.append(_error(warnings, "warning"))
        replies += self._settle(items, self.statements, result, built)
        replies += self._restore()
        for key in new:
            kind, _, name = key.partition(" ")
            if kind == "model":
                self.trained.pop(name, None)  # the weights belong to the old definition
        return replies

    def _settle(
        self, items: dict[str, Piece], statements: list[Piece], result: CheckResult, built: _Built
    ) -> list[Reply]:
        """Accept `items` and `statements`; what no longer checks (the dependents of what
        changed) is set aside or dropped, and reported, until the module checks cleanly."""
        replies: list[Reply] = []
        items, statements = dict(items), list(statements)
        for _ in range(len(items) + len(statements) + 1):
            if not result.has_errors:
                break
            diags = self._map(result.errors, built)
            pieces = [*items.values(), *statements]
            owners = {id(d): _owner(d, pieces) for d in diags}
            broken = {id(p) for p in owners.values() if p is not None}
            if not broken:
                break
            for key, piece in list(items.items()):
                if id(piece) in broken:
                    del items[key]
                    self.set_aside[key] = piece
                    own = [d for d in diags if owners[id(d)] is piece]
                    replies.append(
                        Reply(
                            "warning",
                            f"{key} no longer checks; set aside until it does",
                            tuple(own),
                        )
                    )
            dropped = [p for p in statements if id(p) in broken]
            for piece in dropped:
                own = [d for d in diags if owners[id(d)] is piece]
                typed = piece.origin.text[max(piece.offset, 0) : piece.offset + len(piece.text)]
                replies.append(
                    Reply(
                        "warning",
                        f"dropped `{typed.strip()}`: it no longer checks",
                        tuple(own),
                    )
                )
            statements = [p for p in statements if id(p) not in broken]
            result, built = self.check(items, statements)
        self.items, self.statements = items, statements
        return replies

    def _restore(self) -> list[Reply]:
        """Definitions set aside earlier that check again come back."""
        replies = []
        for key, piece in list(self.set_aside.items()):
            items = {**self.items, key: piece}
            result, _ = self.check(items)
            if not result.has_errors:
                self.items = items
                del self.set_aside[key]
                replies.append(Reply("ok", f"{key} checks again; restored"))
        return replies

    def _statement(self, text: str, origin: SourceFile) -> list[Reply]:
        candidates = [Piece(text, origin, 0)]
        bare = not text.lstrip().startswith(("input ", "return ")) and not _assigns(text)
        if bare:
            prefix = f"{_IT} = "
            candidates.insert(0, Piece(prefix + text, origin, -len(prefix)))
        first: list[Diagnostic] = []
        for piece in candidates:
            body = [*self.statements, piece]
            result, built = self.check(statements=body)
            diags = self._map(result.errors, built)
            if any(d.code.startswith("E00") for d in diags):
                first = first or diags  # report the syntax errors of the likeliest reading
                continue
            if result.has_errors:
                return [_error(diags)]
            self.statements = body
            replies = self._types_of(result, built, piece)
            if bare and self.autorun:
                replies += self.evaluate(result.graph(SCRATCH))
            return replies
        return [_error(first)]

    def _types_of(self, result: CheckResult, built: _Built, piece: Piece) -> list[Reply]:
        start = next(s for s, p in built.segments if p is piece)
        end = start + len(piece.text)
        shown = []
        for file, span, text in result.hover:
            if file.path == self.path and start <= span.start < end:
                shown.append(f"{built.source[span.start : span.end]}: {text}")
        return [Reply("type", line) for line in dict.fromkeys(shown)] or [Reply("ok", "ok")]

    # -- running (JAX, imported on first use) ------------------------------------------------
    def evaluate(self, graph: Graph | None) -> list[Reply]:
        """The scratch model's last value on concrete inputs."""
        if graph is None:
            return []
        from nndsl.repl import execute

        try:
            arrays = execute.concrete_inputs(graph, self.inputs, self.sizes, self.seed)
            values = execute.run_graph(graph, arrays, self.seed)
        except execute.RunError as err:
            return [Reply("error", str(err))]
        return [
            Reply("value", execute.describe(o.name, v))
            for o, v in zip(graph.outputs, values, strict=True)
        ]

    # -- commands ----------------------------------------------------------------------------
    def command(self, text: str) -> list[Reply]:
        name, _, arg = text[1:].partition(" ")
        arg = arg.strip()
        handler = getattr(self, f"cmd_{name}", None)
        if handler is None:
            return [Reply("error", f"unknown command :{name}; :help lists them")]
        return handler(arg)  # type: ignore[no-any-return]

    def cmd_help(self, arg: str) -> list[Reply]:
        return [Reply("info", HELP)]

    def cmd_reset(self, arg: str) -> list[Reply]:
        self.items.clear()
        self.statements.clear()
        self.set_aside.clear()
        self.files.clear()
        self.inputs.clear()
        self.trained.clear()
        self.sizes = {"B": 2}
        return [Reply("ok", "session cleared")]

    def cmd_shape(self, arg: str) -> list[Reply]:
        if not arg:
            return [Reply("error", "usage: :shape EXPR")]
        saved, autorun, count = list(self.statements), self.autorun, self.count
        self.autorun = False
        try:
            return self._statement(arg, SourceFile(f"<input {count + 1}>", arg))
        finally:
            self.statements, self.autorun = saved, autorun

    def cmd_doc(self, arg: str) -> list[Reply]:
        from nndsl.ops import lookup

        spec = lookup(arg)
        if spec is not None:
            rule = f"\nShape: {spec.rule}" if spec.rule else ""
            return [Reply("info", f"{spec.signature().text()}\n\n{spec.doc()}{rule}")]
        for key, piece in self.items.items():
            if key.split(" ", 1)[1] == arg:
                return [Reply("info", piece.text)]
        return [Reply("error", f"no layer, function or definition named `{arg}`")]

    def _graph(self, name: str) -> Graph | list[Reply]:
        result, _ = self.check()
        graph = result.graph(name or None)
        if graph is None or (graph.name == SCRATCH and name != SCRATCH):
            names = sorted(result.program.graphs) if result.program else []
            models = ", ".join(n for n in names if n != SCRATCH) or "none"
            return [Reply("error", f"no model `{name}` with default arguments; models: {models}")]
        return graph

    def cmd_summary(self, arg: str) -> list[Reply]:
        graph = self._graph(arg)
        if not isinstance(graph, Graph):
            return graph
        from nndsl.ir.summary import summarize

        s = summarize(graph)
        width = max((len(f"{r.name} ({r.type})") for r in s.rows), default=0)
        lines = [
            f"{f'{r.name} ({r.type})':<{width}}  {r.output_shape}  {r.params:,}" for r in s.rows
        ]
        lines.append(
            f"Total params: {s.total:,} (trainable {s.trainable:,}, "
            f"non-trainable {s.non_trainable:,})"
        )
        lines.append(f"Forward FLOPs per example: {_flops_line(graph, self.sizes)}")
        return [Reply("info", "\n".join(lines))]

    def cmd_plot(self, arg: str) -> list[Reply]:
        """The model graph as a file (`nnrun plot`'s picture): HTML unless `-o` says .svg/.png."""
        words = arg.split()
        out = None
        if "-o" in words:
            at = words.index("-o")
            if at + 1 >= len(words):
                return [Reply("error", "usage: :plot [MODEL] [-o FILE.html|.svg|.png]")]
            out = words[at + 1]
            del words[at : at + 2]
        if len(words) > 1:
            return [Reply("error", "usage: :plot [MODEL] [-o FILE.html|.svg|.png]")]
        graph = self._graph(words[0] if words else "")
        if not isinstance(graph, Graph):
            return graph
        from nndsl.plot import write_model_picture
        from nndsl.plot.browser import BrowserError

        target = Path(out or f"{graph.name}.html")
        try:
            pic = write_model_picture(graph, target)
        except (ValueError, BrowserError, OSError) as err:
            return [Reply("error", str(err))]
        return [Reply("ok", f"wrote {target}: {pic.boxes} boxes; open it in a browser")]

    def cmd_params(self, arg: str) -> list[Reply]:
        """Weights by layer; with values' statistics once the model is trained."""
        if not arg:
            return [Reply("error", "usage: :params MODEL")]
        graph = self._graph(arg)
        if not isinstance(graph, Graph):
            return graph
        trained = self.trained.get(graph.name)
        if trained is not None:
            from nndsl.repl import execute

            return [Reply("info", execute.params_table(graph, trained))]
        rows = [
            (
                f"{node.path}/{w.name}",
                str(list(w.shape)),
                f"{w.size:,}",
                "" if w.updated else "frozen",
            )
            for node, w in graph.weights()
        ]
        if not rows:
            return [Reply("info", f"{graph.name} has no weights")]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [
            f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}  {d}".rstrip()
            for a, b, c, d in rows
        ]
        lines.append(
            f"untrained ({sum(w.size for _, w in graph.weights()):,} values); :train to fit"
        )
        return [Reply("info", "\n".join(lines))]

    def cmd_load(self, arg: str) -> list[Reply]:
        if not arg:
            return [Reply("error", "usage: :load FILE")]
        if arg not in self.files:
            self.files.append(arg)
        return self._load(arg)

    def _load(self, arg: str) -> list[Reply]:
        try:
            text = read_source(Path(arg))  # regular files only, size capped: never /dev/zero
        except (OSError, UnicodeDecodeError) as err:
            return [Reply("error", f"cannot read {arg}: {getattr(err, 'strerror', None) or err}")]
        parsed = parse(text, arg)
        if parsed.diagnostics:
            return [_error(parsed.diagnostics)]
        new = _pieces(parsed.module, parsed.file, base=Path(arg).parent)
        return self._define(new, replace_file=arg)

    def cmd_reload(self, arg: str) -> list[Reply]:
        if not self.files:
            return [Reply("error", "nothing loaded; :load FILE first")]
        replies = []
        for path in self.files:
            replies.append(Reply("info", f"reloading {path}"))
            replies += self._load(path)
        return replies

    def cmd_save(self, arg: str) -> list[Reply]:
        from nndsl.syntax.printer import format_source

        parts = arg.split()
        weights = "--weights" in parts
        parts = [p for p in parts if p != "--weights"]
        if len(parts) != 1:
            return [Reply("error", "usage: :save FILE [--weights]")]
        target = Path(parts[0])
        new_dir = target.resolve().parent
        text = "\n\n".join(_rebased(p, new_dir) for p in self.items.values()) + "\n"
        formatted = format_source(text) or text
        try:
            target.write_text(formatted, encoding="utf-8")
        except OSError as err:
            return [Reply("error", f"cannot write {target}: {err.strerror or err}")]
        replies = [Reply("ok", f"wrote {len(self.items)} definitions to {target}")]
        if weights:
            replies += self._save_weights(target)
        return replies

    def _save_weights(self, target: Path) -> list[Reply]:
        """`:save FILE --weights`: each trained model's weights beside FILE, as
        `FILE-stem.MODEL.safetensors` (what `nnrun predict --weights` reads)."""
        if not self.trained:
            return [Reply("warning", "no trained model: no weights written (:train first)")]
        from nndsl.repl import execute

        replies: list[Reply] = []
        for name, trained in self.trained.items():
            path = target.with_name(f"{target.stem}.{name}.safetensors")
            try:
                written = execute.save_weights(trained, path, source=str(target))
            except execute.RunError as err:
                return [*replies, Reply("error", str(err))]
            replies.append(Reply("ok", f"wrote the weights of {name} to {written}"))
        return replies

    def cmd_input(self, arg: str) -> list[Reply]:
        """`:input x = FILE.npy` feeds a file to input `x`; `:input D = 8` sizes a symbol;
        `:input x = random` goes back to random values; `:input` lists them."""
        if not arg:
            lines = [f"{k} = {v}" for k, v in self.inputs.items()]
            lines += [f"{k} = {v}" for k, v in self.sizes.items()]
            return [Reply("info", "\n".join(lines) + "\n(other inputs: random, seed 0)")]
        name, eq, value = (s.strip() for s in arg.partition("="))
        if not eq or not name.isidentifier() or not value:
            return [Reply("error", "usage: :input NAME = FILE.npy | :input SYMBOL = SIZE")]
        if value.isdigit():
            if int(value) < 1:
                return [Reply("error", "a size must be at least 1")]
            self.sizes[name] = int(value)
            return [Reply("ok", f"symbol {name} = {value} in concrete inputs")]
        if value == "random":
            self.inputs.pop(name, None)
            return [Reply("ok", f"{name}: random values")]
        if not Path(value).is_file():
            return [Reply("error", f"no such file: {value}")]
        self.inputs[name] = value
        return [Reply("ok", f"{name} = {value}")]

    def cmd_train(self, arg: str) -> list[Reply]:
        """`:train MODEL on DATA [EPOCHS]`: settings from the session's `train` section when it
        has one, otherwise cross entropy, Adam and accuracy; 1 epoch unless given."""
        m = _TRAIN_ARG.match(arg)
        if m is None:
            return [Reply("error", "usage: :train MODEL on DATA [EPOCHS]")]
        settings = self._train_settings()
        epochs = m["epochs"] or ("" if any(s.startswith("epochs") for s in settings) else "1")
        if epochs:
            settings = [s for s in settings if not s.startswith("epochs")] + [f"epochs = {epochs}"]
        body = "\n".join(f"    {s}" for s in settings)
        text = f"train {m['model']} on {m['data']} {{\n{body}\n}}"
        origin = SourceFile("<:train>", text)
        items = {k: p for k, p in self.items.items() if not k.startswith("train")}
        items["train"] = Piece(text, origin, 0)
        result, built = self.check(items)
        if result.has_errors or result.program is None or result.program.train is None:
            return [_error(self._map(result.errors, built))]
        config = result.program.train
        data = self.items.get(f"data {m['data']}")
        base = Path(data.origin.path).parent if data and _is_file(data.origin.path) else Path.cwd()
        from nndsl.repl import execute

        used = Reply("info", text)  # the settings this run uses, as a train section
        try:
            trained = execute.train(config, base, self.on_event)
        except execute.RunError as err:
            return [used, Reply("error", str(err))]
        self.trained[config.graph.name] = trained
        return [used, Reply("ok", trained.report())]

    def _train_settings(self) -> list[str]:
        piece = self.items.get("train")
        if piece is None:
            return list(_TRAIN_DEFAULTS)
        module = parse(piece.text, "<train>").module
        out = []
        for item in module.items:
            if isinstance(item, ast.TrainDef):
                entries = sorted((*item.settings, *item.sections), key=lambda n: n.span.start)
                out = [piece.text[s.span.start : s.span.end] for s in entries]
        return out or list(_TRAIN_DEFAULTS)

    def cmd_predict(self, arg: str) -> list[Reply]:
        """`:predict [MODEL] [FILE.npy]`: the (trained) model on a file or on the session's
        concrete inputs."""
        parts = arg.split()
        file = next((p for p in parts if p.endswith(".npy")), None)
        names = [p for p in parts if p != file]
        name = names[0] if names else (next(iter(self.trained)) if len(self.trained) == 1 else "")
        graph = self._graph(name)
        if not isinstance(graph, Graph):
            return graph
        from nndsl.repl import execute

        trained = self.trained.get(graph.name)
        inputs = dict(self.inputs)
        if file is not None:
            if len(graph.inputs) != 1:
                return [
                    Reply("error", f"{graph.name} takes {len(graph.inputs)} inputs; use :input")
                ]
            inputs[graph.inputs[0].name] = file
        replies = []
        if trained is None:
            replies.append(Reply("warning", f"{graph.name} is untrained: initial weights"))
        try:
            arrays = execute.concrete_inputs(graph, inputs, self.sizes, self.seed)
            values = execute.run_graph(graph, arrays, self.seed, trained)
        except execute.RunError as err:
            return [Reply("error", str(err))]
        for out, value in zip(graph.outputs, values, strict=True):
            replies.append(Reply("value", execute.describe(out.name, value, classes=True)))
        return replies

    def cmd_quit(self, arg: str) -> list[Reply]:
        raise EOFError


HELP = """\
Type definitions (const, block, model, data, import, train) or statements (input x: f32[B, 64],
h = x |> Dense(32)); the types of new tensors are shown at once. A bare expression also runs
on concrete inputs (random, seed 0, B = 2) and shows its values.
  :shape EXPR            the type of an expression, without keeping it
  :doc NAME              a layer's or definition's documentation
  :summary [MODEL]       layers, shapes and parameter counts
  :plot [MODEL] [-o F]   draw the model graph (F.html, .svg or .png; default MODEL.html)
  :params MODEL          weights (with statistics once trained)
  :input NAME = X.npy    feed a file to an input (NAME = random to undo; SYMBOL = N sizes a dim)
  :train MODEL on DATA [EPOCHS]   train (Ctrl-C stops after the current step)
  :predict [MODEL] [X.npy]        run the (trained) model
  :load FILE  :reload    add a file's definitions; read loaded files again
  :save FILE [--weights] write the definitions, formatted (data paths still valid there);
                         --weights: also each trained model's, as FILE.MODEL.safetensors
  :reset                 forget everything      :quit   leave (or Ctrl-D)"""


# -- helpers -------------------------------------------------------------------------------


def _pieces(module: ast.Module, origin: SourceFile, base: Path | None = None) -> dict[str, Piece]:
    """The module's items as pieces of `origin` (doc comments included). With `base`, a
    relative file import is made absolute so it still resolves from the session module."""
    text = origin.text
    out: dict[str, Piece] = {}
    for item in module.items:
        start = (
            _doc_start(text, item.span.start)
            if isinstance(item, ast.Definition)
            else item.span.start
        )
        piece = text[start : item.span.end]
        if base is not None and isinstance(item, ast.Import) and item.is_file:
            absolute = (base / item.path).resolve().as_posix()
            piece = piece.replace(f'"{item.path}"', f'"{absolute}"', 1)
        out[_item_key(item)] = Piece(piece, origin, start)
    return out


def _doc_start(text: str, start: int) -> int:
    """Back over the `##` lines right above a definition, so its doc comment stays with it."""
    line_start = text.rfind("\n", 0, start) + 1
    if text[line_start:start].strip():
        return start
    begin = line_start
    while begin > 0:
        prev = text.rfind("\n", 0, begin - 1) + 1
        if not text[prev : begin - 1].lstrip().startswith("##"):
            break
        begin = prev
    if begin == line_start:
        return start
    return begin + len(text[begin:]) - len(text[begin:].lstrip(" \t"))


def _item_key(item: ast.Item) -> str:
    if isinstance(item, ast.Definition):
        return f"{item.kind} {item.name.name}"
    if isinstance(item, ast.Const):
        return f"const {item.name.name}"
    if isinstance(item, ast.DataDef):
        return f"data {item.name.name}"
    if isinstance(item, ast.Import):
        return f"import {item.path}"
    return "train"


def _rebased(piece: Piece, new_dir: Path) -> str:
    """`piece`'s text with the relative paths its data source reads (`npz("d.npz")`) made
    relative to `new_dir` instead of the folder they were written for (the loaded file's,
    or the working folder for typed definitions), so a saved file reads the same data."""
    from nndsl.ops import lookup

    if not piece.text.lstrip().startswith("data"):
        return piece.text
    module = parse(piece.text, "<save>").module
    item = next((i for i in module.items if isinstance(i, ast.DataDef)), None)
    if item is None or not isinstance(item.source.func, ast.Name):
        return piece.text
    spec = lookup(item.source.func.ident.name)
    reads = getattr(spec, "reads", ())
    if spec is None or not reads:
        return piece.text
    old_dir = (
        Path(piece.origin.path).resolve().parent if _is_file(piece.origin.path) else Path.cwd()
    )
    if old_dir == new_dir:
        return piece.text
    edits: list[tuple[Span, str]] = []
    for i, a in enumerate(item.source.args):
        name = a.name.name if a.name else (spec.args[i].name if i < len(spec.args) else "")
        if name not in reads:
            continue
        values = a.value.items if isinstance(a.value, ast.ListLit) else (a.value,)
        for v in values:
            if isinstance(v, ast.StrLit) and v.value and not Path(v.value).is_absolute():
                moved = os.path.relpath(old_dir / v.value, new_dir)
                edits.append((v.span, '"' + Path(moved).as_posix().replace('"', '\\"') + '"'))
    text = piece.text
    for span, new in sorted(edits, key=lambda e: -e[0].start):
        text = text[: span.start] + new + text[span.end :]
    return text


def _is_file(path: str) -> bool:
    return not path.startswith("<")


def _assigns(text: str) -> bool:
    code = _strip_strings(text)
    return re.search(r"(?<![=!<>])=(?!=)", code) is not None


def _last_tensor(body: list[str]) -> str:
    for stmt in reversed(body):
        code = _strip_strings(stmt).strip()
        if code.startswith("input "):
            return code[6:].split(":")[0].strip()
        if _assigns(code):
            head = re.split(r"(?<![=!<>])=(?!=)", code, maxsplit=1)[0]
            return head.split(",")[-1].split(":")[0].strip()
    return "<missing>"


def _code(text: str) -> str:
    """`text` without its comments (a `#` outside a string starts one)."""
    return "\n".join(_strip_strings(line).split("#", 1)[0] for line in text.splitlines())


def _strip_strings(text: str) -> str:
    out, inside = [], False
    for ch in text:
        if ch == '"':
            inside = not inside
        elif not inside:
            out.append(ch)
    return "".join(out)


def _segment(built: _Built, offset: int) -> tuple[int, Piece] | None:
    for start, piece in built.segments:
        if start <= offset <= start + len(piece.text):
            return start, piece
    return None


def _move(span: Span, built: _Built, path: str) -> tuple[SourceFile, Span] | None:
    """Where a span of the session module lies in the user's text (None: synthesised code)."""
    seg = _segment(built, span.start)
    if seg is None:
        return None
    start, piece = seg
    limit = len(piece.origin.text)
    shift = piece.offset - start
    s = max(0, min(span.start + shift, limit))
    e = max(s, min(span.end + shift, piece.offset + len(piece.text), limit))
    return piece.origin, Span(s, e)


def _map_diagnostic(diag: Diagnostic, built: _Built, path: str) -> Diagnostic:
    """The same diagnostic, pointing into the user's input or file instead of the session
    module; a span in synthesised code falls back to the last statement."""
    if diag.file.path != path:
        return diag
    primary = _move(diag.primary.span, built, path)
    if primary is None:
        if not built.segments:
            return diag
        last = built.segments[-1][1]
        primary = last.origin, Span(last.offset, last.offset + len(last.text))
    file, span = primary
    secondary = []
    for lab in diag.secondary:
        if lab.file is not None and lab.file.path != path:
            secondary.append(lab)
            continue
        moved = _move(lab.span, built, path)
        if moved is not None:
            secondary.append(Label(moved[1], lab.text, None if moved[0] is file else moved[0]))
    fixes = []
    for fix in diag.fixes:
        moved = _move(fix.span, built, path)
        if moved is not None and moved[0] is file:
            fixes.append(Fix(moved[1], fix.text))
    return dataclasses.replace(
        diag,
        file=file,
        primary=Label(span, diag.primary.text, None),
        secondary=tuple(secondary),
        fixes=tuple(fixes),
    )


def _owner(diag: Diagnostic, pieces: Iterable[Piece]) -> Piece | None:
    """The piece a (mapped) diagnostic points into."""
    at = diag.primary.span.start
    for p in pieces:
        if diag.file is p.origin and p.offset <= at <= p.offset + len(p.text):
            return p
    return None


def _error(diags: Iterable[Diagnostic], kind: str = "error") -> Reply:
    ds = tuple(diags)
    return Reply(kind, render_plain(ds), ds)


def _flops_line(graph: Graph, sizes: dict[str, int]) -> str:
    """The FLOPs per example, with the symbolic dims `:input` set (the batch stays 1)."""
    from nndsl.ir.flops import batch_symbols, graph_flops

    batch = batch_symbols(graph)
    count = graph_flops(graph, {k: v for k, v in sizes.items() if k not in batch})
    return count.line(lambda first: f"set {first} with `:input {first} = N`")
