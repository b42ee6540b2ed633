"""The `distribute { ... }` section of `train`, checked into a `Distribution` (E0901-E0906).

```
distribute {
    mesh = {"data": 4, "model": 2}          # axis -> size, in order; or devices = "all"
    batch = "data"                           # the axis the batch is split over
    shard = {"*/dense*/kernel": [_, "model"]}
    preset = "fsdp"                          # also split weights and optimizer state over `batch`
    device_memory = "16GB"
}
```

Everything that the declaration and the model decide is checked here, with spans; how many
devices there are is known only at run time (`nndsl.runtime.distribute`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from nndsl.check.report import Reporter, did_you_mean
from nndsl.check.values import ErrorVal, ScalarVal, Value
from nndsl.diagnostics import Label, Severity
from nndsl.ir import Graph, OpCall
from nndsl.ir.distribute import (
    ALL,
    PRESETS,
    Distribution,
    ShardRule,
    Spec,
    optimizer_state,
    per_device,
    rule_for,
    weight_path,
)
from nndsl.ir.summary import readable_bytes
from nndsl.source import SourceFile, Span
from nndsl.syntax import ast

SECTION = "distribute"
KEYS = ("mesh", "devices", "batch", "shard", "preset", "device_memory")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS.update({"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40})


def parse_size(text: str) -> int | None:
    """`"16GB"` -> 16 * 10^9, `"512MiB"` -> 512 * 2^20; None when `text` is not a size."""
    match = _SIZE.match(text)
    if match is None or match.group(2).lower() not in _UNITS:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


class _Checker:
    def __init__(
        self, rep: Reporter, file: SourceFile, evaluate: Callable[[ast.Expr], Value]
    ) -> None:
        self.rep, self.file, self.evaluate = rep, file, evaluate
        self.ok = True

    def error(self, code: str, message: str, span: Span, label: str, **kw: object) -> None:
        self.ok = False
        self.rep.error(code, message, self.file, span, label, **kw)  # type: ignore[arg-type]

    def int_value(self, e: ast.Expr, what: str) -> int | None:
        v = self.evaluate(e)
        if isinstance(v, ErrorVal):  # already reported
            self.ok = False
            return None
        if isinstance(v, ScalarVal) and v.kind == "int" and isinstance(v.value, int):
            if v.value >= 1:
                return v.value
            self.error("E0901", f"{what} must be at least 1", e.span, f"{v.value}")
            return None
        self.error("E0901", f"{what} is a whole number", e.span, "not an int")
        return None

    def mesh(self, s: ast.Setting) -> list[tuple[str, int, Span]] | None:
        if not isinstance(s.value, ast.DictLit) or not s.value.entries:
            self.error(
                "E0901",
                "`mesh` maps each axis name to its size",
                s.value.span,
                "not a dict of axes",
                help='e.g. `mesh = {"data": 4, "model": 2}`',
            )
            return None
        axes = []
        seen: dict[str, Span] = {}
        for entry in s.value.entries:
            if entry.key.name in seen:  # E0106 in an expression; here the dict is read as is
                self.error(
                    "E0901",
                    f"axis `{entry.key.name}` is declared twice",
                    entry.key.span,
                    "declared again here",
                    secondary=[Label(seen[entry.key.name], "first declared here")],
                )
                continue
            seen[entry.key.name] = entry.key.span
            n = self.int_value(entry.value, f"the size of axis `{entry.key.name}`")
            if n is not None:
                axes.append((entry.key.name, n, entry.key.span))
        return axes if len(axes) == len(s.value.entries) else None

    def axis(self, e: ast.Expr, axes: dict[str, int], what: str) -> str | None:
        if not isinstance(e, ast.StrLit):
            self.error(
                "E0901",
                f"{what} is a mesh axis name, as a string",
                e.span,
                "not a string",
                help='e.g. `batch = "data"`',
            )
            return None
        if e.value not in axes:
            self.error(
                "E0902",
                f"no mesh axis `{e.value}`",
                e.span,
                "not an axis of the mesh",
                help=did_you_mean(e.value, axes)
                or "the axes are " + ", ".join(f"`{a}`" for a in axes),
            )
            return None
        return e.value

    def spec(self, e: ast.Expr, axes: dict[str, int]) -> Spec | None:
        if not isinstance(e, ast.ListLit):
            self.error(
                "E0901",
                "a `shard` entry gives a mesh axis or `_` per dimension, as a list",
                e.span,
                "not a list",
                help='e.g. `"*/dense*/kernel": [_, "model"]`',
            )
            return None
        out: list[str | None] = []
        seen: dict[str, Span] = {}
        for item in e.items:
            if isinstance(item, ast.NoneLit) or (
                isinstance(item, ast.Name) and item.ident.name == "_"
            ):
                out.append(None)
                continue
            name = self.axis(item, axes, "each entry of a `shard` spec")
            if name is None:
                return None
            if name in seen:
                self.error(
                    "E0906",
                    f"axis `{name}` splits two dimensions of the same weight",
                    item.span,
                    "used again here",
                    secondary=[Label(seen[name], "first used here")],
                )
                return None
            seen[name] = item.span
            out.append(name)
        return tuple(out)


def check_distribute(
    rep: Reporter,
    file: SourceFile,
    section: ast.Section,
    graph: Graph | None,
    batch: int,
    batch_span: Span,
    optimizer: OpCall | None,
    evaluate: Callable[[ast.Expr], Value],
) -> Distribution | None:
    """The section checked against the model's weights and the batch; None after an error."""
    c = _Checker(rep, file, evaluate)
    values: dict[str, ast.Setting] = {}
    for s in section.settings:
        name = s.name.name
        if name not in KEYS:
            c.error(
                "E0901",
                f"unknown `distribute` setting `{name}`",
                s.name.span,
                "not a setting",
                help=did_you_mean(name, KEYS)
                or "settings are " + ", ".join(f"`{k}`" for k in KEYS),
            )
        elif name in values:
            c.error(
                "E0901",
                f"`{name}` is set twice",
                s.name.span,
                "set again here",
                secondary=[Label(values[name].name.span, "first set here")],
            )
        else:
            values[name] = s
    mesh: list[tuple[str, int, Span]] | None = None
    if "mesh" in values and "devices" in values:
        c.error(
            "E0901",
            "`mesh` and `devices` both give the mesh",
            values["devices"].name.span,
            "remove one",
            secondary=[Label(values["mesh"].name.span, "the mesh")],
        )
    elif "mesh" in values:
        mesh = c.mesh(values["mesh"])
    elif "devices" in values:
        d = values["devices"].value
        if isinstance(d, ast.StrLit):
            if d.value == "all":
                mesh = [("data", ALL, d.span)]
            else:
                c.error("E0901", '`devices` is "all" or a count', d.span, 'not "all"')
        elif (n := c.int_value(d, "`devices`")) is not None:
            mesh = [("data", n, d.span)]
    else:
        c.error(
            "E0901",
            "`distribute` needs a `mesh` or `devices`",
            section.name.span,
            "no mesh",
            help='add `mesh = {"data": 4}` or `devices = "all"`',
        )
    if mesh is None:
        _other_keys(c, values, {})
        return None
    axes = {a: n for a, n, _ in mesh}
    batch_axis = "data" if "data" in axes else mesh[0][0]
    if "batch" in values:
        batch_axis = c.axis(values["batch"].value, axes, "`batch`") or batch_axis
    preset, memory, rules = _other_keys(c, values, axes)
    if not c.ok:
        return None
    dist = Distribution(tuple((a, n) for a, n, _ in mesh), batch_axis, tuple(rules), preset, memory)
    n_batch = axes[batch_axis]
    if n_batch != ALL and batch % n_batch:
        c.error(
            "E0904",
            f"the batch of {batch} does not split over the {n_batch} devices of axis "
            f"`{batch_axis}`",
            batch_span,
            f"{batch} % {n_batch} = {batch % n_batch}",
            help=f"use a multiple of {n_batch}, e.g. "
            f"`batch = {max(n_batch, batch // n_batch * n_batch)}`",
        )
    if graph is not None:
        _check_weights(c, graph, dist, values.get("shard"))
        if c.ok and memory is not None and dist.n_devices() is not None:
            _check_memory(c, graph, dist, batch, optimizer, values["device_memory"])
    return dist if c.ok else None


