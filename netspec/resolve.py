"""The resolve pass: Spec -> Graph. Evaluates params and expressions, expands blocks, repeats and dense blocks."""

from __future__ import annotations

import re
from typing import Any, Mapping

from pydantic import ValidationError

from . import graph as g
from . import spec as s
from .diagnostics import Collector, SpecError, UsageError, did_you_mean
from .expr import CallValue, ExprError, Symbol, eval_text
from .initializers import INITIALIZERS
from .layers import REGISTRY, arg_names
from .validate import ParsedSpec

MAX_NODES = 50_000  # graph nodes after expansion: far above any real CNN, far below what hurts
MAX_BLOCK_DEPTH = 32  # nested block calls


class _TooLarge(Exception):
    pass


def evaluate_params(spec: s.Spec, overrides: Mapping[str, Any], errors: Collector, locations) -> dict[str, Any]:
    """Param values in declaration order; each default may use the params before it."""
    for key in overrides:
        if key not in spec.params:
            known = ", ".join(spec.params) or "none"
            raise UsageError(f"unknown param '{key}'{did_you_mean(key, spec.params)}; this spec's params: {known}")
    env: dict[str, Any] = {}
    for key, default in spec.params.items():
        raw = overrides.get(key, default)
        try:
            env[key] = _eval_value(raw, env)
        except ExprError as exc:
            if key in overrides:
                raise UsageError(f"--set {key}: {exc}") from None
            where = locations.find(("params", key))
            errors.error(exc.code, str(exc), f"params.{key}", where.loc)
            env[key] = None
    return env


def _eval_value(raw: Any, env: Mapping[str, Any]) -> Any:
    if isinstance(raw, str):
        return eval_text(raw, env)
    if isinstance(raw, list):
        return [_eval_value(v, env) for v in raw]
    return raw


def _plain(value: Any) -> Any:
    """Symbols become strings (for fields such as padding='same'); lists become tuples."""
    if isinstance(value, Symbol):
        return value.name
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value


def _has_symbol(value: Any) -> Symbol | None:
    if isinstance(value, Symbol):
        return value
    if isinstance(value, list):
        for v in value:
            found = _has_symbol(v)
            if found:
                return found
    return None


