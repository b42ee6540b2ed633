"""The front end in one call: text in, diagnostics and a checked program out. Never raises.

CLI, REPL, language server and exporters all come through here, so every consumer sees the
same parse and the same checks.
"""

from __future__ import annotations

from dataclasses import field
from pathlib import Path

from nndsl.check import analyze
from nndsl.check.modules import Reader, read_text
from nndsl.diagnostics import Diagnostic, Label, has_errors
from nndsl.ir import Graph, Program
from nndsl.records import record
from nndsl.source import SourceFile, Span


@record
class CheckResult:
    file: SourceFile
    diagnostics: list[Diagnostic]
    program: Program | None
    hover: list[tuple[SourceFile, Span, str]] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return has_errors(self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    def graph(self, model: str | None = None) -> Graph | None:
        """The named model's graph; by default the trained one, else the only one."""
        if self.program is None:
            return None
        if model is not None:
            if self.program.train is not None and self.program.train.graph.name == model:
                return self.program.train.graph
            return self.program.graphs.get(model)
        if self.program.train is not None:
            return self.program.train.graph
        if len(self.program.graphs) == 1:
            return next(iter(self.program.graphs.values()))
        return None


def check_source(text: str, path: str = "<input>", *, read: Reader = read_text) -> CheckResult:
    """Parse and check `text`. A crash inside nndsl becomes an E9999 diagnostic."""
    try:
        analysis = analyze(text, path, read)
    except RecursionError:
        return _internal(text, path, "the program nests too deeply to check")
    except Exception as exc:  # the contract: user input never produces a traceback
        import traceback

        result = _internal(text, path, f"internal error: {exc!r}")
        result.diagnostics[0] = Diagnostic(
            **{
                **result.diagnostics[0].__dict__,
                "internal_traceback": "".join(traceback.format_exception(exc)),
            }
        )
        return result
    return CheckResult(analysis.scope.file, analysis.diagnostics, analysis.program, analysis.hover)  # type: ignore[arg-type]


def check_file(path: str | Path, *, read: Reader = read_text) -> CheckResult:
    """Check a file on disk; an unreadable file is reported as a diagnostic."""
    p = Path(path)
    try:
        text = read(p)
    except (OSError, UnicodeDecodeError) as err:
        file = SourceFile(str(path), "")
        return CheckResult(
            file,
            [Diagnostic("E0103", f"cannot read `{path}`: {err}", Label(Span(0, 0)), file)],
            None,
        )
    return check_source(text, str(path), read=read)


def _internal(text: str, path: str, message: str) -> CheckResult:
    file = SourceFile(path, text)
    diag = Diagnostic(
        "E9999",
        message,
        Label(Span(0, 0), "while checking this file"),
        file,
        help="this is a bug in nndsl; please report it with this file",
    )
    return CheckResult(file, [diag], None)
