"""Diagnostics: the one shape in which every phase reports a problem."""

from nndsl.diagnostics.codes import CODES, Code
from nndsl.diagnostics.model import Diagnostic, Fix, Label, Severity, has_errors
from nndsl.diagnostics.render import render_plain

__all__ = ["CODES", "Code", "Diagnostic", "Fix", "Label", "Severity", "has_errors", "render_plain"]
