"""Exact canonical forms for polynomial answers with radicals and pi, without a CAS.

Many answers are polynomials over the rationals in single-letter variables, square roots
of rationals and powers of pi: ``3\\sqrt{2}``, ``\\frac{\\pi}{4}``, ``x(x+3)``,
``2\\sqrt{8}-\\pi``. Such an expression has a unique canonical form: a map from monomials
(variable powers, power of pi, square-free radicand) to exact rational coefficients.
Distinct square-free radicands are linearly independent over the rationals and pi is
transcendental, so two expressions are equal exactly when their canonical forms are.

This is a small recursive-descent parser over a fixed token set. Anything outside it
(functions, equations, other constants, the letters e and i, words, roots of variables,
division by a variable) raises ``OutsideGrammarError`` and the pair goes to math-verify instead.
Nothing is evaluated as code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

MAX_POWER = 32
MAX_TERMS = 256
MAX_RADICAND = 10**10

Monomial = tuple[tuple[tuple[str, int], ...], int, int]  # (variable powers, power of pi, radicand)
Form = Mapping[Monomial, Fraction]

_TOKEN = re.compile(
    r"\s+|(?P<number>\d+(?:\.\d+)?)|(?P<letters>[A-Za-z]+)|(?P<command>\\[A-Za-z]+)|(?P<symbol>[-+*/^(){}])"
)
_COMMANDS = {
    "\\pi": "pi",
    "\\sqrt": "sqrt",
    "\\frac": "frac",
    "\\dfrac": "frac",
    "\\tfrac": "frac",
    "\\cdot": "*",
    "\\times": "*",
}
_CONSTANT_LETTERS = {"e", "i"}  # Euler's number and the imaginary unit, not variables
_ONE: Monomial = ((), 0, 1)
# A number right after these multiplies (\pi 3, (x+1)2); after a letter or digit it does not (x2).
_ENDS_BEFORE_NUMBER = {"pi", ")", "}"}


class OutsideGrammarError(ValueError):
    """The text is outside the exact layer's grammar; compare it with math-verify instead."""


@dataclass(frozen=True)
class _Token:
    kind: str  # number, letter, pi, sqrt, frac, or the symbol itself
    text: str


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise OutsideGrammarError(f"unexpected character {text[position]!r}")
        position = match.end()
        if match.group("number"):
            tokens.append(_Token("number", match.group("number")))
        elif match.group("letters"):
            letters = match.group("letters")
            if len(letters) > 1 or letters in _CONSTANT_LETTERS:
                raise OutsideGrammarError(f"word or constant {letters!r}")
            tokens.append(_Token("letter", letters))
        elif match.group("command"):
            kind = _COMMANDS.get(match.group("command"))
            if kind is None:
                raise OutsideGrammarError(f"command {match.group('command')}")
            tokens.append(_Token(kind, match.group("command")))
        elif match.group("symbol"):
            tokens.append(_Token(match.group("symbol"), match.group("symbol")))
    return tokens


def _square_free(n: int) -> tuple[int, int]:
    """(outside, inside) with n = outside**2 * inside and inside square-free."""
    if n > MAX_RADICAND:
        raise OutsideGrammarError("radicand too large")
    outside, inside, factor = 1, 1, 2
    while factor * factor <= n:
        while n % (factor * factor) == 0:
            n //= factor * factor
            outside *= factor
        if n % factor == 0:
            n //= factor
            inside *= factor
        factor += 1
    return outside, inside * n


