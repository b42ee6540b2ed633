"""Syntax: `.nn` text to a syntax tree with spans, reporting errors in words and recovering."""

from nndsl.syntax import ast
from nndsl.syntax.keywords import KEYWORDS
from nndsl.syntax.parser import ParseResult, parse

__all__ = ["KEYWORDS", "ParseResult", "ast", "parse"]
