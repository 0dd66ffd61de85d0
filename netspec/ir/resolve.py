"""The resolve pass: Spec -> Graph. Evaluates params and expressions, expands blocks, repeats and dense blocks."""

from __future__ import annotations

import keyword
import operator
import re
from typing import Any, Mapping

from pydantic import BaseModel, ValidationError

from .. import budgets
from . import graph as g
from . import spec as s
from ..diagnostics import Collector, SpecError, UsageError, did_you_mean, plain_message
from .expr import (
    FUNCTIONS,
    MAX_LIST,
    DEFERRED,
    POISON,
    POISONED,
    SHAPE_NAMES,
    CallValue,
    ExprError,
    Const,
    Function,
    Later,
    RefValue,
    Symbol,
    UnknownName,
    called_names,
    eval_text,
    item_count,
    make_functions,
    name_of,
    parse_expr,
)
from ..initializers import INITIALIZERS, NEEDS_MATRIX
from ..layers import REGISTRY, arg_names
from ..names import module_name_problem
from . import flow
from .spec import ParsedSpec, misspelt_structure

MAX_NODES = 20_000  # default budget of entries after expansion (ResNet-1202 expands to about 4,200); raise with max_nodes
MAX_BLOCK_DEPTH = 32  # nested block calls
MAX_GRAPH_DEPTH = 150  # nesting of entries with blocks expanded; real networks nest about 10 levels


class _TooLarge(Exception):
    pass


class _Wait(Exception):
    """An entry's own expression uses the sizes of the tensor reaching it, which infer has not found yet."""


class _Failed(g.Seq):
    """Stands where an entry that was reported as wrong would be; never leaves resolve (it raises first)."""


_EMPTY = g.Seq(None, "", None)  # what `single` returns for a block whose body gives no entries (a false `if`)


_UNBOUND = object()  # a name its scope does not hold
_NAME_FIELD = re.compile(r"\{([^{}]*)\}")  # an expression in a `names` pattern

DEFER = object()  # what `arguments` returns for a layer whose arguments need the shape reaching it


def spec_functions(spec: s.Spec, errors: Collector, locations) -> dict[str, Function]:
    """The spec's value functions, each checked where it is defined: a call of a name that is neither a
    built-in, another of the spec's functions, a layer kind, a block nor an initialiser is reported there."""
    defs: dict[str, tuple[list, Any]] = {}
    for name, fn in spec.functions.items():
        params = []
        for index, arg in enumerate(fn.args):
            default = None if arg.required else _parsed(arg.default)
            params.append((arg.name, default))
        defs[name] = (params, _parsed(fn.body))
    known = [*FUNCTIONS, *spec.functions]
    callable_elsewhere = {*REGISTRY, *spec.blocks, *INITIALIZERS}
    broken = set()
    for name, (params, body) in defs.items():
        own = {p for p, _ in params}
        for tree, where in [(body, ("functions", name, "body")),
                            *((d, ("functions", name, "args", i)) for i, (_, d) in enumerate(params))]:
            if isinstance(tree, Const) or tree is None:
                continue
            for called, column in called_names(tree):
                if called not in known and called not in callable_elsewhere and called not in own:
                    loc = locations.find(where).loc
                    errors.error("unknown-function", f"function '{name}' calls '{called}', which is not a function"
                                 f"{did_you_mean(called, known)}; {_known_functions(spec.functions)}",
                                 f"functions.{name}", _shift(loc, column) if where[-1] == "body" else loc)
                    broken.add(name)
    for name in broken:  # its uses give an invalid value, silently: the mistake is reported once, above
        defs[name] = (defs[name][0], Const(POISON))
    return make_functions(defs)


def _known_functions(names) -> str:
    own = ", ".join(names)
    return (f"the spec's functions: {own}; " if own else "") + f"built-in: {', '.join(FUNCTIONS)}"


def _parsed(raw: Any) -> Any:
    """A parsed expression for expression text (validate has checked that it parses), a Const otherwise."""
    return parse_expr(raw) if isinstance(raw, str) else Const(raw)


def _unknown_call(value: Any, env: Mapping[str, Any], blocks: Mapping[str, Any]) -> CallValue | None:
    """A call in a value that no function, layer kind, block or initialiser answers to (`make_div(64)`)."""
    if isinstance(value, CallValue):
        known = value.name in env or value.name in blocks or value.name in REGISTRY or value.name in INITIALIZERS
        return None if known else value
    if isinstance(value, list):
        for v in value:
            found = _unknown_call(v, env, blocks) if isinstance(v, (CallValue, list)) else None
            if found:
                return found
    return None


def _function_names(env: Mapping[str, Any]) -> list[str]:
    return [*FUNCTIONS, *(k for k, v in env.items() if isinstance(v, Function))]


def evaluate_params(spec: s.Spec, overrides: Mapping[str, Any], errors: Collector, locations,
                    functions: Mapping[str, Function] | None = None) -> dict[str, Any]:
    """Param values in declaration order; each default may use the params before it (and the spec's functions)."""
    for key in overrides:
        if key not in spec.params:
            known = ", ".join(spec.params) or "none"
            raise UsageError(f"unknown param '{key}'{did_you_mean(key, spec.params)}; this spec's params: {known}")
    env: dict[str, Any] = dict(functions or {})
    for key, default in spec.params.items():
        raw = overrides.get(key, default)
        try:
            env[key] = _eval_value(raw, env)
            if key in overrides and isinstance(env[key], Symbol) and not isinstance(_eval_safe(default, env), Symbol):
                raise UsageError(f"--set {key}={raw}: unknown name '{env[key].name}'"
                                 f"{did_you_mean(env[key].name, env)}; {key} takes a value like {default!r}")
            unknown = _unknown_call(env[key], env, spec.blocks)
            if unknown is not None:
                env[key] = POISON
                known = _function_names(env)
                message = (f"'{unknown.name}' is not a function{did_you_mean(unknown.name, known)}; "
                           f"{_known_functions(spec.functions)}")
                if key in overrides:
                    raise UsageError(f"--set {key}: {message}")
                errors.error("unknown-function", message, f"params.{key}", locations.find(("params", key)).loc)
        except ExprError as exc:
            env[key] = POISON  # later uses fail quietly: the mistake is reported once, here
            if exc.code == POISONED:
                continue
            if key in overrides:
                raise UsageError(f"--set {key}: {exc}") from None
            where = locations.find(("params", key))
            message = str(exc)
            if isinstance(exc, UnknownName):
                message += _hint(exc.name, env, spec.params)
            errors.error(exc.code, message, f"params.{key}", _shift(where.loc, exc.column))
    return {k: v for k, v in env.items() if k in spec.params}


def _hint(name: str, env: Mapping[str, Any], later: Any = ()) -> str:
    """The "did you mean" for an unknown name, or why a name that exists elsewhere is not visible here."""
    if name == "i" and "i" not in env:
        return " (`i` is bound only in the arguments of a repeat or dense entry; pass it on as a block argument)"
    if name in SHAPE_NAMES:
        return (f" (`{name}` is a size of the tensor reaching an entry, known in a layer's or block's arguments, a "
                "block's defaults, a repeat count and an if condition, not in params)")
    if name in later:
        return f" ('{name}' is declared after this param; a param may only use the params above it)"
    return did_you_mean(name, _names(env, name))


def _names(env: Mapping[str, Any], typed: str) -> list[str]:
    """Names to suggest for a misspelt `typed`: the tensor sizes (in_channels...) only when it looks like one."""
    return [k for k, v in env.items() if not isinstance(v, Later) or typed.startswith("in")]


def _column_in(raw: Any, name: str, column: int | None) -> int | None:
    """`column` if `name` really stands there in the expression text `raw` (a name can arrive through
    a block argument, from another expression; then the expression's own start is the best place)."""
    if column and isinstance(raw, str) and raw[column - 1:column - 1 + len(name)] == name:
        return column
    return None


def _shift(loc, column: int | None):
    """The position `column` (1-based, within an expression) of the expression that starts at `loc`."""
    if loc is None or not column:
        return loc
    return type(loc)(loc.file, loc.line, loc.col + column - 1)


_LITERALS = frozenset((int, float, bool))  # values the IR holds as they are: no expression to evaluate
_SETTLED = frozenset((int, float, bool, str, tuple, type(None)))  # evaluated values that are no Later, poison,
# reference, call or list: nothing to look at again in `arguments`


# Validated arguments by (Args class, the values as a repr) or (Args class, the arguments as written, when all are
# literals; see _literal_call), or by the argument names and values' keys a block plan read (see _plan_args and
# _Planner.layer: 3- and 4-tuples, which a 2-tuple never equals): validation is a pure function of the kind's Args class (the class object, so one a
# plugin defines anew is another key) and the values, so the memo serves every resolve of the process, as the parse
# and expression caches do. Only what validated is kept, and the table starts afresh past MAX_VALIDATED entries.
_VALIDATED: dict[tuple, Any] = {}
MAX_VALIDATED = 4096


def forget_validated() -> None:
    """Forget every validated layer argument and every kept block plan (pipeline.clear_caches calls this)."""
    _VALIDATED.clear()
    _PLANNERS.clear()


def _remember(memo: tuple, args: Any) -> None:
    if len(_VALIDATED) >= MAX_VALIDATED:
        _VALIDATED.clear()
    _VALIDATED[memo] = args


def _is_data(value: Any) -> bool:
    """Is `value` plain data (a number, flag, text, none, or a tuple of them), whose repr is the value itself?"""
    if type(value) is tuple:
        return all(_is_data(v) for v in value)
    return value is None or type(value) in _DATA


_DATA = frozenset((int, float, bool, str))
_SCALARS = _DATA | {type(None)}


def _literal_call(node: s.Call) -> tuple | None:
    """A call's arguments as written, each with its type (1, 1.0 and true are equal keys otherwise), when every
    one is a number, a flag or none: such a call means the same in any scope. None when any is an expression."""
    written: list[Any] = []
    for value in node.args:
        kind = type(value)
        if kind not in _LITERALS and value is not None:
            return None
        written += (kind, repr(value) if kind is float else value)  # 0.0 and -0.0 are equal, not the same
    for key, value in node.kwargs.items():  # a keyword starts with its name (a str), a positional with a type
        kind = type(value)
        if kind not in _LITERALS and value is not None:
            return None
        written += (key, kind, repr(value) if kind is float else value)
    return tuple(written)


def _eval_value(raw: Any, env: Mapping[str, Any]) -> Any:
    if isinstance(raw, str):
        return eval_text(raw, env)
    if isinstance(raw, list):  # a list written as a list, items evaluated one by one: capped as [...] is
        out = [_eval_value(v, env) for v in raw]  # `[s, s]` doubles a shared list (a number counts 1)
        if len(out) > 1 and sum(1 if type(v) in _LITERALS else item_count(v) for v in out) > MAX_LIST:
            raise ExprError(f"a list, dict or string would have more than {MAX_LIST:,} items", code="eval-error")
        return out
    return raw


def _eval_safe(raw: Any, env: Mapping[str, Any]) -> Any:
    try:
        return _eval_value(raw, env)
    except ExprError:
        return None


def _plain(value: Any) -> Any:
    """Symbols become strings (for fields such as padding='same'); lists become tuples."""
    if isinstance(value, Symbol):
        return value.name
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value


def _sized(env: Mapping[str, Any], sizes: Mapping[str, int] | None) -> Mapping[str, Any]:
    """`env` with the sizes of the incoming tensor bound, where nothing else (a param, an argument) has their name."""
    if not sizes:
        return env
    return {**env, **{k: v for k, v in sizes.items() if isinstance(env.get(k), Later)}}


def _has_symbol(value: Any) -> Symbol | None:
    if isinstance(value, Symbol):
        return value
    if isinstance(value, list):
        for v in value:
            found = _has_symbol(v)
            if found:
                return found
    return None


