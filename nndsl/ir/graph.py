"""IR data: what the checker hands to the backend, the summary and (later) the exporters.

Every value is produced by exactly one node (graph inputs are values without a node); every
node carries the op spec, its resolved arguments, its output type, the stable path that names
its weights, and the source span it came from.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import field
from typing import TYPE_CHECKING

from nndsl.ir.loss import LossExpr
from nndsl.ops import ArgValue, OpSpec
from nndsl.records import record
from nndsl.shapes import DType, TensorType
from nndsl.source import SourceFile, Span

if TYPE_CHECKING:
    from nndsl.ir.distribute import Distribution


@record(frozen=True, slots=True)
class Weight:
    """A weight with a concrete shape; `trainable = False` for state such as moving means.

    `frozen`: a parameter that training leaves as it is (`trainable = false` on its layer, or
    `freeze` in `train`); it stays a parameter (the layer reads it as one) but counts as
    non-trainable, gets no gradient update and no optimizer state."""

    name: str
    shape: tuple[int, ...]
    init: ArgValue  # an initializer name or a `Configured` one
    trainable: bool = True
    dtype: DType = DType.F32
    regularizer: ArgValue = None  # penalty added to the training loss
    constraint: ArgValue = None  # projection applied after each optimizer update
    frozen: bool = False

    @property
    def updated(self) -> bool:
        """Whether training changes it by gradient steps (Keras's `trainable_weights`)."""
        return self.trainable and not self.frozen

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@record(frozen=True)
class Node:
    id: int
    op: OpSpec
    attrs: Mapping[str, ArgValue]
    inputs: tuple[int, ...]  # value ids
    output: int  # value id
    type: TensorType
    path: str  # stable, unique: "mlp_block_1/dense"; keys the node's weights
    scope: tuple[str, ...]  # model, then block instances: ("DigitsNet", "mlp_block_1")
    tensor_name: str | None  # the user's name for the result, if it has one
    file: SourceFile
    span: Span
    weights: tuple[Weight, ...] = ()
    # Results after the first, for ops with several (`LSTM(return_state = true)`).
    extra_outputs: tuple[tuple[int, TensorType], ...] = ()

    @property
    def frozen(self) -> bool:
        """A frozen layer (`trainable = false`) runs in inference mode, as in Keras: a frozen
        BatchNormalization normalises with its moving statistics and leaves them unchanged."""
        return any(w.frozen for w in self.weights)

    @property
    def output_ids(self) -> tuple[int, ...]:
        return (self.output, *(vid for vid, _ in self.extra_outputs))

    @property
    def output_types(self) -> tuple[TensorType, ...]:
        return (self.type, *(t for _, t in self.extra_outputs))

    @property
    def scope_name(self) -> str:
        """The `jax.named_scope` label, so profiles and HLO map back to the `.nn` source."""
        line = self.file.position(self.span.start).line
        tensor = f"[{self.tensor_name}]" if self.tensor_name else ""
        return f"{'/'.join(self.scope)}/{self.path.rsplit('/', 1)[-1]}{tensor}@L{line}"


@record(frozen=True, slots=True)
class GraphInput:
    name: str
    value: int
    type: TensorType
    span: Span


@record(frozen=True, slots=True)
class GraphOutput:
    name: str
    value: int
    type: TensorType


@record
class Graph:
    """One instantiated model: concrete parameter values, symbolic dims such as `B` remain."""

    name: str
    args: dict[str, ArgValue]
    inputs: list[GraphInput] = field(default_factory=list)
    outputs: list[GraphOutput] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    values: dict[int, TensorType] = field(default_factory=dict)

    def weights(self) -> Iterator[tuple[Node, Weight]]:
        for node in self.nodes:
            for w in node.weights:
                yield node, w

    def param_counts(self) -> tuple[int, int]:
        """(trainable, non-trainable) parameter counts, as Keras counts them."""
        trainable = sum(w.size for _, w in self.weights() if w.updated)
        frozen = sum(w.size for _, w in self.weights() if not w.updated)
        return trainable, frozen

    def param_bytes(self) -> tuple[int, int]:
        trainable = sum(w.size * w.dtype.itemsize for _, w in self.weights() if w.updated)
        frozen = sum(w.size * w.dtype.itemsize for _, w in self.weights() if not w.updated)
        return trainable, frozen


@record(frozen=True)
class OpCall:
    """A resolved call of a loss, metric, optimizer or data source in a training section."""

    op: OpSpec
    attrs: Mapping[str, ArgValue]
    span: Span


@record(frozen=True, slots=True)
class InitWeights:
    """`init = "runs/Pre/model.safetensors"` in `train`: the weights training starts from,
    matched by path; `strict = false` skips a weight whose shape differs instead of failing."""

    path: str  # as written: relative to the model file's folder
    strict: bool = True
    span: Span = field(default_factory=lambda: Span(0, 0))


@record
class TrainConfig:
    """A checked `train` section: everything the runtime needs besides the arrays."""

    graph: Graph
    data_name: str
    data: OpCall
    loss: OpCall
    optimizer: OpCall
    metrics: list[OpCall]
    epochs: int = 10
    batch: int = 32
    seed: int = 0
    validation_split: float = 0.1
    shuffle: bool = True
    callbacks: list[OpCall] = field(default_factory=list)
    class_weight: tuple[float, ...] | None = None  # per class, multiplies per-example losses
    on_nonfinite: str = "stop"  # or "skip"
    precision: str = "float32"  # compute dtype: "bfloat16", "float16"
    steps_per_execution: int = 1  # 0: decided by measurement ("auto")
    file: SourceFile | None = None
    span: Span = field(default_factory=lambda: Span(0, 0))
    # A model with several outputs: the loss, its weight and the metrics of each trained output,
    # by output name, in output order (`loss` is then the first one's, `metrics` empty). Empty
    # for a model with one output, which `loss` and `metrics` train.
    losses: dict[str, OpCall] = field(default_factory=dict)
    loss_weights: dict[str, float] = field(default_factory=dict)
    output_metrics: dict[str, list[OpCall]] = field(default_factory=dict)
    init: InitWeights | None = None  # start from saved weights (fine-tuning)
    # `loss = <expression>`: the objective, a checked expression; `loss` is then a placeholder
    # (`mse`) nothing trains with, and `metrics`, `losses` are empty.
    loss_expr: LossExpr | None = None
    # `distribute { ... }`: the device mesh and the weights' layout (None: one device)
    distribute: Distribution | None = None


@record
class Program:
    """Everything the checker produced for one file."""

    file: SourceFile
    graphs: dict[str, Graph] = field(default_factory=dict)  # model name -> default instance
    train: TrainConfig | None = None
