"""Source files and spans: every later phase speaks in character offsets."""

from __future__ import annotations

import bisect
from dataclasses import field

from nndsl.records import record, set_frozen_field


@record(frozen=True, slots=True)
class Span:
    """Half-open range `[start, end)` of character offsets into one source file."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.end < self.start:
            set_frozen_field(self, "end", self.start)

    def cover(self, other: Span) -> Span:
        return Span(min(self.start, other.start), max(self.end, other.end))

    def contains(self, offset: int) -> bool:
        return self.start <= offset < self.end or (self.start == self.end == offset)


@record(frozen=True, slots=True)
class Position:
    """1-based line and column, as people read them."""

    line: int
    column: int


@record(frozen=True)
class SourceFile:
    """The text of one `.nn` file and a lazily built line index."""

    path: str
    text: str
    _line_starts: list[int] = field(default_factory=list, repr=False, compare=False)

    def _starts(self) -> list[int]:
        if not self._line_starts:
            starts = [0]
            for i, ch in enumerate(self.text):
                if ch == "\n":
                    starts.append(i + 1)
            self._line_starts.extend(starts)
        return self._line_starts

    def position(self, offset: int) -> Position:
        offset = max(0, min(offset, len(self.text)))
        starts = self._starts()
        line = bisect.bisect_right(starts, offset) - 1
        return Position(line + 1, offset - starts[line] + 1)

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        starts = self._starts()
        if line < 1 or line > len(starts):
            return ""
        begin = starts[line - 1]
        end = starts[line] - 1 if line < len(starts) else len(self.text)
        return self.text[begin:end]

    @property
    def line_count(self) -> int:
        return len(self._starts())