class _Evaluator:
    """Expressions evaluated in an environment, each mistake reported once, where it is written (shared by the
    binding of calls and the expansion of structure)."""

    def __init__(self, parsed: ParsedSpec, errors: Collector):
        self.spec = parsed.spec
        self.locations = parsed.locations
        self.errors = errors  # replaced by the infer pass's while it resolves a waiting entry again
        self.locs: dict[tuple, Any] = {}  # IR path -> source location, looked up once
        self.reported: set[tuple] = set()  # (code, IR path) already reported, for errors that repeat per copy
        self.calls: dict[str, list] = {}  # expression text -> names it calls that may be unknown (see unknown_calls)
        self.bare: dict[str, str] = {}  # expression text -> the name it is alone, or "" (expr.name_of, asked once)
        self.deferring = False  # True while a layer's own arguments are evaluated: they may use in_channels
        # An entry's own expressions (an if condition, a repeat count, a block call's arguments and defaults) may
        # use the sizes of the tensor reaching it. Until infer knows them the entry waits (`may_wait`: such a use
        # raises _Wait, and the entry becomes a g.Pending); infer then resolves it again with the sizes bound.
        self.may_wait = False
        self.shaped: tuple[str, ...] = ()  # the sizes bound where a Later is evaluated, for its message
        # references (and resizes, which hold one), extra outputs and parameters made: without any, the walks
        # that link references, find the outputs and check where parameters stand have nothing to find
        self.references = 0
        self.taps = 0
        self.parameters = 0

    def loc(self, cpath: tuple):
        found = self.locs.get(cpath)
        if found is None:
            found = self.locs[cpath] = self.locations.find(cpath).loc
        return found

    def error(self, code: str, message: str, mpath: str, cpath: tuple) -> None:
        self.errors.error(code, message, mpath or "(root)", self.loc(cpath))

    def once(self, code: str, message: str, mpath: str, cpath: tuple) -> None:
        """Report an error that every copy of a repeat would make again, the first time only."""
        if (code, cpath) not in self.reported:
            self.reported.add((code, cpath))
            self.error(code, message, mpath, cpath)

    def unknown_calls(self, raw: Any, env: Mapping[str, Any], mpath: str, cpath: tuple) -> None:
        """Report a call in expression text of a name nothing answers to (no built-in or spec function, layer
        kind, block, initialiser or argument) as `unknown-function` where it is written, and stop its
        evaluation quietly: left to run, it is a value no one can use, reported far from the typo."""
        calls = self.calls.get(raw)
        if calls is None:
            calls = self.calls[raw] = [(n, c) for n, c in called_names(parse_expr(raw))
                                       if n not in FUNCTIONS and n not in REGISTRY and n not in INITIALIZERS
                                       and n not in self.spec.blocks]
        for name, column in calls:
            if name not in env:
                self.errors.error("unknown-function", f"'{name}' is not a function"
                                  f"{did_you_mean(name, _function_names(env))}; {_known_functions(self.spec.functions)}",
                                  mpath or "(root)", _shift(self.loc(cpath), column))
                raise ExprError(f"unknown function '{name}'", code=POISONED)

    def value(self, raw: Any, env: Mapping[str, Any], mpath: str, cpath: tuple) -> Any:
        if isinstance(raw, str):
            name = self.bare.get(raw)
            if name is None:
                name = self.bare[raw] = name_of(raw)
            if name:  # a bare name (most arguments of a block's body): its value as the scope holds it
                value = env.get(name, _UNBOUND)
                if value is not _UNBOUND and not isinstance(value, Later):
                    return value
            if self.calls.get(raw, True):  # a text that calls nothing has nothing to check
                self.unknown_calls(raw, env, mpath, cpath)
        try:
            value = eval_text(raw, env) if isinstance(raw, str) else _eval_value(raw, env)
            if isinstance(value, Later) and not self.deferring:
                raise ExprError(f"'{value.name}' is known once shapes are inferred", code=DEFERRED)
            return value
        except ExprError as exc:
            if exc.code == DEFERRED and not self.deferring and not self.may_wait:
                name = exc.args[0].split("'")[1]
                if self.shaped:
                    message = (f"`{name}` is not defined here: the tensor reaching this entry has no height or width "
                               f"(it has only {', '.join(self.shaped)})")
                else:
                    message = (f"`{name}` cannot be used here: it is a size of the tensor reaching an entry, known in "
                               "a layer's or block's arguments, a block's defaults, a repeat count and an if "
                               "condition; compute other values from params")
                found = re.search(rf"\b{name}\b", raw) if isinstance(raw, str) else None  # the caret on the name
                self.errors.error("unknown-name", message, mpath or "(root)",
                                  _shift(self.loc(cpath), found.start() + 1 if found else None))
            elif exc.code not in (POISONED, DEFERRED):  # a bad param is reported where it is defined
                column = exc.column
                message = str(exc)
                if isinstance(exc, UnknownName):
                    message += _hint(exc.name, env)
                    column = _column_in(raw, exc.name, exc.column)
                self.errors.error(exc.code, message, mpath or "(root)", _shift(self.loc(cpath), column))
            raise

    def int_value(self, raw: Any, env, mpath: str, cpath: tuple, what: str, minimum: int = 0) -> int | None:
        try:
            value = self.value(raw, env, mpath, cpath)
        except ExprError as exc:
            if exc.code == DEFERRED and self.may_wait:
                raise _Wait from None
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, Symbol):
            self.error("unknown-name", f"unknown name '{value.name}'{did_you_mean(value.name, env)}", mpath, cpath)
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.error("invalid-value", f"{what} must be a whole number >= {minimum}, got {value!r}", mpath, cpath)
            return None
        return value

    def names(self, pattern: str, index: int, env, mpath: str, cpath: tuple) -> str:
        """The module name a `names` pattern such as "layer{i + 1}" gives copy `index`."""
        local = env if env.get("i", _UNBOUND) is index else {**env, "i": index}  # a repeat's copy has its own

        def one(match: re.Match) -> str:
            value = eval_text(match.group(1), local)
            if isinstance(value, Later):  # the copies are named before any shape is known
                raise ExprError(f"`{value.name}` cannot name a copy: names are given before shapes are known",
                                code="unknown-name")
            return str(value)

        try:
            name = _NAME_FIELD.sub(one, pattern)
        except ExprError as exc:
            self.once(exc.code, f"in names '{pattern}': {exc}", mpath, cpath + ("names",))
            return str(index)
        problem = module_name_problem(name)
        if problem is not None:
            self.once("invalid-name", f"names '{pattern}' gives '{name}': {problem}", mpath, cpath + ("names",))
            return str(index)  # reported once here, not again for every copy
        return name

    def own(self, sizes: dict[str, int] | None) -> "_Own":
        """While an entry's own expressions are evaluated (`with ev.own(sizes):`): a use of the incoming sizes waits
        for them when they are not known (`sizes` None), and is an error naming the ones there are when they are."""
        return _Own(self, sizes)


class _Own:
    """The context of _Evaluator.own: a plain class, as it is entered for every block call and condition (a
    generator-based context manager costs several times as much)."""

    __slots__ = ("ev", "sizes", "saved")

    def __init__(self, ev: _Evaluator, sizes: dict[str, int] | None):
        self.ev, self.sizes = ev, sizes

    def __enter__(self) -> None:
        ev = self.ev
        self.saved = ev.may_wait, ev.shaped
        ev.may_wait, ev.shaped = self.sizes is None, tuple(self.sizes or ())

    def __exit__(self, *exc) -> None:
        self.ev.may_wait, self.ev.shaped = self.saved


