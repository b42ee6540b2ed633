"""FLOPs arithmetic shared by the specs' `flops` rules, as `padding.py` is for window sizes.

The convention, for every rule: forward pass, inference mode (dropout and noise are free,
batch norm uses its moving statistics); one multiply-add is 2 FLOPs (as Keras's and
TensorFlow's profilers and MFU calculations count it), and every other arithmetic operation
on one element (an add, a compare, an exp, a max) is 1. Counts are polynomials (`Dim`) in the
types' symbolic dims; the IR (`nndsl.ir.flops`) sets the batch to 1 and sums.

Per-element costs that are not 1, so that they are stated once:
"""

from __future__ import annotations

from collections.abc import Iterable

from nndsl.ops.registry import lookup
from nndsl.ops.spec import ArgValue, Attrs
from nndsl.shapes import Dim, TensorType

SOFTMAX = 5  # max, subtract, exp, sum, divide
# In inference the moving statistics fold into one scale and one shift per channel (as XLA
# computes it): a multiply and an add per element.
BATCH_NORM = 2
LAYER_NORM = 8  # mean (1), variance (subtract, square, add: 3), normalise (2), scale, shift
RMS_NORM = 5  # square, add, divide (the root is per row), scale, and the epsilon add
UNIT_NORM = 3  # square, add, divide


def prod(dims: Iterable[Dim | int]) -> Dim:
    total = Dim.const(1)
    for d in dims:
        total = total * d
    return total


def numel(t: TensorType) -> Dim:
    return t.numel()


def positions(t: TensorType) -> Dim:
    """The rows of a layer acting on the last axis: every element but the last axis's."""
    return prod(t.shape[:-1])


def activation_flops(name: ArgValue, out: TensorType) -> Dim:
    """An `activation = "name"` argument applied to `out`: its per-element cost (0 for
    "linear", 1 for most, `SOFTMAX` for softmax and relatives)."""
    spec = lookup(name) if isinstance(name, str) else None
    per = spec.flops_per_element if spec is not None else None
    return numel(out) * (per or 0)


def kernel_layer(attrs: Attrs, out: TensorType, macs: Dim, bias: bool | None = None) -> Dim:
    """A kernel layer's FLOPs: `macs` multiply-adds, the bias (one add per output element
    when `use_bias`, or `bias`) and the activation (when the layer has an `activation`)."""
    total = macs * 2
    has_bias = bool(attrs.get("use_bias", False)) if bias is None else bias
    if has_bias:
        total = total + numel(out)
    if "activation" in attrs:
        total = total + activation_flops(attrs["activation"], out)
    return total
