"""Integer dimension expressions over named symbols, kept in a canonical form.

A `Dim` is a polynomial with integer coefficients whose atoms are symbols (`B`, `H`) or
floor divisions that could not be simplified (`(H - 1)/2`). Canonical form makes equality
structural, so `(H - 3 + 2*1)/1 + 1` and `H` are the same value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Union

from nndsl.records import record


class DimError(ValueError):
    """An operation that has no integer result (division by zero, by a negative size)."""


class DimRangeError(DimError):
    """A result beyond the documented limits: a number over 2^63, a polynomial too large."""


@record(frozen=True, slots=True)
class FloorDiv:
    """An irreducible `num / den` (rounding down); `den` is never 0 or 1."""

    num: Dim
    den: Dim

    def key(self) -> str:
        return f"({self.num})/({self.den})"


Atom = Union[str, FloorDiv]
MAX_INT = 2**63 - 1  # as `nndsl.limits.MAX_INT`: int64
MAX_TERMS = 256
MAX_DEGREE = 32
_SHARED = 1 << 16
_CONSTANTS: dict[int, Dim] = {}  # `Dim.const` of small values, made once
Monomial = tuple[Atom, ...]


def _checked(value: int) -> Dim:
    if not -MAX_INT <= value <= MAX_INT:
        raise DimRangeError("over 2^63 - 1")
    return Dim.const(value)


def _atom_key(atom: Atom) -> tuple[int, str]:
    return (0, atom) if isinstance(atom, str) else (1, atom.key())


def _mono_key(mono: Monomial) -> tuple[int, tuple[tuple[int, str], ...]]:
    return (len(mono), tuple(_atom_key(a) for a in mono))


@record(frozen=True, slots=True)
class Dim:
    """A canonical sum of `coefficient * monomial` terms; the empty monomial is the constant."""

    terms: tuple[tuple[Monomial, int], ...]

    # -- construction -------------------------------------------------------------------
    @staticmethod
    def _make(acc: Mapping[Monomial, int]) -> Dim:
        items = [(m, c) for m, c in acc.items() if c != 0]
        # Bounded, so hostile arithmetic cannot grow numbers or polynomials without end
        # (`(a + b + c)^k` expands exponentially): beyond these, no result is a size.
        if len(items) > MAX_TERMS:
            raise DimRangeError(f"a polynomial of more than {MAX_TERMS} terms")
        for m, c in items:
            if not -MAX_INT <= c <= MAX_INT:
                raise DimRangeError("over 2^63 - 1")
            if len(m) > MAX_DEGREE:
                raise DimRangeError(f"a product of more than {MAX_DEGREE} sizes")
        items.sort(key=lambda mc: _mono_key(mc[0]))
        return Dim(tuple(items))

    @staticmethod
    def const(value: int) -> Dim:
        known = _CONSTANTS.get(value)
        if known is None:
            known = Dim((((), value),)) if value != 0 else Dim(())
            if -_SHARED <= value <= _SHARED:  # shared: most sizes are small constants
                _CONSTANTS[value] = known
        return known

    @staticmethod
    def sym(name: str) -> Dim:
        return Dim((((name,), 1),))

    @staticmethod
    def of(value: int | str | Dim) -> Dim:
        if isinstance(value, Dim):
            return value
        if isinstance(value, int):
            return Dim.const(value)
        return Dim.sym(value)

    # -- queries ------------------------------------------------------------------------
    def as_int(self) -> int | None:
        if not self.terms:
            return 0
        if len(self.terms) == 1 and self.terms[0][0] == ():
            return self.terms[0][1]
        return None

    @property
    def is_known(self) -> bool:
        return self.as_int() is not None

    def as_symbol(self) -> str | None:
        if len(self.terms) == 1:
            mono, coeff = self.terms[0]
            if coeff == 1 and len(mono) == 1 and isinstance(mono[0], str):
                return mono[0]
        return None

    def symbols(self) -> frozenset[str]:
        out: set[str] = set()
        for mono, _ in self.terms:
            for atom in mono:
                if isinstance(atom, str):
                    out.add(atom)
                else:
                    out |= atom.num.symbols() | atom.den.symbols()
        return frozenset(out)

    def constant_term(self) -> int:
        for mono, coeff in self.terms:
            if mono == ():
                return coeff
        return 0

    def __eq__(self, other: object) -> bool:
        return other.__class__ is Dim and self.terms == other.terms

    def __hash__(self) -> int:
        return hash(self.terms)

    # -- arithmetic ---------------------------------------------------------------------
    def __add__(self, other: Dim | int) -> Dim:
        o = Dim.of(other)
        a, b = self.terms, o.terms
        if len(a) < 2 and len(b) < 2 and (not a or a[0][0] == ()) and (not b or b[0][0] == ()):
            return _checked((a[0][1] if a else 0) + (b[0][1] if b else 0))  # both constant
        acc: dict[Monomial, int] = dict(self.terms)
        for m, c in o.terms:
            acc[m] = acc.get(m, 0) + c
        return Dim._make(acc)

    __radd__ = __add__

    def __neg__(self) -> Dim:
        a = self.terms
        if len(a) == 1 and a[0][0] == ():
            return Dim.const(-a[0][1])
        return Dim(tuple((m, -c) for m, c in self.terms))

    def __sub__(self, other: Dim | int) -> Dim:
        return self + (-Dim.of(other))

    def __rsub__(self, other: Dim | int) -> Dim:
        return Dim.of(other) - self

    def __mul__(self, other: Dim | int) -> Dim:
        o = Dim.of(other)
        a, b = self.terms, o.terms
        if len(a) < 2 and len(b) < 2 and (not a or a[0][0] == ()) and (not b or b[0][0] == ()):
            return _checked((a[0][1] if a else 0) * (b[0][1] if b else 0))  # both constant
        acc: dict[Monomial, int] = {}
        for m1, c1 in self.terms:
            for m2, c2 in o.terms:
                mono = tuple(sorted(m1 + m2, key=_atom_key))
                acc[mono] = acc.get(mono, 0) + c1 * c2
        return Dim._make(acc)

    __rmul__ = __mul__

    def floordiv(self, other: Dim | int) -> Dim:
        """`self / other` rounded down, simplified as far as it is exactly known."""
        den = Dim.of(other)
        k = den.as_int()
        if k is not None:
            if k == 0:
                raise DimError("division by zero")
            if k < 0:
                raise DimError("division by a negative size")
            if k == 1:
                return self
            n = self.as_int()
            if n is not None:
                return Dim.const(n // k)
            # Split off every term divisible by k: floor((k*q + r)/k) = q + floor(r/k).
            q: dict[Monomial, int] = {}
            r: dict[Monomial, int] = {}
            for mono, coeff in self.terms:
                if mono != () and coeff % k == 0:
                    q[mono] = coeff // k
                else:
                    r[mono] = coeff
            quotient = Dim._make(q)
            rest = Dim._make(r)
            rest_int = rest.as_int()
            if rest_int is not None:
                return quotient + rest_int // k
            if quotient.terms:
                # Constant part of the rest that is a multiple of k moves out too.
                c = rest.constant_term()
                shift = c - (c % k)
                rest = rest - shift
                return quotient + shift // k + Dim._atom(FloorDiv(rest, den))
            c = rest.constant_term()
            shift = c - (c % k)
            if shift:
                return Dim._atom(FloorDiv(rest - shift, den)) + shift // k
            return Dim._atom(FloorDiv(rest, den))
        if self == den:
            return Dim.const(1)
        # Exact division by a single symbolic monomial that divides every term.
        if len(den.terms) == 1 and den.terms[0][1] == 1:
            ((dmono, _),) = den.terms
            out: dict[Monomial, int] = {}
            for mono, coeff in self.terms:
                rest_atoms = list(mono)
                for atom in dmono:
                    if atom in rest_atoms:
                        rest_atoms.remove(atom)
                    else:
                        break
                else:
                    out[tuple(rest_atoms)] = coeff
                    continue
                break
            else:
                return Dim._make(out)
        return Dim._atom(FloorDiv(self, den))

    def ceildiv(self, other: Dim | int) -> Dim:
        den = Dim.of(other)
        return (self + den - 1).floordiv(den)

    @staticmethod
    def _atom(atom: FloorDiv) -> Dim:
        return Dim((((atom,), 1),))

    # -- substitution -------------------------------------------------------------------
    def subst(self, mapping: Mapping[str, Dim]) -> Dim:
        if not mapping or not (self.symbols() & mapping.keys()):
            return self
        total = Dim(())
        for mono, coeff in self.terms:
            term = Dim.const(coeff)
            for atom in mono:
                if isinstance(atom, str):
                    term = term * mapping.get(atom, Dim.sym(atom))
                else:
                    term = term * atom.num.subst(mapping).floordiv(atom.den.subst(mapping))
            total = total + term
        return total

    # -- printing -----------------------------------------------------------------------
    def __str__(self) -> str:
        if not self.terms:
            return "0"
        # `(H + 1)/2 - 1` reads better as `(H - 1)/2`: fold a constant into a lone division.
        if len(self.terms) == 2 and self.terms[0][0] == ():
            (_, c), (mono, coeff) = self.terms
            if coeff == 1 and len(mono) == 1 and isinstance(mono[0], FloorDiv):
                k = mono[0].den.as_int()
                if k is not None and c < 0:
                    return str(Dim._atom(FloorDiv(mono[0].num + c * k, mono[0].den)))
        # Symbolic terms first, constant last: `H - 3`, `2*W + 1`.
        ordered = [t for t in self.terms if t[0] != ()] + [t for t in self.terms if t[0] == ()]
        out = ""
        for i, (mono, coeff) in enumerate(ordered):
            body = _mono_str(mono, abs(coeff), lone=len(ordered) == 1)
            if i == 0:
                out = ("-" if coeff < 0 else "") + body
            else:
                out += (" - " if coeff < 0 else " + ") + body
        return out

    def __repr__(self) -> str:
        return f"Dim({self})"


def _atom_str(atom: Atom, lone: bool) -> str:
    if isinstance(atom, str):
        return atom
    num = str(atom.num)
    if len(atom.num.terms) > 1 or (atom.num.terms and atom.num.terms[0][1] < 0):
        num = f"({num})"
    den = str(atom.den)
    if len(atom.den.terms) > 1 or (atom.den.as_symbol() is None and atom.den.as_int() is None):
        den = f"({den})"
    text = f"{num}/{den}"
    return text if lone else f"({text})" if len(atom.num.terms) > 1 else text


def _mono_str(mono: Monomial, coeff: int, lone: bool) -> str:
    if mono == ():
        return str(coeff)
    factors = [_atom_str(a, len(mono) == 1 and coeff == 1) for a in mono]
    body = "*".join(factors)
    return body if coeff == 1 else f"{coeff}*{body}"
