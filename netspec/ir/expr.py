"""Spec expressions: parsing them (exprparse.py by hand, lark for the rest and for every syntax error) and
evaluating them safely (no Python `eval`, bounded cost)."""

from __future__ import annotations

import math
import operator
from functools import lru_cache
from pathlib import Path
from reprlib import recursive_repr
from typing import Any, Callable, Mapping

from ..records import FrozenRecord
from . import exprparse
from .exprparse import Token, Tree, from_lark

MAX_EXPR_CHARS = 2_000
MAX_MAGNITUDE = 10**18  # no value may grow beyond this: keeps `9 ** 9 ** 9` from eating the machine
MAX_LIST = 10_000  # items in any list, dict or string a single evaluation produces, nested items counted
MAX_DEPTH = 100  # nesting of an expression's parts: brackets, unary signs, operators
MAX_STEPS = 200_000  # work units of one evaluation (nodes visited, items built, compared or summed)
MAX_EVAL_DEPTH = 200  # nesting while evaluating, calls of spec functions included (Python's stack stays small)
MAX_NDIGITS = 30  # round(x, n): |n| at most this


class ExprError(ValueError):
    """An expression that does not parse or cannot be evaluated; `column` is 1-based within the text."""

    def __init__(self, message: str, column: int | None = None, code: str = "bad-expression"):
        super().__init__(message)
        self.column = column
        self.code = code


# The value classes below are FrozenRecords, which behave as the frozen dataclasses they were (the same repr,
# equality, hash and refusal to change) with no code compiled at import (netspec/records.py).


class Symbol(FrozenRecord):
    """A bare name that no param or argument defines: it stands for the word itself, so it equals the
    string of the same text (`HS == 'HS'`), and is a string to fields that take strings (`fan_out`)."""

    _fields = ("name", "column")
    name: str
    column: int  # 1-based, within the expression text

    def __init__(self, name: str, column: int = 0) -> None:
        _set(self, "name", name)
        _set(self, "column", column)

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Symbol):
            return self.name == other.name
        if isinstance(other, str):
            return self.name == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.name)


class _Poison:
    """The value of a param whose own expression failed: anything computed from it fails silently,
    so one mistake is reported once, not again at every use."""

    def __repr__(self) -> str:
        return "<invalid>"


POISON = _Poison()
POISONED = "poisoned"  # the code of an ExprError caused by a poisoned value: never shown to the user


class Later(FrozenRecord):
    """A size of the tensor reaching a layer (`in_channels`, `in_height`, `in_width`): known only once shapes
    are inferred, so an argument that uses one is evaluated then, by the infer pass."""

    _fields = ("name",)
    name: str

    def __init__(self, name: str) -> None:
        _set(self, "name", name)


SHAPE_NAMES = ("in_channels", "in_height", "in_width")
DEFERRED = "deferred"  # the code of an ExprError raised by arithmetic on a Later: evaluate again with shapes


class RefValue(FrozenRecord):
    """A reference to an earlier entry's output (`$lateral`), as an argument of a data-flow call (`resize`)."""

    _fields = ("target", "column")
    target: str  # without the `$`
    column: int

    def __init__(self, target: str, column: int = 0) -> None:
        _set(self, "target", target)
        _set(self, "column", column)


class CallValue(FrozenRecord):
    """An evaluated call such as `kaiming_normal(mode=fan_out)` or `bottleneck(expansion=4)`, where the
    callee is not a function: an initialiser, or a layer or block called later with these arguments."""

    _fields = ("name", "args", "kwargs")
    name: str
    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...]

    def __init__(self, name: str, args: tuple[Any, ...], kwargs: tuple[tuple[str, Any], ...]) -> None:
        _set(self, "name", name)
        _set(self, "args", args)
        _set(self, "kwargs", kwargs)


class Function(FrozenRecord):
    """A value function defined in the spec (`make_divisible(v, divisor=8) = ...`): its parameters, their
    default expressions (None where required), and its body, which sees only its parameters and the
    spec's other functions. Two functions are equal only when they are the same object."""

    _fields = ("name", "params", "defaults", "body", "scope")
    name: str
    params: tuple[str, ...]
    defaults: tuple[Any, ...]  # per parameter: a parsed default expression, a Const, or None where required
    body: Any  # a parsed expression, or a Const
    scope: dict  # name -> Function: the spec's functions (left out of the repr)

    def __init__(self, name: str, params: tuple[str, ...], defaults: tuple[Any, ...], body: Any,
                 scope: dict | None = None) -> None:
        _set(self, "name", name)
        _set(self, "params", params)
        _set(self, "defaults", defaults)
        _set(self, "body", body)
        _set(self, "scope", {} if scope is None else scope)

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    @recursive_repr()
    def __repr__(self) -> str:
        return (f"{self.__class__.__qualname__}(name={self.name!r}, params={self.params!r}, "
                f"defaults={self.defaults!r}, body={self.body!r})")


class Const(FrozenRecord):
    """A literal standing where a parsed expression could (a function's default or body written as a number)."""

    _fields = ("value",)
    value: Any

    def __init__(self, value: Any) -> None:
        _set(self, "value", value)


_set = object.__setattr__


GRAMMAR_FILE = Path(__file__).with_name("expr.grammar.lark")  # the `.ns` grammar includes it


@lru_cache(maxsize=1)
def _parser() -> Any:
    """lark's parser of the grammar, built once per process, its LALR tables kept between runs in the user's cache
    folder (netspec/tables.py); imported only for a text the hand-written parser (exprparse.py) leaves to it."""
    from lark import Lark

    from ..tables import cached_parser

    grammar = GRAMMAR_FILE.read_text(encoding="utf-8")
    return cached_parser(grammar, lambda: Lark(grammar, start="expr", parser="lalr", maybe_placeholders=False,
                                               propagate_positions=True))


@lru_cache(maxsize=4096)
def parse_expr(text: str) -> Tree:
    """Parse one expression; raises ExprError with the column of the problem."""
    if len(text) > MAX_EXPR_CHARS:
        raise ExprError(f"expression is longer than {MAX_EXPR_CHARS} characters", 1)
    tree = exprparse.read(text)
    if tree is None:  # a syntax error, or one of the rare texts only lark reads: its tree, or its message
        tree = _lark_parse(text)
        _check_depth(tree)
        return from_lark(tree)
    _check_depth(tree)
    return tree


def _lark_parse(text: str) -> Any:
    """lark's tree of `text`; its syntax error as an ExprError."""
    from lark.exceptions import LarkError, UnexpectedInput

    try:
        return _parser().parse(text)
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
            if char.isnumeric():  # '৪', '８', '²': digits of other scripts read as nothing, not as numbers
                what += " (numbers are written with the ASCII digits 0-9)"
        raise ExprError(f"cannot read expression '{text}': {what}", column if column and column > 0 else None) from None
    except LarkError as exc:  # pragma: no cover - lark's other failures are grammar bugs
        raise ExprError(f"cannot read expression '{text}': {exc}") from None


