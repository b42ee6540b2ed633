"""Graph -> pure `init` and `apply` functions over plain dict pytrees.

Params and state are `dict[node path] -> dict[weight name] -> array`; nodes without weights
have no entry. `apply` is pure and jittable; each node runs under `jax.named_scope` so
profiles and HLO point back to the `.nn` source.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from nndsl.backend.jax.initializers import initialize
from nndsl.backend.jax.registry import ApplyCall, implementation
from nndsl.backend.jax.repeat import run_repeat
from nndsl.backend.jax.stacking import weight_index
from nndsl.ir import Graph, Node
from nndsl.ir.graph import Weight
from nndsl.ops import ArgValue, OpKind, attrs as op_attrs, configured
from nndsl.shapes import Dim

Tree = dict[str, dict[str, jax.Array]]
Inputs = Mapping[str, Any] | Sequence[Any]


def stable_hash(text: str) -> int:
    """CRC-32 of the UTF-8 text: the same in every process, unlike `hash()`."""
    return zlib.crc32(text.encode("utf-8"))


def weight_key(key: jax.Array, path: str, name: str) -> jax.Array:
    """A weight's key depends only on its path, so editing other layers leaves it unchanged."""
    return jax.random.fold_in(key, stable_hash(f"{path}/{name}"))


@dataclass(frozen=True, eq=False)
class CompiledModel:
    """Hashable by identity, so bound methods can be jit-static."""

    graph: Graph

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.graph.inputs]

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self.graph.outputs]

    def init(self, key: jax.Array) -> tuple[Tree, Tree]:
        """(params, state): trainable weights and non-trainable state, from `key`."""
        params: Tree = {}
        state: Tree = {}
        for node, w in self.graph.weights():
            value = initialize(
                w.init, weight_key(key, node.path, w.name), w.shape, jnp.dtype(w.dtype.numpy_name)
            )
            (params if w.trainable else state).setdefault(node.path, {})[w.name] = value
        return params, state

    def apply(
        self,
        params: Tree,
        state: Tree,
        inputs: Inputs,
        *,
        training: bool = False,
        key: jax.Array | None = None,
    ) -> tuple[list[jax.Array], Tree]:
        """Run the graph; returns (outputs in declaration order, the updated state)."""
        outputs, new_state, _ = self.apply_with_losses(
            params, state, inputs, training=training, key=key
        )
        return outputs, new_state

    def apply_with_losses(
        self,
        params: Tree,
        state: Tree,
        inputs: Inputs,
        *,
        training: bool = False,
        key: jax.Array | None = None,
    ) -> tuple[list[jax.Array], Tree, jax.Array]:
        """`apply`, plus the sum of the layers' added losses (activity penalties, ...)."""
        env = self._bind_inputs(inputs)
        sizes = self._symbol_sizes(env)
        outputs, new_state, total = run_graph(self.graph, params, state, env, sizes, training, key)
        return outputs, new_state, total

    def penalty(self, params: Tree) -> jax.Array:
        """The weight regularizers' penalties, summed (zero when there are none). `params`
        per copy or packed (`backend.jax.stacking`): a stacked weight's penalty is its
        copies' penalties summed."""
        terms: list[jax.Array] = []
        for (path, name), (w, stacked) in self._regularized(params, "regularizer"):
            reg = configured(w.regularizer, OpKind.REGULARIZER)
            assert reg is not None
            fn = implementation(reg.name)
            value = params[path][name]
            if stacked:
                terms.append(jnp.sum(jax.vmap(lambda v, fn=fn, reg=reg: fn(reg, v))(value)))
            else:
                terms.append(fn(reg, value))
        return sum(terms, jnp.zeros((), jnp.float32))

    def constrain(self, params: Tree) -> Tree:
        """Weights projected by their constraints; applied after every optimizer update (to
        each copy of a stacked weight)."""
        out = params
        for (path, name), (w, stacked) in self._regularized(params, "constraint"):
            con = configured(w.constraint, OpKind.CONSTRAINT)
            assert con is not None
            fn = implementation(con.name)
            if out is params:
                out = {p: dict(ws) for p, ws in params.items()}
            value = params[path][name]
            out[path][name] = (
                jax.vmap(lambda v, fn=fn, con=con: fn(con, v))(value) if stacked else fn(con, value)
            )
        return out

    def _regularized(
        self, params: Tree, field: str
    ) -> list[tuple[tuple[str, str], tuple[Weight, bool]]]:
        """The entries of `params` whose weight training updates and has a `field`
        (`regularizer`, `constraint`), in the graph's weight order (a packed repeat's where
        its first copy's weights are). As Keras: a frozen layer's weights have none."""
        if not any(getattr(w, field) is not None and w.updated for _, w in self._all_weights()):
            return []
        index = weight_index(self.graph)
        return [
            ((path, name), index[(path, name)])
            for path, ws in params.items()
            for name in ws
            if (path, name) in index
            and getattr(index[(path, name)][0], field) is not None
            and index[(path, name)][0].updated
        ]

    def _all_weights(self) -> Iterator[tuple[Node, Weight]]:
        """Each distinct weight once: a repeat's body weights once, not per copy."""
        for node in self.graph.nodes:
            if node.repeat is None:
                for w in node.weights:
                    yield node, w
            else:
                yield from node.repeat.body.weights()

    def _symbol_sizes(self, env: Mapping[int, jax.Array]) -> dict[str, Dim]:
        """Sizes of the symbolic dims (`B`, `T`) in this trace, read off the input arrays, so
        arguments such as `Reshape([T, 1])` become concrete when the graph runs."""
        sizes: dict[str, Dim] = {}
        for i in self.graph.inputs:
            for declared, actual in zip(i.type.shape, env[i.value].shape, strict=False):
                name = declared.as_symbol()
                # under `jax.export`'s shape polymorphism a size is a symbolic expression:
                # arguments that need it stay symbolic (and fail there, with the size named)
                if name is not None and isinstance(actual, int):
                    sizes.setdefault(name, Dim.const(actual))
        return sizes

    def _bind_inputs(self, inputs: Inputs) -> dict[int, jax.Array]:
        declared = self.graph.inputs
        if isinstance(inputs, Mapping):
            unknown = set(inputs) - {i.name for i in declared}
            missing = [i.name for i in declared if i.name not in inputs]
            if unknown or missing:
                raise ValueError(
                    f"model {self.graph.name} takes inputs {self.input_names}, got {sorted(inputs)}"
                )
            values = [inputs[i.name] for i in declared]
        else:
            values = list(inputs)
            if len(values) != len(declared):
                raise ValueError(
                    f"model {self.graph.name} takes {len(declared)} input(s), got {len(values)}"
                )
        return {i.value: jnp.asarray(v) for i, v in zip(declared, values, strict=True)}


