"""Backends: lowerings of the checked IR. Each backend attaches implementations to op specs
by name through an `ImplTable`, so the specs in `nndsl.ops` stay the single source of truth."""

from nndsl.backend.errors import DataError
from nndsl.backend.table import ImplTable

__all__ = ["DataError", "ImplTable"]
