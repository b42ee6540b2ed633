"""The checker: names, arguments, dtypes and symbolic shapes, producing the IR."""

from nndsl.check.program import Analysis, analyze

__all__ = ["Analysis", "analyze"]
