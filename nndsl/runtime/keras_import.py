"""Keras 3 weights onto an nndsl model (`nnrun import-keras`).

Reads a `.keras` archive (a zip of `config.json`, `model.weights.h5`, `metadata.json`) or a bare
`.weights.h5`. Nothing from the archive is executed: `config.json` is parsed as JSON only, and a
`Lambda` layer or any custom (non-Keras) object in it is refused by name before a weight is read.

Keras 3 stores a model's variables as `layers/<key>/vars/<i>` where `<key>` is the layer's class
in snake case, numbered per class in `model.layers` order (`conv2d`, `conv2d_1`, ...), and `<i>`
the order the layer created its variables in (Dense/Conv: kernel, bias; BatchNormalization:
gamma, beta, moving_mean, moving_variance). nndsl declares each op's weights in that same order
and is channels-last like Keras, so kernels need no transposition; every shape is checked.

Which Keras layer is which nndsl node is decided by structure, not by position alone: Keras's
`model.layers` order sorts by depth, so a ResNet's shortcut conv comes after the main path's
first two, while nndsl lists nodes in the order they are written. With a `.keras` archive, both
graphs are reduced to their layers with weights (an edge when one feeds the other through
weightless ops only) and matched level by level on (kind, weight shapes, matched inputs). A bare
`.weights.h5` carries no graph, so the nndsl graph is put in Keras's `model.layers` order (Keras's
own depth-then-traversal rule) and matched per class; that relies on the nndsl model having the
same weightless ops between layers, as the stdlib's Keras-equivalent models do.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from nndsl.ir import Graph, Node

CONFIG_LIMIT = 64 << 20  # bytes of config.json read at most: a real one is a few MB
_FEW = 4  # names shown per list in an error line


class KerasImportError(Exception):
    """A source that cannot be read or does not fit the model; one line for the user."""


@dataclass
class KerasLayer:
    """A Keras layer with variables: its name, class, h5 group and arrays in variable order."""

    name: str
    kind: str  # the class in snake case, as Keras names its h5 groups
    group: str
    arrays: list[np.ndarray]
    preds: list[str] = field(default_factory=list)  # layers feeding it (from config.json)

    def describe(self) -> str:
        shapes = " ".join(str(list(a.shape)) for a in self.arrays)
        return f"{self.name} ({self.kind}) {shapes}".rstrip()


@dataclass
class KerasSource:
    """What was read: the layers with variables, and the dataflow when there is a config."""

    path: Path
    layers: list[KerasLayer]
    graph: dict[str, list[str]] | None  # every layer's inputs by name; None for a bare .h5
    inputs: list[str]  # the model's input layers, in order (config only)


def snake_case(name: str) -> str:
    """Keras's `naming.to_snake_case`: how a class names its layers' h5 groups."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


# -- reading ----------------------------------------------------------------------------------


def read_source(path: str | Path) -> KerasSource:
    """The layers with variables of a `.keras` archive or a `.weights.h5` file."""
    path = Path(path)
    if not path.is_file():
        raise KerasImportError(f"{path}: no such file")
    h5py = _h5py()
    if zipfile.is_zipfile(path):
        return _read_archive(path)
    if not h5py.is_hdf5(path):
        raise KerasImportError(
            f"{path}: neither a Keras 3 .keras archive (zip) nor a .weights.h5 (HDF5) file"
        )
    with open(path, "rb") as f:
        layers = _read_h5(path, f, None)
    return KerasSource(path, layers, None, [])


def _h5py() -> Any:
    try:
        import h5py
    except ImportError:
        raise KerasImportError(
            "reading Keras weights needs h5py: pip install 'nndsl[keras]'"
        ) from None
    return h5py


def _read_archive(path: Path) -> KerasSource:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "config.json" not in names:
                raise KerasImportError(f"{path}: not a Keras 3 .keras archive (no config.json)")
            if "model.weights.h5" not in names:
                sharded = "model.weights.json" in names
                raise KerasImportError(
                    f"{path}: no model.weights.h5 in the archive"
                    + (" (sharded weights are not supported)" if sharded else "")
                )
            info = zf.getinfo("config.json")
            if info.file_size > CONFIG_LIMIT:
                raise KerasImportError(f"{path}: config.json is larger than {CONFIG_LIMIT} bytes")
            try:
                config = json.loads(zf.read("config.json"))
            except (ValueError, RecursionError) as exc:
                raise KerasImportError(f"{path}: config.json is not valid JSON ({exc})") from None
            refuse_code(path, config)
            order, graph, inputs = _model_layers(path, config)
            # in memory: h5py seeks back and forth, and a zip member rereads from its start
            weights = io.BytesIO(zf.read("model.weights.h5"))
            layers = _read_h5(path, weights, order)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise KerasImportError(f"{path}: not a readable .keras archive ({exc})") from None
    for layer in layers:
        layer.preds = graph.get(layer.name, [])
    return KerasSource(path, layers, graph, inputs)