class _Resolver:
    def __init__(self, parsed: ParsedSpec, params: dict[str, Any], errors: Collector):
        self.spec = parsed.spec
        self.locations = parsed.locations
        self.params = params
        self.errors = errors
        self.nodes = 0
        self.block_stack: list[str] = []

    def loc(self, cpath: tuple):
        return self.locations.find(cpath).loc

    def error(self, code: str, message: str, mpath: str, cpath: tuple) -> None:
        self.errors.error(code, message, mpath or "(root)", self.loc(cpath))

    def count(self, cpath: tuple) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self.error("too-large", f"the network expands to more than {MAX_NODES:,} nodes", "", cpath)
            raise _TooLarge

    # ---- evaluation helpers -------------------------------------------------------------------

    def value(self, raw: Any, env: Mapping[str, Any], mpath: str, cpath: tuple) -> Any:
        try:
            return _eval_value(raw, env)
        except ExprError as exc:
            self.error(exc.code, str(exc), mpath, cpath)
            raise

    def int_value(self, raw: Any, env, mpath: str, cpath: tuple, what: str, minimum: int = 0) -> int | None:
        try:
            value = self.value(raw, env, mpath, cpath)
        except ExprError:
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

    def names(self, pattern: str | None, index: int, env, mpath: str, cpath: tuple) -> str:
        if pattern is None:
            return str(index)
        local = {**env, "i": index}

        def one(match: re.Match) -> str:
            return str(eval_text(match.group(1), local))

        try:
            name = re.sub(r"\{([^{}]*)\}", one, pattern)
        except ExprError as exc:
            self.error(exc.code, f"in names '{pattern}': {exc}", mpath, cpath + ("names",))
            return str(index)
        if not re.match(s.NAME_PATTERN, name) and not name.isdigit():
            self.error("invalid-name", f"names '{pattern}' gives '{name}', which is not a valid module name", mpath, cpath + ("names",))
        return name

    # ---- entries ------------------------------------------------------------------------------

    def entry(self, node: s.Entry, env: Mapping[str, Any], name: str, mpath: str, cpath: tuple) -> g.Node | None:
        self.count(cpath)
        loc = self.loc(cpath)
        if isinstance(node, s.Call):
            return self.call(node, env, name, mpath, cpath)
        if isinstance(node, s.Seq):
            return g.Seq(name, mpath, loc, items=self.sequence(node.items, env, mpath, cpath + ("items",)))
        if isinstance(node, s.Merge):
            branches = self.sequence(node.branches, env, mpath, cpath + ("branches",))
            return g.Merge(name, mpath, loc, mode=node.op, branches=branches)
        if isinstance(node, s.Residual):
            body = self.sequence(node.body, env, mpath, cpath + ("body",))
            shortcut = None
            mode = node.shortcut if isinstance(node.shortcut, str) else "explicit"
            sc_path = _join(mpath, node.shortcut_name)
            if isinstance(node.shortcut, list):
                items = self.sequence(node.shortcut, env, sc_path, cpath + ("shortcut",))
                shortcut = g.Seq(node.shortcut_name, sc_path, self.loc(cpath + ("shortcut",)), items=items)
            after = None
            if node.after is not None:
                after_name = node.after.name or "after"
                after = self.entry(node.after, env, after_name, _join(mpath, after_name), cpath + ("after",))
            return g.Residual(
                name, mpath, loc, body=body, shortcut_mode=mode, shortcut=shortcut,
                shortcut_name=node.shortcut_name, after=after,
            )
        if isinstance(node, (s.Repeat, s.Dense)):
            return self.repeat(node, env, name, mpath, cpath)
        raise AssertionError(f"unknown IR node {type(node).__name__}")

    def sequence(self, items: list[s.Entry], env, mpath: str, cpath: tuple) -> list[g.Node]:
        out: list[g.Node] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(items):
            name = item.name or str(index)
            if name in seen:
                self.error(
                    "duplicate-name",
                    f"two entries are named '{name}' (entries {seen[name]} and {index}); module names must be unique",
                    _join(mpath, name), cpath + (index,),
                )
                continue
            seen[name] = index
            node = self.entry(item, env, name, _join(mpath, name), cpath + (index,))
            if node is not None:
                out.append(node)
        return out

    def repeat(self, node: s.Repeat | s.Dense, env, name: str, mpath: str, cpath: tuple) -> g.Node | None:
        count = self.int_value(node.count, env, mpath, cpath + ("count",), f"{node.op} count")
        if count is None:
            return None
        inner_key = "block" if isinstance(node, s.Repeat) else "layer"
        inner: s.Entry = getattr(node, inner_key)
        first = getattr(node, "first", {})
        if first and not isinstance(inner, s.Call):
            self.error("invalid-value", "`first` overrides arguments, so `block` must be a call", mpath, cpath + ("first",))
            first = {}
        if count * 1 > MAX_NODES:
            self.error("too-large", f"{node.op} count {count:,} is more than the {MAX_NODES:,} nodes a network may have", mpath, cpath + ("count",))
            raise _TooLarge
        copies: list[g.Node] = []
        seen: set[str] = set()
        for i in range(count):
            local = {**env, "i": i}
            item = inner
            if i == 0 and first:
                item = inner.model_copy(update={"kwargs": {**inner.kwargs, **first}})
            copy_name = self.names(node.names, i, local, mpath, cpath)
            if copy_name in seen:
                self.error("duplicate-name", f"names '{node.names}' gives '{copy_name}' twice", mpath, cpath + ("names",))
                return None
            seen.add(copy_name)
            built = self.entry(item, local, copy_name, _join(mpath, copy_name), cpath + (inner_key,))
            if built is not None:
                copies.append(built)
        if isinstance(node, s.Dense):
            return g.Dense(name, mpath, self.loc(cpath), layers=copies)
        return g.Seq(name, mpath, self.loc(cpath), items=copies)

    def call(self, node: s.Call, env, name: str, mpath: str, cpath: tuple) -> g.Node | None:
        if node.target in REGISTRY:
            return self.layer(node, env, name, mpath, cpath)
        if node.target in self.spec.blocks:
            return self.block(node, env, name, mpath, cpath)
        choices = [*REGISTRY, *self.spec.blocks]
        self.error(
            "unknown-layer",
            f"unknown layer or block '{node.target}'{did_you_mean(node.target, choices)}",
            mpath, cpath,
        )
        return None

    def arguments(self, node: s.Call, names: list[str], positional: tuple[str, ...], env, mpath: str, cpath: tuple,
                  what: str) -> tuple[dict[str, Any], dict[str, tuple]] | None:
        """Evaluate a call's arguments into {name: value}, and {name: IR path} for locating errors."""
        values: dict[str, Any] = {}
        paths: dict[str, tuple] = {}
        ok = True
        if len(node.args) > len(positional):
            extra = node.args[len(positional)]
            takes = f"takes at most {len(positional)} positional argument{'s' if len(positional) != 1 else ''}"
            self.error("too-many-args", f"{what} {takes} ({', '.join(positional) or 'none'}); name the others",
                       mpath, cpath + ("args", len(positional)))
            return None
        for index, raw in enumerate(node.args):
            key = positional[index]
            paths[key] = cpath + ("args", index)
            try:
                values[key] = self.value(raw, env, mpath, paths[key])
            except ExprError:
                ok = False
        for key, raw in node.kwargs.items():
            kpath = cpath + ("kwargs", key)
            if key not in names:
                self.error("unknown-arg", f"{what} has no argument '{key}'{did_you_mean(key, names)}; "
                           f"its arguments: {', '.join(names) or 'none'}", mpath, kpath)
                ok = False
                continue
            if key in values:
                self.error("duplicate-arg", f"{what} got '{key}' both by position and by name", mpath, kpath)
                ok = False
                continue
            paths[key] = kpath
            try:
                values[key] = self.value(raw, env, mpath, kpath)
            except ExprError:
                ok = False
        if not ok:
            return None
        for key, value in values.items():
            if isinstance(value, CallValue):
                self.error("invalid-value", f"'{value.name}(...)' is not a value here", mpath, paths[key])
                ok = False
        return (values, paths) if ok else None

    def layer(self, node: s.Call, env, name: str, mpath: str, cpath: tuple) -> g.Layer | None:
        kind = REGISTRY[node.target]
        got = self.arguments(node, arg_names(kind), kind.positional, env, mpath, cpath, kind.name)
        if got is None:
            return None
        values, paths = got
        try:
            args = kind.Args.model_validate({k: _plain(v) for k, v in values.items()})
        except ValidationError as exc:
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else ""
                key = next((k for k in paths if k == field or (field == "in_" and k == "in")), None)
                where = paths.get(key, cpath) if key else cpath
                symbol = _has_symbol(values.get(key)) if key else None
                if symbol is not None:
                    self.error("unknown-name", f"unknown name '{symbol.name}'{did_you_mean(symbol.name, env)}", mpath, where)
                elif err["type"] == "missing":
                    self.error("missing-arg", f"{kind.name} needs argument '{field}'"
                               f"{' (by position: ' + ', '.join(kind.positional) + ')' if kind.positional else ''}",
                               mpath, cpath)
                else:
                    label = f"argument '{key}'" if key else kind.name
                    self.error("invalid-value", f"{kind.name} {label}: {err['msg']}", mpath, where)
            return None
        return g.Layer(name, mpath, self.loc(cpath), kind=kind, args=args)

    def block(self, node: s.Call, env, name: str, mpath: str, cpath: tuple) -> g.Node | None:
        block = self.spec.blocks[node.target]
        if node.target in self.block_stack:
            chain = " -> ".join([*self.block_stack, node.target])
            self.error("recursive-block", f"block '{node.target}' calls itself ({chain})", mpath, cpath)
            return None
        if len(self.block_stack) >= MAX_BLOCK_DEPTH:
            self.error("too-deep", f"blocks nest more than {MAX_BLOCK_DEPTH} calls deep", mpath, cpath)
            return None
        names = [a.name for a in block.args]
        got = self.arguments(node, names, tuple(names), env, mpath, cpath, f"block '{node.target}'")
        if got is None:
            return None
        values, _ = got
        local = dict(self.params)
        ok = True
        for index, arg in enumerate(block.args):
            if arg.name in values:
                local[arg.name] = values[arg.name]
            elif arg.required:
                self.error("missing-arg", f"block '{node.target}' needs argument '{arg.name}' "
                           f"(its arguments: {', '.join(names)})", mpath, cpath)
                ok = False
            else:
                try:
                    local[arg.name] = self.value(arg.default, local, mpath, ("blocks", node.target, "args", index, "default"))
                except ExprError:
                    ok = False
        if not ok:
            return None
        self.block_stack.append(node.target)
        try:
            return self.entry(block.body, local, name, mpath, ("blocks", node.target, "body"))
        finally:
            self.block_stack.pop()


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _init_plan(spec: s.Spec, env, errors: Collector, locations) -> dict[str, dict[str, tuple[str, Any]]]:
    """Validate `init:` into kind -> tensor -> (initialiser name, validated args)."""
    plan: dict[str, dict[str, tuple[str, Any]]] = {}
    for kind_name, table in spec.init.items():
        where = locations.find(("init", kind_name))
        if kind_name not in REGISTRY:
            errors.error("unknown-layer", f"init names unknown layer kind '{kind_name}'{did_you_mean(kind_name, REGISTRY)}",
                         f"init.{kind_name}", where.loc)
            continue
        kind = REGISTRY[kind_name]
        for tensor, raw in table.items():
            twhere = locations.find(("init", kind_name, tensor))
            path = f"init.{kind_name}.{tensor}"
            if tensor not in kind.param_names:
                errors.error("unknown-key", f"{kind_name} has no tensor '{tensor}' to initialise"
                             f"{did_you_mean(tensor, kind.param_names)}; it has: {', '.join(kind.param_names) or 'none'}",
                             path, twhere.loc)
                continue
            try:
                value = _eval_value(raw, env)
            except ExprError as exc:
                errors.error(exc.code, str(exc), path, twhere.loc)
                continue
            if isinstance(value, Symbol):
                value = CallValue(value.name, (), ())
            if not isinstance(value, CallValue) or value.name not in INITIALIZERS:
                got = value.name if isinstance(value, CallValue) else repr(value)
                errors.error("unknown-init", f"unknown initialiser {got}{did_you_mean(str(got), INITIALIZERS)}; "
                             f"known: {', '.join(INITIALIZERS)}", path, twhere.loc)
                continue
            schema, positional, _ = INITIALIZERS[value.name]
            if len(value.args) > len(positional):
                errors.error("too-many-args", f"{value.name} takes at most {len(positional)} positional arguments",
                             path, twhere.loc)
                continue
            kwargs = {**dict(zip(positional, value.args)), **dict(value.kwargs)}
            try:
                plan.setdefault(kind_name, {})[tensor] = (value.name, schema.model_validate({k: _plain(v) for k, v in kwargs.items()}))
            except ValidationError as exc:
                err = exc.errors()[0]
                errors.error("invalid-value", f"{value.name}: {'.'.join(map(str, err['loc']))}: {err['msg']}", path, twhere.loc)
    return plan


