"""The layer reference, rendered from the registry: `netspec kinds`, `netspec kinds NAME` and the table in
docs/language.md. Each kind's shape example is computed statically, so the reference needs no torch."""

from __future__ import annotations

import re
import types
import typing
from typing import Any, Literal, Union

from . import summarize
from .diagnostics import SpecError, UsageError
from .layers import REGISTRY, format_shape


# Input shapes each kind's own example is run on, statically, to show its shape rule: an image and a
# feature vector; the fallbacks are tried, in order, only when neither of those fits.
EXAMPLE_INPUTS: tuple[tuple[int, ...], ...] = ((16, 32, 32), (64,))
FALLBACK_INPUTS: tuple[tuple[int, ...], ...] = ((3, 32, 32), (16, 10), (16, 8, 16, 16))
EXAMPLE_PARAMS = {"num_classes": 10}


# ---- type and value rendering ------------------------------------------------------------------


def _bound(constraint: Any) -> list[str]:
    """A constraint from pydantic's metadata (Gt, Ge, Lt, Le, Interval) as short text: `> 0`, `in [0, 1]`."""
    found = {op: getattr(constraint, attr, None) for op, attr in ((">", "gt"), (">=", "ge"), ("<", "lt"), ("<=", "le"))}
    low = [(op, v) for op, v in found.items() if op in (">", ">=") and v is not None]
    high = [(op, v) for op, v in found.items() if op in ("<", "<=") and v is not None]
    if low and high:
        (lo_op, lo), (hi_op, hi) = low[0], high[0]
        return [f"in {'[' if lo_op == '>=' else '('}{lo}, {hi}{']' if hi_op == '<=' else ')'}"]
    return [f"{op} {v}" for op, v in (*low, *high)]


def type_text(annotation: Any, metadata: list[Any] | tuple[Any, ...] = ()) -> str:
    """A field's type as a user writes values for it: `int > 0 | [int > 0, int > 0]`, `same | valid`."""
    bounds = [b for m in metadata for b in _bound(m)]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        return type_text(base, [*metadata, *extra])
    if origin in (Union, types.UnionType):
        parts = [type_text(a) for a in typing.get_args(annotation)]
        return " | ".join(dict.fromkeys(parts))
    if origin is Literal:
        return " | ".join(_value_text(v) for v in typing.get_args(annotation))
    if origin in (tuple, list):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        inner = ", ".join(type_text(a) for a in args)
        if origin is list or Ellipsis in typing.get_args(annotation):
            inner += ", ..."
        return f"[{inner}]"
    if annotation is type(None):
        return "none"
    name = getattr(annotation, "__name__", str(annotation))
    return " ".join([name, *bounds])


def _value_text(value: Any) -> str:
    """A default value as it would be written in a spec."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_value_text(v) for v in value) + "]"
    return str(value)


# ---- the registry, read ------------------------------------------------------------------------


def _fields(kind: Any) -> list[tuple[str, str, str, int | None]]:
    """(argument name as written, type text, default text, 1-based position or None) per argument."""
    out = []
    for name, info in kind.Args.model_fields.items():
        written = info.alias or name
        default = "required" if info.is_required() else _value_text(info.default)
        position = kind.positional.index(written) + 1 if written in kind.positional else None
        out.append((written, type_text(info.annotation, info.metadata), default, position))
    return out


def _call_form(kind: Any) -> str:
    if not kind.positional:
        return kind.name
    return f"{kind.name}({', '.join(kind.positional)})"


def _shape_example(kind: Any) -> str:
    """`(16, 32, 32) → (64, 16, 16), 50,176 params` for the kind's own example, computed statically."""
    if not kind.example:
        return ""
    params = "".join(f"\n  {k}: {v}" for k, v in EXAMPLE_PARAMS.items())
    quoted = "'" + kind.example.replace("'", "''") + "'"
    shapes: list[str] = []
    for shape in (*EXAMPLE_INPUTS, *FALLBACK_INPUTS):
        if shape in FALLBACK_INPUTS and shapes:
            break
        text = f"input: {list(shape)}\nparams:{params}\nlayers:\n  - {quoted}\n"
        try:
            result = summarize(text)
        except (SpecError, UsageError):
            continue
        counts = f", {result.total_params:,} params" if result.total_params else ""
        shapes.append(f"{format_shape(shape)} → {format_shape(result.output_shape)}{counts}")
    return "; ".join(shapes)


# One sample of each rank, to probe which ranks a kind's shape rule takes (the sizes fit most examples).
RANK_PROBES: tuple[tuple[int, ...], ...] = ((16,), (16, 16), (16, 16, 16), (16, 8, 16, 16))
RANK_NAMES = {1: "(F,)", 2: "(C, L)", 3: "(C, H, W)", 4: "(C, D, H, W)"}


