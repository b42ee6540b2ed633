"""IR data: what the checker hands to the backend, the summary and (later) the exporters.

Every value is produced by exactly one node (graph inputs are values without a node); every
node carries the op spec, its resolved arguments, its output type, the stable path that names
its weights, and the source span it came from.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import field, replace
from typing import TYPE_CHECKING, ClassVar

from nndsl.ir.loss import LossExpr
from nndsl.ops import ArgValue, OpKind, OpSpec
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
    # A collapsed `repeat` (op `REPEAT`): its body and count; `path` is its first instance's.
    repeat: Repeat | None = None

    def instance_path(self, i: int) -> str:
        """The path of a repeat node's `i`-th instance (0-based): `res_3` for the fourth of
        `repeat 4 Res(...)`."""
        assert self.repeat is not None
        head, _, _ = self.path.rpartition("/")
        name = self.repeat.name(i)
        return f"{head}/{name}" if head else name

    def instance_weight_paths(self, i: int) -> dict[str, str]:
        """For a repeat node's instance `i`: the path of each body node with weights (as
        `body.weights()` names it, relative to the instance) -> its absolute path."""
        rep = self.repeat
        assert rep is not None
        if not rep.flat:
            where = self.instance_path(i)
            return {n.path: f"{where}/{n.path}" for n, _ in rep.body.weights()}
        head = self.path.rpartition("/")[0]
        moved = Graph(rep.body.name, {}, nodes=rep.instance_nodes(i)).weights()
        return {
            n.path: _join(head, m.path)
            for (n, _), (m, _) in zip(rep.body.weights(), moved, strict=True)
        }

    def instances(self) -> Iterator[tuple[int, str]]:
        """(index, path) of each instance; for a plain node, (0, its path) once."""
        if self.repeat is None:
            yield 0, self.path
            return
        for i in range(self.repeat.count):
            yield i, self.instance_path(i)

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


class _RepeatSpec(OpSpec):
    """The op of a collapsed `repeat`: no backend implements it by name; each one lowers the
    node's `Repeat` (a scan or an unrolled loop in JAX, unrolled copies in ONNX)."""

    name: ClassVar[str] = "Repeat"
    kind: ClassVar[OpKind] = OpKind.LAYER


REPEAT: OpSpec = _RepeatSpec()


@record(frozen=True, slots=True)
class Repeat:
    """`repeat N Block(...)` whose block maps a type to itself, held once with its count; or a
    flat repeat (`names`, `per`): of a layer or of a `repeat N { ... }` body carrying one
    tensor to the same type.

    `body` is one instance: one input, one output of the same type, node paths and scopes
    relative to the instance. Instance `i` is named `base` numbered `start + i` (`base`,
    `base_1`, ...), as the unrolled copies were, so weight paths are per instance. A flat
    repeat's instances are named node by node instead (`instance_nodes`)."""

    body: Graph
    count: int
    base: str
    start: int
    block: str  # the block's name, for summaries: "Res x 64"
    remat: bool = False
    # A flat repeat: of a layer (`repeat 4 Dense(64)`) or of statements (`repeat 4 { ... }`).
    # Its instances have no path of their own: each names its nodes beside the repeat, as the
    # unrolled copies did (`dense`, `dense_1`, ...). Body node paths are relative to the
    # repeat's parent path, named as in instance 0; `names` gives, for the first component of
    # each, its base and number in instance 0, and `per` how many numbers of each base one
    # instance takes: instance `i` numbers on by `i * per`. Empty for a repeated block.
    names: tuple[tuple[str, str, int], ...] = ()
    per: tuple[tuple[str, int], ...] = ()

    @property
    def flat(self) -> bool:
        return bool(self.per)

    def name(self, i: int) -> str:
        """Instance `i`'s name; for a flat repeat, that of its first node (`dense_3`)."""
        if self.per:
            i *= dict(self.per)[self.base]
        return numbered(self.base, self.start + i)

    def shifted(self, offsets: Mapping[str, int]) -> Repeat:
        """This repeat (a node of a flat repeat's body) in a later instance of that one:
        its names numbered on by `offsets` (base -> numbers)."""
        if not offsets:
            return self
        body = self.body
        if self.per:  # the repeats beside this one's nodes are beside the outer one's too
            nodes = [
                replace(n, repeat=n.repeat.shifted(offsets))
                if n.repeat is not None and "/" not in n.path
                else n
                for n in body.nodes
            ]
            body = replace(body, nodes=nodes)
        return replace(
            self,
            body=body,
            start=self.start + offsets.get(self.base, 0),
            names=tuple((k, b, n + offsets.get(b, 0)) for k, b, n in self.names),
        )

    def instance_nodes(self, i: int) -> list[Node]:
        """A flat repeat's body nodes as instance `i` has them (paths relative to the
        repeat's parent path): each first path component numbered on."""
        assert self.per
        offsets = {b: i * n for b, n in self.per}
        table = {k: (b, n) for k, b, n in self.names}
        nodes = []
        for node in self.body.nodes:
            head, sep, rest = node.path.partition("/")
            b, n = table[head]
            name = numbered(b, n + offsets.get(b, 0))
            scope = node.scope
            if scope and scope[0] == head:  # a block instance's own scope
                scope = (name, *scope[1:])
            rep = node.repeat
            if rep is not None and not sep:  # a repeat beside this one: numbered on alike
                rep = rep.shifted(offsets)
            nodes.append(replace(node, path=name + sep + rest, scope=scope, repeat=rep))
        return nodes


