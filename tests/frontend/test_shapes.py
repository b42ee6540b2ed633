"""The Dim algebra, broadcasting and unification, with hypothesis property tests."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from nndsl.shapes import Dim, DimError, broadcast_shapes, format_shape, unify_shapes

H, W, B, C = (Dim.sym(s) for s in "HWBC")
SYMBOLS = ("A", "B", "C")


def test_conv_same_size_identity() -> None:
    # (H - kernel + 2*pad)/stride + 1 with kernel 3, pad 1, stride 1
    assert (H - 3 + 2 * 1).floordiv(1) + 1 == H


def test_conv_formulas() -> None:
    valid = (H - 3).floordiv(2) + 1  # kernel 3, stride 2, valid
    # Canonical form moves the constant out so the remainder is in [0, 2): (H + 1)/2 - 1.
    assert str(valid) == "(H - 1)/2"  # the constant folds into the division for display
    assert valid == (H + 1).floordiv(2) - 1
    assert valid.subst({"H": Dim.const(8)}).as_int() == 3
    same = H.ceildiv(2)  # "same" padding, stride 2
    assert same.subst({"H": Dim.const(7)}).as_int() == 4
    dilated = H - (3 - 1) * 2  # window 3 with dilation 2 is 5 wide
    assert dilated == H - 4


def test_floordiv_simplification() -> None:
    assert (2 * H).floordiv(2) == H
    assert (4 * H + 6).floordiv(2) == 2 * H + 3
    assert (2 * H + 1).floordiv(2) == H  # floor(H + 1/2) = H
    assert (H * W).floordiv(W) == H
    assert H.floordiv(H) == Dim.const(1)
    assert Dim.const(7).floordiv(2) == Dim.const(3)
    assert H.floordiv(1) is H
    assert not H.floordiv(2).is_known


def test_floordiv_errors() -> None:
    with pytest.raises(DimError):
        H.floordiv(0)
    with pytest.raises(DimError):
        H.floordiv(-2)


def test_printing() -> None:
    assert str(Dim.const(0)) == "0"
    assert str(H - 3) == "H - 3"
    assert str(2 * W + 1) == "2*W + 1"
    assert str(-H) == "-H"
    assert str(H * W) == "H*W"
    assert str(H.floordiv(2)) == "H/2"
    assert format_shape((B, H.floordiv(2), Dim.const(16))) == "[B, H/2, 16]"
    assert repr(H + 1) == "Dim(H + 1)"


def test_subst_and_queries() -> None:
    d = 2 * H * W + H - 5
    assert d.symbols() == frozenset({"H", "W"})
    assert d.subst({"H": Dim.const(3)}) == 6 * W - 2
    assert d.subst({"H": Dim.const(3), "W": Dim.const(2)}).as_int() == 10
    assert d.subst({"H": W}) == 2 * W * W + W - 5
    assert d.subst({}) is d
    assert H.as_symbol() == "H" and (2 * H).as_symbol() is None
    assert (H + 4).constant_term() == 4
    assert Dim.of(3) == Dim.const(3) and Dim.of("H") == H and Dim.of(H) is H
    assert H.floordiv(2).subst({"H": Dim.const(9)}) == Dim.const(4)


# -- property tests ------------------------------------------------------------------------
@st.composite
def polys(draw: st.DrawFn, depth: int = 2) -> Dim:
    """Random polynomials over a few symbols."""
    if depth == 0 or draw(st.booleans()):
        if draw(st.booleans()):
            return Dim.const(draw(st.integers(-6, 6)))
        return Dim.sym(draw(st.sampled_from(SYMBOLS)))
    a = draw(polys(depth - 1))
    b = draw(polys(depth - 1))
    op = draw(st.sampled_from(["+", "-", "*"]))
    return a + b if op == "+" else a - b if op == "-" else a * b


envs = st.fixed_dictionaries({s: st.integers(0, 20) for s in SYMBOLS})


def _eval(d: Dim, env: dict[str, int]) -> int:
    value = d.subst({k: Dim.const(v) for k, v in env.items()}).as_int()
    assert value is not None
    return value


FAST = settings(max_examples=80, deadline=None)


@FAST
@given(polys(), polys())
def test_ring_commutativity(a: Dim, b: Dim) -> None:
    assert a + b == b + a
    assert a * b == b * a


@FAST
@given(polys(), polys(), polys())
def test_ring_associativity_and_distributivity(a: Dim, b: Dim, c: Dim) -> None:
    assert (a + b) + c == a + (b + c)
    assert (a * b) * c == a * (b * c)
    assert a * (b + c) == a * b + a * c
    assert a - a == Dim.const(0)
    assert a * 1 == a and a + 0 == a and a * 0 == Dim.const(0)


@FAST
@given(polys(), envs)
def test_subst_then_as_int_equals_evaluation(a: Dim, env: dict[str, int]) -> None:
    # Evaluate the polynomial term by term independently of `subst`.
    expected = 0
    for mono, coeff in a.terms:
        term = coeff
        for atom in mono:
            assert isinstance(atom, str)
            term *= env[atom]
        expected += term
    assert _eval(a, env) == expected


@FAST
@given(polys(), polys(), envs)
def test_arithmetic_is_a_homomorphism(a: Dim, b: Dim, env: dict[str, int]) -> None:
    assert _eval(a + b, env) == _eval(a, env) + _eval(b, env)
    assert _eval(a * b, env) == _eval(a, env) * _eval(b, env)
    assert _eval(a - b, env) == _eval(a, env) - _eval(b, env)


@FAST
@given(polys(), st.integers(1, 7), envs)
def test_floordiv_agrees_with_python(a: Dim, k: int, env: dict[str, int]) -> None:
    """`floordiv` by a constant, then substitution, equals Python's `//` on the value."""
    assert _eval(a.floordiv(k), env) == _eval(a, env) // k