def refuse_code(path: Path, config: Any) -> None:
    """Refuse a config that would need code to load: a Lambda layer, a lambda, or any class or
    function from outside Keras (a custom layer, activation, initializer...)."""
    for obj in _dicts(config):
        cls = obj.get("class_name")
        if not isinstance(cls, str):
            continue
        name = obj.get("name") or _inner_name(obj) or cls
        if cls in ("Lambda", "__lambda__"):
            raise KerasImportError(
                f"{path}: the model has a Lambda layer `{name}` (Python code); it is not run, "
                "and import-keras refuses it: write it in the .nn model instead"
            )
        module = obj.get("module")
        registered = obj.get("registered_name")
        custom = ">" in cls or (isinstance(registered, str) and ">" in registered)
        if isinstance(module, str) and module != "keras" and not module.startswith("keras."):
            custom = True
        if custom:
            what = obj.get("config") if cls == "function" else cls
            raise KerasImportError(
                f"{path}: the model uses a custom object `{what}` (from {module or 'outside'} "
                "Keras), whose code is not run; import-keras refuses it"
            )


def _dicts(obj: Any) -> Iterator[dict[str, Any]]:
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _inner_name(obj: Mapping[str, Any]) -> str | None:
    config = obj.get("config")
    if isinstance(config, dict) and isinstance(config.get("name"), str):
        return str(config["name"])
    return None


def _model_layers(
    path: Path, config: Any
) -> tuple[list[tuple[str, str]], dict[str, list[str]], list[str]]:
    """[(layer name, class)] in `model.layers` order, each layer's inputs, the input layers."""
    if not isinstance(config, dict):
        raise KerasImportError(f"{path}: config.json is not a Keras model config")
    cls = config.get("class_name")
    body = config.get("config")
    if cls not in ("Functional", "Sequential", "Model") or not isinstance(body, dict):
        raise KerasImportError(
            f"{path}: the archive holds a `{cls}`, not a Functional or Sequential model"
        )
    entries = body.get("layers")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise KerasImportError(f"{path}: config.json has no list of layers")
    order: list[tuple[str, str]] = []
    graph: dict[str, list[str]] = {}
    previous: str | None = None  # a Sequential's chain
    for entry in entries:
        layer_cls = entry.get("class_name")
        name = entry.get("name") or _inner_name(entry)
        if not isinstance(layer_cls, str) or not isinstance(name, str):
            raise KerasImportError(f"{path}: config.json has a layer without a class or name")
        if layer_cls in ("Functional", "Sequential", "Model"):
            raise KerasImportError(
                f"{path}: layer `{name}` is a nested {layer_cls} model; nested models are not "
                "supported yet (save the inner model on its own)"
            )
        if cls == "Sequential":
            if layer_cls == "InputLayer":  # not in a Sequential's `layers`
                graph[name] = []
                previous = name
                continue
            if previous is None:  # built without an Input: its first layer takes the input
                previous = "<input>"
                graph[previous] = []
            graph[name] = [previous]
            previous = name
        else:
            graph[name] = list(dict.fromkeys(_history(entry.get("inbound_nodes"))))
        order.append((name, layer_cls))
    if cls == "Sequential":
        inputs = [n for n, preds in graph.items() if not preds][:1]  # the first
    else:
        inputs = [str(i[0]) for i in _layer_refs(body.get("input_layers"))]
    return order, graph, inputs


def _history(inbound: Any) -> Iterator[str]:
    """The names of the layers whose tensors a config's `inbound_nodes` refer to."""
    for obj in _dicts(inbound):
        if obj.get("class_name") == "__keras_tensor__":
            hist = obj.get("config", {}).get("keras_history")
            if isinstance(hist, list) and hist and isinstance(hist[0], str):
                yield hist[0]


