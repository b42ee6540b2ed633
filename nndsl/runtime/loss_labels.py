"""The labels a `loss = <expression>` reads, from a data source's arrays, checked.

Labels are typed as the output they label (`y` the first output's, `y_<output>` that output's):
an array with that many values per example, numeric and finite, is reshaped to the output's
shape and cast to its dtype; anything else is one `DataError` line naming the array.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from nndsl.backend import DataError
from nndsl.ir import TrainConfig
from nndsl.ops import ArgValue
from nndsl.shapes import format_shape


def expression_labels(
    config: TrainConfig, arrays: Mapping[str, np.ndarray], n: int, where: str
) -> dict[str, np.ndarray]:
    """The labels the expression reads, by its names for them; `{}` when it reads none."""
    from nndsl.runtime.data import check_labels  # data.py imports this module

    expr = config.loss_expr
    assert expr is not None
    named = any(k.startswith("y/") for k in arrays)  # labels keyed by output (lists, groups)
    types = {o.name: o.type for o in config.graph.outputs}
    out: dict[str, np.ndarray] = {}
    for name, output in expr.labels().items():
        key = f"y/{output}" if named else "y"
        what = f"the labels `{name}` (of output `{output}`)"
        if key not in arrays:
            raise DataError(f"{where}: no array for {what}")
        y = arrays[key]
        if y.ndim == 0 or y.shape[0] != n:
            raise DataError(
                f"{where}: {what} have {y.shape[0] if y.ndim else 0} rows, but the inputs have {n}"
            )
        if y.dtype.kind not in "biuf":
            raise DataError(f"{where}: {what} have dtype {y.dtype}, not numeric")
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            raise DataError(f"{where}: {what} contain NaN or infinite values")
        rule = expr.label_losses.get(name)
        if rule is not None:  # read as that loss's labels: class ids or one-hot, ...
            out[name] = check_labels(
                config.graph, rule, y, n, where, key, what=f"the labels `{name}`", output=output
            )
            continue
        t = types[output]
        dims = [d.as_int() for d in t.shape[1:]]
        known = all(d is not None for d in dims)
        if known and math.prod(dims) != math.prod(y.shape[1:]):  # type: ignore[arg-type]
            raise DataError(
                f"{where}: {what} have shape {list(y.shape)}, but the loss expression reads "
                f"them as {format_shape(t.shape)}, the output's type"
            )
        if known:
            y = y.reshape((n, *dims))  # type: ignore[arg-type]
        out[name] = np.ascontiguousarray(y.astype(t.dtype.numpy_name))
    return out


def without_unread_labels(
    config: TrainConfig, attrs: Mapping[str, ArgValue]
) -> dict[str, ArgValue]:
    """An npz source's arguments with no labels to load when the expression reads none (an
    autoencoder's data has no `y`)."""
    out = dict(attrs)
    if config.loss_expr is not None and not config.loss_expr.labels() and "y" in out:
        out["y"] = ()
    return out


__all__ = ["expression_labels", "without_unread_labels"]