@FAST
@given(polys(), st.integers(1, 7), envs)
def test_ceildiv_agrees_with_python(a: Dim, k: int, env: dict[str, int]) -> None:
    assert _eval(a.ceildiv(k), env) == -(-_eval(a, env) // k)


@FAST
@given(st.sampled_from(SYMBOLS), st.integers(1, 5), envs)
def test_floordiv_by_symbol_agrees_with_python(s: str, k: int, env: dict[str, int]) -> None:
    env = {**env, s: max(env[s], 1)}
    num = Dim.sym(s) * k + Dim.sym("A") * Dim.sym(s)
    assert _eval(num.floordiv(Dim.sym(s)), env) == _eval(num, env) // env[s]


@FAST
@given(polys(), envs)
def test_str_is_stable_and_hash_consistent(a: Dim, env: dict[str, int]) -> None:
    b = Dim._make(dict(a.terms))
    assert a == b and hash(a) == hash(b) and str(a) == str(b)


# -- shapes -------------------------------------------------------------------------------
shapes = st.lists(
    st.one_of(st.integers(1, 4).map(Dim.const), st.sampled_from(["B", "H"]).map(Dim.sym)),
    max_size=4,
).map(tuple)


@FAST
@given(shapes, shapes)
def test_broadcast_is_commutative(a: tuple[Dim, ...], b: tuple[Dim, ...]) -> None:
    ab, ba = broadcast_shapes(a, b), broadcast_shapes(b, a)
    assert isinstance(ab, int) == isinstance(ba, int)
    if not isinstance(ab, int):
        assert ab == ba
    else:
        assert ab == ba  # the same failing axis


def test_broadcast_examples() -> None:
    one, four = Dim.const(1), Dim.const(4)
    assert broadcast_shapes((B, four), (four,)) == (B, four)
    assert broadcast_shapes((B, one, four), (H, one)) == (B, H, four)
    assert broadcast_shapes((B, four), (B, Dim.const(3))) == -1
    assert broadcast_shapes((), (B,)) == (B,)


def test_unify_binds_symbols() -> None:
    bindings: dict[str, Dim] = {}
    bad = unify_shapes((B, Dim.sym("D")), (B, Dim.const(64)), bindings, {"B", "D"})
    assert bad == [] and bindings == {"B": B, "D": Dim.const(64)}


def test_unify_solves_linear_and_reports_mismatch() -> None:
    bindings: dict[str, Dim] = {}
    pattern = (B, 2 * Dim.sym("D") + 1)
    assert unify_shapes(pattern, (B, Dim.const(9)), bindings, {"B", "D"}) == []
    assert bindings["D"] == Dim.const(4)
    bindings = {}
    assert unify_shapes(pattern, (B, Dim.const(8)), bindings, {"B", "D"}) == [1]
    bindings = {}
    assert unify_shapes((B, Dim.sym("D"), Dim.sym("D")), (B, H, W), bindings, {"D"}) == [2]
    assert unify_shapes((B,), (B, H), {}, {"B"}) == [-1]


@FAST
@given(st.lists(st.integers(1, 50), min_size=1, max_size=4))
def test_unify_roundtrip(sizes: list[int]) -> None:
    names = [f"S{i}" for i in range(len(sizes))]
    pattern = tuple(Dim.sym(n) for n in names)
    actual = tuple(Dim.const(s) for s in sizes)
    bindings: dict[str, Dim] = {}
    assert unify_shapes(pattern, actual, bindings, set(names)) == []
    assert tuple(p.subst(bindings) for p in pattern) == actual