def _check_depth(tree: Any) -> None:
    """Refuse expressions nested deeper than MAX_DEPTH before anything walks them recursively (netspec's tree or
    lark's: a token is a str, a tree has children)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            column = node.column if isinstance(node, str) else getattr(getattr(node, "meta", None), "column", None)
            raise ExprError(f"expression is nested more than {MAX_DEPTH} levels deep", column or 1)
        if not isinstance(node, str):
            stack.extend((child, depth + 1) for child in node.children if child is not None)


def parse_signature(text: str) -> tuple[str, list[tuple[str, str | None]]]:
    """`make_divisible(v, divisor=8)` -> ("make_divisible", [("v", None), ("divisor", "8")]): each parameter
    with the text of its default expression, or None where it is required."""
    tree = parse_expr(text)
    if isinstance(tree, Tree) and tree.data == "name":
        return str(tree.children[0]), []
    if not (isinstance(tree, Tree) and tree.data == "call"):
        raise ExprError(f"'{text}' is not a function signature; write it as `name(a, b=1)`", 1)
    params: list[tuple[str, str | None]] = []
    arguments = tree.children[1].children if len(tree.children) > 1 and tree.children[1] is not None else []
    for arg in arguments:
        if isinstance(arg, Tree) and arg.data == "kwarg":
            default = arg.children[1]
            params.append((str(arg.children[0]), text[default.meta.start_pos:default.meta.end_pos]))
        elif isinstance(arg, Tree) and arg.data == "name":
            if any(default is not None for _, default in params):
                raise ExprError(f"in '{text}', parameter '{arg.children[0]}' without a default follows one with "
                                "a default; give it a default or move it first", arg.meta.column)
            params.append((str(arg.children[0]), None))
        else:
            column = arg.meta.column if isinstance(arg, Tree) else arg.column
            raise ExprError(f"in '{text}', a parameter is a name, or `name=default`", column)
    names = [n for n, _ in params]
    for n in names:
        if names.count(n) > 1:
            raise ExprError(f"in '{text}', parameter '{n}' is listed twice", 1)
    return str(tree.children[0]), params


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
    if len(text) < 19 and text.isdigit() and text.isascii():  # the common case: plain digits, below 10**18
        return int(text)
    text = text.replace("_", "")
    if len(text) > 40:
        raise ExprError(f"number {text[:12]}... is too large (the limit is 1e18)", code="eval-error")
    value = float(text) if any(ch in text for ch in ".eE") else int(text)
    return _check_magnitude(value)


def _fail(message: str) -> ExprError:
    return ExprError(message, code="eval-error")


def item_count(value: Any, limit: int = MAX_LIST) -> int:
    """Items in `value`, nested ones counted (a number is 1), counting stopped a little past `limit`."""
    if isinstance(value, str):
        return max(1, len(value))
    if not isinstance(value, (list, dict)):
        return 1
    total = 1
    stack = [value]
    while stack and total <= limit:
        current = stack.pop()
        items = current.items() if isinstance(current, dict) else current
        for item in items:
            if isinstance(item, tuple):  # a dict's (key, value)
                stack.extend(v for v in item if isinstance(v, (list, dict)))
                total += 2
            elif isinstance(item, (list, dict)):
                stack.append(item)
                total += 1
            else:
                total += len(item) if isinstance(item, str) else 1
    return total


def _special(v: Any, op: str) -> None:
    """Raise for values that cannot take part in an operation yet: an invalid param, a shape size, a
    name nothing defines."""
    if v is POISON:
        raise ExprError("uses an invalid param", code=POISONED)
    if isinstance(v, Later):
        raise ExprError(f"'{v.name}' is known once shapes are inferred", code=DEFERRED)
    if isinstance(v, Symbol):
        raise UnknownName(v)


def _numbers(*values: Any, op: str) -> None:
    for v in values:
        _special(v, op)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _fail(f"'{op}' needs numbers, got {_show(v)}")


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _arith(fn: Any, *values: Any, op: str = "-") -> Any:
    _numbers(*values, op=op)
    try:
        return _check_magnitude(fn(*values))
    except ZeroDivisionError:
        raise _fail("division by zero") from None
    except OverflowError:
        raise _fail(f"'{op}': the result is too large (the limit is 1e18)") from None


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


def _power(base: Any, exponent: Any) -> Any:
    _numbers(base, exponent, op="**")
    if abs(exponent) > 64 or (abs(base) > 1 and abs(exponent) * math.log2(abs(base)) > 61):
        raise _fail(f"{base} ** {exponent} is too large (the limit is 1e18)")
    if base == 0 and exponent < 0:
        raise _fail("division by zero (0 to a negative power)")
    try:
        # a tiny float base to a negative power (1e-300 ** -64) overflows floats before any magnitude check
        return _check_magnitude(base**exponent)
    except OverflowError:
        raise _fail(f"{base} ** {exponent} is too large (the limit is 1e18)") from None


# ---- built-in functions ------------------------------------------------------------------------
# Each takes evaluated values and the evaluator (to charge its work); Python's own builtins are never
# handed a spec value directly, so no value can make one run long or raise something unexpected.


def _list_arg(name: str, v: Any) -> list:
    _special(v, name)
    if isinstance(v, dict):
        return list(v)
    if not isinstance(v, list):
        raise _fail(f"{name}() needs a list, got {_show(v)}")
    return v


def _num(name: str, v: Any) -> int | float:
    _numbers(v, op=name)
    return v


def _whole(name: str, v: Any) -> int:
    _special(v, name)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, bool) or not isinstance(v, int):
        raise _fail(f"{name}() needs whole numbers, got {_show(v)}")
    return v


def _range(ev: "_Eval", *args: Any) -> list[int]:
    if not 1 <= len(args) <= 3:
        raise _fail(f"range() takes 1 to 3 whole numbers, got {len(args)}")
    bounds = [_whole("range", a) for a in args]
    span = range(*bounds) if bounds[-1] != 0 or len(bounds) < 3 else None
    if span is None:
        raise _fail("range() step must not be zero")
    ev.items(len(span))
    return list(span)


def _zip(ev: "_Eval", *args: Any) -> list[list]:
    lists = [_list_arg("zip", a) for a in args]
    n = min((len(xs) for xs in lists), default=0)
    ev.items(n * (len(lists) + 1))
    return [[xs[i] for xs in lists] for i in range(n)]


def _enumerate(ev: "_Eval", xs: Any, start: Any = 0) -> list[list]:
    xs = _list_arg("enumerate", xs)
    start = _whole("enumerate", start)
    ev.items(3 * len(xs))
    return [[start + i, x] for i, x in enumerate(xs)]


def _sum(ev: "_Eval", xs: Any, start: Any = 0) -> int | float:
    xs = _list_arg("sum", xs)
    ev.charge(len(xs))
    total = _num("sum", start)
    for x in xs:
        total = _check_magnitude(total + _num("sum", x))
    return total


def _prod(ev: "_Eval", xs: Any, start: Any = 1) -> int | float:
    xs = _list_arg("prod", xs)
    ev.charge(len(xs))
    total = _num("prod", start)
    for x in xs:
        total = _check_magnitude(total * _num("prod", x))
    return total


def _extreme(name: str, pick: Callable[[Any, Any], bool]) -> Callable:
    def extreme(ev: "_Eval", *args: Any) -> Any:
        values = _list_arg(name, args[0]) if len(args) == 1 else list(args)
        if not values:
            raise _fail(f"{name}() of an empty list")
        ev.charge(len(values))
        best = _num(name, values[0])
        for v in values[1:]:
            if pick(_num(name, v), best):
                best = v
        return best
    return extreme


def _truth(v: Any, what: str) -> bool:
    _special(v, what)
    return bool(v)


def _any(ev: "_Eval", xs: Any) -> bool:
    xs = _list_arg("any", xs)
    ev.charge(len(xs))
    return any(_truth(x, "any") for x in xs)


def _all(ev: "_Eval", xs: Any) -> bool:
    xs = _list_arg("all", xs)
    ev.charge(len(xs))
    return all(_truth(x, "all") for x in xs)


def _len(ev: "_Eval", v: Any) -> int:
    _special(v, "len")
    if not isinstance(v, (list, dict, str)):
        raise _fail(f"len() needs a list, dict or string, got {_show(v)}")
    return len(v)


def _abs(ev: "_Eval", v: Any) -> int | float:
    return abs(_num("abs", v))


def _round(ev: "_Eval", v: Any, ndigits: Any = None) -> int | float:
    v = _num("round", v)
    if ndigits is None:
        return round(v)
    ndigits = _whole("round", ndigits)
    if abs(ndigits) > MAX_NDIGITS:
        raise _fail(f"round(): ndigits must be between -{MAX_NDIGITS} and {MAX_NDIGITS}, got {ndigits}")
    return round(v, ndigits)


def _int(ev: "_Eval", v: Any) -> int:
    return int(_num("int", v))


def _float(ev: "_Eval", v: Any) -> float:
    return float(_num("float", v))


def _math(name: str, fn: Callable, domain: Callable[[float], bool], need: str) -> Callable:
    def one(ev: "_Eval", v: Any) -> Any:
        v = _num(name, v)
        if not domain(v):
            raise _fail(f"{name}() needs {need}, got {v}")
        try:
            return fn(v)
        except OverflowError:
            raise _fail(f"{name}({v}) is too large (the limit is 1e18)") from None
    return one


def _log(ev: "_Eval", v: Any, base: Any = None) -> float:
    v = _num("log", v)
    if v <= 0:
        raise _fail(f"log() needs a positive number, got {v}")
    if base is None:
        return math.log(v)
    base = _num("log", base)
    if base <= 0 or base == 1:
        raise _fail(f"log() base must be positive and not 1, got {base}")
    return math.log(v, base)


def _pow(ev: "_Eval", base: Any, exponent: Any) -> Any:
    return _power(base, exponent)


FUNCTIONS: dict[str, Callable] = {
    "min": _extreme("min", operator.lt),
    "max": _extreme("max", operator.gt),
    "abs": _abs,
    "int": _int,
    "float": _float,
    "round": _round,
    "ceil": _math("ceil", math.ceil, lambda v: True, "a number"),
    "floor": _math("floor", math.floor, lambda v: True, "a number"),
    "sqrt": _math("sqrt", math.sqrt, lambda v: v >= 0, "a number >= 0"),
    "log": _log,
    "log2": _math("log2", math.log2, lambda v: v > 0, "a positive number"),
    "exp": _math("exp", math.exp, lambda v: v <= 42, "a number <= 42 (e ** 42 is near the 1e18 limit)"),
    "pow": _pow,
    "sum": _sum,
    "prod": _prod,
    "len": _len,
    "any": _any,
    "all": _all,
    "range": _range,
    "zip": _zip,
    "enumerate": _enumerate,
}


# ---- the evaluator -----------------------------------------------------------------------------


class _Eval:
    """One evaluation: walks a parsed expression, charging every step to a budget (MAX_STEPS) and every
    item it builds to a size limit (MAX_LIST), so no input runs long, allocates much or recurses deep.

    Its methods per node kind are the reference semantics. Evaluation normally runs the expression's compiled
    form (`_code`, below), which charges the same steps and items and raises the same errors; the walk itself
    (`run`) evaluates a spec function's body only where the nesting comes within the body's own depth of
    MAX_EVAL_DEPTH (its node-by-node depth check is then what decides where evaluation stops), and, with
    `compiled=False`, everything (tests/test_expr_compiled.py compares the two)."""

    __slots__ = ("steps", "depth", "compiled")

    def __init__(self, compiled: bool = True) -> None:
        self.steps = 0
        self.depth = 0  # nodes entered and not left; while compiled code runs, the depth of its tree's parent
        self.compiled = compiled

    def charge(self, n: int) -> None:
        self.steps += n
        if self.steps > MAX_STEPS:
            raise _fail(f"expression takes more than {MAX_STEPS:,} steps to evaluate")

    def items(self, n: int) -> None:
        """About to build something of `n` items: refused before it is allocated when too big."""
        if n > MAX_LIST:
            raise _fail(f"a list, dict or string would have more than {MAX_LIST:,} items")
        self.charge(n)

    def grow(self, total: int, added: int) -> None:
        """A list being built has reached `total` items, `added` of them just now."""
        if total > MAX_LIST:
            raise _fail(f"a list, dict or string would have more than {MAX_LIST:,} items")
        self.charge(added)

    def run(self, node: Tree | Token, env: Mapping[str, Any]) -> Any:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _fail(f"expression takes more than {MAX_STEPS:,} steps to evaluate")
        if isinstance(node, Token):  # a lone NAME/NUMBER/STRING collapsed by `?` rules
            return _token_value(node, env)
        self.depth += 1
        if self.depth > MAX_EVAL_DEPTH:
            raise _fail(f"evaluation nests more than {MAX_EVAL_DEPTH} levels (through calls of spec functions)")
        try:
            return _NODES[node.data](self, node.children, env)
        finally:
            self.depth -= 1

    # ---- node kinds -----------------------------------------------------------------------------

    def number(self, kids, env):
        return _number(str(kids[0]))

    def string(self, kids, env):
        return str(kids[0])[1:-1]

    def name(self, kids, env):
        return _lookup(str(kids[0]), env, kids[0].column)

    def ref(self, kids, env):
        return RefValue(str(kids[0])[1:], kids[0].column or 0)

    def list(self, kids, env):
        items = [self.run(k, env) for k in kids if k is not None]
        if len(items) > 1:
            self.items(sum(item_count(v) for v in items))
        return items

    def dict(self, kids, env):
        out: dict = {}
        for pair in kids:
            key = self.run(pair.children[0], env)
            out[_key(key)] = self.run(pair.children[1], env)
        self.items(item_count(out))
        return out

    def neg(self, kids, env):
        return _arith(operator.neg, self.run(kids[0], env))

    def pos(self, kids, env):
        return _arith(operator.pos, self.run(kids[0], env))

    def binop(self, kids, env):
        return self.binop_values(self.run(kids[0], env), str(kids[1]), self.run(kids[2], env))

    def binop_values(self, left: Any, op: str, right: Any) -> Any:
        if op == "*" and isinstance(left, list) and not isinstance(right, list):
            return self.repeat(left, right)
        if op == "*" and isinstance(right, list) and not isinstance(left, list):
            return self.repeat(right, left)
        if op == "+" and isinstance(left, list) and isinstance(right, list):
            self.items(item_count(left) + item_count(right))
            return left + right
        if op == "+" and isinstance(left, str) and isinstance(right, str) \
                and not isinstance(left, Symbol) and not isinstance(right, Symbol):
            self.items(len(left) + len(right))
            return left + right
        return _arith(_BINOPS[op], left, right, op=op)

    def repeat(self, items: list, times: Any) -> list:
        times = _whole("list *", times) if not isinstance(times, (int, float)) or isinstance(times, bool) else times
        if isinstance(times, float):
            if not times.is_integer():
                raise _fail(f"a list can be repeated a whole number of times, not {times}")
            times = int(times)
        self.items((item_count(items) - 1) * max(times, 0))
        return items * times

    def pow(self, kids, env):
        return _power(self.run(kids[0], env), self.run(kids[1], env))

    def index(self, kids, env):
        return self.index_values(self.run(kids[0], env), self.run(kids[1], env))

    def index_values(self, seq: Any, idx: Any) -> Any:
        _special(seq, "[]")
        if isinstance(seq, dict):
            key = _key(idx)
            if key not in seq:
                keys = ", ".join(_show(k) for k in list(seq)[:10])
                raise _fail(f"key {_show(idx)} is not in the dict (its keys: {keys or 'none'})")
            return seq[key]
        if not isinstance(seq, list):
            raise _fail(f"only lists and dicts can be indexed, got {_show(seq)}")
        _special(idx, "[]")
        if isinstance(idx, bool) or not isinstance(idx, int):
            raise _fail(f"a list index must be a whole number, got {_show(idx)}")
        if not -len(seq) <= idx < len(seq):
            raise _fail(f"index {idx} is out of range for a list of {len(seq)}")
        return seq[idx]

    def slice(self, kids, env):
        seq = self.run(kids[0], env)
        _special(seq, "[:]")
        if not isinstance(seq, (list, str)):
            raise _fail(f"only lists and strings can be sliced, got {_show(seq)}")
        bounds: dict[str, Any] = {"s_lo": None, "s_hi": None, "s_step": None}
        for part in kids[1:]:
            value = self.run(part.children[0], env)
            bounds[part.data] = None if value is None else _whole("a slice", value)
        if bounds["s_step"] == 0:
            raise _fail("a slice step must not be zero")
        out = seq[bounds["s_lo"]:bounds["s_hi"]:bounds["s_step"]]
        if isinstance(seq, Symbol):
            return out
        self.charge(len(out))
        return out

    def compare(self, kids, env):
        return self.compare_values(self.run(kids[0], env), str(kids[1]), self.run(kids[2], env))

    def compare_values(self, left: Any, op: str, right: Any) -> Any:
        for v in (left, right):
            if v is POISON or isinstance(v, Later):
                _special(v, op)
        self.charge(min(item_count(left), item_count(right)))
        try:
            return _COMPARE[op](left, right)
        except TypeError:
            raise _fail(f"cannot compare {_show(left)} {op} {_show(right)}") from None

    def contains(self, kids, env):
        return self.contains_values(self.run(kids[0], env), self.run(kids[1], env))

    def contains_values(self, item: Any, container: Any) -> bool:
        _special(item, "in") if item is POISON or isinstance(item, Later) else None
        _special(container, "in")
        if isinstance(container, dict):
            return _key(item) in container
        if isinstance(container, str) and isinstance(item, (str, Symbol)):
            return str(item) in container
        if not isinstance(container, list):
            raise _fail(f"'in' needs a list, dict or string on its right, got {_show(container)}")
        self.charge(len(container))
        return item in container

    def not_contains(self, kids, env):
        return not self.contains(kids, env)

    def and_(self, kids, env):
        left = self.run(kids[0], env)
        return self.run(kids[1], env) if _truth(left, "and") else left

    def or_(self, kids, env):
        left = self.run(kids[0], env)
        return left if _truth(left, "or") else self.run(kids[1], env)

    def not_(self, kids, env):
        return not _truth(self.run(kids[0], env), "not")

    def ifelse(self, kids, env):
        cond = self.run(kids[1], env)
        return self.run(kids[0], env) if _truth(cond, "if") else self.run(kids[2], env)

    # ---- comprehensions -------------------------------------------------------------------------

    def bindings(self, clauses: list, env: Mapping[str, Any]):
        """Every scope the `for ... in ... if ...` clauses bind, in order (nested loops, left to right)."""
        if not clauses:
            yield env
            return
        clause, rest = clauses[0], clauses[1:]
        targets = [str(t) for t in clause.children[0].children]
        source = self.run(clause.children[1], env)
        _special(source, "for")
        if isinstance(source, dict):
            source = list(source)
        if not isinstance(source, (list, str)) or isinstance(source, Symbol):
            raise _fail(f"'for' needs a list to go through, got {_show(source)}")
        for item in source:
            self.charge(1)
            if len(targets) == 1:
                local = _Scope({targets[0]: item}, env)
            else:
                if not isinstance(item, list) or len(item) != len(targets):
                    raise _fail(f"cannot unpack {_show(item)} into {len(targets)} names ({', '.join(targets)})")
                local = _Scope(dict(zip(targets, item)), env)
            if all(_truth(self.run(cond.children[0], local), "if") for cond in clause.children[2:]):
                yield from self.bindings(rest, local)

    def list_comp(self, kids, env):
        out: list = []
        total = 1
        for local in self.bindings(kids[1:], env):
            value = self.run(kids[0], local)
            added = item_count(value)
            total += added
            self.grow(total, added)
            out.append(value)
        return out

    def dict_comp(self, kids, env):
        out: dict = {}
        total = 1
        for local in self.bindings(kids[2:], env):
            key = _key(self.run(kids[0], local))
            value = self.run(kids[1], local)
            added = item_count(value) + 1
            total += added
            self.grow(total, added)
            out[key] = value
        return out

    # ---- calls ----------------------------------------------------------------------------------

    def call(self, kids, env):
        name = str(kids[0])
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        if len(kids) > 1 and kids[1] is not None:
            for arg in kids[1].children:
                if isinstance(arg, Tree) and arg.data == "kwarg":
                    kwargs[str(arg.children[0])] = self.run(arg.children[1], env)
                else:
                    args.append(self.run(arg, env))
        target = env.get(name)
        if isinstance(target, Function):
            return self.function(target, args, kwargs)
        return self.not_spec_function(name, args, kwargs, env)

    def not_spec_function(self, name: str, args: list, kwargs: dict, env: Mapping[str, Any]) -> Any:
        """A call whose name is not a spec function: a built-in's value, or a CallValue."""
        if name in FUNCTIONS and name not in env:
            if any(a is POISON for a in [*args, *kwargs.values()]):
                raise ExprError("uses an invalid param", code=POISONED)
            try:
                return _check_magnitude(FUNCTIONS[name](self, *args, **kwargs))
            except TypeError:
                raise _fail(f"{name}() does not take these arguments ({len(args)} by position"
                            f"{', ' + ', '.join(kwargs) + ' by name' if kwargs else ''})") from None
            except OverflowError:
                raise _fail(f"{name}(): the result is too large (the limit is 1e18)") from None
            except ZeroDivisionError:
                raise _fail(f"{name}(): division by zero") from None
        return CallValue(name, tuple(args), tuple(kwargs.items()))

    def function(self, fn: Function, args: list, kwargs: dict) -> Any:
        if len(args) > len(fn.params):
            raise _fail(f"{fn.name}() takes {len(fn.params)} argument{'s' if len(fn.params) != 1 else ''} "
                        f"({', '.join(fn.params) or 'none'}), got {len(args)}")
        bound: dict[str, Any] = dict(zip(fn.params, args))
        for key, value in kwargs.items():
            if key not in fn.params:
                raise _fail(f"{fn.name}() has no parameter '{key}'; its parameters: {', '.join(fn.params) or 'none'}")
            if key in bound:
                raise _fail(f"{fn.name}() got '{key}' both by position and by name")
            bound[key] = value
        # the names the body sees: a dict of them where the spec has few functions (its lookups are the cheapest),
        # else the arguments in front of the functions, not copied per call
        local = {**fn.scope, **bound} if self.compiled and len(fn.scope) <= _COPIED_SCOPE else _Scope(bound, fn.scope)
        try:
            for param, default in zip(fn.params, fn.defaults):
                if param in bound:
                    continue
                if default is None:
                    raise _fail(f"{fn.name}() needs argument '{param}' (its parameters: {', '.join(fn.params)})")
                bound[param] = default.value if isinstance(default, Const) else self.nested(default, local)
                if type(local) is dict:
                    local[param] = bound[param]
            return fn.body.value if isinstance(fn.body, Const) else self.nested(fn.body, local)
        except ExprError as exc:
            if exc.code in (POISONED, DEFERRED) or str(exc).startswith("in "):
                raise
            raise ExprError(f"in {fn.name}(): {exc}", None, exc.code) from None

    def nested(self, tree: Tree | Token, env: Mapping[str, Any]) -> Any:
        """A function's default or body, evaluated one level below the call (`self.depth` is the call's)."""
        if self.compiled:
            code = _code(tree)
            if code is not None and self.depth + code.height <= MAX_EVAL_DEPTH:
                return code(self, env)  # no node of it can pass the depth limit: its own calls check theirs
        return self.run(tree, env)


