"""Shared by the parser-equivalence tests: the `.nn` corpus, random mutations of it, and a
whole parse's outcome (tree with spans and syntax diagnostics) to compare."""

from __future__ import annotations

import random
from pathlib import Path

from nndsl.syntax import parser

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(
    [*ROOT.glob("examples/*.nn"), *ROOT.glob("stdlib/*.nn"), *ROOT.glob("tests/ui/**/*.nn")]
)
PIECES = [*"(){}[],:=.;|>+-*/<!#\"' \n\tab1_", "==", "|>", "1.", "model", "input", "->", "'x'"]


def outcome(text: str) -> tuple[str, list[tuple[str, str, int, int]]]:
    result = parser.parse(text, "t.nn")
    diags = [
        (d.code, d.message, d.primary.span.start, d.primary.span.end) for d in result.diagnostics
    ]
    return repr(result.module), diags


def mutate(rng: random.Random, text: str) -> str:
    """1-4 random insertions, deletions or replacements of syntax pieces."""
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(text) + 1)
        op = rng.random()
        if op < 0.4:
            text = text[:i] + rng.choice(PIECES) + text[i:]
        elif op < 0.8:
            text = text[:i] + text[i + rng.randint(1, 3) :]
        else:
            text = text[:i] + rng.choice(PIECES) + text[i + 1 :]
    return text