class _Binder:
    """The arguments of calls evaluated, checked and bound: a layer's (its kind's Args model), split's and
    resize's, a parameter's shape and initialiser, and the scope a block call gives the block's body."""

    def __init__(self, ev: _Evaluator, params: dict[str, Any], base: dict[str, Any]):
        self.ev = ev
        self.spec, self.params, self.base = ev.spec, params, base
        self.loc, self.error, self.once, self.value, self.own = ev.loc, ev.error, ev.once, ev.value, ev.own
        self.waits = 0  # layers made whose arguments wait for the sizes reaching them (`pending`)
        self.called: dict[str, list[str]] = {}  # block -> its arguments that its body calls as layers
        self.signatures: dict[str, tuple] = {}  # block -> see signature

    def arguments(self, node: s.Call, names: list[str], positional: tuple[str, ...], env, mpath: str, cpath: tuple,
                  what: str) -> tuple[dict[str, Any], dict[str, tuple]] | None:
        """Evaluate a call's arguments into {name: value}, and {name: IR path} for locating errors.

        Returns None after reporting a problem, and DEFER when an argument needs a tensor size
        (`in_channels`...) that only the infer pass knows.
        """
        values: dict[str, Any] = {}
        paths: dict[str, tuple] = {}
        ok = True
        deferred = False
        if len(node.args) > len(positional):
            count = f"{len(positional)} positional argument{'s' if len(positional) != 1 else ''}"
            if len(positional) == len(names):  # a block: every argument may be positional
                message = f"{what} takes {len(names)} argument{'s' if len(names) != 1 else ''} " \
                          f"({', '.join(names) or 'none'}), got {len(node.args)}"
            else:
                message = f"{what} takes at most {count} ({', '.join(positional) or 'none'}); name the others"
                kind = REGISTRY.get(node.target)
                spare = [n for n in names if n not in positional and n not in node.kwargs and n != "in"]
                if spare:
                    message += f", e.g. `{spare[0]}={node.args[len(positional)]}`"
                if kind is not None and kind.torch_order:
                    message += (f" (torch's order, {kind.torch_order}, is not netspec's: the input size comes from "
                                "the incoming shape)")
            self.error("too-many-args", message, mpath, cpath + ("args", len(positional)))
            return None
        for index, raw in enumerate(node.args):
            key = positional[index]
            paths[key] = cpath + ("args", index)
            if raw is None or type(raw) in _LITERALS:  # a number or a flag as written: nothing to evaluate
                values[key] = raw
                continue
            try:
                values[key] = self.value(raw, env, mpath, paths[key])
            except ExprError as exc:
                deferred |= exc.code == DEFERRED
                ok &= exc.code == DEFERRED
        for key, raw in node.kwargs.items():
            kpath = cpath + ("kwargs", key)
            if key not in names:
                self.error("unknown-arg", f"{what} has no argument '{key}'{did_you_mean(key, names)}; "
                           f"its arguments: {', '.join(names) or 'none'}", mpath, kpath + ("key",))
                ok = False
                continue
            if key in values:
                self.error("duplicate-arg", f"{what} got '{key}' both by position and by name", mpath, kpath + ("key",))
                ok = False
                continue
            paths[key] = kpath
            if raw is None or type(raw) in _LITERALS:
                values[key] = raw
                continue
            try:
                values[key] = self.value(raw, env, mpath, kpath)
            except ExprError as exc:
                deferred |= exc.code == DEFERRED
                ok &= exc.code == DEFERRED
        if not ok:
            return None
        checked = False  # a reference, a call or a list among the values: looked at below
        for v in values.values():  # one pass over the values (most are numbers) for the three questions
            if type(v) in _SETTLED:
                continue
            if v is POISON:
                return None
            if isinstance(v, Later):
                deferred = True
            elif isinstance(v, (RefValue, CallValue, list)):
                checked = True
        if deferred:
            return DEFER
        if not checked:
            return values, paths
        for key, value in values.items():
            if isinstance(value, RefValue) and node.target != "resize":
                self.error("invalid-reference", f"'${value.target}' is a reference to a tensor, which {what} cannot "
                           "take as an argument; a reference stands as an entry of its own (`$enc`), or is the "
                           "first argument of `resize`", mpath, paths[key])
                ok = False
                continue
            unknown = _unknown_call(value, env, self.spec.blocks) if isinstance(value, (CallValue, list)) else None
            if unknown is not None:
                known = _function_names(env)
                self.error("unknown-function", f"'{unknown.name}' is not a function"
                           f"{did_you_mean(unknown.name, known)}; {_known_functions(self.spec.functions)}",
                           mpath, paths[key])
                ok = False
            elif isinstance(value, CallValue) and not what.startswith("block "):
                self.error("invalid-value", f"'{value.name}(...)' is a call of a layer, block or initialiser, "
                           "not a value for an argument", mpath, paths[key])
                ok = False
        return (values, paths) if ok else None

    def flow_call(self, node: s.Call, env, mpath: str, cpath: tuple) -> g.Node | None:
        """`split(parts, dim=1)` and `resize($like, mode=nearest, align_corners=none)`: data flow, no module."""
        loc = self.loc(cpath)
        if node.target == "split":
            got = self.arguments(node, ["parts", "dim"], ("parts", "dim"), env, mpath, cpath, "split")
        else:
            got = self.arguments(node, ["like", "mode", "align_corners"], ("like",), env, mpath, cpath, "resize")
        if got is None or got is DEFER:
            if got is DEFER:
                self.error("invalid-value", f"{node.target}'s arguments cannot use the incoming sizes", mpath, cpath)
            return None
        values, paths = got
        dim = values.get("dim", 1)
        if isinstance(dim, bool) or not isinstance(dim, int) or dim == 0:
            self.error("invalid-value", f"{node.target} dim must be a whole number other than 0 (0 is the batch; "
                       f"1 the channels, -1 the last dimension), got {dim!r}", mpath, paths.get("dim", cpath))
            return None
        if node.target == "split":
            parts = values.get("parts")
            if "parts" not in values:
                self.error("missing-arg", "split needs `parts`: a number of equal parts, or a list of their sizes",
                           mpath, cpath)
                return None
            if isinstance(parts, list) and parts and all(isinstance(p, int) and not isinstance(p, bool) and p > 0
                                                         for p in parts):
                return g.Split(node.name, "", loc, parts=len(parts), sizes=tuple(parts), dim=dim)
            if isinstance(parts, int) and not isinstance(parts, bool) and parts >= 1:
                return g.Split(node.name, "", loc, parts=parts, dim=dim)
            self.error("invalid-value", f"split parts must be a whole number >= 1 or a list of sizes >= 1, got "
                       f"{parts!r}", mpath, paths["parts"])
            return None
        like = values.get("like")
        if not isinstance(like, RefValue):
            self.error("invalid-value" if "like" in values else "missing-arg",
                       "resize needs a reference to the tensor whose size it takes, such as `resize($lateral)`",
                       mpath, paths.get("like", cpath))
            return None
        mode = values.get("mode", "nearest")
        if str(mode) not in _RESIZE_MODES:
            self.error("invalid-value", f"resize mode must be one of {', '.join(_RESIZE_MODES)}, got {str(mode)!r}"
                       f"{did_you_mean(str(mode), _RESIZE_MODES)}", mpath, paths["mode"])
            return None
        corners = values.get("align_corners")
        if corners is not None and not isinstance(corners, bool):
            self.error("invalid-value", f"resize align_corners must be true, false or none, got {corners!r}",
                       mpath, paths["align_corners"])
            return None
        if corners is not None and str(mode) not in ("linear", "bilinear", "bicubic", "trilinear"):
            self.error("invalid-value", f"align_corners applies only to the linear modes, not {mode}", mpath,
                       paths["align_corners"])
            return None
        ref = g.Ref(None, "", _shift(self.loc(paths["like"]), like.column), target=like.target)
        self.ev.references += 1
        return g.Resize(node.name, "", loc, like=ref, mode=str(mode), align_corners=corners)

    def layer(self, node: s.Call, env, mpath: str, cpath: tuple) -> g.Layer | None:
        kind = REGISTRY[node.target]
        layer = g.Layer(node.name, "", self.loc(cpath), kind=kind)
        written = _literal_call(node)
        if written is not None:  # numbers and flags only: the same call validated before needs nothing evaluated
            args = _VALIDATED.get((kind.Args, written))
            if args is not None:
                layer.args = args
                return layer
        self.ev.deferring = True
        try:
            got = self.arguments(node, arg_names(kind), kind.positional, env, mpath, cpath, kind.name)
        finally:
            self.ev.deferring = False
        if got is DEFER:  # uses in_channels & co: the infer pass binds the arguments once the shape is known
            self.waits += 1
            layer.pending = lambda sizes, errors: self.bind_later(kind, node, _sized(env, sizes), mpath, cpath, errors,
                                                                  tuple(sizes))
            return layer
        layer.args = self.bind(kind, node, env, got, mpath, cpath)
        if layer.args is None:
            return None
        if written is not None:
            _remember((kind.Args, written), layer.args)
        return layer

    def bind_later(self, kind, node: s.Call, env, mpath: str, cpath: tuple, errors: Collector, shaped: tuple = ()):
        """Evaluate and validate a deferred layer's arguments, reporting into the infer pass's errors."""
        self.ev.errors = errors
        self.ev.shaped = shaped
        try:
            got = self.arguments(node, arg_names(kind), kind.positional, env, mpath, cpath, kind.name)
        finally:
            self.ev.shaped = ()
        return None if got is None or got is DEFER else self.bind(kind, node, env, got, mpath, cpath)

    def bind(self, kind, node: s.Call, env, got, mpath: str, cpath: tuple):
        """Validated arguments (the kind's Args model) for evaluated values, or None after reporting why not."""
        if got is None:
            return None
        values, paths = got
        plain = {k: v if type(v) in _LITERALS else _plain(v) for k, v in values.items()}
        memo = (kind.Args, repr(sorted(plain.items())))
        args = _VALIDATED.get(memo)
        if args is not None:  # the same layer again (repeats, blocks, other specs): validated once
            return args
        try:
            args = kind.Args.model_validate(plain)
            if all(_is_data(v) for v in plain.values()):  # a repr that says what the value is, in any process
                _remember(memo, args)
        except ValidationError as exc:
            raws = {**dict(zip(kind.positional, node.args)), **node.kwargs}  # as written, for carets on names
            done: set[str] = set()
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else ""
                key = next((k for k in paths if k == field or (field == "in_" and k == "in")), None)
                if (key or field) in done:
                    continue  # a union type fails once per member: one error per argument is enough
                done.add(key or field)
                where = paths.get(key, cpath) if key else cpath
                symbol = _has_symbol(values.get(key)) if key else None
                if symbol is not None:
                    choices = [*_names(env, symbol.name), *_literal_choices(exc, field)]
                    self.ev.errors.error("unknown-name", f"unknown name '{symbol.name}'{did_you_mean(symbol.name, choices)}",
                                      mpath, _shift(self.loc(where), _column_in(raws.get(key), symbol.name, symbol.column)))
                elif err["type"] == "missing":
                    self.error("missing-arg", f"{kind.name} needs argument '{field}'"
                               f"{' (by position: ' + ', '.join(kind.positional) + ')' if kind.positional else ''}",
                               mpath, cpath)
                else:
                    message = plain_message(err)
                    label = f"{kind.name} argument '{key}'" if key else kind.name
                    self.error("invalid-value", f"{label}: {message}", mpath, where)
            return None
        return args

    def allowed(self, arg: s.Arg, value: Any, node: s.Call, where: tuple, mpath: str, index: int) -> bool:
        """Is `value` one of the choices block argument `arg` declares? Reported at the call when not."""
        try:
            choices = [_choice_name(c) for c in
                       self.value(arg.choices, self.base, mpath, ("blocks", node.target, "args", index, "choices"))]
        except ExprError:
            return False
        if _choice_name(value) in choices:
            return True
        shown = ", ".join(str(c) for c in choices)
        got = _choice_name(value)
        self.once("invalid-value", f"block '{node.target}' argument '{arg.name}' is one of {shown}; got {got}"
                  f"{did_you_mean(str(got), [str(c) for c in choices])}", mpath, where)
        return False

    def signature(self, name: str, block: s.BlockDef) -> tuple[list[str], tuple[str, ...], str, bool]:
        """Block `name`'s argument names (a list and a tuple), how messages call it, and whether any argument
        declares its choices (found once)."""
        found = self.signatures.get(name)
        if found is None:
            names = [a.name for a in block.args]
            found = self.signatures[name] = (names, tuple(names), f"block '{name}'",
                                             any(a.choices is not None for a in block.args))
        return found

    def called_args(self, name: str) -> list[str]:
        """The arguments of block `name` that its body calls as layers, in declaration order (found once)."""
        found = self.called.get(name)
        if found is None:
            found = self.called[name] = _called_args(self.spec.blocks[name])
        return found

    def callable_value(self, name: str, value: Any, target: str, where: tuple, mpath: str) -> bool:
        """Does argument `name`, which block `target`'s body calls as a layer, hold a layer kind or block? A word
        or call that names neither is reported at the call, where the value was written (a number or none is
        left to the body, where an `if` may keep it from being called)."""
        word = value.name if isinstance(value, (Symbol, CallValue)) else None
        if word is None or word in REGISTRY or word in self.spec.blocks:
            return True
        shown = f"{word}(...)" if isinstance(value, CallValue) and (value.args or value.kwargs) else f"'{word}'"
        self.error("unknown-layer", f"block '{target}' calls its argument '{name}' as a layer, but it holds {shown}, "
                   f"which is not a layer kind or block{did_you_mean(word, [*REGISTRY, *self.spec.blocks])}; pass one, "
                   f"such as `{name}=relu` or `{name}=conv2d(64, 1)`", mpath, where)
        return False

    def parameter(self, node: s.Parameter, env, mpath: str, cpath: tuple) -> g.Param | None:
        """A learnable tensor of the enclosing module: its name, its shape (whole numbers >= 1), its initialiser."""
        if node.name is None:
            self.error("missing-key", "a parameter needs a name, its key in the state_dict: write "
                       "`scale: {parameter: [64, 1, 1]}`", mpath, cpath)
            return None
        try:
            shape = self.value(node.shape, env, mpath, cpath + ("shape",))
        except ExprError:
            return None
        shape = [int(d) if isinstance(d, float) and d.is_integer() else d for d in shape] \
            if isinstance(shape, (list, tuple)) else shape
        if not isinstance(shape, list) or not shape or any(isinstance(d, bool) or not isinstance(d, int) or d < 1
                                                           for d in shape):
            self.error("invalid-value", f"a parameter's shape is a list of whole numbers >= 1, such as [64, 1, 1]; "
                       f"got {_plain(shape)!r}", mpath, cpath + ("shape",))
            return None
        where = cpath + ("init",)
        try:
            value = self.value(node.init, env, mpath, where)
        except ExprError:
            return None
        try:
            init = initialiser(value, vector=len(shape) < 2, what="this parameter")
        except InitProblem as problem:
            self.error(problem.code, str(problem), mpath, where)
            return None
        self.ev.parameters += 1
        return g.Param(node.name, "", self.loc(cpath), shape=tuple(shape), init=init)

    def override(self, call: s.Call, first: dict[str, Any], mpath: str, cpath: tuple) -> s.Call:
        """The call with `first`'s arguments added to or replacing its keyword arguments. One the call gives by
        position is a `duplicate-arg` error (the docs promise it is never replaced silently)."""
        if call.target in REGISTRY:
            positional = REGISTRY[call.target].positional
        elif call.target in self.spec.blocks:
            positional = tuple(a.name for a in self.spec.blocks[call.target].args)
        else:
            positional = ()
        given = positional[:len(call.args)]
        kwargs = dict(call.kwargs)
        for key, value in first.items():
            if key in given:
                self.once("duplicate-arg", f"`first` sets '{key}', which {call.target}(...) already gives by position "
                          f"(argument {given.index(key) + 1}); give it by name in the call, `{key}=...`, so `first` "
                          "can replace it", mpath, cpath + ("first", key))
                continue
            kwargs[key] = value
        return call.model_copy(update={"kwargs": kwargs})

    def entry_hint(self, target: str, env) -> str:
        """The "did you mean" for an entry naming nothing: the layer kinds, blocks and arguments holding a layer
        that it is close to, or the structure keyword it is a slip of (`residul`, written without its body)."""
        near = misspelt_structure(target)
        if near is not None:
            return f" (did you mean '{near}'? that is a structure keyword, written with its body)"
        held = [k for k, v in env.items() if isinstance(v, (Symbol, CallValue)) and k not in self.params]
        return did_you_mean(target, [*REGISTRY, *self.spec.blocks, *held, *s.FLOW_CALLS])

    def block_scope(self, node: s.Call, block: s.BlockDef, env, sizes: dict[str, int] | None, mpath: str,
                    cpath: tuple) -> dict[str, Any] | None:
        """What the body of block `node.target` sees: the spec's params and functions, and its arguments as the
        call gives them or as their defaults say; None after reporting why it cannot be called so. Raises _Wait
        when an argument or a default uses the sizes of the tensor reaching the call, not known yet."""
        names, order, what, choices = self.signature(node.target, block)
        ev = self.ev  # the call's arguments and the defaults are its own expressions (see _Evaluator.own)
        saved = ev.may_wait, ev.shaped
        ev.may_wait, ev.shaped = sizes is None, tuple(sizes or ())
        try:
            got = self.arguments(node, names, order, _sized(env, sizes), mpath, cpath, what)
            if got is None:
                return None
            if got is DEFER:  # an argument uses in_channels & co: wait for them (or `value` has said why it cannot)
                if sizes is None:
                    raise _Wait
                return None
            values, paths = got
            local = dict(self.base)
            ok = True
            wait = False
            for index, arg in enumerate(block.args):
                if arg.name in values:
                    local[arg.name] = values[arg.name]
                elif arg.required:
                    self.error("missing-arg", f"block '{node.target}' needs argument '{arg.name}' "
                               f"(its arguments: {', '.join(names)})", mpath, cpath)
                    ok = False
                elif arg.default is None or type(arg.default) in _LITERALS:  # `stride: 1`: nothing to evaluate
                    local[arg.name] = arg.default
                else:
                    try:
                        local[arg.name] = self.value(arg.default, _sized(local, sizes), mpath,
                                                     ("blocks", node.target, "args", index, "default"))
                    except ExprError as exc:
                        if sizes is None and (exc.code == DEFERRED or (wait and exc.code == POISONED)):
                            wait = True  # a default uses in_channels & co (or one that does): wait for them
                            local[arg.name] = POISON
                        else:
                            ok = False
        finally:
            ev.may_wait, ev.shaped = saved
        if ok and wait:
            raise _Wait
        for index, arg in enumerate(block.args) if choices else ():
            if ok and arg.choices is not None and not self.allowed(arg, local[arg.name], node, paths.get(arg.name, cpath),
                                                                   mpath, index):
                ok = False
        for name in self.called_args(node.target):
            where = paths.get(name) or ("blocks", node.target, "args", names.index(name), "default")
            if ok and not self.callable_value(name, local[name], node.target, where, mpath):
                ok = False
        if not ok:
            return None
        return local