class _Scope(Mapping):
    """The names a comprehension binds, in front of the names around it (no copy of those per item)."""

    __slots__ = ("local", "parent")

    def __init__(self, local: dict, parent: Mapping[str, Any]):
        self.local = local
        self.parent = parent

    def __contains__(self, name: object) -> bool:
        return name in self.local or name in self.parent

    def __getitem__(self, name: str) -> Any:
        return self.local[name] if name in self.local else self.parent[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.local[name] if name in self.local else self.parent.get(name, default)

    def __iter__(self):
        return iter({**dict(self.parent), **self.local})

    def __len__(self) -> int:
        return len(set(self.local) | set(self.parent))


_COPIED_SCOPE = 8  # a spec function's call copies the spec's functions into its scope when there are at most this many

_NODES: dict[str, Callable] = {
    name: getattr(_Eval, name)
    for name in ("number", "string", "name", "ref", "list", "dict", "neg", "pos", "binop", "pow", "index", "slice",
                 "compare", "contains", "not_contains", "and_", "or_", "not_", "ifelse", "list_comp",
                 "dict_comp", "call")
}


def _key(value: Any) -> Any:
    """A value usable as a dict key: numbers, strings, words, booleans and none."""
    _special(value, "{}") if value is POISON or isinstance(value, Later) else None
    if isinstance(value, Symbol):
        return value.name
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    raise _fail(f"a dict key is a number, a word or a string, got {_show(value)}")


# ---- compiled evaluation ---------------------------------------------------------------------------
# Each parsed tree is turned, the first time it is evaluated, into a tree of Python closures, one per node,
# specialised for the node's kind and children, and kept on the tree: it lives exactly as long as parse_expr's
# cache keeps the parse, so it is made once per distinct text. A closure does what _Eval's method for its node
# does, in the same order: it charges its step on entry (MAX_STEPS), charges and checks what it builds (MAX_LIST)
# and raises the same errors (the uncommon cases go to the same _Eval methods). What it saves is the walk:
# numbers, strings and words are read once, a child that is a number or a name is read in place (its step charged
# with the parent's, where nothing can happen between them), and arithmetic and comparisons of plain numbers skip
# the checks they cannot fail. Depth is not counted per node: a tree's nodes nest at most its height, so only a
# call of a spec function (its body starts below the call) can pass MAX_EVAL_DEPTH, and a body that could is
# walked instead (_Eval.nested), where the walk's check stops it at exactly the same node. No text is ever
# turned into Python code: the closures are netspec's own functions, chosen by node kind.

_MISSING = object()
_TOO_MANY_STEPS = f"expression takes more than {MAX_STEPS:,} steps to evaluate"
_WORDS = {"true": True, "True": True, "false": False, "False": False, "none": None, "None": None, "null": None}
_CODE_ATTR = "_netspec_code"  # where a tree keeps its compiled form


def _steps_error() -> ExprError:
    return _fail(_TOO_MANY_STEPS)


def _code(tree: Tree | Token) -> Callable | None:
    """The compiled form of a parsed expression (made once and kept on the tree), or None for a tree nested too
    deeply to compile (it is walked, and stops at the walk's own depth check)."""
    code = getattr(tree, _CODE_ATTR, None)
    if code is None:
        height = _height(tree)
        if height > MAX_EVAL_DEPTH:
            return None
        code = _Compiler().code(tree, 1)
        code.height = height
        leaf = tree.children[0] if isinstance(tree, Tree) and tree.data == "name" and len(tree.children) == 1 else tree
        code.bare = str(leaf) if isinstance(leaf, Token) and leaf.type == "NAME" else ""  # see name_of
        if isinstance(tree, Tree):
            setattr(tree, _CODE_ATTR, code)
    return code


def _height(tree: Tree | Token) -> int:
    """The deepest nesting the walk reaches in `tree` (as _Eval.run counts it: one level per tree it enters)."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Tree):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in node.children if child is not None)
    return deepest


def _leaf(node: Tree | Token) -> tuple[str, Any] | None:
    """("const", value) for a number or string, ("name", (name, value if undefined)) for a name: children read in
    place, which cannot fail or charge anything but their step. None for anything else."""
    if isinstance(node, Token):
        kind, text, column = node.type, str(node), node.column
    elif node.data in ("number", "string", "name", "ref") and isinstance(node.children[0], Token):
        token = node.children[0]
        kind = {"number": "NUMBER", "string": "STRING", "name": "NAME", "ref": "REF"}[node.data]
        text, column = str(token), token.column
    else:
        return None
    if kind == "NUMBER":
        try:
            return "const", _number(text)
        except ExprError:  # a literal past the limits: raised afresh at each evaluation
            return None
    if kind == "STRING":
        return "const", text[1:-1]
    if kind == "REF" and not isinstance(node, Token):
        return "const", RefValue(text[1:], column or 0)
    return "name", (text, _WORDS[text] if text in _WORDS else Symbol(text, column or 0))


def _getter(leaf: tuple[str, Any]) -> Callable:
    kind, what = leaf
    if kind == "const":
        return lambda env: what
    name, undefined = what

    def get(env):
        value = env.get(name, _MISSING)
        if value is _MISSING:
            return env[name] if name in env else undefined
        return value
    return get


def _is_number(value: Any) -> bool:
    kind = type(value)
    return kind is int or kind is float


class _Compiler:
    """Closures for the nodes of one tree; `rel` is a node's depth in its tree, the root's 1."""

    def code(self, node: Tree | Token, rel: int) -> Callable:
        leaf = _leaf(node)
        if leaf is not None:
            return self.leaf(leaf, 1)
        if isinstance(node, Token):  # a number past the limits, where the walk reads a lone token
            text = str(node)

            def bad_number(ev, env):
                steps = ev.steps + 1
                ev.steps = steps
                if steps > MAX_STEPS:
                    raise _steps_error()
                return _number(text)
            return bad_number
        return getattr(self, "c_" + node.data.rstrip("_"))(node.children, rel)

    @staticmethod
    def leaf(leaf: tuple[str, Any], charge: int) -> Callable:
        kind, what = leaf
        if kind == "const":
            def const(ev, env):
                steps = ev.steps + charge
                ev.steps = steps
                if steps > MAX_STEPS:
                    raise _steps_error()
                return what
            return const
        name, undefined = what

        def lookup(ev, env):
            steps = ev.steps + charge
            ev.steps = steps
            if steps > MAX_STEPS:
                raise _steps_error()
            value = env.get(name, _MISSING)
            if value is _MISSING:
                return env[name] if name in env else undefined
            return value
        return lookup

    def operands(self, kids: list, rel: int) -> tuple:
        """Two children: (steps to charge on entry, how to read the left, charge before the right, the right),
        a reader being (getter, None) for a leaf read in place or (None, code)."""
        left, right = _leaf(kids[0]), _leaf(kids[-1])
        lread = (_getter(left), None) if left is not None else (None, self.code(kids[0], rel + 1))
        rread = (_getter(right), None) if right is not None else (None, self.code(kids[-1], rel + 1))
        if left is not None:  # the left is read with the parent's step; the right too if it is a leaf
            return 2 + (right is not None), lread, 0, rread
        return 1, lread, (1 if right is not None else 0), rread

    def binary(self, kids: list, rel: int, finish: Callable, fast: Callable | None) -> Callable:
        """A node of two children evaluated left then right, then `finish(ev, left, right)`; `fast(left, right)`
        answers first where it can (_MISSING where it cannot)."""
        entry, (lget, lcode), between, (rget, rcode) = self.operands(kids, rel)

        def node(ev, env):
            steps = ev.steps + entry
            ev.steps = steps
            if steps > MAX_STEPS:
                raise _steps_error()
            left = lget(env) if lcode is None else lcode(ev, env)
            if between:
                steps = ev.steps + 1
                ev.steps = steps
                if steps > MAX_STEPS:
                    raise _steps_error()
            right = rget(env) if rcode is None else rcode(ev, env)
            if fast is not None:
                value = fast(left, right)
                if value is not _MISSING:
                    return value
            return finish(ev, left, right)
        return node

    # ---- node kinds (the walk's methods, in the same order) ------------------------------------

    def c_number(self, kids, rel):  # only a literal past the limits reaches here: its error, at each evaluation
        text = str(kids[0])

        def number(ev, env):
            steps = ev.steps + 1
            ev.steps = steps
            if steps > MAX_STEPS:
                raise _steps_error()
            return _number(text)
        return number

    def c_ref(self, kids, rel):  # only a hand-made tree reaches here (a ref is a leaf)
        token = kids[0]
        return self.leaf(("const", RefValue(str(token)[1:], token.column or 0)), 1)

    def c_list(self, kids, rel):
        codes = [self.code(k, rel + 1) for k in kids if k is not None]

        def make_list(ev, env):
            steps = ev.steps + 1
            ev.steps = steps
            if steps > MAX_STEPS:
                raise _steps_error()
            items = [code(ev, env) for code in codes]
            if len(items) > 1:
                ev.items(sum(item_count(v) for v in items))
            return items
        return make_list

    def c_dict(self, kids, rel):
        pairs = [(self.code(pair.children[0], rel + 1), self.code(pair.children[1], rel + 1)) for pair in kids]

        def make_dict(ev, env):
            steps = ev.steps + 1
            ev.steps = steps
            if steps > MAX_STEPS:
                raise _steps_error()
            out: dict = {}
            for key, value in pairs:
                k = key(ev, env)
                out[_key(k)] = value(ev, env)
            ev.items(item_count(out))
            return out
        return make_dict

    def unary(self, kids, rel, fn: Callable) -> Callable:
        code = self.code(kids[0], rel + 1)

        def unary(ev, env):
            steps = ev.steps + 1
            ev.steps = steps
            if steps > MAX_STEPS:
                raise _steps_error()
            value = code(ev, env)
            kind = type(value)
            if kind is int or kind is float:
                out = fn(value)
                if -MAX_MAGNITUDE <= out <= MAX_MAGNITUDE:
                    return out
            return _arith(fn, value)
        return unary

    def c_neg(self, kids, rel):
        return self.unary(kids, rel, operator.neg)

    def c_pos(self, kids, rel):
        return self.unary(kids, rel, operator.pos)

    def c_binop(self, kids, rel):
        op = str(kids[1])
        fn = _BINOPS[op]

        entry, (lget, lcode), between, (rget, rcode) = self.operands(kids, rel)

        def binop(ev, env):  # self.binary with `fast` written in: the commonest node of all
            steps = ev.steps + entry
            ev.steps = steps
            if steps > MAX_STEPS:
                raise _steps_error()
            left = lget(env) if lcode is None else lcode(ev, env)
            if between:
                steps = ev.steps + 1
                ev.steps = steps
                if steps > MAX_STEPS:
                    raise _steps_error()
            right = rget(env) if rcode is None else rcode(ev, env)
            kind = type(left)
            if kind is int or kind is float:
                kind = type(right)
                if kind is int or kind is float:
                    try:
                        out = fn(left, right)
                    except (ZeroDivisionError, OverflowError):  # the walk's message, from binop_values
                        return ev.binop_values(left, op, right)
                    if -MAX_MAGNITUDE <= out <= MAX_MAGNITUDE:  # false for inf and nan too
                        return out
            return ev.binop_values(left, op, right)
        return binop

    def c_pow(self, kids, rel):
        return self.binary(kids, rel, lambda ev, base, exponent: _power(base, exponent), None)

    def c_index(self, kids, rel):
        def fast(seq, idx):
            if type(seq) is list and type(idx) is int and -len(seq) <= idx < len(seq):
                return seq[idx]
            return _MISSING
        return self.binary(kids, rel, lambda ev, seq, idx: ev.index_values(seq, idx), fast)

    def c_slice(self, kids, rel):
        seq_code = self.code(kids[0], rel + 1)
        parts = [(part.data, self.code(part.children[0], rel + 1)) for part in kids[1:]]

        def make_slice(ev, env):
            steps = ev.steps + 1
            ev.steps = steps
            if steps > MAX_STEPS:
                raise _steps_error()
            seq = seq_code(ev, env)
            _special(seq, "[:]")
            if not isinstance(seq, (list, str)):
                raise _fail(f"only lists and strings can be sliced, got {_show(seq)}")
            bounds: dict[str, Any] = {"s_lo": None, "s_hi": None, "s_step": None}
            for key, code in parts:
                value = code(ev, env)
                bounds[key] = None if value is None else _whole("a slice", value)
            if bounds["s_step"] == 0:
                raise _fail("a slice step must not be zero")
            out = seq[bounds["s_lo"]:bounds["s_hi"]:bounds["s_step"]]
            if isinstance(seq, Symbol):
                return out
            ev.charge(len(out))
            return out
        return make_slice

    def c_compare(self, kids, rel):
        op = str(kids[1])
        fn = _COMPARE[op]

        def finish(ev, left, right):
            kind = type(left)
            if kind is int or kind is float:
                kind = type(right)
                if kind is int or kind is float:  # one item each: the walk charges 1
                    steps = ev.steps + 1
                    ev.steps = steps
                    if steps > MAX_STEPS:
                        raise _steps_error()
                    return fn(left, right)
            return ev.compare_values(left, op, right)
        return self.binary(kids, rel, finish, None)

    def c_contains(self, kids, rel):
        return self.binary(kids, rel, lambda ev, item, container: ev.contains_values(item, container), None)

    def c_not_contains(self, kids, rel):
        return self.binary(kids, rel, lambda ev, item, container: not ev.contains_values(item, container), None)

    def c_and(self, kids, rel):
        left, right = self.code(kids[0], rel + 1), self.code(kids[1], rel + 1)

        def both(ev, env):
            steps = ev.steps + 1
            ev.steps = steps
            if steps > MAX_STEPS:
                raise _steps_error()
            value = left(ev, env)
            return right(ev, env) if (value if type(value) is bool else _truth(value, "and")) else value
        return both

    def c_or(self, kids, rel):
        left, right = self.code(kids[0], rel + 1), self.code(kids[1], rel + 1)

        def either(ev, env):
            steps = ev.steps + 1
            ev.steps = steps
            if steps > MAX_STEPS:
                raise _steps_error()
            value = left(ev, env)
            return value if (value if type(value) is bool else _truth(value, "or")) else right(ev, env)
        return either

    def c_not(self, kids, rel):
        code = self.code(kids[0], rel + 1)

        def negate(ev, env):
            steps = ev.steps + 1
            ev.steps = steps
            if steps > MAX_STEPS:
                raise _steps_error()
            value = code(ev, env)
            return not (value if type(value) is bool else _truth(value, "not"))
        return negate

    def c_ifelse(self, kids, rel):
        then, cond, other = (self.code(k, rel + 1) for k in kids)

        def choose(ev, env):
            steps = ev.steps + 1
            ev.steps = steps
            if steps > MAX_STEPS:
                raise _steps_error()
            value = cond(ev, env)
            if value if type(value) is bool else _truth(value, "if"):
                return then(ev, env)
            return other(ev, env)
        return choose

    # ---- comprehensions ------------------------------------------------------------------------

    def clauses(self, comps: list, rel: int) -> list:
        return [(tuple(str(t) for t in clause.children[0].children), self.code(clause.children[1], rel + 1),
                 [self.code(cond.children[0], rel + 1) for cond in clause.children[2:]]) for clause in comps]

    def c_list_comp(self, kids, rel):
        element, clauses = self.code(kids[0], rel + 1), self.clauses(kids[1:], rel)
        if len(clauses) == 1 and len(clauses[0][0]) == 1:
            return self.simple_list_comp(element, *clauses[0])

        def list_comp(ev, env):
            steps = ev.steps + 1
            ev.steps = steps
            if steps > MAX_STEPS:
                raise _steps_error()
            out: list = []
            total = 1
            for local in _bindings(ev, clauses, 0, env):
                value = element(ev, local)
                added = item_count(value)
                total += added
                ev.grow(total, added)
                out.append(value)
            return out
        return list_comp

    @staticmethod
    def simple_list_comp(element: Callable, targets: tuple, source_code: Callable, conds: list) -> Callable:
        """`[e for x in xs if c]`: _bindings and list_comp in one loop, for one clause of one name."""
        target = targets[0]

        def list_comp(ev, env):
            steps = ev.steps + 1
            ev.steps = steps
            if steps > MAX_STEPS:
                raise _steps_error()
            out: list = []
            total = 1
            source = source_code(ev, env)
            _special(source, "for")
            if isinstance(source, dict):
                source = list(source)
            if not isinstance(source, (list, str)) or isinstance(source, Symbol):
                raise _fail(f"'for' needs a list to go through, got {_show(source)}")
            for item in source:
                steps = ev.steps + 1
                ev.steps = steps
                if steps > MAX_STEPS:
                    raise _steps_error()
                local = _Scope({target: item}, env)
                for cond in conds:
                    value = cond(ev, local)
                    if not (value if type(value) is bool else _truth(value, "if")):
                        break
                else:
                    value = element(ev, local)
                    kind = type(value)
                    added = 1 if kind is int or kind is float or kind is bool else item_count(value)
                    total += added
                    ev.grow(total, added)
                    out.append(value)
            return out
        return list_comp

    def c_dict_comp(self, kids, rel):
        key_code, value_code = self.code(kids[0], rel + 1), self.code(kids[1], rel + 1)
        clauses = self.clauses(kids[2:], rel)

        def dict_comp(ev, env):
            steps = ev.steps + 1
            ev.steps = steps
            if steps > MAX_STEPS:
                raise _steps_error()
            out: dict = {}
            total = 1
            for local in _bindings(ev, clauses, 0, env):
                key = _key(key_code(ev, local))
                value = value_code(ev, local)
                added = item_count(value) + 1
                total += added
                ev.grow(total, added)
                out[key] = value
            return out
        return dict_comp

    # ---- calls ---------------------------------------------------------------------------------

    def c_call(self, kids, rel):
        name = str(kids[0])
        builtin = FUNCTIONS.get(name)
        quick = _QUICK.get(name) if builtin is not None else None
        parts: list[tuple[str | None, Callable]] = []
        if len(kids) > 1 and kids[1] is not None:
            for arg in kids[1].children:
                if isinstance(arg, Tree) and arg.data == "kwarg":
                    parts.append((str(arg.children[0]), self.code(arg.children[1], rel + 1)))
                else:
                    parts.append((None, self.code(arg, rel + 1)))
        leaves = [_leaf(arg) for arg in kids[1].children] if len(kids) > 1 and kids[1] is not None else []
        if all(key is None for key, _ in parts) and all(leaf is not None for leaf in leaves):
            getters = [_getter(leaf) for leaf in leaves]  # `f(x, 1)`: every argument read with the call's step
            entry = 1 + len(getters)

            def call(ev, env):
                steps = ev.steps + entry
                ev.steps = steps
                if steps > MAX_STEPS:
                    raise _steps_error()
                args = [get(env) for get in getters]
                target = env.get(name)
                if isinstance(target, Function):
                    saved = ev.depth
                    ev.depth = saved + rel
                    try:
                        return ev.function(target, args, {})
                    finally:
                        ev.depth = saved
                if quick is not None and name not in env and FUNCTIONS.get(name) is builtin:
                    value = quick(ev, args)
                    if value is not _MISSING:
                        return value
                return ev.not_spec_function(name, args, {}, env)
            return call
        positional = all(key is None for key, _ in parts)
        codes = [code for _, code in parts]
        count = len(codes)
        first, second = (codes + [None, None])[:2]

        def call(ev, env):
            steps = ev.steps + 1
            ev.steps = steps
            if steps > MAX_STEPS:
                raise _steps_error()
            if positional:
                args = [first(ev, env)] if count == 1 else [first(ev, env), second(ev, env)] if count == 2 \
                    else [code(ev, env) for code in codes]
                kwargs: dict[str, Any] = {}
            else:
                args = []
                kwargs = {}
                for key, code in parts:
                    if key is None:
                        args.append(code(ev, env))
                    else:
                        kwargs[key] = code(ev, env)
            target = env.get(name)
            if isinstance(target, Function):
                saved = ev.depth
                ev.depth = saved + rel
                try:
                    return ev.function(target, args, kwargs)
                finally:
                    ev.depth = saved
            if quick is not None and positional and name not in env and FUNCTIONS.get(name) is builtin:
                value = quick(ev, args)
                if value is not _MISSING:
                    return value
            return ev.not_spec_function(name, args, kwargs, env)
        return call


def _quick_extreme(greater: bool) -> Callable:
    def extreme(ev: _Eval, args: list) -> Any:
        """max() or min() of two or more plain numbers, as _extreme gives it (the first of equals)."""
        if len(args) < 2:
            return _MISSING
        for value in args:
            kind = type(value)
            if kind is not int and kind is not float:
                return _MISSING
        ev.charge(len(args))
        best = args[0]
        for value in args:
            if (value > best) if greater else (value < best):
                best = value
        return best if -MAX_MAGNITUDE <= best <= MAX_MAGNITUDE else _check_magnitude(best)
    return extreme


def _quick_sum(ev: _Eval, args: list) -> Any:
    """sum() of a list of plain numbers whose running totals stay within the limits (checked before the charge,
    which is _sum's: where they do not, _sum does it all, in its order)."""
    if len(args) != 1 or type(args[0]) is not list:
        return _MISSING
    total = 0
    for value in args[0]:
        kind = type(value)
        if kind is not int and kind is not float:
            return _MISSING
        total = total + value
        if not -MAX_MAGNITUDE <= total <= MAX_MAGNITUDE:
            return _MISSING
    ev.charge(len(args[0]))
    return total


def _quick_int(ev: _Eval, args: list) -> Any:
    """int() of one plain number within the limits (nothing to check: the result is within them too)."""
    if len(args) == 1:
        value = args[0]
        kind = type(value)
        if (kind is int or kind is float) and -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:
            return int(value)
    return _MISSING


# Built-ins answered in the compiled call itself for their commonest arguments, where they give what FUNCTIONS'
# version gives (charges included); any other arguments go to that version.
_QUICK: dict[str, Callable] = {"max": _quick_extreme(True), "min": _quick_extreme(False), "int": _quick_int, "sum": _quick_sum}


def _bindings(ev: _Eval, clauses: list, at: int, env: Mapping[str, Any]):
    """_Eval.bindings for compiled clauses: every scope the `for ... in ... if ...` clauses from `at` bind."""
    if at == len(clauses):
        yield env
        return
    targets, source_code, conds = clauses[at]
    source = source_code(ev, env)
    _special(source, "for")
    if isinstance(source, dict):
        source = list(source)
    if not isinstance(source, (list, str)) or isinstance(source, Symbol):
        raise _fail(f"'for' needs a list to go through, got {_show(source)}")
    last = at + 1 == len(clauses)
    single = targets[0] if len(targets) == 1 else None
    for item in source:
        ev.charge(1)
        if single is not None:
            local = _Scope({single: item}, env)
        else:
            if not isinstance(item, list) or len(item) != len(targets):
                raise _fail(f"cannot unpack {_show(item)} into {len(targets)} names ({', '.join(targets)})")
            local = _Scope(dict(zip(targets, item)), env)
        if all(_truth(cond(ev, local), "if") for cond in conds):
            if last:
                yield local
            else:
                yield from _bindings(ev, clauses, at + 1, local)


def evaluate(node: Tree | Token, env: Mapping[str, Any]) -> Any:
    """Evaluate a parsed expression against names in `env`. Unknown names become Symbols."""
    try:
        code = getattr(node, _CODE_ATTR, None)
        if code is None:
            code = _code(node)
        return _Eval().run(node, env) if code is None else code(_Eval(), env)
    except RecursionError:  # cannot happen within MAX_EVAL_DEPTH; kept so no Python error ever escapes
        raise _fail("expression nests too deeply to evaluate") from None
    except MemoryError:
        raise _fail("expression needs too much memory to evaluate") from None


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


def make_functions(defs: Mapping[str, tuple[list[tuple[str, Any]], Any]]) -> dict[str, Function]:
    """Function values for the spec's definitions {name: ([(param, default)], body)}, where a default or a
    body is a parsed expression or a Const (a default is None where required); each body sees the others."""
    scope: dict[str, Function] = {}
    for name, (params, body) in defs.items():
        scope[name] = Function(name, tuple(p for p, _ in params), tuple(d for _, d in params), body, scope)
    return scope


def called_names(tree: Tree | Token) -> list[tuple[str, int]]:
    """Every name called in a parsed expression, with its column (for checking a function body)."""
    found: list[tuple[str, int]] = []
    if isinstance(tree, Tree):
        for node in tree.iter_subtrees():
            if node.data == "call":
                found.append((str(node.children[0]), node.children[0].column))
    return found


def name_of(text: str) -> str:
    """The name that expression text `text` is when it is a single name (`channels`), else "" (also for text that
    does not parse). Evaluating such a text gives the name's value where the environment holds it. Read from
    the text's compiled form, which is made once per parsed text."""
    try:
        tree = parse_expr(text)
    except ExprError:
        return ""
    code = getattr(tree, _CODE_ATTR, None)
    if code is None:
        code = _code(tree)
    return "" if code is None else code.bare


def eval_text(text: str, env: Mapping[str, Any]) -> Any:
    """Parse and evaluate `text` in one step."""
    return evaluate(parse_expr(text), env)
