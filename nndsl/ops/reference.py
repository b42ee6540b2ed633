"""The reference page of every op, rendered from the registry (Markdown, no JAX).

`python tools/gen_docs.py` writes it to `docs/reference.md`; a test fails when that file is
stale, so the docs cannot drift from the specs. The editor's hover text comes from the same
specs.
"""

from __future__ import annotations

from nndsl.ops.registry import iter_specs
from nndsl.ops.spec import OpKind, OpSpec, format_value

_SECTIONS = (
    (OpKind.LAYER, "Layers", "Configured, then applied: `x |> Dense(64)` or `Dense(64)(x)`."),
    (OpKind.FUNCTION, "Functions", "Called on tensors: `relu(x)`, or in a pipeline: `x |> relu`."),
    (OpKind.OPERATOR, "Operators", "Written as `+ - * / @` and unary `-` between tensors."),
    (OpKind.LOSS, "Losses", "The `loss` of a `train` section."),
    (OpKind.METRIC, "Metrics", "The `metrics` list of a `train` section."),
    (OpKind.OPTIMIZER, "Optimizers", "The `optimizer` of a `train` section (built with optax)."),
    (OpKind.DATA, "Data sources", "The right-hand side of `data name = ...`."),
)


def _entry(spec: OpSpec) -> list[str]:
    lines = [f"### `{spec.name}`", "", f"`{spec.signature().text()}`", "", spec.doc(), ""]
    if spec.rule:
        lines += [f"Shape: {spec.rule}.", ""]
    if spec.args:
        lines += ["| argument | type | default | meaning |", "|---|---|---|---|"]
        for a in spec.args:
            default = "required" if a.required else f"`{format_value(a.default)}`"
            kind = a.type_text().replace("|", "\\|")
            doc = a.doc + (f" (also `{'`, `'.join(a.aliases)}`)" if a.aliases else "")
            lines.append(f"| `{a.name}` | {kind} | {default} | {doc} |")
        lines.append("")
    if spec.example:
        lines += ["```", spec.example, "```", ""]
    return lines


def render_reference() -> str:
    out = [
        "# Reference: layers, functions, losses, metrics, optimizers, data sources",
        "",
        "Generated from the op registry (`nndsl/ops/`) by `python tools/gen_docs.py`; "
        "do not edit by hand.",
        "",
    ]
    for kind, title, intro in _SECTIONS:
        specs = sorted(iter_specs(kind), key=lambda s: s.name.lower())
        if not specs:
            continue
        out += [f"## {title}", "", intro, ""]
        for spec in specs:
            out += _entry(spec)
    return "\n".join(out).rstrip() + "\n"