class _Resolver:
    """The structure expanded: entries, sequences, merges, residuals, repeats, conditions, splices and block
    calls, each placed at the module path the _Namer will give it, within the node budget."""

    def __init__(self, parsed: ParsedSpec, params: dict[str, Any], errors: Collector,
                 functions: Mapping[str, Function] | None = None, max_nodes: int = MAX_NODES):
        self.ev = ev = _Evaluator(parsed, errors)
        self.base = {**{n: Later(n) for n in SHAPE_NAMES}, **(functions or {}), **params}  # what every block body sees
        self.binder = binder = _Binder(ev, params, self.base)
        self.spec, self.params, self.max_nodes = parsed.spec, params, max_nodes
        self.loc, self.error, self.value, self.int_value, self.names, self.own = (ev.loc, ev.error, ev.value,
                                                                                  ev.int_value, ev.names, ev.own)
        self.layer, self.flow_call, self.parameter = binder.layer, binder.flow_call, binder.parameter
        self.override, self.entry_hint = binder.override, binder.entry_hint
        self.nodes = 0
        self.depth = 0  # entries being resolved, one inside the other (see entry)
        self.block_stack: list[str] = []
        self.failed = 0  # entries reported as wrong, standing as _Failed
        self.block_calls: list[tuple[str, tuple]] = []  # (module path, IR path) of each call on block_stack
        # Module paths for messages, as the _Namer will give them: a spliced sequence numbers its items from
        # where the splice stands in the enclosing one (`splice_into`, for the next entry only), and inside
        # a `flat` module names are its direct children and unnamed layers get generated names (`flat_scope`).
        self.splice_into: tuple[str, int] | None = None
        self.flat_scope: dict | None = None
        # An unnamed place (`slot`: its parent's path, and whether that is a flat module) that the entry about to
        # be resolved stands in: if that entry, or the one it leads to (an if's choice, the body of a block
        # called without a name), has a name of its own, the name places it there, as the _Namer will.
        self.slot: tuple[str, bool] | None = None
        self.sizes: dict[str, int] | None = None  # for an entry resolved again by infer, read by it alone
        self.instances: dict[tuple, tuple] = {}  # see instance_key -> (the block body's _Instance, nodes counted)
        self.shown: set[int] = set()  # ids of the top nodes of the _Instances that stand in the graph itself
        self.sealed = False  # the main expansion is over: what infer expands again keeps instances of its own
        self.waits = 0  # g.Pending nodes made: entries waiting for the sizes reaching them
        self.planner = _planner_for(self, parsed, params, functions)

    def instance_key(self, target: str, values: list, into, sizes) -> tuple | None:
        """What a block instance depends on, for copying one made before (None: resolve it afresh): the block,
        its argument values (defaults included), and the nesting that its limits count. An instance inside a
        flat module, spliced, or bound to the incoming sizes depends on more, and is always resolved."""
        ev = self.ev
        if into is not None or sizes is not None or self.flat_scope is not None or ev.deferring:
            return None
        kinds = tuple(map(type, values))
        if _SCALARS.issuperset(kinds):  # numbers, flags, texts and none (most calls): each value with its type
            held = ("scalars", kinds, tuple(map(repr, values)) if float in kinds else tuple(values))  # -0.0, 0.0
        else:
            try:
                held = tuple(map(_value_key, values))
            except _Unkeyed:
                return None
        return target, held, self.depth, len(self.block_stack), ev.may_wait, ev.shaped

    def instance(self, nodes: list[g.Node]) -> "_Instance":
        """A block instance kept for copying. During the main expansion it is the nodes themselves, which stand in
        the graph (copying them only when the block is called again); once that is over (see seal), a copy."""
        if self.sealed:
            return _Instance([g.copy_tree(n) for n in nodes])
        self.shown.update(id(n) for n in nodes)
        return _Instance(nodes)

    def seal(self) -> None:
        """The main expansion is over: the naming and the passes after it change the nodes that the instances
        kept so far are. Only entries waiting for the sizes reaching them resolve again (in infer), so the
        instances become copies of themselves where there are any, and are dropped where there are none."""
        self.sealed = True
        if self.waits:
            self.instances = {key: (_Instance(made.copy()), count) for key, (made, count) in self.instances.items()}
        else:
            self.instances.clear()
        self.shown.clear()

    def unshared(self) -> tuple[int, int, int, int]:
        """What makes a block instance unfit to copy if it grew while the instance was resolved: errors (its copies
        would not report them), entries standing as _Failed, and nodes waiting for the sizes reaching them (their
        closures hold this call's place)."""
        return len(self.ev.errors.items), self.failed, self.waits, self.binder.waits

    def count(self, cpath: tuple) -> None:
        self.nodes += 1
        if self.nodes > self.max_nodes:
            self.too_many(cpath)

    def too_many(self, cpath: tuple) -> None:
        self.error("too-large", f"the network expands to more than {self.max_nodes:,} nodes (entries after repeats "
                   "and blocks are expanded); raise the budget with --max-nodes / max_nodes=", "", cpath)
        raise _TooLarge

    def entry(self, node: s.Entry, env: Mapping[str, Any], mpath: str, cpath: tuple) -> list[g.Node]:
        """`nested_entry`, one level deeper: nesting is counted across block calls (31 blocks of 55 nested lists
        each are 1,700 levels, which no front-end cap sees) and refused past MAX_GRAPH_DEPTH, before Python's
        stack runs out here or in the passes after this one."""
        if self.depth >= MAX_GRAPH_DEPTH:
            self.too_deep(mpath, cpath)
        slot, self.slot = self.slot, None
        scope = self.flat_scope
        if node.name is not None and slot is not None:  # its own name places it, not its index
            mpath = self.child_path(slot[0], node.name, 0)
            if slot[1]:
                self.flat_scope = None  # a named entry of a flat module is a module, named as usual inside
            slot = None
        self.depth += 1
        try:
            return self.nested_entry(node, env, mpath, cpath, slot)
        finally:
            self.depth -= 1
            self.flat_scope = scope

    def too_deep(self, mpath: str, cpath: tuple) -> None:
        self.error("too-deep", f"the network nests more than {MAX_GRAPH_DEPTH} levels once its blocks are "
                   "expanded; flatten the nested lists or blocks", mpath, cpath)
        raise _TooLarge

    def child(self, item: s.Entry, env, parent: str, name: str | None, position: int, cpath: tuple) -> list[g.Node]:
        """The nodes of `item`, a child of the node at `parent` named `name` (or at `position` when None)."""
        scope = self.flat_scope
        if scope is None and type(item) is s.Call:  # most entries: what entry and nested_entry do for a call
            return self.call_child(item, env, parent, name, position, cpath)
        path = self.child_path(parent, name, position)
        self.slot = None if name is not None else (parent if scope is None else scope["path"], scope is not None)
        if scope is not None and name is not None:
            self.flat_scope = None  # a named entry of a flat module is a module, named as usual inside
        try:
            return self.entry(item, env, path, cpath)
        finally:
            self.flat_scope = scope

    def call_child(self, item: s.Call, env, parent: str, name: str | None, position: int,
                   cpath: tuple) -> list[g.Node]:
        """`child` -> `entry` -> `nested_entry` for a call outside a flat module, in one step: the same checks,
        places and results."""
        own = name if name is not None else item.name  # its own name places it, not its index
        if self.depth >= MAX_GRAPH_DEPTH:
            self.slot = (parent, False) if name is None else None
            self.too_deep(_join(parent, name if name is not None else str(position)), cpath)
        path = _join(parent, own if own is not None else str(position))
        self.depth += 1
        try:
            self.nodes += 1  # count
            if self.nodes > self.max_nodes:
                self.too_many(cpath)
            into, self.splice_into = self.splice_into, None
            self.slot = (parent, False) if own is None else None  # for the body of a block called without a name
            try:
                built = self.call(item, env, path, cpath, into)
            except _Wait:
                return self.waiting(item, env, path, cpath)
            finally:
                self.slot = None
            if built is None:
                return [self.failure(item, cpath)]
            return [] if built is _EMPTY else [built]
        finally:
            self.depth -= 1
            self.flat_scope = None

    def nested_entry(self, node: s.Entry, env: Mapping[str, Any], mpath: str, cpath: tuple,
                     slot: tuple[str, bool] | None = None) -> list[g.Node]:
        """The graph nodes one IR entry contributes: none for a false `if`, several for a `splice`.

        Nodes keep their explicit name (or None); `_Namer` gives index names and paths at the end,
        once splices and conditions have settled each entry's position. `mpath` is for messages only,
        and is the path the _Namer will give (see `child_path`).
        """
        self.count(cpath)
        into, self.splice_into = self.splice_into, None  # meant for this entry, not for the ones inside it
        kind = type(node)
        if kind is s.Call or kind is s.Seq or kind is s.Merge:  # most entries: none of the structures below
            pass
        elif isinstance(node, s.If):
            sizes, self.sizes = self.sizes, None
            try:
                with self.own(sizes):
                    cond = self.value(node.cond, _sized(env, sizes), mpath, cpath + ("cond",))
            except ExprError as exc:
                if exc.code == DEFERRED and sizes is None:
                    return self.waiting(node, env, mpath, cpath)
                return [self.failure(node, cpath)]
            if isinstance(cond, Symbol):
                self.error("unknown-name", f"unknown name '{cond.name}'{did_you_mean(cond.name, env)}", mpath, cpath + ("cond",))
                return [self.failure(node, cpath)]
            chosen, key = (node.then, "then") if cond else (node.else_, "else")
            if chosen is None:
                return []
            if node.name is not None and chosen.name is None:
                chosen = chosen.model_copy(update={"name": node.name})  # `bn: {if: ..., then: batchnorm2d}`
            self.splice_into, self.slot = into, slot
            return self.entry(chosen, env, mpath, cpath + (key,))
        elif isinstance(node, s.Splice):
            spliced: list[g.Node] = []
            parent, _, position = mpath.rpartition(".")
            if self.flat_scope is None and node.name is None and position.isdigit():
                self.splice_into = (parent, int(position))  # its items are numbered where it stands
            for inner in self.entry(node.body, env, mpath, cpath + ("body",)):
                if isinstance(inner, g.Seq):
                    # the items of a kept instance would stand where they can be renamed: copies stand instead
                    spliced.extend(inner.items if id(inner) not in self.shown else
                                   [g.copy_tree(n) for n in inner.items])
                elif isinstance(inner, g.Pending):
                    self.error("invalid-entry", "a spliced entry's arguments, count or condition cannot use "
                               "in_channels, in_height or in_width (the numbering of what follows depends on it); "
                               "compute the value from params", mpath, cpath)
                else:
                    self.error("invalid-entry", "splice takes a sequence (a list, a block of layers, or a repeat), "
                               f"got {inner.op}", mpath, cpath)
            return spliced
        elif isinstance(node, (s.Output, s.Flat)):
            if isinstance(node, s.Output):
                if node.name is None:
                    self.error("missing-key", "an output needs a name: write `aux1: {output: ...}`", mpath, cpath)
                    return []
            scope = self.flat_scope
            if isinstance(node, s.Flat) and (scope is None or mpath != scope["path"]):  # a module of its own
                self.flat_scope = {"path": mpath, "names": set(), "count": {}}
            try:
                inner_nodes = self.entry(node.body, env, mpath, cpath + ("body",))
            finally:
                self.flat_scope = scope
            one = self.as_one(inner_nodes, node.name, cpath)
            if isinstance(node, s.Output):
                one.tap, one.train_only = True, node.train_only
                self.ev.taps += 1
            elif isinstance(one, g.Layer):
                self.error("invalid-entry", "flat takes a structure (a list, concat, add, residual or dense), "
                           "not a single layer", mpath, cpath)
            else:
                one.flat = True
            return [one]
        self.slot = slot  # for the body of a block called without a name
        try:
            built = self.single(node, env, mpath, cpath, into)
        except _Wait:
            return self.waiting(node, env, mpath, cpath)
        finally:
            self.slot = None
        if built is None:
            return [self.failure(node, cpath)]
        return [] if built is _EMPTY else [built]

    def failure(self, node: s.Entry, cpath: tuple) -> g.Node:
        """What stands for an entry reported as wrong: it keeps its place, so the paths after it stay right."""
        self.failed += 1
        return _Failed(node.name, "", self.loc(cpath))

    def waiting(self, node: s.Entry, env, mpath: str, cpath: tuple) -> list[g.Node]:
        """A g.Pending for `node`, which infer resolves again once it knows the shape reaching it."""
        if self.flat_scope is not None:
            self.error("invalid-entry", "inside a flat module an entry's arguments, count or condition cannot use "
                       "in_channels, in_height or in_width (the module's layout must be known first); pass the "
                       "size as an argument", mpath, cpath)
            return [self.failure(node, cpath)]
        stack, calls, depth = list(self.block_stack), list(self.block_calls), self.depth

        def expand(pending: g.Pending, sizes: dict[str, int], errors: Collector) -> g.Node | None:
            saved = self.ev.errors, self.block_stack, self.block_calls, self.depth
            self.ev.errors, self.block_stack, self.block_calls, self.depth = errors, list(stack), list(calls), depth - 1
            self.sizes, self.failed, before = sizes, 0, len(errors.items)
            try:
                nodes = self.entry(node, env, mpath, cpath)
            except _TooLarge:
                return None
            finally:
                self.ev.errors, self.block_stack, self.block_calls, self.depth = saved
                self.sizes = None
            if len(errors.items) > before:
                return None
            assert not self.failed, "an entry failed without a diagnostic"
            one = self.as_one(nodes, pending.name, cpath)  # an `if` that gives nothing keeps its place, empty
            _Namer(errors).visit(one, pending.path)
            return one

        self.waits += 1
        return [g.Pending(node.name, "", self.loc(cpath), expand=expand)]

    def as_one(self, nodes: list[g.Node], name: str | None, cpath: tuple) -> g.Node:
        """A single node for a place that takes one (an `after`, an output, a flat body)."""
        if len(nodes) == 1:
            if name is not None:
                nodes[0].name = name
            return nodes[0]
        return g.Seq(name, "", self.loc(cpath), items=nodes)

    def single(self, node: s.Entry, env, mpath: str, cpath: tuple, into: tuple[str, int] | None = None) -> g.Node | None:
        if type(node) is s.Call:  # most entries (a call finds its own position)
            return self.call(node, env, mpath, cpath, into)
        loc = self.loc(cpath)
        name = node.name
        if isinstance(node, s.Seq):  # a block's body, mostly
            return g.Seq(name, "", loc, items=self.sequence(node.items, env, *(into or (mpath, 0)), cpath + ("items",)))
        if isinstance(node, s.Ref):
            self.ev.references += 1
            return g.Ref(name, "", loc, target=node.target)
        if isinstance(node, s.Merge):
            branches = self.sequence(node.branches, env, mpath, 0, cpath + ("branches",))
            dim = 1
            if node.op == "concat" and not (isinstance(node.dim, int) and node.dim == 1):
                dim = self.int_value(node.dim, env, mpath, cpath + ("dim",), "concat dim", minimum=-64)
                if dim is None:
                    return None
                if dim == 0:
                    self.error("invalid-value", "concat dim 0 is the batch; channels are 1, the last dimension -1",
                               mpath, cpath + ("dim",))
                    return None
            return g.Merge(name, "", loc, mode=node.op, branches=branches, dim=dim)
        if isinstance(node, s.Residual):
            body = self.sequence(node.body, env, mpath, 0, cpath + ("body",))
            shortcut = None
            mode = node.shortcut if isinstance(node.shortcut, str) else "explicit"
            if isinstance(node.shortcut, list):
                path, scope = self.child_path(mpath, node.shortcut_name, 0), self.flat_scope
                self.flat_scope = None  # a module of its own, also in a flat module
                try:
                    items = self.sequence(node.shortcut, env, path, 0, cpath + ("shortcut",))
                finally:
                    self.flat_scope = scope
                shortcut = g.Seq(node.shortcut_name, "", self.loc(cpath + ("shortcut",)), items=items)
            after = None
            if node.after is not None:
                after_nodes = self.child(node.after, env, mpath, node.after.name or "after", 0, cpath + ("after",))
                if after_nodes:
                    after = self.as_one(after_nodes, node.after.name or "after", cpath + ("after",))
            return g.Residual(name, "", loc, body=body, shortcut_mode=mode, shortcut=shortcut,
                              shortcut_name=node.shortcut_name, after=after)
        if isinstance(node, (s.Repeat, s.Dense)):
            return self.repeat(node, env, mpath, cpath, into)
        if isinstance(node, s.Parameter):
            return self.parameter(node, env, mpath, cpath)
        raise AssertionError(f"unknown IR node {type(node).__name__}")

    def sequence(self, items: list[s.Entry], env, mpath: str, start: int, cpath: tuple) -> list[g.Node]:
        """The nodes of `items`, the children of the node at `mpath`; unnamed ones are numbered from `start`
        (not 0 where the sequence is spliced into another)."""
        out: list[g.Node] = []
        modules = 0  # references, splits and resizes make no module and take no index
        for index, item in enumerate(items):
            if type(item) is s.Call and self.flat_scope is None:  # what child does for a call (most entries)
                made = self.call_child(item, env, mpath, item.name, start + modules, cpath + (index,))
            else:
                made = self.child(item, env, mpath, item.name, start + modules, cpath + (index,))
            out.extend(made)
            for n in made:
                if type(n) is g.Layer or n.module:
                    modules += 1
        return out

    def child_path(self, parent: str, name: str | None, position: int) -> str:
        """The module path of a child of `parent` named `name`, or else at `position`, as the _Namer gives it:
        inside a flat module a named entry is a child of the flat module and an unnamed one is data flow."""
        scope = self.flat_scope
        if scope is None:
            return _join(parent, name if name is not None else str(position))
        if name is None:
            return scope["path"]
        scope["names"].add(name)
        return _join(scope["path"], name)

    def generated_name(self, op: str) -> str:
        """The name an unnamed layer gets in the current flat module (`relu_2`), as the _Namer gives it."""
        scope = self.flat_scope
        assert scope is not None
        n = scope["count"].get(op, 0) + 1
        while f"{op}_{n}" in scope["names"]:
            n += 1
        scope["count"][op] = n
        scope["names"].add(f"{op}_{n}")
        return _join(scope["path"], f"{op}_{n}")

    def repeat(self, node: s.Repeat | s.Dense, env, mpath: str, cpath: tuple,
               into: tuple[str, int] | None = None) -> g.Node | None:
        sizes, self.sizes = self.sizes, None
        with self.own(sizes):
            count = self.int_value(node.count, _sized(env, sizes), mpath, cpath + ("count",), f"{node.op} count")
        if count is None:
            return None
        inner_key = "block" if isinstance(node, s.Repeat) else "layer"
        inner: s.Entry = getattr(node, inner_key)
        first = getattr(node, "first", {})
        if first and not isinstance(inner, s.Call):
            self.error("invalid-value", "`first` overrides arguments, so `block` must be a call", mpath, cpath + ("first",))
            first = {}
        if count > self.max_nodes:
            self.error("too-large", f"{node.op} count {count:,} is more than the {self.max_nodes:,} nodes of the budget "
                       "(raise it with --max-nodes / max_nodes=)", mpath, cpath + ("count",))
            raise _TooLarge
        copies: list[g.Node] = []
        parent, offset = into or (mpath, 0)
        start = self.nodes
        for i in range(count):
            if i == 1 and self.nodes + (self.nodes - start) * (count - 1) > self.max_nodes:
                self.error("too-large", f"{node.op} of {count:,} copies of {self.nodes - start:,} nodes each would "
                           f"expand past the budget of {self.max_nodes:,} nodes (raise it with --max-nodes / "
                           "max_nodes=)", mpath, cpath + ("count",))
                raise _TooLarge
            local = {**env, "i": i}
            item = self.override(inner, first, mpath, cpath) if i == 0 and first else inner
            copy_name = self.names(node.names, i, local, mpath, cpath) if node.names is not None else None
            built = self.child(item, local, parent, copy_name, offset + len(copies), cpath + (inner_key,))
            if copy_name is not None:
                built = [self.as_one(built, copy_name, cpath)] if built else []
            copies.extend(built)
        if isinstance(node, s.Dense):
            return g.Dense(node.name, "", self.loc(cpath), layers=copies)
        return g.Seq(node.name, "", self.loc(cpath), items=copies)

    def call(self, node: s.Call, env, mpath: str, cpath: tuple, into: tuple[str, int] | None = None) -> g.Node | None:
        held = node.target in env and (node.target not in self.params or (
            node.target not in REGISTRY and node.target not in self.spec.blocks
            and isinstance(env[node.target], (Symbol, CallValue))))
        if held:  # a block argument or param holding a layer or block (`norm: batchnorm2d`, then `bn1: norm`)
            passed = env[node.target]
            if passed is POISON:
                return None
            if isinstance(passed, Symbol):
                passed = CallValue(passed.name, (), ())
            if not isinstance(passed, CallValue) or (passed.name not in REGISTRY and passed.name not in self.spec.blocks):
                shown = (f"{passed.name}(...)" if passed.args or passed.kwargs else f"'{passed.name}'") \
                    if isinstance(passed, CallValue) else repr(passed)
                choices = [*REGISTRY, *self.spec.blocks]
                hint = did_you_mean(passed.name, choices) if isinstance(passed, CallValue) else ""
                self.error("unknown-layer", f"'{node.target}' is an argument holding {shown}, which is not a layer "
                           f"kind or block{hint}; pass one, such as `{node.target}=relu` or "
                           f"`{node.target}=conv2d(64, 1)`", mpath, cpath)
                return None
            node = node.model_copy(update={"target": passed.name, "args": [*passed.args, *node.args],
                                           "kwargs": {**dict(passed.kwargs), **node.kwargs}})
        if node.target in REGISTRY:
            if self.flat_scope is not None and mpath == self.flat_scope["path"]:  # unnamed, in a flat module
                mpath = self.generated_name(node.target)
            return self.layer(node, env, mpath, cpath)
        if node.target in self.spec.blocks:
            return self.block(node, env, mpath, cpath, into)
        if node.target in s.FLOW_CALLS:
            return self.flow_call(node, env, mpath, cpath)
        self.error("unknown-layer", f"unknown layer or block '{node.target}'{self.entry_hint(node.target, env)}",
                   mpath, cpath)
        return None

    def block(self, node: s.Call, env, mpath: str, cpath: tuple, into: tuple[str, int] | None = None) -> g.Node | None:
        block = self.spec.blocks[node.target]
        if len(self.block_stack) >= MAX_BLOCK_DEPTH:
            if node.target in self.block_stack:  # a block may call itself, behind a condition that ends it
                mpath, cpath = self.block_calls[self.block_stack.index(node.target) + 1]  # the first call back
                self.error("recursive-block", f"block '{node.target}' calls itself more than {MAX_BLOCK_DEPTH} deep "
                           f"({self.block_stack[0]} -> ... -> {node.target}); end its recursion with a condition, "
                           f"such as `if: depth > 0` around the call", mpath, cpath)
            else:
                self.error("too-deep", f"blocks nest more than {MAX_BLOCK_DEPTH} calls deep", mpath, cpath)
            return None
        sizes, self.sizes = self.sizes, None
        local = self.binder.block_scope(node, block, env, sizes, mpath, cpath)
        if local is None:
            return None
        held = [local[a] for a in self.binder.signature(node.target, block)[0]]  # the argument values, in order
        nodes = None  # made by the block's plan, where it has one that builds for these values (as they stand)
        if sizes is None and self.flat_scope is None and not self.ev.deferring:
            nodes = self.planned(node.target, local)
        if nodes is None:
            nodes = self.instantiated(node, block, local, held, mpath, cpath, into, sizes)
        if not nodes:
            return _EMPTY
        one = self.as_one(nodes, node.name if node.name is not None else None, cpath)
        if not isinstance(one, g.Layer):  # a block of one layer is shown as that layer
            one.block, one.block_args = node.target, tuple(held)
        return one

    def instantiated(self, node: s.Call, block: s.BlockDef, local: dict[str, Any], held: list, mpath: str,
                     cpath: tuple, into: tuple[str, int] | None, sizes) -> list[g.Node]:
        """The nodes of block `node.target`'s body for the scope `local`, resolved the general way: copied from an
        instance made before with the same arguments, or resolved (and kept, where it can be copied later)."""
        key = self.instance_key(node.target, held, into, sizes)
        made = self.instances.get(key) if key is not None else None
        if made is not None and self.nodes + made[1] <= self.max_nodes:  # made before: copied, not evaluated again
            self.nodes += made[1]
            return made[0].copy()
        before = self.nodes, self.unshared()
        self.block_stack.append(node.target)
        self.block_calls.append((mpath, cpath))
        self.splice_into = into  # a block spliced: its body is
        try:
            nodes = self.entry(block.body, local, mpath, ("blocks", node.target, "body"))
        finally:
            self.block_stack.pop()
            self.block_calls.pop()
        if key is not None and self.unshared() == before[1]:
            self.instances[key] = (self.instance(nodes), self.nodes - before[0])
        return nodes

    def planned(self, target: str, local: dict[str, Any]) -> list[g.Node] | None:
        """The nodes of block `target`'s body made by its plan (see _Planner) from the scope `local`; None where it
        has none, it could pass a limit (depth, block depth, node budget: the general path reports where), or it
        aborts (and then is not tried again in this resolve)."""
        plan = self.planner.plan(target, tuple([local[a] for a in self.binder.called_args(target)]))
        if plan is None or plan.dead or self.depth + plan.depth >= MAX_GRAPH_DEPTH:
            return None
        tally = _Tally(MAX_GRAPH_DEPTH - self.depth, MAX_BLOCK_DEPTH - len(self.block_stack),
                       self.max_nodes - self.nodes)
        try:
            one = plan.build(local, tally)
        except _Abort:
            plan.dead = True
            return None
        if tally.nodes > tally.node_room:
            return None
        self.nodes += tally.nodes
        self.ev.references += tally.references
        self.ev.parameters += tally.parameters
        return [one] if one is not None else []