def _multiply_monomials(a: Monomial, b: Monomial) -> tuple[Monomial, int]:
    powers = dict(a[0])
    for name, power in b[0]:
        powers[name] = powers.get(name, 0) + power
    common = _gcd(a[2], b[2])
    radicand = (a[2] // common) * (b[2] // common)
    return (tuple(sorted(powers.items())), a[1] + b[1], radicand), common


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def _multiply(a: Form, b: Form) -> dict[Monomial, Fraction]:
    product: dict[Monomial, Fraction] = {}
    for ma, ca in a.items():
        for mb, cb in b.items():
            monomial, factor = _multiply_monomials(ma, mb)
            product[monomial] = product.get(monomial, Fraction(0)) + ca * cb * factor
    cleaned = {m: c for m, c in product.items() if c != 0}
    if len(cleaned) > MAX_TERMS:
        raise OutsideGrammarError("too many terms")
    return cleaned


def _add(a: Form, b: Form, sign: int = 1) -> dict[Monomial, Fraction]:
    total = dict(a)
    for monomial, coefficient in b.items():
        total[monomial] = total.get(monomial, Fraction(0)) + sign * coefficient
    return {m: c for m, c in total.items() if c != 0}


def _constant(form: Form) -> Fraction:
    """The rational value of a form with no variables, pi or radicals."""
    if not form:
        return Fraction(0)
    if set(form) != {_ONE}:
        raise OutsideGrammarError("not a rational constant")
    return form[_ONE]


def _reciprocal(form: Form) -> dict[Monomial, Fraction]:
    """1/form for a single constant term c * sqrt(r) * pi**k (rationalising the root)."""
    if len(form) != 1:
        raise OutsideGrammarError("division by a sum")
    (((powers, pi_power, radicand), coefficient),) = form.items()
    if powers:
        raise OutsideGrammarError("division by a variable")
    return {((), -pi_power, radicand): 1 / (coefficient * radicand)}


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._position = 0

    def _peek(self) -> str | None:
        return self._tokens[self._position].kind if self._position < len(self._tokens) else None

    def _take(self, kind: str | None = None) -> _Token:
        if self._position >= len(self._tokens):
            raise OutsideGrammarError("unexpected end")
        token = self._tokens[self._position]
        if kind is not None and token.kind != kind:
            raise OutsideGrammarError(f"expected {kind}, found {token.text!r}")
        self._position += 1
        return token

    def parse(self) -> dict[Monomial, Fraction]:
        form = self._expression()
        if self._peek() is not None:
            raise OutsideGrammarError(f"unexpected {self._tokens[self._position].text!r}")
        return form

    def _expression(self) -> dict[Monomial, Fraction]:
        sign = 1
        if self._peek() in ("+", "-"):
            sign = -1 if self._take().kind == "-" else 1
        form = _multiply({_ONE: Fraction(sign)}, self._term())
        while self._peek() in ("+", "-"):
            sign = -1 if self._take().kind == "-" else 1
            form = _add(form, self._term(), sign)
        return form

    def _term(self) -> dict[Monomial, Fraction]:
        form = self._factor()
        while True:
            kind = self._peek()
            if kind in ("*", "/"):
                self._take()
                operand = self._signed_factor()
                form = _multiply(form, operand if kind == "*" else _reciprocal(operand))
            elif kind in ("letter", "pi", "sqrt", "frac", "(", "{") or (
                kind == "number" and self._tokens[self._position - 1].kind in _ENDS_BEFORE_NUMBER
            ):
                form = _multiply(form, self._factor())  # implicit multiplication
            else:
                return form

    def _signed_factor(self) -> dict[Monomial, Fraction]:
        if self._peek() == "-":
            self._take()
            return _multiply({_ONE: Fraction(-1)}, self._factor())
        return self._factor()

    def _factor(self) -> dict[Monomial, Fraction]:
        base = self._base()
        if self._peek() != "^":
            return base
        self._take()
        exponent = self._exponent()
        result: dict[Monomial, Fraction] = {_ONE: Fraction(1)}
        for _ in range(exponent):
            result = _multiply(result, base)
        return result

    def _take_digit(self) -> Fraction:
        """One digit of a number token, as LaTeX binds it in x^23 and \\frac12."""
        token = self._take("number")
        if "." in token.text:
            raise OutsideGrammarError("decimal as a one-character argument")
        if len(token.text) > 1:
            self._position -= 1
            self._tokens[self._position] = _Token("number", token.text[1:])
        return Fraction(int(token.text[0]))

    def _exponent(self) -> int:
        value = self._take_digit() if self._peek() == "number" else _constant(self._group())
        if value.denominator != 1 or not 0 <= value <= MAX_POWER:
            raise OutsideGrammarError("exponent is not a small non-negative integer")
        return int(value)

    def _group(self) -> dict[Monomial, Fraction]:
        """A braced argument, or a single digit or letter (as in \\sqrt2 and \\frac12)."""
        if self._peek() == "{":
            self._take()
            form = self._expression()
            self._take("}")
            return form
        if self._peek() == "number":
            return {_ONE: self._take_digit()}
        if self._peek() in ("letter", "pi"):
            return self._base()
        raise OutsideGrammarError("expected an argument")

    def _base(self) -> dict[Monomial, Fraction]:
        kind = self._peek()
        if kind == "number":
            return {_ONE: Fraction(self._take().text)}
        if kind == "letter":
            return {(((self._take().text, 1),), 0, 1): Fraction(1)}
        if kind == "pi":
            self._take()
            return {((), 1, 1): Fraction(1)}
        if kind in ("(", "{"):
            closing = ")" if self._take().kind == "(" else "}"
            form = self._expression()
            self._take(closing)
            return form
        if kind == "sqrt":
            self._take()
            value = _constant(self._group())
            if value < 0:
                raise OutsideGrammarError("square root of a negative number")
            outside, inside = _square_free(value.numerator * value.denominator)
            if inside == 1:
                return {_ONE: Fraction(outside, value.denominator)} if outside else {}
            return {((), 0, inside): Fraction(outside, value.denominator)}
        if kind == "frac":
            self._take()
            numerator = self._group()
            return _multiply(numerator, _reciprocal(self._group()))
        raise OutsideGrammarError(f"unexpected {self._tokens[self._position].text if kind else 'end'!r}")


def canonical_form(text: str) -> frozenset[tuple[Monomial, Fraction]] | None:
    """The exact canonical form of a polynomial/radical/pi answer, or None if outside the grammar."""
    try:
        tokens = _tokens(text)
        if not tokens:
            return None
        return frozenset(_Parser(tokens).parse().items())
    except (OutsideGrammarError, ZeroDivisionError, RecursionError):
        return None


def variables(form: frozenset[tuple[Monomial, Fraction]]) -> frozenset[str]:
    return frozenset(name for (powers, _, _), _ in form for name, _ in powers)
