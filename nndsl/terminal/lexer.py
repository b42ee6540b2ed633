"""A Pygments lexer for `.nn`, for the REPL, rich output and the docs.

Keywords come from the grammar (`nndsl.syntax.keywords`) and names from the op registry, so
highlighting cannot drift from the language.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Text

from nndsl.ops import OpKind, iter_specs
from nndsl.shapes import DTYPES
from nndsl.syntax.keywords import KEYWORDS

_CONSTANTS = ("true", "false", "none")
_LAYERS = tuple(sorted(s.name for s in iter_specs(OpKind.LAYER)))
_FUNCTIONS = tuple(sorted(s.name for s in iter_specs() if s.kind is not OpKind.LAYER))


class NNLexer(RegexLexer):  # type: ignore[misc]
    name = "nndsl"
    aliases = ["nndsl", "nn"]
    filenames = ["*.nn"]

    tokens = {
        "root": [
            (r"\s+", Text),
            (r"##.*?$", String.Doc),
            (r"#.*?$", Comment.Single),
            (r'"(\\\\.|[^"\\\n])*"', String.Double),
            (words(_CONSTANTS, suffix=r"\b"), Keyword.Constant),
            (words(tuple(sorted(KEYWORDS - set(_CONSTANTS))), suffix=r"\b"), Keyword),
            (words(tuple(DTYPES), suffix=r"\b"), Keyword.Type),
            (words(("int", "float", "bool", "str"), suffix=r"\b"), Keyword.Type),
            (words(_LAYERS, suffix=r"\b"), Name.Class),
            (words(_FUNCTIONS, suffix=r"\b"), Name.Builtin),
            (r"[A-Z][A-Za-z0-9_]*", Name.Class),
            (r"[A-Za-z_][A-Za-z0-9_]*", Name),
            (
                r"[0-9]+\.[0-9]*([eE][+-]?[0-9]+)?|\.[0-9]+([eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+",
                Number.Float,
            ),
            (r"[0-9]+(_[0-9]+)*", Number.Integer),
            (r"\|>|==|!=|<=|>=|[-+*/@%<>=]", Operator),
            (r"[()\[\]{},:;.]", Punctuation),
        ]
    }