# (block names, source files, params) -> (the block definitions, the source texts, the _Planner of those resolves):
# a plan is a function of the block definitions (frozen, kept from the parse), the locations of their entries (from
# the source texts), and the params and functions its expressions read; so a later resolve that links the same
# definitions from the same texts, with the same params and no functions (equal only to themselves), builds from the
# same plans. Every node is still built afresh. Starts afresh past MAX_PLANNERS entries.
_PLANNERS: dict[tuple, tuple[tuple, tuple, "_Planner"]] = {}
MAX_PLANNERS = 64


def _planner_for(resolver: "_Resolver", parsed: ParsedSpec, params: dict[str, Any],
                 functions: Mapping[str, Function] | None) -> "_Planner":
    """The _Planner for `resolver`: the one an earlier resolve of the same definitions and params made, or a new one."""
    if functions:
        return _Planner(resolver)
    try:
        held = tuple([(name, _value_key(value)) for name, value in params.items()])
    except _Unkeyed:
        return _Planner(resolver)
    blocks, sources = parsed.spec.blocks, parsed.locations.sources
    key = (tuple(blocks), tuple(sources), held)
    defs, texts = tuple(blocks.values()), tuple(sources.values())
    found = _PLANNERS.get(key)
    if found is not None and all(map(operator.is_, found[0], defs)) and all(map(operator.is_, found[1], texts)):
        for plan in found[2].plans.values():  # a plan that aborted in an earlier resolve is tried again in this one
            if plan is not None:
                plan.dead = False
        return found[2]
    if len(_PLANNERS) >= MAX_PLANNERS:
        _PLANNERS.clear()
    planner = _Planner(resolver)
    _PLANNERS[key] = (defs, texts, planner)
    return planner


class _Abort(Exception):
    """A planned block body meets a value its plan does not build (an argument that does not validate, a word where
    a condition needs a value, a limit it would pass...): the call is resolved the general way instead, which says
    what is wrong, where it is written."""


MAX_PLAN_DEPTH = 32  # nesting a plan covers (real networks nest about 10 levels): deeper, the general path
_CONST, _NAME, _TEXT, _LIST = range(4)  # how a plan reads a value: as written, from the scope, evaluated
_KEEP = object()  # _Planner.entry's `name`: the entry's own


class _BlockPlan:
    """A block's body as a builder (see _Planner), and how deep its own entries nest (the body of a block it calls
    is checked where that call is built)."""

    __slots__ = ("build", "depth", "scoped", "dead")

    def __init__(self, build, depth: int, scoped: bool):
        self.build, self.depth = build, depth
        self.scoped = scoped  # it evaluates expressions, which may use the params and functions: its scope holds them
        self.dead = False  # it aborted once in this resolve: the block is resolved the general way from then on


