"""Spec expressions: parsing them with lark and evaluating them safely (no Python `eval`, bounded cost)."""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedInput

MAX_EXPR_CHARS = 2_000
MAX_MAGNITUDE = 10**18  # no value may grow beyond this: keeps `9 ** 9 ** 9` from eating the machine
MAX_LIST = 10_000
MAX_DEPTH = 100  # nesting of an expression's parts: brackets, unary signs, operators


class ExprError(ValueError):
    """An expression that does not parse or cannot be evaluated; `column` is 1-based within the text."""

    def __init__(self, message: str, column: int | None = None, code: str = "bad-expression"):
        super().__init__(message)
        self.column = column
        self.code = code


@dataclass(frozen=True)
class Symbol:
    """A bare name that no param or argument defines: a string to fields that take strings (`fan_out`)."""

    name: str
    column: int = field(default=0, compare=False)  # 1-based, within the expression text

    def __str__(self) -> str:
        return self.name


class _Poison:
    """The value of a param whose own expression failed: anything computed from it fails silently,
    so one mistake is reported once, not again at every use."""

    def __repr__(self) -> str:
        return "<invalid>"


POISON = _Poison()
POISONED = "poisoned"  # the code of an ExprError caused by a poisoned value: never shown to the user


@dataclass(frozen=True)
class Later:
    """A size of the tensor reaching a layer (`in_channels`, `in_height`, `in_width`): known only once shapes
    are inferred, so an argument that uses one is evaluated then, by the infer pass."""

    name: str


SHAPE_NAMES = ("in_channels", "in_height", "in_width")
DEFERRED = "deferred"  # the code of an ExprError raised by arithmetic on a Later: evaluate again with shapes


@dataclass(frozen=True)
class CallValue:
    """An evaluated call such as `kaiming_normal(mode=fan_out)`, where the callee is not a function."""

    name: str
    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...]


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = (Path(__file__).with_name("expr.grammar.lark")).read_text()
    return Lark(grammar, start="expr", parser="lalr", maybe_placeholders=False, propagate_positions=True)


@lru_cache(maxsize=4096)
def parse_expr(text: str) -> Tree | Token:
    """Parse one expression; raises ExprError with the column of the problem."""
    if len(text) > MAX_EXPR_CHARS:
        raise ExprError(f"expression is longer than {MAX_EXPR_CHARS} characters", 1)
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        column = getattr(exc, "column", None)
        token = getattr(exc, "token", None)
        if token is not None and getattr(token, "type", "") == "$END":
            what = "the expression ends too early"
        elif token is not None:
            what = f"unexpected '{token}'"
        else:
            char = text[exc.pos_in_stream] if 0 <= (exc.pos_in_stream or 0) < len(text) else "?"
            what = f"unexpected character '{char}'"
        raise ExprError(f"cannot read expression '{text}': {what}", column if column and column > 0 else None) from None
    except LarkError as exc:  # pragma: no cover - lark's other failures are grammar bugs
        raise ExprError(f"cannot read expression '{text}': {exc}") from None
    _check_depth(tree)
    return tree


