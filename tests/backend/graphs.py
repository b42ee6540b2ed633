"""Builds small IR graphs by hand from the op specs, standing in for the checker in tests."""

from __future__ import annotations

from collections.abc import Sequence

from nndsl.ir import Graph, GraphInput, GraphOutput, Node, OpCall, TrainConfig, Weight
from nndsl.ops import ArgValue, OpSpec, lookup
from nndsl.shapes import Dim, DType, TensorType
from nndsl.source import SourceFile, Span

SOURCE = SourceFile("test.nn", "model Test\n")


def tensor(*dims: int | str, dtype: DType = DType.F32) -> TensorType:
    return TensorType(dtype, tuple(Dim.of(d) for d in dims))


def spec(name: str) -> OpSpec:
    found = lookup(name)
    assert found is not None, name
    return found


def with_defaults(op: OpSpec, attrs: dict[str, ArgValue]) -> dict[str, ArgValue]:
    out: dict[str, ArgValue] = {}
    for a in op.args:
        if a.name in attrs:
            out[a.name] = attrs[a.name]
        elif not a.required:
            out[a.name] = a.default  # type: ignore[assignment]
        else:
            raise TypeError(f"{op.name}: missing {a.name}")
    return out


class GraphMaker:
    """`g = GraphMaker("mlp"); x = g.input("x", tensor("B", 4)); h = g.op("Dense", x, units=3)`."""

    def __init__(self, name: str = "Test", file: SourceFile = SOURCE) -> None:
        self.graph = Graph(name, {})
        self.file = file
        self._counts: dict[str, int] = {}

    def _value(self, type: TensorType) -> int:
        vid = len(self.graph.values)
        self.graph.values[vid] = type
        return vid

    def input(self, name: str, type: TensorType) -> int:
        vid = self._value(type)
        self.graph.inputs.append(GraphInput(name, vid, type, Span(0, 0)))
        return vid

    def op(self, name: str, *inputs: int, **attrs: ArgValue) -> int:
        op = spec(name)
        full = with_defaults(op, attrs)
        types = [self.graph.values[i] for i in inputs]
        out = op.output(full, types)
        base = name.lower()
        n = self._counts.get(base, 0)
        self._counts[base] = n + 1
        path = base if n == 0 else f"{base}_{n}"
        weights = tuple(
            Weight(
                w_name,
                tuple(_int(d) for d in w.shape),
                w.init,
                w.trainable,
                w.dtype,
                w.regularizer,
                w.constraint,
            )
            for w_name, w in op.weights(full, types).items()
        )
        vid = self._value(out)
        self.graph.nodes.append(
            Node(
                id=len(self.graph.nodes),
                op=op,
                attrs=full,
                inputs=tuple(inputs),
                output=vid,
                type=out,
                path=path,
                scope=(self.graph.name,),
                tensor_name=None,
                file=self.file,
                span=Span(0, 0),
                weights=weights,
            )
        )
        return vid

    def op_outputs(self, name: str, *inputs: int, **attrs: ArgValue) -> list[int]:
        """`op` for specs with several results (`LSTM(return_state = true)`): every result's
        value id, the node's `extra_outputs` filled in as the checker does."""
        first = self.op(name, *inputs, **attrs)
        node = self.graph.nodes[-1]
        types = node.op.outputs(node.attrs, [self.graph.values[i] for i in inputs])
        extra = tuple((self._value(t), t) for t in types[1:])
        fields = {f: getattr(node, f) for f in _NODE_FIELDS}
        self.graph.nodes[-1] = Node(**fields, extra_outputs=extra)
        return [first, *(vid for vid, _ in extra)]

    def output(self, name: str, vid: int) -> Graph:
        self.graph.outputs.append(GraphOutput(name, vid, self.graph.values[vid]))
        return self.graph


_NODE_FIELDS = (
    "id",
    "op",
    "attrs",
    "inputs",
    "output",
    "type",
    "path",
    "scope",
    "tensor_name",
    "file",
    "span",
    "weights",
)


def _int(d: Dim) -> int:
    n = d.as_int()
    assert n is not None, f"weight dim {d} is not concrete"
    return n


def call(name: str, **attrs: ArgValue) -> OpCall:
    op = spec(name)
    return OpCall(op, with_defaults(op, attrs), Span(0, 0))


def mlp(
    inputs: int = 4,
    hidden: int = 16,
    classes: int = 3,
    *,
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> Graph:
    g = GraphMaker("MLP")
    h = g.op("Dense", g.input("x", tensor("B", inputs)), units=hidden, activation="relu")
    if batch_norm:
        h = g.op("BatchNorm", h)
    if dropout:
        h = g.op("Dropout", h, rate=dropout)
    return g.output("logits", g.op("Dense", h, units=classes))


def train_config(
    graph: Graph,
    data_path: str,
    *,
    file: SourceFile | None = None,
    loss: OpCall | None = None,
    metrics: Sequence[OpCall] | None = None,
    optimizer: OpCall | None = None,
    epochs: int = 3,
    batch: int = 16,
    seed: int = 0,
    validation_split: float = 0.1,
    test_split: float = 0.2,
    x: str = "x",
    y: str = "y",
) -> TrainConfig:
    return TrainConfig(
        graph=graph,
        data_name="data",
        data=call("npz", path=data_path, x=x, y=y, test_split=test_split),
        loss=loss or call("cross_entropy", from_logits=True),
        optimizer=optimizer or call("adam", learning_rate=0.01),
        metrics=list(metrics if metrics is not None else [call("accuracy")]),
        epochs=epochs,
        batch=batch,
        seed=seed,
        validation_split=validation_split,
        file=file,
    )


def apply_op(
    name: str,
    *inputs: object,
    params: dict[str, object] | None = None,
    state: dict[str, object] | None = None,
    training: bool = False,
    key: object = None,
    **attrs: ArgValue,
) -> tuple[object, dict[str, object]]:
    """Run one implementation directly: (output, new_state)."""
    import jax.numpy as jnp

    from nndsl.backend.jax import ApplyCall, implementation

    op = spec(name)
    call = ApplyCall(
        attrs=with_defaults(op, attrs),
        inputs=[jnp.asarray(i) for i in inputs],
        params={k: jnp.asarray(v) for k, v in (params or {}).items()},
        state={k: jnp.asarray(v) for k, v in (state or {}).items()},
        training=training,
        key=key,
    )  # type: ignore[arg-type]
    return implementation(op)(call), call.new_state  # type: ignore[no-any-return]