class _Tally:
    """What a plan's builders count while they make an instance (the general path counts them as it goes), and
    the room the limits leave them: nodes in the budget, entry depth, block calls nested."""

    __slots__ = ("nodes", "references", "parameters", "offset", "blocks", "depth_room", "block_room", "node_room")

    def __init__(self, depth_room: int, block_room: int, node_room: int):
        self.nodes = self.references = self.parameters = 0
        self.offset = 0  # the depth, within the instance, at which the body being built starts
        self.blocks = 0  # block calls, within the instance, that the body being built is inside
        self.depth_room, self.block_room, self.node_room = depth_room, block_room, node_room


class _Planner:
    """Block bodies analysed once (per definitions and params, see _planner_for) into builders that make an instance's nodes from its argument values.

    A body qualifies when its entries are sequences, merges, residuals, conditions, repeats and dense entries, flat
    modules, references, parameters and calls of layer kinds and blocks (a param or an argument holding a layer
    included: a block whose body calls an argument is planned once per value of that argument), and its values are
    numbers, flags, none, words, lists and expressions that call no unknown name and use no size of the incoming
    tensor; a splice, an output or a data-flow call leaves the block to the general path. A builder makes exactly the nodes
    the general path makes for the same arguments (names, locations, validated arguments, block arguments, node
    counts), and raises _Abort, before anything outside it changes, wherever the general path could report an
    error or wait for the incoming sizes; so a plan never reports anything."""

    def __init__(self, resolver: "_Resolver"):
        self.spec, self.base, self.binder, self.loc = resolver.spec, resolver.base, resolver.binder, resolver.loc
        self.params, self.blocks = resolver.params, resolver.spec.blocks
        self.plans: dict[tuple, _BlockPlan | None] = {}
        self.level = 0  # entries being planned, one inside the other (the bodies of blocks they call included)
        self.inner = 0  # the same within the body being planned
        self.deepest = 0  # the most `inner` has been in the body being planned
        self.bound: dict[str, Any] = {}  # the arguments that the body being planned calls, and their values
        self.scoped = False  # the body being planned evaluates an expression in its scope
        self.reads_of: dict[tuple, tuple[int, Any]] = {}  # (text, visible names) -> what getter found

    def plan(self, name: str, called: tuple = ()) -> _BlockPlan | None:
        """Block `name`'s plan for the values `called` of the arguments its body calls (binder.called_args), made at
        the first such call; None where it does not qualify, or the block is reached again from its own body."""
        try:
            key = (name, *map(_value_key, called)) if called else (name,)
        except _Unkeyed:
            return None
        if key in self.plans:
            return self.plans[key]
        self.plans[key] = None  # while it is planned
        block = self.blocks[name]
        saved = self.bound, self.inner, self.deepest, self.scoped
        self.bound, self.inner, self.deepest, self.scoped = dict(zip(self.binder.called_args(name), called)), 0, 0, False
        try:
            build = self.entry(block.body, frozenset(a.name for a in block.args), ("blocks", name, "body"))
            if build is not None:
                self.plans[key] = _BlockPlan(build, self.deepest, self.scoped)
        finally:
            self.bound, self.inner, self.deepest, self.scoped = saved
        return self.plans[key]

    def getter(self, raw: Any, visible: frozenset, own: bool = True) -> tuple[int, Any] | None:
        """How a builder reads the value of `raw` in a scope holding the base and the names `visible`, as `value`
        evaluates it; None where `value` could report a call of an unknown name, the value would be a size of the
        incoming tensor, or the text does not parse. `own`: read in the scope of the body being planned (which
        then holds the base where the value is evaluated), not in a scope of the builder's own."""
        if not isinstance(raw, str):
            if isinstance(raw, list):
                self.scoped |= own
                return _LIST, raw
            return _CONST, raw
        found = self.reads_of.get((raw, visible))
        if found is not None:  # the same text in the same scope (most texts of a body are names, written again)
            self.scoped |= own and found[0] is _TEXT
            return found
        found = self.read_text(raw, visible)
        if found is not None:
            self.reads_of[(raw, visible)] = found
            self.scoped |= own and found[0] is _TEXT
        return found

    def read_text(self, raw: str, visible: frozenset) -> tuple[int, Any] | None:
        try:
            tree = parse_expr(raw)
        except ExprError:
            return None
        name = name_of(raw)
        if name:
            if name in visible:
                return _NAME, name
            value = self.base.get(name, _UNBOUND)
            if value is _UNBOUND:
                return _CONST, eval_text(raw, {})  # a word (or true, none...): the same in any scope
            return None if isinstance(value, Later) else (_CONST, value)
        for size in SHAPE_NAMES:  # (read as text: a string that holds the name is left to the general path too)
            if size in raw and size not in visible and isinstance(self.base.get(size), Later):
                return None
        for called, _ in called_names(tree):
            if called not in FUNCTIONS and called not in REGISTRY and called not in INITIALIZERS \
                    and called not in self.blocks and called not in self.base:
                return None
        return _TEXT, raw

    def reads(self, raws, visible: frozenset) -> list | None:
        made = []
        for raw in raws:
            read = (_CONST, raw) if raw is None or type(raw) in _LITERALS else self.getter(raw, visible)
            if read is None:
                return None
            made.append(read)
        return made

    def entry(self, node: s.Entry, visible: frozenset, cpath: tuple, name: Any = _KEEP):
        """The builder of entry `node` of a body whose arguments are `visible`, or None when it does not qualify.
        `name`: what stands for the entry's own name (an after's)."""
        if self.level >= MAX_PLAN_DEPTH:
            return None
        self.level += 1
        self.inner += 1
        if self.inner > self.deepest:
            self.deepest = self.inner
        try:
            return self.entry_plan(node, visible, cpath, name)
        finally:
            self.level -= 1
            self.inner -= 1

    def entry_plan(self, node: s.Entry, visible: frozenset, cpath: tuple, name: Any):
        kind = type(node)
        if kind is s.If:
            return self.condition(node, name, visible, cpath)
        if name is _KEEP:
            name = node.name
        if kind is s.Call:
            return self.call(node, visible, cpath, name)
        if kind is s.Seq or kind is s.Merge:
            return self.group(node, name, visible, cpath)
        if kind is s.Residual:
            return self.residual(node, name, visible, cpath)
        if kind is s.Flat:
            return self.flat(node, name, visible, cpath)
        if kind is s.Ref:
            loc, target = self.loc(cpath), node.target

            def ref(env, tally):
                tally.nodes += 1
                tally.references += 1
                return g.Ref(name, "", loc, target=target)
            return ref
        if kind is s.Parameter:
            return self.parameter(node, name, visible, cpath)
        if kind is s.Repeat or kind is s.Dense:
            return self.repeat(node, name, visible, cpath)
        return None

    def entries(self, items: list, visible: frozenset, where: tuple) -> list | None:
        made = []
        for index, item in enumerate(items):
            build = self.entry(item, visible, where + (index,))
            if build is None:
                return None
            made.append(build)
        return made

    def group(self, node: s.Seq | s.Merge, name, visible: frozenset, cpath: tuple):
        seq = type(node) is s.Seq
        builders = self.entries(node.items if seq else node.branches, visible,
                                cpath + (("items",) if seq else ("branches",)))
        if builders is None:
            return None
        loc = self.loc(cpath)
        if seq:
            def sequence(env, tally):
                tally.nodes += 1
                return g.Seq(name, "", loc, items=_made(builders, env, tally))
            return sequence
        mode, dim = node.op, 1
        if mode == "concat" and not (isinstance(node.dim, int) and node.dim == 1):
            if type(node.dim) is not int or node.dim < -64 or node.dim == 0:
                return None  # what int_value would check (or report)
            dim = node.dim

        def merge(env, tally):
            tally.nodes += 1
            return g.Merge(name, "", loc, mode=mode, branches=_made(builders, env, tally), dim=dim)
        return merge

    def residual(self, node: s.Residual, name, visible: frozenset, cpath: tuple):
        body = self.entries(node.body, visible, cpath + ("body",))
        explicit = isinstance(node.shortcut, list)
        short = self.entries(node.shortcut, visible, cpath + ("shortcut",)) if explicit else []
        tail = None
        if node.after is not None:
            tail = self.entry(node.after, visible, cpath + ("after",), node.after.name or "after")
            if tail is None:
                return None
        if body is None or short is None:
            return None
        loc, mode, shortcut_name = self.loc(cpath), "explicit" if explicit else node.shortcut, node.shortcut_name
        short_loc = self.loc(cpath + ("shortcut",)) if explicit else None

        def residual(env, tally):
            tally.nodes += 1
            items = _made(body, env, tally)
            shortcut = g.Seq(shortcut_name, "", short_loc, items=_made(short, env, tally)) if explicit else None
            after = tail(env, tally) if tail is not None else None
            return g.Residual(name, "", loc, body=items, shortcut_mode=mode, shortcut=shortcut,
                              shortcut_name=shortcut_name, after=after)
        return residual

    def condition(self, node: s.If, name, visible: frozenset, cpath: tuple):
        """An `if`: the chosen entry takes the if's name when it has none of its own (and a name that stands for
        the if's, `name`, in any case). A branch that does not qualify aborts the build only when it is chosen
        (`if: act != none` guards a call of `act`), but not both."""
        cond = self.getter(node.cond, visible)
        if cond is None:
            return None
        branches = []
        for chosen, key in ((node.then, "then"), (node.else_, "else")):
            if chosen is None:
                branches.append(None)
                continue
            own = name if name is not _KEEP else chosen.name if chosen.name is not None else node.name
            branches.append(self.entry(chosen, visible, cpath + (key,), own) or _unplanned)
        if all(b in (None, _unplanned) for b in branches):
            return None
        how, what = cond
        then, other = branches

        def condition(env, tally):
            tally.nodes += 1
            value = _read(how, what, env)
            if not (type(value) in _SCALARS or type(value) is list):
                raise _Abort  # a word, a size not known yet, an invalid param: the general path says so
            build = then if value else other
            return build(env, tally) if build is not None else None
        return condition

    def flat(self, node: s.Flat, name, visible: frozenset, cpath: tuple):
        inner = self.entry(node.body, visible, cpath + ("body",))
        if inner is None:
            return None
        loc = self.loc(cpath)

        def flat(env, tally):
            tally.nodes += 1
            one = inner(env, tally)
            if one is None:
                one = g.Seq(name, "", loc, items=[])
            elif isinstance(one, g.Layer):
                raise _Abort  # flat takes a structure: the general path reports it
            elif name is not None:
                one.name = name
            one.flat = True
            return one
        return flat

    def parameter(self, node: s.Parameter, name, visible: frozenset, cpath: tuple):
        if node.name is None or name != node.name:
            return None
        reads = self.reads([node.shape, node.init], visible)
        if reads is None:
            return None
        (shape_how, shape_what), (init_how, init_what) = reads
        loc = self.loc(cpath)

        def parameter(env, tally):
            tally.nodes += 1
            shape = _read(shape_how, shape_what, env)
            if not isinstance(shape, list):
                raise _Abort
            shape = [int(d) if isinstance(d, float) and d.is_integer() else d for d in shape]
            if not shape or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in shape):
                raise _Abort
            try:
                init = initialiser(_read(init_how, init_what, env), vector=len(shape) < 2, what="this parameter")
            except InitProblem:
                raise _Abort from None
            tally.parameters += 1
            return g.Param(name, "", loc, shape=tuple(shape), init=init)
        return parameter

    def repeat(self, node: s.Repeat | s.Dense, name, visible: frozenset, cpath: tuple):
        """A repeat or dense entry: its copies made one by one with `i` bound, as `_Resolver.repeat` makes them."""
        count = self.getter(node.count, visible)
        dense = type(node) is s.Dense
        inner_key = "layer" if dense else "block"
        inner: s.Entry = node.layer if dense else node.block
        first = {} if dense else node.first
        if count is None or (first and type(inner) is not s.Call):
            return None
        inside, where = visible | {"i"}, cpath + (inner_key,)
        item = self.entry(inner, inside, where)
        starting = None
        if first:  # what `override` makes of the first copy's call (a clash it reports leaves it to the general way)
            target = inner.target
            positional = REGISTRY[target].positional if target in REGISTRY else \
                tuple(a.name for a in self.blocks[target].args) if target in self.blocks else ()
            if any(key in positional[:len(inner.args)] for key in first):
                return None
            starting = self.entry(inner.model_copy(update={"kwargs": {**inner.kwargs, **first}}), inside, where)
        if item is None or (first and starting is None):
            return None
        pattern = node.names
        self.scoped |= pattern is not None  # a names pattern is evaluated in the scope
        (how, what), loc = count, self.loc(cpath)

        def repeat(env, tally):
            tally.nodes += 1
            count = _read(how, what, env)
            if isinstance(count, float) and count.is_integer():
                count = int(count)
            if type(count) is not int or count < 0 or count > tally.node_room:
                raise _Abort  # what int_value reports, or the budget: the general path says so
            copies, start = [], tally.nodes
            for i in range(count):
                if i == 1 and tally.nodes + (tally.nodes - start) * (count - 1) > tally.node_room:
                    raise _Abort
                local = {**env, "i": i}
                one = (starting if i == 0 and starting is not None else item)(local, tally)
                copy_name = _copy_name(pattern, local) if pattern is not None else None
                if one is not None:
                    if copy_name is not None:
                        one.name = copy_name
                    copies.append(one)
            return g.Dense(name, "", loc, layers=copies) if dense else g.Seq(name, "", loc, items=copies)
        return repeat

    def call(self, node: s.Call, visible: frozenset, cpath: tuple, name):
        target = node.target
        held = self.bound.get(target, _UNBOUND) if target in visible else self.base.get(target, _UNBOUND)
        if target in visible and target not in self.bound:
            return None
        if held is not _UNBOUND and (target not in self.params or (  # what `call` does with a name the scope holds
                target not in REGISTRY and target not in self.blocks and isinstance(held, (Symbol, CallValue)))):
            if isinstance(held, Symbol):
                held = CallValue(held.name, (), ())
            if not isinstance(held, CallValue) or (held.name not in REGISTRY and held.name not in self.blocks):
                return None
            node = node.model_copy(update={"target": held.name, "args": [*held.args, *node.args],
                                           "kwargs": {**dict(held.kwargs), **node.kwargs}})
        if node.target in REGISTRY:
            return self.layer(node, visible, cpath, name)
        if node.target in self.blocks:
            return self.block_call(node, visible, cpath, name)
        return None

    def layer(self, node: s.Call, visible: frozenset, cpath: tuple, name):
        kind = REGISTRY[node.target]
        keys = _call_keys(node, arg_names(kind), kind.positional)
        reads = self.reads([*node.args, *node.kwargs.values()], visible) if keys is not None else None
        if reads is None:
            return None
        loc, Args = self.loc(cpath), kind.Args
        if not any(how is not _CONST for how, _ in reads):  # the same arguments in every instance: validated now
            try:
                args = _plan_args(Args, keys, [what for _, what in reads])
            except _Abort:
                return None
            made = g.Layer(name, "", loc, kind=kind, args=args).__dict__

            def fixed(env, tally):
                tally.nodes += 1
                new = object.__new__(g.Layer)
                new.__dict__ = made.copy()
                return new
            return fixed

        def layer(env, tally):
            tally.nodes += 1
            values = []
            for how, what in reads:
                values.append(what if how is _CONST else env[what] if how is _NAME else _read(how, what, env))
            kinds = tuple(map(type, values))
            if _KEYED.issuperset(kinds):  # numbers but floats, flags, texts, none (most): keyed as they are
                memo = (Args, keys, kinds, tuple(values))
                args = _VALIDATED.get(memo)
                if args is None:
                    args = _validated(Args, memo, dict(zip(keys, values)))
            else:
                args = _plan_args(Args, keys, values)
            return g.Layer(name, "", loc, kind=kind, args=args)
        return layer

    def block_call(self, node: s.Call, visible: frozenset, cpath: tuple, name):
        target, block = node.target, self.blocks[node.target]
        names, order, _, choices = self.binder.signature(target, block)
        keys = _call_keys(node, names, order) if not choices else None  # choices: checked the general way
        reads = self.reads([*node.args, *node.kwargs.values()], visible) if keys is not None else None
        if reads is None:
            return None
        given = dict(zip(keys, reads))
        scope = []  # per argument, in order: (name, read in the caller's scope?, how, what)
        defaults = False  # a default is evaluated, in the call's own scope
        for index, arg in enumerate(block.args):
            if arg.name in given:
                scope.append((arg.name, True, *given[arg.name]))
            elif arg.required:
                return None
            elif arg.default is None or type(arg.default) in _LITERALS:
                scope.append((arg.name, False, _CONST, arg.default))
            else:
                read = self.getter(arg.default, frozenset(names[:index]), own=False)
                if read is None:
                    return None
                scope.append((arg.name, False, *read))
                defaults |= read[0] is not _CONST
        called = tuple(self.binder.called_args(target))
        fixed = None if called else self.plan(target)
        if not called and fixed is None:
            return None
        base, level, planner, blocks = self.base, self.inner, self, self.blocks

        def block_call(env, tally):
            tally.nodes += 1
            local = dict(base) if defaults else {}
            values = []
            for arg, own, how, what in scope:
                value = what if how is _CONST else env[what] if how is _NAME and own else \
                    _read(how, what, env if own else local)
                if type(value) not in _SCALARS and not _block_value(value, blocks):
                    raise _Abort
                local[arg] = value
                values.append(value)
            body = fixed
            if called:  # what block_scope checks of an argument the body calls, then the plan for its values
                held = tuple(local[a] for a in called)
                for value in held:
                    if isinstance(value, (Symbol, CallValue)) and value.name not in REGISTRY and value.name not in blocks:
                        raise _Abort
                body = planner.plan(target, held)
                if body is None:
                    raise _Abort
            offset = tally.offset
            if body.dead or offset + level + body.depth >= tally.depth_room or tally.blocks + 1 >= tally.block_room \
                    or tally.nodes > tally.node_room:
                raise _Abort  # the general path reports the limit where it is passed
            if body.scoped and not defaults:
                local = {**base, **local}
            tally.offset, tally.blocks = offset + level, tally.blocks + 1
            one = body.build(local, tally)
            tally.offset, tally.blocks = offset, tally.blocks - 1
            if one is None:
                return None
            if name is not None:
                one.name = name
            if not isinstance(one, g.Layer):
                one.block, one.block_args = target, tuple(values)
            return one
        return block_call