def run_graph(
    graph: Graph,
    params: Tree,
    state: Tree,
    env: dict[int, jax.Array],
    sizes: Mapping[str, Dim],
    training: bool,
    key: jax.Array | None,
) -> tuple[list[jax.Array], Tree, jax.Array]:
    """Run `graph`'s nodes on `env` (its inputs' values by id): (outputs, updated state, sum
    of added losses). A repeat node runs its body per instance (`backend.jax.repeat`)."""
    added: list[jax.Array] = []
    new_state: Tree = {path: dict(ws) for path, ws in state.items()}
    for node in graph.nodes:
        if node.repeat is not None:
            out, losses = run_repeat(
                node, params, state, new_state, env, sizes, training, key, run_graph
            )
            env[node.output] = out
            added.extend(losses)
            continue
        node_key = None
        # At inference only a draw kept on (`inference = "sample"`) takes the key.
        if (
            node.op.stochastic
            and key is not None
            and (training or node.attrs.get("inference") == "sample")
        ):
            node_key = jax.random.fold_in(key, node.id)
        call = ApplyCall(
            attrs=_concrete_attrs(node.attrs, sizes) if sizes else node.attrs,
            inputs=[env[v] for v in node.inputs],
            params=params.get(node.path, {}),
            state=state.get(node.path, {}),
            training=training and not node.frozen,  # a frozen layer: inference mode
            key=node_key,
        )
        with jax.named_scope(node.scope_name):
            result = implementation(node.op)(call)
            results = tuple(result) if node.extra_outputs else (result,)
            activity = configured(
                op_attrs.declared(node.attrs, "activity_regularizer", None), OpKind.REGULARIZER
            )
            if activity is not None:
                penalize = implementation(activity.name)
                # Keras 3 divides each output's penalty by its batch size.
                call.add_loss(
                    sum(penalize(activity, r) / (r.shape[0] if r.ndim else 1) for r in results)
                )
        for vid, value in zip(node.output_ids, results, strict=True):
            env[vid] = value
        if call.new_state:
            new_state.setdefault(node.path, {}).update(call.new_state)
        added.extend(call.losses)
    total = sum(added, jnp.zeros((), jnp.float32))
    return [env[o.value] for o in graph.outputs], new_state, total


def _concrete(value: ArgValue, sizes: Mapping[str, Dim]) -> ArgValue:
    if isinstance(value, Dim):
        n = value.subst(sizes).as_int()
        return value if n is None else n
    if isinstance(value, tuple):
        return tuple(_concrete(v, sizes) for v in value)
    return value


def _concrete_attrs(attrs: Mapping[str, ArgValue], sizes: Mapping[str, Dim]) -> dict[str, ArgValue]:
    return {k: _concrete(v, sizes) for k, v in attrs.items()}


def compile_graph(graph: Graph) -> CompiledModel:
    """Check every op has a JAX implementation now, rather than mid-trace."""
    for node in graph.walk():
        if node.repeat is None:
            implementation(node.op)
    return CompiledModel(graph)
