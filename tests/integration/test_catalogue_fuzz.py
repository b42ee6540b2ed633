"""Whatever the checker accepts, JAX runs, with the shapes the checker said.

For every layer and function in the registry, Hypothesis draws arguments (inside and outside
their domains) and input shapes of several ranks; each program goes through the normal front
end. The checker may reject it (with a diagnostic, never an internal error E9999); if it
accepts it, `jax.eval_shape` of the compiled graph must succeed and give the declared types.
This is what "bad input is a diagnostic at check time, never an error inside JAX" means.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from nndsl.backend.jax import compile_graph, missing_implementations
from nndsl.diagnostics import render_plain
from nndsl.frontend import check_source
from nndsl.ops import Arg, OpKind, OpSpec, format_value, iter_specs
from nndsl.ops.spec import CONFIGURED_TYPES

SPECS = sorted(
    (s for s in iter_specs() if s.kind in (OpKind.LAYER, OpKind.FUNCTION)),
    key=lambda s: s.name,
)


def _arg_value(draw: st.DrawFn, arg: Arg, plausible: bool) -> str | None:
    """nndsl source text for a value of `arg`, or None to leave it at its default.

    `plausible` draws inside the declared domain (so that programs often pass and reach
    JAX); otherwise values may be anything of roughly the right type.
    """
    if not arg.required and draw(st.integers(0, 2)) == 0:
        return None
    if arg.type in CONFIGURED_TYPES:
        return None if not arg.required else "none"
    if arg.choices:
        return draw(
            st.sampled_from([*(f'"{c}"' for c in arg.choices), *([] if plausible else ['"bogus"'])])
        )
    low = int(arg.min) if arg.min is not None and plausible else -1
    low = max(low, 1) if plausible and arg.type in ("int", "ints") else low
    small = st.sampled_from([low, low, low, low + 1, low + 2, low + 4])  # often the minimum
    if arg.type == "int":
        return str(draw(small if plausible else st.integers(low, low + 4)))
    if arg.type == "float":
        values = [-0.5, 0.0, 0.1, 0.5, 1.0, 2.0]
        if plausible:
            values = [
                v
                for v in values
                if (arg.min is None or v > arg.min or (v == arg.min and not arg.min_exclusive))
                and (arg.max is None or v < arg.max or (v == arg.max and not arg.max_exclusive))
            ] or [values[2]]
        return format_value(draw(st.sampled_from(values)))
    if arg.type == "bool":
        return draw(st.sampled_from(["true", "false"]))
    if arg.type == "ints":
        n = arg.length or draw(st.integers(1, 3))
        sizes = small if plausible else st.integers(low, low + 2)
        if arg.length and draw(st.booleans()):
            return str(draw(sizes))
        return "[" + ", ".join(str(draw(sizes)) for _ in range(n)) + "]"
    if arg.type == "dtype":
        return draw(st.sampled_from(["f32", "i32", "bool"]))
    if arg.type == "str":
        return draw(st.sampled_from(['"a"', '"ij,jk->ik"', '"ab,bc->ac"']))
    if arg.type == "strs":
        return '["a"]'
    return None


def _rule_rank(spec: OpSpec) -> int | None:
    """The input rank the shape rule's text shows first (`[B, H, W, C]` -> 4)."""
    rule = spec.rule
    if "[" not in rule or "..." in rule.split("]")[0]:
        return None
    return rule.split("]")[0].count(",") + 1


@st.composite
def programs(draw: st.DrawFn, spec: OpSpec) -> str:
    args = []
    plausible = draw(st.integers(0, 3)) > 0
    for arg in spec.args:
        text = _arg_value(draw, arg, plausible)
        if text is not None:
            args.append(f"{arg.name} = {text}")
    n_inputs = len(spec.inputs) + draw(st.integers(0, len(spec.optional_inputs)))
    if spec.variadic:
        n_inputs += draw(st.integers(0, 1))
    preferred = _rule_rank(spec)
    rank = preferred if preferred and draw(st.integers(0, 3)) else draw(st.integers(2, 5))
    shape = [draw(st.integers(1, 6)) for _ in range(rank)]
    lines = []
    for i in range(n_inputs):
        dtype = draw(st.sampled_from(["f32", "f32", "f32", "f32", "i32", "bool"]))
        s = list(shape) if draw(st.integers(0, 3)) else [draw(st.integers(1, 6)) for _ in shape]
        lines.append(f"    input x{i}: {dtype}[{', '.join(map(str, s))}]")
    inputs = ", ".join(f"x{i}" for i in range(n_inputs))
    if spec.kind is OpKind.LAYER:
        call = f"{spec.name}({', '.join(args)})({inputs})"
    else:
        call = f"{spec.name}({', '.join([inputs, *args])})"
    lines.append(f"    return {call}")
    return "model Fuzz() {\n" + "\n".join(lines) + "\n}\n"


def _dtype(t: object) -> jnp.dtype:
    return jnp.dtype(t.dtype.numpy_name)  # type: ignore[attr-defined]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_accepted_programs_run_with_the_declared_shapes(spec: OpSpec) -> None:
    if spec.name in missing_implementations():
        pytest.skip("no JAX implementation (test_registry fails for it)")
    accepted = 0

    @settings(
        max_examples=15,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(programs(spec))
    def check(source: str) -> None:
        result = check_source(source, "fuzz.nn")
        codes = [d.code for d in result.diagnostics]
        assert "E9999" not in codes, source + render_plain(result.diagnostics)
        if result.has_errors:
            return
        nonlocal accepted
        accepted += 1
        graph = result.graph("Fuzz")
        assert graph is not None
        model = compile_graph(graph)
        params, state = jax.eval_shape(model.init, jax.random.key(0))
        inputs = [
            jax.ShapeDtypeStruct(tuple(d.as_int() for d in i.type.shape), _dtype(i.type))
            for i in graph.inputs
        ]
        try:
            outs, _ = jax.eval_shape(lambda p, s, xs: model.apply(p, s, xs), params, state, inputs)
        except Exception as exc:  # the point of the test: name the program that broke JAX
            raise AssertionError(f"checker accepted, JAX failed: {exc}\n{source}") from exc
        for out, declared in zip(outs, graph.outputs, strict=True):
            expected = tuple(d.as_int() for d in declared.type.shape)
            assert tuple(out.shape) == expected, f"{declared.type} vs {out.shape}\n{source}"
            assert out.dtype == _dtype(declared.type), f"{declared.type} vs {out.dtype}\n{source}"

    check()
    ACCEPTED[spec.name] = accepted


ACCEPTED: dict[str, int] = {}


def test_zz_fuzzing_reaches_most_specs() -> None:
    """Guards against a generator that only ever produces rejected programs."""
    if len(ACCEPTED) < len(SPECS):
        pytest.skip("runs after the per-spec tests in the same process")
    never = sorted(name for name, n in ACCEPTED.items() if n == 0)
    assert len(never) <= len(SPECS) // 4, f"never accepted: {never}"