def _copy_name(pattern: str, local: Mapping[str, Any]) -> str:
    """What `_Evaluator.names` gives a copy; _Abort where it would report the pattern."""
    def one(match: re.Match) -> str:
        value = eval_text(match.group(1), local)
        if isinstance(value, Later):
            raise _Abort
        return str(value)

    try:
        name = _NAME_FIELD.sub(one, pattern)
    except ExprError:
        raise _Abort from None
    if module_name_problem(name) is not None:
        raise _Abort
    return name


def _unplanned(env, tally):
    """The builder of a branch that does not qualify: chosen, the instance is resolved the general way."""
    raise _Abort


def _made(builders: list, env: Mapping[str, Any], tally: _Tally) -> list[g.Node]:
    """The nodes the builders make, in order (an `if` may make none)."""
    out = []
    for build in builders:
        one = build(env, tally)
        if one is not None:
            out.append(one)
    return out


def _call_keys(node: s.Call, names: list[str], positional: tuple[str, ...]) -> tuple[str, ...] | None:
    """The argument names a call gives, in the order `arguments` binds them; None where `arguments` would report
    something (too many by position, an unknown or a repeated name)."""
    if len(node.args) > len(positional):
        return None
    keys = positional[:len(node.args)]
    for key in node.kwargs:
        if key not in names or key in keys:
            return None
    return (*keys, *node.kwargs)


def _read(how: int, what: Any, env: Mapping[str, Any]) -> Any:
    """A value as a plan reads it (see _Planner.getter); _Abort where evaluating it fails."""
    if how is _CONST:
        return what
    if how is _NAME:
        return env[what]
    try:
        return eval_text(what, env) if how is _TEXT else _eval_value(what, env)
    except ExprError:
        raise _Abort from None


def _block_value(value: Any, blocks: Mapping[str, Any]) -> bool:
    """Can a plan give a block argument this value as `arguments` would, with nothing to report or wait for: a
    number, flag, text, none, word, a call of a layer kind, block or initialiser, or a list of them?"""
    kind = type(value)
    if kind in _SCALARS or kind is Symbol:
        return True
    if kind is list:
        return all(_block_value(v, blocks) for v in value)
    if kind is CallValue:
        return (value.name in REGISTRY or value.name in blocks or value.name in INITIALIZERS) and \
            all(_block_value(v, blocks) for v in (*value.args, *(v for _, v in value.kwargs)))
    return False


def _plain_key(value: Any) -> tuple[Any, Any]:
    """(what `bind` validates for an argument value, a key equal only for values that validate the same); _Abort
    for a value `arguments` would report or defer."""
    kind = type(value)
    if kind is float:
        return value, (float, repr(value))  # 0.0 and -0.0 are equal, but not the same argument
    if kind in _SCALARS:
        return value, (kind, value)
    if kind is Symbol:
        return value.name, (str, value.name)
    if kind is list:
        pairs = [_plain_key(v) for v in value]
        if any(type(p) is tuple for p, _ in pairs):
            raise _Abort
        return tuple(p for p, _ in pairs), (tuple, tuple(k for _, k in pairs))
    raise _Abort


_KEYED = frozenset((int, bool, str, type(None)))  # values that are their own key beside their type (not floats)


def _plan_args(Args: Any, keys: tuple[str, ...], values: list) -> Any:
    """A layer's validated arguments for the values a plan read, kept by the values' keys (see _VALIDATED); _Abort
    where they do not validate, for the general path to report."""
    plain, typed = {}, []
    for key, value in zip(keys, values):
        plain[key], pair = _plain_key(value)
        typed += pair
    memo = (Args, keys, tuple(typed))
    args = _VALIDATED.get(memo)
    return _validated(Args, memo, plain) if args is None else args


def _validated(Args: Any, memo: tuple, plain: dict[str, Any]) -> Any:
    """Arguments validated for a plan and kept under `memo`; _Abort where they do not validate."""
    try:
        args = Args.model_validate(plain)
    except ValidationError:
        raise _Abort from None
    _remember(memo, args)
    return args


class _Instance:
    """A block instance resolve made, kept to copy when the block is called again with the same arguments: its
    nodes, and their own fields as they were made. While the nodes stand in the graph, what encloses them may
    still name them or mark them (as_one, `output`, `flat`, the block call itself), but nothing changes what is
    inside them: a splice, the one entry that lifts a node's children to stand in its place, lifts copies."""

    __slots__ = ("nodes", "fields")

    def __init__(self, nodes: list[g.Node]):
        self.nodes = list(nodes)
        self.fields = [n.__dict__.copy() for n in nodes]

    def copy(self) -> list[g.Node]:
        return [g.copy_tree(n, f) for n, f in zip(self.nodes, self.fields)]


class _Unkeyed(Exception):
    """A value that _value_key cannot stand for exactly."""


def _value_key(value: Any) -> Any:
    """A hashable stand-in for an evaluated value, equal only for values that are the same (1, 1.0 and true
    differ; a word differs from a string of its text)."""
    if type(value) is float:
        return float, repr(value)  # 0.0 and -0.0 are equal, but not the same value
    if value is None or type(value) in _DATA:
        return type(value), value
    if type(value) in (list, tuple):
        return type(value), tuple(_value_key(v) for v in value)
    if isinstance(value, Symbol):
        return Symbol, value.name
    if isinstance(value, CallValue):
        return CallValue, value.name, _value_key(value.args), tuple((k, _value_key(v)) for k, v in value.kwargs)
    raise _Unkeyed


# block definition's id -> (the definition, its arguments that its body calls): a BlockDef is frozen, and what its body
# calls is a function of the body and the argument names it holds, so the answer serves every resolve of the process
# (the definition is kept with it, so its id is not another's). Starts afresh past MAX_VALIDATED entries.
_CALLED_ARGS: dict[int, tuple[s.BlockDef, list[str]]] = {}


def _called_args(block: s.BlockDef) -> list[str]:
    """The arguments of `block` that its body calls as layers, in declaration order."""
    found = _CALLED_ARGS.get(id(block))
    if found is None or found[0] is not block:
        inside = _called_in(block.body, {a.name for a in block.args})
        if len(_CALLED_ARGS) >= MAX_VALIDATED:
            _CALLED_ARGS.clear()
        found = _CALLED_ARGS[id(block)] = block, [a.name for a in block.args if a.name in inside]
    return found[1]


def _called_in(body: Any, names: set[str]) -> set[str]:
    """Which of `names` a block body calls as an entry (`- act`, `unit(16)`)."""
    found: set[str] = set()
    stack = [body]
    while stack:
        value = stack.pop()
        if isinstance(value, s.Call):
            if value.target in names:
                found.add(value.target)
        elif isinstance(value, BaseModel):
            stack.extend(getattr(value, f) for f in type(value).model_fields)
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
    return found


def _choice_name(value: Any) -> Any:
    """What a block argument's choice compares: a layer or block call by its name (`leaky_relu(0.1)` is
    `leaky_relu`), anything else as it is."""
    return value.name if isinstance(value, CallValue) else value


def _literal_choices(exc: ValidationError, field: str) -> list[str]:
    """The strings a field accepts, read from pydantic's literal errors (`'same' or 'valid'`)."""
    found: list[str] = []
    for err in exc.errors():
        if err["loc"] and str(err["loc"][0]) == field and err["type"] == "literal_error":
            found += re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
    return found


_RESIZE_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


_ACCEPTED: set[str] = set()  # names module_name_problem accepts, kept for the process (a pure function of the name)
MAX_ACCEPTED = 4096


def _name_problem(name: str) -> str | None:
    problem = module_name_problem(name)
    if problem is None:
        if len(_ACCEPTED) >= MAX_ACCEPTED:
            _ACCEPTED.clear()
        _ACCEPTED.add(name)
    return problem