def _check_depth(tree: Tree | Token) -> None:
    """Refuse expressions nested deeper than MAX_DEPTH before anything walks them recursively."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            column = getattr(getattr(node, "meta", None), "column", None) if isinstance(node, Tree) else node.column
            raise ExprError(f"expression is nested more than {MAX_DEPTH} levels deep", column or 1)
        if isinstance(node, Tree):
            stack.extend((child, depth + 1) for child in node.children if child is not None)


def _check_magnitude(value: Any) -> Any:
    if isinstance(value, complex):
        raise ExprError(f"{value} is not a real number", code="eval-error")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise ExprError(f"{value} is not a finite number", code="eval-error")
        if abs(value) > MAX_MAGNITUDE:
            raise ExprError(f"value {value:.3g} is too large (the limit is 1e18)", code="eval-error")
    return value


def _number(text: str) -> int | float:
    """A number literal, within the same magnitude limit as computed values."""
    text = text.replace("_", "")
    if len(text) > 40:
        raise ExprError(f"number {text[:12]}... is too large (the limit is 1e18)", code="eval-error")
    value = float(text) if any(ch in text for ch in ".eE") else int(text)
    return _check_magnitude(value)


_BINOPS = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
}
_COMPARE = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _as_int(x: Any) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ExprError(f"int() needs a number, got {x!r}", code="eval-error")
    return int(x)


FUNCTIONS: dict[str, Any] = {
    "min": min,
    "max": max,
    "abs": abs,
    "int": _as_int,
    "float": float,
    "round": round,
    "ceil": math.ceil,
    "floor": math.floor,
    "sum": sum,
    "len": len,
}


def evaluate(node: Tree | Token, env: Mapping[str, Any]) -> Any:
    """Evaluate a parsed expression against names in `env`. Unknown names become Symbols."""
    if isinstance(node, Token):  # a lone NAME/NUMBER/STRING collapsed by `?` rules
        return _token_value(node, env)
    kind = node.data
    kids = node.children
    if kind == "number":
        return _number(str(kids[0]))
    if kind == "string":
        return str(kids[0])[1:-1]
    if kind == "name":
        return _lookup(str(kids[0]), env, kids[0].column)
    if kind == "list":
        items = [evaluate(k, env) for k in kids if k is not None]
        return items
    if kind == "neg":
        return _arith(operator.neg, evaluate(kids[0], env))
    if kind == "pos":
        return _arith(operator.pos, evaluate(kids[0], env))
    if kind == "binop":
        left, op, right = evaluate(kids[0], env), str(kids[1]), evaluate(kids[2], env)
        if op == "*" and isinstance(left, list) and isinstance(right, int):
            if len(left) * max(right, 0) > MAX_LIST:
                raise ExprError(f"list would have more than {MAX_LIST} items", code="eval-error")
            return left * right
        if op == "+" and isinstance(left, list) and isinstance(right, list):
            return left + right
        return _arith(_BINOPS[op], left, right, op=op)
    if kind == "pow":
        base, exponent = evaluate(kids[0], env), evaluate(kids[1], env)
        _numbers(base, exponent, op="**")
        if abs(exponent) > 64 or (abs(base) > 1 and abs(exponent) * math.log2(abs(base)) > 61):
            raise ExprError(f"{base} ** {exponent} is too large (the limit is 1e18)", code="eval-error")
        return _check_magnitude(base**exponent)
    if kind == "index":
        seq, idx = evaluate(kids[0], env), evaluate(kids[1], env)
        if not isinstance(seq, list):
            raise ExprError(f"only lists can be indexed, got {seq!r}", code="eval-error")
        if isinstance(idx, bool) or not isinstance(idx, int):
            raise ExprError(f"a list index must be a whole number, got {idx!r}", code="eval-error")
        if not -len(seq) <= idx < len(seq):
            raise ExprError(f"index {idx} is out of range for a list of {len(seq)}", code="eval-error")
        return seq[idx]
    if kind == "compare":
        left, op, right = evaluate(kids[0], env), str(kids[1]), evaluate(kids[2], env)
        _numbers(*(v for v in (left, right) if isinstance(v, (Later, _Poison))), op=op)
        try:
            return _COMPARE[op](left, right)
        except TypeError:
            raise ExprError(f"cannot compare {left!r} {op} {right!r}", code="eval-error") from None
    if kind == "and_":
        return evaluate(kids[0], env) and evaluate(kids[1], env)
    if kind == "or_":
        return evaluate(kids[0], env) or evaluate(kids[1], env)
    if kind == "not_":
        return not evaluate(kids[0], env)
    if kind == "ifelse":
        return evaluate(kids[0], env) if evaluate(kids[1], env) else evaluate(kids[2], env)
    if kind == "call":
        name = str(kids[0])
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        if len(kids) > 1 and kids[1] is not None:
            for arg in kids[1].children:
                if isinstance(arg, Tree) and arg.data == "kwarg":
                    kwargs[str(arg.children[0])] = evaluate(arg.children[1], env)
                else:
                    args.append(evaluate(arg, env))
        if name in FUNCTIONS and name not in env:
            if any(a is POISON for a in args):
                raise ExprError("uses an invalid param", code=POISONED)
            _numbers(*(a for a in args if isinstance(a, Later)), op=name)
            if kwargs:
                raise ExprError(f"{name}() takes no keyword arguments", code="eval-error")
            try:
                return _check_magnitude(FUNCTIONS[name](*args))
            except ExprError:
                raise
            except (TypeError, ValueError, OverflowError) as exc:
                raise ExprError(f"{name}(): {exc}", code="eval-error") from None
        return CallValue(name, tuple(args), tuple(kwargs.items()))
    raise AssertionError(f"unhandled expression node {kind}")  # grammar and evaluator disagree


def _token_value(token: Token, env: Mapping[str, Any]) -> Any:
    if token.type == "NUMBER":
        return _number(str(token))
    if token.type == "STRING":
        return str(token)[1:-1]
    return _lookup(str(token), env, token.column)


def _lookup(name: str, env: Mapping[str, Any], column: int | None = 0) -> Any:
    if name in env:
        return env[name]
    if name in ("true", "True"):
        return True
    if name in ("false", "False"):
        return False
    if name in ("none", "None", "null"):
        return None
    return Symbol(name, column or 0)


class UnknownName(ExprError):
    """A name no param or argument defines, used where a value is needed."""

    def __init__(self, symbol: Symbol):
        super().__init__(f"unknown name '{symbol.name}'", symbol.column or None, code="unknown-name")
        self.name = symbol.name


def _numbers(*values: Any, op: str) -> None:
    for v in values:
        if v is POISON:
            raise ExprError("uses an invalid param", code=POISONED)
        if isinstance(v, Later):
            raise ExprError(f"'{v.name}' is known once shapes are inferred", code=DEFERRED)
        if isinstance(v, Symbol):
            raise UnknownName(v)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ExprError(f"'{op}' needs numbers, got {v!r}", code="eval-error")


def _arith(fn: Any, *values: Any, op: str = "-") -> Any:
    _numbers(*values, op=op)
    try:
        return _check_magnitude(fn(*values))
    except ZeroDivisionError:
        raise ExprError("division by zero", code="eval-error") from None


def eval_text(text: str, env: Mapping[str, Any]) -> Any:
    """Parse and evaluate `text` in one step."""
    return evaluate(parse_expr(text), env)
