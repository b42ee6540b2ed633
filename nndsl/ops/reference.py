"""Reference pages rendered from the registry (Markdown, no JAX).

`python tools/gen_docs.py` writes `docs/layers.md` (every layer, by family) and
`docs/reference.md` (functions, operators, losses, metrics, optimizers, initializers,
regularizers, constraints, data sources); a test fails when either is stale, so the docs
cannot drift from the specs. The editor's hover text comes from the same specs.
"""

from __future__ import annotations

from nndsl.ops.registry import ALIASES, iter_specs
from nndsl.ops.spec import OpKind, OpSpec, format_value

_SECTIONS = (
    (OpKind.FUNCTION, "Functions", "Called on tensors: `relu(x)`, or in a pipeline: `x |> relu`."),
    (
        OpKind.OPERATOR,
        "Operators",
        "Written as `+ - * / @`, comparisons `== != < <= > >=`, `and or not` between tensors.",
    ),
    (OpKind.LOSS, "Losses", "The `loss` of a `train` section."),
    (OpKind.METRIC, "Metrics", "The `metrics` list of a `train` section."),
    (OpKind.OPTIMIZER, "Optimizers", "The `optimizer` of a `train` section (built with optax)."),
    (
        OpKind.SCHEDULE,
        "Learning-rate schedules",
        "Values of an optimizer's `learning_rate`: `adam(learning_rate = cosine_decay(1e-3, "
        "1000))`; the step counts optimizer updates from 0.",
    ),
    (
        OpKind.CALLBACK,
        "Callbacks",
        "The `callbacks` list of a `train` section: `callbacks = [early_stopping(patience = 3), "
        "checkpoint(every = 1)]`. A `monitor` names a logged value: `loss`, a metric, or their "
        "`val_` forms.",
    ),
    (
        OpKind.INITIALIZER,
        "Initializers",
        "Values of `*_initializer` arguments: `kernel_initializer = he_normal` or "
        "`truncated_normal(stddev = 0.02)`.",
    ),
    (
        OpKind.REGULARIZER,
        "Regularizers",
        "Values of `*_regularizer` arguments; the penalty is added to the training loss.",
    ),
    (
        OpKind.CONSTRAINT,
        "Constraints",
        "Values of `*_constraint` arguments; applied to the weight after every update.",
    ),
    (OpKind.DATA, "Data sources", "The right-hand side of `data name = ...`."),
)

# Layer families in reading order, with their section titles.
_FAMILIES = (
    ("core", "Core"),
    ("activation", "Activation layers"),
    ("conv", "Convolution"),
    ("pool", "Pooling"),
    ("norm", "Normalization"),
    ("regularization", "Regularization"),
    ("recurrent", "Recurrent"),
    ("attention", "Attention"),
    ("reshaping", "Reshaping"),
    ("merging", "Merging"),
    ("preprocessing", "Preprocessing and augmentation"),
)


def _aliases(spec: OpSpec) -> list[str]:
    return sorted(a for a, target in ALIASES.items() if target == spec.name)


def _entry(spec: OpSpec) -> list[str]:
    lines = [f"### `{spec.name}`", "", f"`{spec.signature().text()}`", ""]
    aliases = _aliases(spec)
    if aliases:
        lines += ["Also written " + ", ".join(f"`{a}`" for a in aliases) + ".", ""]
    lines += [spec.doc(), ""]
    if spec.optional_inputs:
        tensors = ", ".join([*spec.inputs, *(f"{o}?" for o in spec.optional_inputs)])
        lines += [f"Tensors: `({tensors})` (`?`: optional).", ""]
    if spec.rule:
        lines += [f"Shape: {spec.rule}.", ""]
    if spec.args:
        lines += ["| argument | type | default | meaning |", "|---|---|---|---|"]
        for a in spec.args:
            default = "required" if a.required else f"`{format_value(a.default)}`"
            kind = a.type_text().replace("|", "\\|")
            doc = a.doc + (f" (also `{'`, `'.join(a.aliases)}`)" if a.aliases else "")
            if len(a.choices) > 6:
                doc += " (" + a.domain_text() + ")"
            if a.keyword_only:
                doc += " (keyword only)"
            lines.append(f"| `{a.name}` | {kind} | {default} | {doc} |")
        lines.append("")
    if spec.example:
        lines += ["```", spec.example, "```", ""]
    return lines


def _header(title: str, what: str) -> list[str]:
    return [
        f"# {title}",
        "",
        f"{what} Generated from the op registry (`nndsl/ops/`) by `python tools/gen_docs.py`; "
        "do not edit by hand.",
        "",
    ]


def render_layers() -> str:
    """Every layer, grouped by family, with a table of contents."""
    by_title: dict[str, list[OpSpec]] = {}
    order = [title for _, title in _FAMILIES]
    titles = dict(_FAMILIES)
    for spec in iter_specs(OpKind.LAYER):
        title = titles.get(spec.family, "Other layers")
        by_title.setdefault(title, []).append(spec)
    if "Other layers" in by_title:
        order.append("Other layers")
    out = _header(
        "Layers",
        "Every layer nndsl knows: signature, defaults, shape rule and an example. Layers are "
        "configured, then applied: `x |> Dense(64)` or `Dense(64)(x)`.",
    )
    sections = [t for t in dict.fromkeys(order) if t in by_title]
    for title in sections:
        names = ", ".join(
            f"`{s.name}`" for s in sorted(by_title[title], key=lambda s: s.name.lower())
        )
        out.append(f"- **{title}**: {names}")
    out.append("")
    for title in sections:
        out += [f"## {title}", ""]
        for spec in sorted(by_title[title], key=lambda s: s.name.lower()):
            out += _entry(spec)
    return "\n".join(out).rstrip() + "\n"


def render_reference() -> str:
    """Everything that is not a layer, by kind."""
    out = _header(
        "Reference: functions, operators, losses, metrics, optimizers, initializers, "
        "regularizers, constraints, data sources",
        "Layers are in [layers.md](layers.md).",
    )
    for kind, title, intro in _SECTIONS:
        specs = sorted(iter_specs(kind), key=lambda s: s.name.lower())
        if not specs:
            continue
        out += [f"## {title}", "", intro, ""]
        for spec in specs:
            out += _entry(spec)
    return "\n".join(out).rstrip() + "\n"


PAGES = {"layers.md": render_layers, "reference.md": render_reference}