class _Namer:
    """Gives unnamed nodes their index names (as nn.Sequential would) and every node its module path.

    Inside a `flat` node, named entries become direct children of the flat module, unnamed
    containers are pure data flow (`virtual`), and unnamed layers get generated names (`relu_1`).
    """

    def __init__(self, errors: Collector):
        self.errors = errors

    def claim(self, table: dict[str, g.Node], name: str, node: g.Node, parent_path: str, flat: bool = False) -> None:
        problem = None if name in _ACCEPTED else _name_problem(name)
        if problem is None and flat and keyword.iskeyword(name):  # torch.fx writes `self.class(x)`: not Python
            problem = (f"'{name}' cannot name a module inside `flat`: it is a Python keyword, and the flat module's "
                       f"generated code reaches its children as attributes; rename it, e.g. '{name}_'")
        if problem is not None:  # a Spec built in Python, not read by a front end that checks names (or a keyword)
            self.errors.error("invalid-name", problem, _join(parent_path, name), node.loc)
        if name in table:
            where = f"'{parent_path}'" if parent_path else "the network's top level"
            self.errors.error("duplicate-name", f"two entries are named '{name}' in {where}; module names must be unique",
                              _join(parent_path, name), node.loc)
        table[name] = node

    def groups(self, node: g.Node) -> list[list[g.Node]]:
        if isinstance(node, g.Residual):
            extra = [n for n in (node.shortcut, node.after) if n is not None]
            return [node.body, extra]
        children = node.children
        return [children] if children else []

    def visit(self, node: g.Node, path: str, flat_scope: dict | None = None) -> None:
        node.path = path
        if type(node) is g.Layer:  # most nodes: nothing inside to name
            return
        if node.flat and not node.virtual:  # an unnamed flat inside a flat is data flow of the outer one
            flat_scope = {"path": path, "names": {}, "count": {}}
        names: dict[str, g.Node] = {} if flat_scope is None else flat_scope["names"]
        if isinstance(node, g.Residual) and node.shortcut is None and node.shortcut_mode in ("auto", "conv"):
            names.setdefault(node.shortcut_name, node)  # reserved for the projection infer may add
        prefix, layer_kind = f"{path}." if path else "", g.Layer
        held = g.CHILD_LIST.get(type(node))  # a Seq, Merge or Dense (most): its one list of children
        for group in (node.__dict__[held],) if held is not None else self.groups(node):
            index = -1
            for child in group:
                layer = type(child) is layer_kind
                if not layer and not child.module:  # a reference, split or resize: no module, no index
                    if child.name is not None:
                        self.claim(names, child.name, child, flat_scope["path"] if flat_scope else path)
                    else:
                        child.name = f"${child.target}" if isinstance(child, g.Ref) else child.op
                    child.path = _join(flat_scope["path"] if flat_scope else path, child.name)
                    child.virtual = flat_scope is not None
                    continue
                index += 1
                if flat_scope is None:
                    if child.name is not None:
                        name = child.name
                        if name in _ACCEPTED and name not in names:  # what claim does for a good, new name
                            names[name] = child
                        else:
                            self.claim(names, name, child, path)
                    else:  # an index: always a valid name, and unique unless an entry was named so before it
                        child.name = name = str(index)
                        if name in names:
                            self.claim(names, name, child, path)
                        names[name] = child
                    if layer:  # what visit does for a layer
                        child.path = prefix + name
                    else:
                        self.visit(child, prefix + name)
                elif child.name is not None or not child.children:
                    if child.name is None:  # an unnamed layer in a flat module: a generated, unique name
                        n = flat_scope["count"].get(child.op, 0) + 1
                        while f"{child.op}_{n}" in names:
                            n += 1
                        flat_scope["count"][child.op] = n
                        child.name = f"{child.op}_{n}"
                    self.claim(names, child.name, child, flat_scope["path"], flat=True)
                    self.visit(child, _join(flat_scope["path"], child.name))
                else:  # an unnamed container in a flat module: data flow only
                    child.virtual = True
                    self.visit(child, flat_scope["path"], flat_scope)


_PATH_PATTERN = re.compile(r"^[A-Za-z0-9_.*?\[\]!-]+$")


def _init_plan(spec: s.Spec, env, errors: Collector, locations) -> dict[str, dict[str, tuple[str, Any]]]:
    """Validate `init:` into key -> tensor -> (initialiser name, validated args).

    A key is a layer kind, or else a module path or path pattern (`classifier.1`, `*.downsample.0`),
    whose targets the infer pass checks once every layer, projections included, has its path.
    """
    plan: dict[str, dict[str, tuple[str, Any]]] = {}
    for kind_name, table in spec.init.items():
        where = locations.find(("init", kind_name))
        if kind_name not in REGISTRY and not _PATH_PATTERN.match(kind_name):
            errors.error("unknown-layer", f"init names '{kind_name}', which is neither a layer kind"
                         f"{did_you_mean(kind_name, REGISTRY)} nor a module path such as `classifier.1` or "
                         "`features.*`", f"init.{kind_name}", where.loc)
            continue
        kinds = [REGISTRY[kind_name]] if kind_name in REGISTRY else []
        names = kinds[0].param_names if kinds else None  # a path's layers, and their tensors, are checked by infer
        for tensor, raw in table.items():
            twhere = locations.find(("init", kind_name, tensor))
            path = f"init.{kind_name}.{tensor}"
            if names is not None and tensor not in names:
                errors.error("unknown-key", f"{kind_name} has no tensor '{tensor}' to initialise"
                             f"{did_you_mean(tensor, names)}; it has: {', '.join(names) or 'none'}",
                             path, twhere.loc)
                continue
            try:
                value = _eval_value(raw, env)
            except ExprError as exc:
                errors.error(exc.code, str(exc), path, twhere.loc)
                continue
            try:
                vector = any(tensor in kind.vector_params for kind in kinds)
                plan.setdefault(kind_name, {})[tensor] = initialiser(value, vector, f"{kind_name}.{tensor}")
            except InitProblem as problem:
                errors.error(problem.code, str(problem), path, twhere.loc)
    return plan


class InitProblem(Exception):
    """An initialiser that cannot be used, with its error code."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


def initialiser(value: Any, vector: bool, what: str) -> tuple[str, Any]:
    """An evaluated initialiser (`normal(0, 0.01)`, a bare `zeros`) as (name, validated args); `vector`: the
    tensor `what` has one dimension, which the fan-computing initialisers cannot take. Raises InitProblem."""
    if isinstance(value, Symbol):
        value = CallValue(value.name, (), ())
    if not isinstance(value, CallValue) or value.name not in INITIALIZERS:
        got = value.name if isinstance(value, CallValue) else repr(value)
        raise InitProblem(f"unknown initialiser {got}{did_you_mean(str(got), INITIALIZERS)}; "
                          f"known: {', '.join(INITIALIZERS)}", code="unknown-init")
    if value.name in NEEDS_MATRIX and vector:
        raise InitProblem(f"{value.name} needs a weight matrix or kernel (2 or more dimensions), "
                          f"but {what} is a vector; use zeros, ones, constant, normal or uniform", code="invalid-value")
    schema, positional, _ = INITIALIZERS[value.name]
    if len(value.args) > len(positional):
        raise InitProblem(f"{value.name} takes at most {len(positional)} positional arguments", code="too-many-args")
    kwargs = {**dict(zip(positional, value.args)), **dict(value.kwargs)}
    try:
        return value.name, schema.model_validate({k: _plain(v) for k, v in kwargs.items()})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InitProblem(f"{value.name}: {'.'.join(map(str, err['loc']))}: {plain_message(err)}",
                          code="invalid-value") from None


def resolve(parsed: ParsedSpec, overrides: Mapping[str, Any] | None = None,
            input_shape: tuple[int, ...] | None = None, max_nodes: int | None = None,
            requested_outputs: Any = None) -> g.Graph:
    """Spec -> Graph. `overrides` replace param defaults (strings are read as expressions); the expansion
    stops with a `too-large` error past `max_nodes` entries (default MAX_NODES)."""
    spec = parsed.spec
    errors = Collector(sources=dict(parsed.locations.sources))
    functions = spec_functions(spec, errors, parsed.locations)
    env = evaluate_params(spec, overrides or {}, errors, parsed.locations, functions)
    shape: tuple[int, ...] = ()
    if input_shape is not None:
        shape = tuple(input_shape)
    else:
        where = parsed.locations.find(("input",))
        try:
            values = _eval_value(spec.input, {**functions, **env})
            if all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
                shape = tuple(values)
            else:
                errors.error("invalid-value", f"input must be positive whole numbers, got {values}", "input", where.loc)
        except ExprError as exc:
            errors.error(exc.code, str(exc), "input", where.loc)
    resolver = _Resolver(parsed, env, errors, functions, max_nodes or budgets.current().max_nodes or MAX_NODES)
    root = None
    try:
        items = resolver.sequence(spec.layers, resolver.base, "", 0, ("layers",))
        resolver.seal()
        root = g.Seq("", "", parsed.locations.find(("layers",)).loc, items=items)
        _Namer(errors).visit(root, "")
        if resolver.ev.parameters:
            _check_parameters(root, errors)
        if resolver.ev.references:
            flow.link_references(root, errors)
    except _TooLarge:
        pass
    tap_nodes = flow.taps(root) if root is not None and resolver.ev.taps else []
    outputs, output_refs, output_dict = _outputs(spec, root, tap_nodes, errors, parsed.locations, requested_outputs)
    plan = _init_plan(spec, {**functions, **env}, errors, parsed.locations)
    errors.raise_if_any()
    assert not resolver.failed, "an entry failed without a diagnostic"
    assert root is not None
    init_locs = {k: parsed.locations.find(("init", k)).loc for k in spec.init}
    return g.Graph(spec.name, shape, root, env, outputs, plan, init_locs, output_refs=output_refs,
                   output_dict=output_dict)



def _check_parameters(node: g.Node, errors: Collector) -> None:
    """A parameter gives a tensor, not a layer's output: it is a branch of add or mul, beside one that reads the input."""
    branches = node.children
    for child in branches:
        if isinstance(child, g.Param):
            if not (isinstance(node, g.Merge) and node.mode in ("add", "mul")):
                inside = "a concat (its tensor has no batch dimension to join along)" if isinstance(node, g.Merge) \
                    else ("a sequence" if isinstance(node, g.Seq) else f"a {node.op}")
                errors.error("invalid-entry", f"parameter '{child.name}' is in {inside}; a parameter is a branch of "
                             "add or mul, beside a branch that reads the input (`identity`, or the layers it scales)",
                             child.path, child.loc)
            elif all(isinstance(b, g.Param) for b in branches):
                errors.error("invalid-entry", f"this {node.mode} has only parameters; give it a branch that reads "
                             "the input (`identity`)", node.path or "(root)", node.loc)
                break
        else:
            _check_parameters(child, errors)


def _possible_outputs(spec: s.Spec) -> set[str]:
    """Names of every extra output the spec could produce, in any branch of any `if`."""
    found: set[str] = set()

    def visit(value: Any) -> None:
        if isinstance(value, s.Output) and value.name:
            found.add(value.name)
        if isinstance(value, s.If) and value.name and isinstance(value.then, s.Output):
            found.add(value.name)
        if isinstance(value, BaseModel):
            for field in type(value).model_fields:
                visit(getattr(value, field))
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)

    visit(spec.layers)
    visit(spec.blocks)
    return found


def _outputs(spec: s.Spec, root: g.Seq | None, tap_nodes: list[g.Node], errors: Collector, locations,
             requested: Any = None) -> tuple[list[str], dict[str, g.Ref], bool]:
    """What the network returns: output names in order (`main` is the last layer's output; extra outputs by
    name, `tap_nodes` in order; references by their text), the references among them, and whether it is a dict.

    `requested` (load's `outputs=`) replaces the spec's `outputs:`: a list or dict of names and references."""
    taps = [n.name for n in tap_nodes]
    seen: set[str] = set()
    for node in tap_nodes:
        if node.name in seen:
            errors.error("duplicate-name", f"two outputs are named '{node.name}'; output names must be unique",
                         node.path, node.loc)
        seen.add(node.name)
    wanted = requested if requested is not None else spec.outputs
    if not wanted:
        return ["main", *taps], {}, False
    as_dict = isinstance(wanted, dict)
    items = list(wanted.items()) if as_dict else [(None, v) for v in wanted]
    known = ["main", *taps]
    possible: set[str] | None = None  # every output any branch of an `if` could give: walked only when needed
    names: list[str] = []
    refs: dict[str, g.Ref] = {}
    for index, (key, value) in enumerate(items):
        where = ("outputs", key if as_dict else index)
        loc = locations.find(where).loc if requested is None else None
        shown = f"outputs.{key if as_dict else index}"
        text = str(value)
        if not text.startswith("$") and text in known:
            names.append(text if not as_dict else str(key))
            if as_dict:
                refs[str(key)] = g.Ref(str(key), shown, loc, target=text)  # `out: main`: a name for main or a tap
            continue
        if not text.startswith("$") and requested is None:
            if possible is None:
                possible = _possible_outputs(spec)
            if text in possible:
                continue  # an output an `if` left out is dropped
        if not text.startswith("$") and requested is None:
            errors.error("unknown-name", f"outputs names '{text}', which is not an output{did_you_mean(text, known)}; "
                         f"outputs: {', '.join(known)}; to return an entry's tensor, refer to it: `${text}`",
                         shown, loc)
            continue
        if root is None:
            continue
        ref = flow.output_reference(root, text if text.startswith("$") else "$" + text, loc, errors, shown)
        if ref is not None:
            name = str(key) if as_dict else text.lstrip("$")
            names.append(name)
            refs[name] = ref
    listed = {str(v) for _, v in items}
    missing = [n for n in taps if n not in listed]
    if missing and requested is None:
        errors.error("missing-key", f"outputs must list every output; missing: {', '.join(missing)}", "outputs",
                     locations.find(("outputs",)).loc)
    return names, refs, as_dict


__all__ = ["resolve", "evaluate_params", "SpecError"]