def _layer_refs(refs: Any) -> list[list[Any]]:
    if isinstance(refs, list) and refs and isinstance(refs[0], str):
        return [refs]
    return [r for r in refs or [] if isinstance(r, list) and r]


def _read_h5(
    path: Path, file: IO[bytes], order: Sequence[tuple[str, str]] | None
) -> list[KerasLayer]:
    """The layers with variables, in `order` when given (a config), else in h5 key order."""
    import h5py

    try:
        with h5py.File(file, "r") as f:
            root = f.get("layers")
            if not isinstance(root, h5py.Group):
                raise KerasImportError(
                    f"{path}: no `layers` group: not a Keras 3 weights file (a Keras 2 .h5 "
                    "must be re-saved with Keras 3)"
                )
            groups = {key: root[key] for key in root}
            by_name: dict[str, str] = {}
            for key, group in groups.items():
                vars_group = group.get("vars") if isinstance(group, h5py.Group) else None
                saved = vars_group.attrs.get("name") if vars_group is not None else None
                if isinstance(saved, bytes):
                    saved = saved.decode()
                if isinstance(saved, str):
                    by_name[saved] = key
            layers: list[KerasLayer] = []
            if order is None:
                names = {key: name for name, key in by_name.items()}
                for key in sorted(groups, key=_kind_and_index):
                    arrays = _arrays(groups[key])
                    if arrays:
                        kind = _kind_and_index(key)[0]
                        layers.append(
                            KerasLayer(names.get(key, key), kind, f"layers/{key}", arrays)
                        )
                return layers
            counters: dict[str, int] = {}
            for name, cls in order:
                kind = snake_case(cls)
                index = counters.get(kind, -1) + 1
                counters[kind] = index
                key = by_name.get(name, kind if index == 0 else f"{kind}_{index}")
                if key not in groups:
                    raise KerasImportError(
                        f"{path}: model.weights.h5 has no group layers/{key} for layer `{name}`"
                    )
                arrays = _arrays(groups[key])
                if arrays:
                    layers.append(KerasLayer(name, kind, f"layers/{key}", arrays))
            return layers
    except KerasImportError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise KerasImportError(f"{path}: cannot read the weights ({exc})") from None


def _arrays(group: Any) -> list[np.ndarray]:
    """A layer's variables: its own `vars/0..n`, then its sublayers' (an RNN's cell), by key."""
    import h5py

    out: list[np.ndarray] = []
    if not isinstance(group, h5py.Group):
        return out
    own = group.get("vars")
    if isinstance(own, h5py.Group):
        for key in sorted(own, key=lambda k: int(k) if k.isdigit() else -1):
            item = own[key]
            if isinstance(item, h5py.Dataset):
                out.append(np.asarray(item[()]))
    for key in sorted(group):
        if key != "vars":
            out.extend(_arrays(group[key]))
    return out


def _kind_and_index(key: str) -> tuple[str, int]:
    m = re.fullmatch(r"(.+?)_(\d+)", key)
    return (m.group(1), int(m.group(2))) if m else (key, 0)


# -- matching ---------------------------------------------------------------------------------


@dataclass
class Match:
    """Keras layer name -> nndsl node, and what did not fit."""

    pairs: list[tuple[KerasLayer, Node]] = field(default_factory=list)
    keras_left: list[KerasLayer] = field(default_factory=list)
    nndsl_left: list[Node] = field(default_factory=list)


def convert(graph: Graph, source: KerasSource) -> dict[str, dict[str, np.ndarray]]:
    """The nndsl weights `{node path: {weight name: array}}` from `source`, every one of them
    matched to a Keras variable of the same shape, every Keras variable used; otherwise a
    `KerasImportError` listing what did not match (names and shapes on both sides)."""
    graph = graph.unrolled()  # Keras has a layer per copy of a repeated block
    match = _match_graph(graph, source) if source.graph is not None else _match_order(graph, source)
    problems: list[str] = []
    out: dict[str, dict[str, np.ndarray]] = {}
    for layer, node in match.pairs:
        if [a.shape for a in layer.arrays] != [w.shape for w in node.weights]:
            problems.append(f"keras {layer.describe()} vs nndsl {_describe(node)}")
            continue
        weights = out.setdefault(node.path, {})
        for array, w in zip(layer.arrays, node.weights, strict=True):
            if array.dtype.kind not in "fiub":
                raise KerasImportError(
                    f"{source.path}: {layer.group}: variables of dtype {array.dtype} cannot be "
                    f"read into {node.path}/{w.name}"
                )
            # np.array, not ascontiguousarray: that makes a 0-d variable (a count) 1-d
            weights[w.name] = np.array(array, dtype=w.dtype.numpy_name, order="C")
    if problems or match.keras_left or match.nndsl_left:
        raise KerasImportError(_mismatch_line(source.path, graph, match, problems))
    return out