def rank_rule(kind: Any) -> str:
    """The input ranks the kind's shape rule takes, found by running its example on one sample of each rank:
    `(C, H, W)`, `(C, L) or (C, H, W)`, or `any rank` (a rank counts unless the rule says rank-mismatch)."""
    if not kind.example:
        return ""
    params = "".join(f"\n  {k}: {v}" for k, v in EXAMPLE_PARAMS.items())
    quoted = "'" + kind.example.replace("'", "''") + "'"
    taken = []
    for shape in RANK_PROBES:
        try:
            summarize(f"input: {list(shape)}\nparams:{params}\nlayers:\n  - {quoted}\n")
            taken.append(len(shape))
        except SpecError as exc:
            if not any(d.code == "rank-mismatch" for d in exc.diagnostics):
                taken.append(len(shape))
        except UsageError:
            continue
    if len(taken) == len(RANK_PROBES):
        return "any rank"
    return " or ".join(RANK_NAMES[r] for r in taken) or "no rank tried (see its shape rule)"


def _origin(kind: Any) -> str:
    """`built-in`, or the module that registered a plugin kind."""
    module = type(kind).__module__
    return "built-in" if module.startswith("netspec.") else f"plugin {module}"


def kinds_listing() -> str:
    """`netspec layers`: every registered kind, its call form and its one line; plugin kinds say where from."""
    rows = [(_call_form(k), k.summary + ("" if _origin(k) == "built-in" else f" [{_origin(k)}]"))
            for k in REGISTRY.values()]
    width = min(max(len(form) for form, _ in rows), 40)
    plugins = sum(1 for k in REGISTRY.values() if _origin(k) != "built-in")
    lines = [f"{form:<{width}}  {text}" if len(form) <= width else f"{form}\n{'':<{width}}  {text}" for form, text in rows]
    lines.append(f"{len(rows)} layer kinds ({plugins} from plugins); `netspec layers NAME` describes one")
    return "\n".join(lines) + "\n"


def kind_help(name: str) -> str:
    """`netspec layers NAME`: the kind's arguments with their types and defaults, rank rule, example and origin."""
    from .diagnostics import did_you_mean

    kind = REGISTRY.get(name)
    if kind is None:
        raise UsageError(f"unknown layer kind '{name}'{did_you_mean(name, list(REGISTRY))}; "
                         "`netspec layers` lists them all")
    lines = [_call_form(kind), f"  {kind.summary}", ""]
    fields = _fields(kind)
    if fields:
        rows = [(w, str(pos) if pos else "-", t, d) for w, t, d, pos in fields]
        widths = [max(len(r[i]) for r in rows + [("argument", "position", "type", "default")]) for i in range(4)]
        header = ("argument", "position", "type", "default")
        lines += ["  " + "  ".join(h.ljust(widths[i]) for i, h in enumerate(header)).rstrip()]
        lines += ["  " + "  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows]
    else:
        lines.append("  no arguments")
    lines.append("")
    rule = rank_rule(kind)
    if rule:
        lines.append(f"Input: {rule}")
    if kind.example:
        shown = _shape_example(kind)
        lines.append(f"Example: {kind.example}" + (f"  {shown}" if shown else ""))
    if kind.param_names:
        lines.append("init: may name: " + ", ".join(kind.param_names))
    if kind.torch_class:
        lines.append(f"Builds: {kind.torch_class}")
    lines.append(f"Defined by: {_origin(kind)} ({type(kind).__module__}.{type(kind).__qualname__})")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def layer_table_markdown() -> str:
    """The layer-kind reference (Markdown), from `netspec.layers.REGISTRY`, in registration order."""
    lines = [
        "<!-- generated by `python -m netspec.docgen --write` from netspec.layers.REGISTRY; do not edit by hand -->",
        "",
        "| Kind | Positional form | What it does | Builds |",
        "|---|---|---|---|",
    ]
    for name, kind in REGISTRY.items():
        anchor = re.sub(r"[^a-z0-9_-]", "", name.lower())
        lines.append(
            f"| [`{name}`](#{anchor}) | `{_cell(_call_form(kind))}` | {_cell(kind.summary)} | `{kind.torch_class or '-'}` |"
        )
    for name, kind in REGISTRY.items():
        lines += ["", f"#### `{name}`", "", kind.summary or "(no summary)", ""]
        fields = _fields(kind)
        if fields:
            lines += ["| Argument | Position | Type | Default |", "|---|---|---|---|"]
            for written, typ, default, position in fields:
                lines.append(f"| `{written}` | {position or '-'} | `{_cell(typ)}` | {_cell(default)} |")
        else:
            lines.append("No arguments.")
        facts = []
        rule = rank_rule(kind)
        if rule:
            facts.append(f"Input: {rule}.")
        if kind.example:
            example = _shape_example(kind)
            facts.append(f"Example: `{kind.example}`" + (f": {example}." if example else "."))
        if kind.param_names:
            facts.append("Tensors `init:` may name: " + ", ".join(f"`{p}`" for p in kind.param_names) + ".")
        if kind.torch_class:
            facts.append(f"Builds `{kind.torch_class}`.")
        lines += ["", " ".join(facts)]
    return "\n".join(lines) + "\n"