def numbered(base: str, n: int) -> str:
    """The `n`-th path made of `base` under one prefix: `dense`, `dense_1`, ..."""
    return base if n == 0 else f"{base}_{n}"


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
        """Every weight with the node that owns it; a repeat's per instance, with the
        instance's node (its path: `res_3/dense`). Linear in the instances that have weights."""
        for node in self.nodes:
            if node.repeat is None:
                for w in node.weights:
                    yield node, w
                continue
            body = node.repeat.body
            if not body.has_weights():
                continue
            if node.repeat.flat:
                head = node.path.rpartition("/")[0]
                for i in range(node.repeat.count):
                    nodes = node.repeat.instance_nodes(i)
                    for inner, w in Graph(body.name, {}, nodes=nodes).weights():
                        yield instance_node(inner, head, node.scope), w
                continue
            for i, path in node.instances():
                for inner, w in body.weights():
                    yield instance_node(inner, path, (*node.scope, node.repeat.name(i))), w

    def has_weights(self) -> bool:
        return any(
            n.weights or (n.repeat is not None and n.repeat.body.has_weights()) for n in self.nodes
        )

    def walk(self) -> Iterator[Node]:
        """Every node, a repeat's body nodes once (after the repeat node)."""
        for node in self.nodes:
            yield node
            if node.repeat is not None:
                yield from node.repeat.body.walk()

    @property
    def stochastic(self) -> bool:
        return any(n.op.stochastic for n in self.walk())

    @property
    def has_repeats(self) -> bool:
        return any(n.repeat is not None for n in self.nodes)

    def _sizes(self, itemsize: bool) -> tuple[int, int]:
        """(updated, not updated) parameter elements or bytes; a repeat's body times its
        count, so a repeat of 10**12 copies costs no more to count than one of 8."""
        updated = other = 0
        for node in self.nodes:
            if node.repeat is not None:
                u, o = node.repeat.body._sizes(itemsize)
                updated += u * node.repeat.count
                other += o * node.repeat.count
                continue
            for w in node.weights:
                n = w.size * (w.dtype.itemsize if itemsize else 1)
                if w.updated:
                    updated += n
                else:
                    other += n
        return updated, other

    def param_counts(self) -> tuple[int, int]:
        """(trainable, non-trainable) parameter counts, as Keras counts them."""
        return self._sizes(False)

    def param_bytes(self) -> tuple[int, int]:
        return self._sizes(True)

    def node_total(self) -> int:
        """Nodes of the graph with every repeat unrolled (arithmetic, not by unrolling)."""
        return sum(
            1 if n.repeat is None else n.repeat.count * n.repeat.body.node_total()
            for n in self.nodes
        )

    def unrolled(self, only: Sequence[int] | None = None) -> Graph:
        """The same graph with its repeats (or those of `only`, by node id) as copies of
        their bodies: plain nodes with per-instance paths, fresh value ids after the graph's
        own, numbered in order. For consumers that need every node (ONNX export, a summary
        with `--expand`); linear in the unrolled size, which the caller bounds."""
        if not self.has_repeats:
            return self
        values = dict(self.values)
        counter = [max(values, default=-1) + 1]
        nodes: list[Node] = []
        select = None if only is None else set(only)

        def run(
            body: list[Node], env: dict[int, int], prefix: str, scope: tuple[str, ...], top: bool
        ) -> None:
            for node in body:
                path = _join(prefix, node.path)
                sc = (*scope, *node.scope)
                rep = node.repeat
                if rep is not None and (select is None or not top or node.id in select):
                    carry = env[node.inputs[0]]
                    head = path.rpartition("/")[0]
                    for i in range(rep.count):
                        inner = {rep.body.inputs[0].value: carry}
                        if rep.flat:  # named beside the repeat, in its scope
                            run(rep.instance_nodes(i), inner, head, sc, False)
                        else:
                            run(
                                rep.body.nodes,
                                inner,
                                _join(head, rep.name(i)),
                                (*sc, rep.name(i)),
                                False,
                            )
                        carry = inner[rep.body.outputs[0].value]
                    env[node.output] = carry
                    if node.tensor_name is not None:  # `h = h |> repeat 4 Dense(8)`: the last
                        for k in range(len(nodes) - 1, -1, -1):
                            if nodes[k].output == carry:
                                if nodes[k].tensor_name is None:
                                    nodes[k] = replace(nodes[k], tensor_name=node.tensor_name)
                                break
                    continue
                outs = list(node.output_ids)
                if not top:
                    for k, t in enumerate(node.output_types):
                        outs[k] = counter[0]
                        values[counter[0]] = t
                        counter[0] += 1
                env.update(zip(node.output_ids, outs, strict=True))
                nodes.append(
                    replace(
                        node,
                        id=len(nodes),
                        inputs=tuple(env.get(v, v) for v in node.inputs),
                        output=outs[0],
                        extra_outputs=tuple(
                            (o, t) for o, (_, t) in zip(outs[1:], node.extra_outputs, strict=True)
                        ),
                        path=path,
                        scope=sc,
                    )
                )

        top: dict[int, int] = {i.value: i.value for i in self.inputs}
        run(self.nodes, top, "", (), True)
        outputs = [replace(o, value=top.get(o.value, o.value)) for o in self.outputs]
        return replace(self, nodes=nodes, values=values, outputs=outputs)


def _join(head: str, tail: str) -> str:
    if not head:
        return tail
    return f"{head}/{tail}" if tail else head


def instance_node(node: Node, prefix: str, scope: tuple[str, ...]) -> Node:
    """A body node as one instance of its repeat: path and scope made absolute."""
    return replace(node, path=_join(prefix, node.path), scope=(*scope, *node.scope))


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
