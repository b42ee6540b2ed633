"""Errors a backend raises for problems in the user's inputs, not in nndsl itself."""

from __future__ import annotations


class DataError(Exception):
    """A data source that cannot feed the model; the message is one line meant for the user."""
