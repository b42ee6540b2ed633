from __future__ import annotations

import pytest

from nndsl.backend import ImplTable
from nndsl.backend.jax import implementation, missing_implementations
from nndsl.backend.jax.registry import TABLE
from nndsl.ops import OpKind, iter_specs


def test_every_spec_has_a_jax_implementation() -> None:
    assert missing_implementations() == []


def test_every_implementation_names_a_spec() -> None:
    names = {s.name for s in iter_specs()}
    implementation("Dense")  # loads the table
    assert set(TABLE._impls) <= names


def test_table_rejects_unknown_names_and_foreign_kinds() -> None:
    table: ImplTable[object] = ImplTable("test", kinds=[OpKind.LAYER])  # type: ignore[type-var]
    with pytest.raises(KeyError, match="no op spec"):
        table.register("NoSuchLayer")
    with pytest.raises(ValueError, match="not handled"):
        table.register("adam")
    table.register("Dense")(print)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="twice"):
        table.register("Dense")(print)  # type: ignore[arg-type]
    assert "Flatten" in table.missing() and "Dense" not in table.missing()
    assert "adam" not in table.missing()


def test_missing_implementation_is_a_clear_error() -> None:
    table: ImplTable[object] = ImplTable("onnx")  # type: ignore[type-var]
    with pytest.raises(NotImplementedError, match="onnx backend has no implementation"):
        table.get("Dense")