def _describe(node: Node) -> str:
    shapes = " ".join(str(list(w.shape)) for w in node.weights)
    return f"{node.path} ({node.op.name}) {shapes}"


def _mismatch_line(path: Path, graph: Graph, match: Match, problems: list[str]) -> str:
    parts = []
    if problems:
        parts.append(f"{_layers(len(problems))} with other shapes: " + _few(problems))
    if match.keras_left:
        described = [k.describe() for k in match.keras_left]
        parts.append(f"{_layers(len(described))} of Keras unmatched: " + _few(described))
    if match.nndsl_left:
        described = [_describe(n) for n in match.nndsl_left]
        parts.append(f"{_layers(len(described))} of nndsl unmatched: " + _few(described))
    return f"{path}: weights do not fit {graph.name}: " + "; ".join(parts)


def _layers(n: int) -> str:
    return f"{n} layer{'s' if n != 1 else ''}"


def _few(items: list[str]) -> str:
    more = f", and {len(items) - _FEW} more" if len(items) > _FEW else ""
    return ", ".join(items[:_FEW]) + more


def _kind(node: Node) -> str:
    return snake_case(node.op.name)


def _weighted_preds(
    order: Sequence[Any], preds: Mapping[Any, Sequence[Any]], weighted: set[Any]
) -> dict[Any, set[Any]]:
    """For each node of `order` (inputs before the nodes they feed): the nearest nodes with
    weights, or the model's inputs, that feed it through weightless ops only."""
    passes: dict[Any, set[Any]] = {}  # what a node hands on: itself, or what feeds it
    feeders: dict[Any, set[Any]] = {}
    for n in order:
        found: set[Any] = set()
        for p in preds.get(n, ()):
            found |= passes.get(p, {p})
        feeders[n] = found
        passes[n] = {n} if n in weighted or not preds.get(n) else found
    return feeders


def _levels(order: Sequence[Any], wpreds: Mapping[Any, set[Any]]) -> dict[Any, int]:
    level: dict[Any, int] = {}
    for n in order:
        level[n] = 1 + max((level.get(p, 0) for p in wpreds[n]), default=0)
    return level


def _match_graph(graph: Graph, source: KerasSource) -> Match:
    assert source.graph is not None
    keras_preds = source.graph
    keras_by_name = {layer.name: layer for layer in source.layers}
    keras_order = _topological(list(keras_preds), keras_preds)
    k_wpreds = _weighted_preds(keras_order, keras_preds, set(keras_by_name))
    k_weighted = [n for n in keras_order if n in keras_by_name]

    producer = {vid: node.id for node in graph.nodes for vid in node.output_ids}
    input_ids = {gi.value: f"input:{i}" for i, gi in enumerate(graph.inputs)}
    nn_preds: dict[Any, list[Any]] = {}
    for node in graph.nodes:
        nn_preds[node.id] = [producer.get(v, input_ids.get(v)) for v in node.inputs]
    nodes = {node.id: node for node in graph.nodes}
    nn_weighted_ids = {node.id for node in graph.nodes if node.weights}
    n_wpreds = _weighted_preds(list(nodes), nn_preds, nn_weighted_ids)
    n_weighted = [node.id for node in graph.nodes if node.weights]

    # inputs: Keras's input layers by position, as the nndsl model's inputs
    mapped: dict[Any, Any] = {name: f"input:{i}" for i, name in enumerate(source.inputs)}
    k_level = _levels(k_weighted, k_wpreds)
    n_level = _levels(n_weighted, n_wpreds)
    by_level_k: dict[int, list[str]] = defaultdict(list)
    by_level_n: dict[int, list[int]] = defaultdict(list)
    for k in k_weighted:
        by_level_k[k_level[k]].append(k)
    for n in n_weighted:
        by_level_n[n_level[n]].append(n)

    unmatched = object()

    def k_inputs(k: str) -> frozenset[Any]:  # as nndsl ids, so far as they are matched
        return frozenset(mapped.get(p, unmatched) for p in k_wpreds[k])

    def n_inputs(n: int) -> frozenset[Any]:
        return frozenset(n_wpreds[n])

    match = Match()
    for level in sorted(set(by_level_k) | set(by_level_n)):
        ks, ns = list(by_level_k[level]), list(by_level_n[level])
        # exact fits first (kind, shapes, inputs), then same kind and inputs (a shape error)
        for strict in (True, False):
            for k in list(ks):
                layer = keras_by_name[k]
                for n in ns:
                    node = nodes[n]
                    if layer.kind != _kind(node) or k_inputs(k) != n_inputs(n):
                        continue
                    if strict and [a.shape for a in layer.arrays] != [
                        w.shape for w in node.weights
                    ]:
                        continue
                    match.pairs.append((layer, node))
                    mapped[k] = n
                    ks.remove(k)
                    ns.remove(n)
                    break
        match.keras_left.extend(keras_by_name[k] for k in ks)
        match.nndsl_left.extend(nodes[n] for n in ns)
    return match


