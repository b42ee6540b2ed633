"""Data sources declared with `data name = source(...)`; the runtime loads them."""

from __future__ import annotations

from nndsl.ops.registry import register
from nndsl.ops.spec import Arg, OpKind, OpSpec


class DataSource(OpSpec):
    kind = OpKind.DATA
    family = "data"
    inputs = ()


@register
class Npz(DataSource):
    """Arrays from a NumPy `.npz` file, split into train and test sets.

    The path is relative to the `.nn` file that declares it. Rows are shuffled with the
    training seed before the split.
    """

    name = "npz"
    args = (
        Arg("path", "str", doc="the .npz file, relative to this .nn file"),
        Arg("x", "str", "x", "key of the inputs array"),
        Arg("y", "str", "y", "key of the labels array"),
        Arg(
            "test_split",
            "float",
            0.2,
            "fraction held out for the final test",
            min=0.0,
            max=1.0,
            max_exclusive=True,
        ),
    )
    example = 'data digits = npz("data/digits.npz", x = "images", y = "labels")'