def _other_keys(
    c: _Checker, values: dict[str, ast.Setting], axes: dict[str, int]
) -> tuple[str, int | None, list[ShardRule]]:
    preset = PRESETS[0]
    if (s := values.get("preset")) is not None:
        if isinstance(s.value, ast.StrLit) and s.value.value in PRESETS:
            preset = s.value.value
        else:
            c.error(
                "E0901",
                "unknown `preset`",
                s.value.span,
                "not a preset",
                help="presets are " + ", ".join(f'"{p}"' for p in PRESETS),
            )
    memory = None
    if (s := values.get("device_memory")) is not None:
        size = parse_size(s.value.value) if isinstance(s.value, ast.StrLit) else None
        if size is None or size <= 0:
            c.error(
                "E0901",
                "`device_memory` is a size, as a string",
                s.value.span,
                "not a size",
                help='e.g. `device_memory = "16GB"` or `"512MiB"`',
            )
        else:
            memory = size
    rules: list[ShardRule] = []
    if (s := values.get("shard")) is not None and axes:
        if not isinstance(s.value, ast.DictLit):
            c.error(
                "E0901",
                "`shard` maps weight-path patterns to specs",
                s.value.span,
                "not a dict",
                help='e.g. `shard = {"*/dense*/kernel": [_, "model"]}`',
            )
        else:
            for entry in s.value.entries:
                spec = c.spec(entry.value, axes)
                if spec is not None:
                    rules.append(ShardRule(entry.key.name, spec, entry.key.span))
    return preset, memory, rules