def resolve(parsed: ParsedSpec, overrides: Mapping[str, Any] | None = None,
            input_shape: tuple[int, ...] | None = None) -> g.Graph:
    """Spec -> Graph. `overrides` replace param defaults (strings are read as expressions)."""
    spec = parsed.spec
    errors = Collector(sources=dict(parsed.locations.sources))
    env = evaluate_params(spec, overrides or {}, errors, parsed.locations)
    shape: tuple[int, ...] = ()
    if input_shape is not None:
        shape = tuple(input_shape)
    else:
        where = parsed.locations.find(("input",))
        try:
            values = _eval_value(spec.input, env)
            if all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
                shape = tuple(values)
            else:
                errors.error("invalid-value", f"input must be positive whole numbers, got {values}", "input", where.loc)
        except ExprError as exc:
            errors.error(exc.code, str(exc), "input", where.loc)
    resolver = _Resolver(parsed, env, errors)
    root = None
    try:
        items = resolver.sequence(spec.layers, env, "", ("layers",))
        root = g.Seq("", "", parsed.locations.find(("layers",)).loc, items=items)
    except _TooLarge:
        pass
    plan = _init_plan(spec, env, errors, parsed.locations)
    errors.raise_if_any()
    assert root is not None
    init_locs = {k: parsed.locations.find(("init", k)).loc for k in spec.init}
    return g.Graph(spec.name, shape, root, env, plan, init_locs)


__all__ = ["resolve", "evaluate_params", "SpecError"]