def _topological(names: list[str], preds: Mapping[str, Sequence[str]]) -> list[str]:
    """`names` with every layer after its inputs (a config lists them so; checked here)."""
    done: set[str] = set()
    out: list[str] = []
    for root in names:
        stack: list[tuple[str, bool]] = [(root, False)]
        while stack:
            n, expanded = stack.pop()
            if n in done:
                continue
            if expanded:
                done.add(n)
                out.append(n)
                continue
            stack.append((n, True))
            stack.extend((p, False) for p in reversed(preds.get(n, ())) if p not in done)
    return out


def keras_layer_order(graph: Graph) -> list[Node]:
    """The graph's nodes in the order Keras's `Functional.layers` would list them: by depth
    from the outputs (deepest first), ties by first visit of a depth-first walk from the
    outputs (Keras's `map_graph`)."""
    producer = {vid: node for node in graph.nodes for vid in node.output_ids}
    first_seen: dict[int, int] = {}
    post: list[Node] = []
    finished: set[int] = set()
    for out in graph.outputs:
        stack: list[tuple[Node, bool]] = []
        if out.value in producer:
            stack.append((producer[out.value], False))
        while stack:
            node, expanded = stack.pop()
            if expanded:
                if node.id not in finished:
                    finished.add(node.id)
                    post.append(node)
                continue
            if node.id in finished:
                continue
            first_seen.setdefault(node.id, len(first_seen))
            stack.append((node, True))
            parents = [producer[v] for v in node.inputs if v in producer]
            stack.extend((p, False) for p in reversed(parents) if p.id not in finished)
    depth: dict[int, int] = {}
    for node in reversed(post):
        d = depth.setdefault(node.id, 0)
        for v in node.inputs:
            if v in producer:
                p = producer[v].id
                depth[p] = max(depth.get(p, 0), d + 1)
    return sorted(post, key=lambda n: (-depth[n.id], first_seen[n.id]))


def _match_order(graph: Graph, source: KerasSource) -> Match:
    """A bare weights file: the k-th Keras layer of a class is the k-th nndsl node of that
    op in Keras's layer order."""
    keras_by_kind: dict[str, list[KerasLayer]] = defaultdict(list)
    for layer in source.layers:
        keras_by_kind[layer.kind].append(layer)
    nn_by_kind: dict[str, list[Node]] = defaultdict(list)
    for node in keras_layer_order(graph):
        if node.weights:
            nn_by_kind[_kind(node)].append(node)
    match = Match()
    for kind in sorted(set(keras_by_kind) | set(nn_by_kind)):
        ks, ns = keras_by_kind[kind], nn_by_kind[kind]
        match.pairs.extend(zip(ks, ns, strict=False))
        match.keras_left.extend(ks[len(ns) :])
        match.nndsl_left.extend(ns[len(ks) :])
    return match


def import_keras(
    graph: Graph, source: str | Path
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, dict[str, np.ndarray]]]:
    """(params, state) for `graph` from a Keras 3 file, split as `save_checkpoint` takes them."""
    weights = convert(graph, read_source(source))
    params: dict[str, dict[str, np.ndarray]] = {}
    state: dict[str, dict[str, np.ndarray]] = {}
    for node, w in graph.weights():
        (params if w.trainable else state).setdefault(node.path, {})[w.name] = weights[node.path][
            w.name
        ]
    return params, state