def _check_weights(
    c: _Checker, graph: Graph, dist: Distribution, shard: ast.Setting | None
) -> None:
    sizes = dist.sizes()
    used: set[str] = set()
    spans = {}
    if shard is not None and isinstance(shard.value, ast.DictLit):
        spans = {e.key.name: e.value.span for e in shard.value.entries}
    for node, w in graph.weights():
        path = weight_path(node, w)
        rule = rule_for(dist, path)
        if rule is None:
            continue
        used.add(rule.pattern)
        span = spans.get(rule.pattern, rule.span)
        if len(rule.spec) != len(w.shape):
            c.error(
                "E0906",
                f"the spec of `{rule.pattern}` has {len(rule.spec)} entries; `{path}` has "
                f"{len(w.shape)} dimensions ({list(w.shape)})",
                span,
                f"{len(rule.spec)} entries for {len(w.shape)} dimensions",
                help="one axis or `_` per dimension",
            )
            continue
        for dim, (axis, size) in enumerate(zip(rule.spec, w.shape, strict=True)):
            if axis is None or sizes[axis] in (ALL, 1):
                continue
            if size % sizes[axis]:
                c.error(
                    "E0903",
                    f"dimension {dim} of `{path}` ({size}) does not split over the "
                    f"{sizes[axis]} devices of axis `{axis}`",
                    span,
                    f"{size} % {sizes[axis]} = {size % sizes[axis]}",
                    help=f"make the layer's size a multiple of {sizes[axis]}, or leave this "
                    "dimension whole (`_`)",
                )
    known = [weight_path(n, w) for n, w in graph.weights()]
    for rule in dist.rules:
        if rule.pattern not in used:
            c.rep.error(
                "W0901",
                f"`shard` pattern `{rule.pattern}` matches no weight of `{graph.name}`",
                c.file,
                rule.span,
                "matches nothing",
                help=did_you_mean(rule.pattern, known)
                or "weights are "
                + ", ".join(f"`{k}`" for k in known[:6])
                + (" ..." if len(known) > 6 else ""),
                severity=Severity.WARNING,
            )


def _check_memory(
    c: _Checker,
    graph: Graph,
    dist: Distribution,
    batch: int,
    optimizer: OpCall | None,
    setting: ast.Setting,
) -> None:
    assert dist.device_memory is not None
    state = (
        optimizer_state(optimizer.op.name, optimizer.attrs)
        if optimizer is not None
        else optimizer_state("adam")
    )
    need = per_device(graph, dist, batch, state)
    if need.total <= dist.device_memory:
        return
    largest = (
        f", the largest activation `{need.largest[0]}` {readable_bytes(need.largest[2])}"
        if need.largest
        else ""
    )
    c.error(
        "E0905",
        f"each device needs at least {readable_bytes(need.total)}, over the declared "
        f"{readable_bytes(dist.device_memory)}",
        setting.value.span,
        "too small for this layout",
        notes=[
            f"per device: parameters {readable_bytes(need.params)}, optimizer state "
            f"{readable_bytes(need.optimizer)}{largest}"
        ],
        help='shard more (`preset = "fsdp"`, `shard`), use more devices or a smaller batch',
    )
