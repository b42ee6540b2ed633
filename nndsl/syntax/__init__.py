"""Syntax: `.nn` text to a syntax tree with spans, reporting errors in words and recovering."""

from nndsl.syntax import ast
from nndsl.syntax.parser import ParseResult, parse

__all__ = ["ParseResult", "ast", "parse"]
