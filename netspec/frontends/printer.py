"""Spec -> text: the canonical .ns form (`netspec fmt`) and YAML (`netspec convert`), each read back equal.

Both printers work from the Spec alone, so comments (which are not part of a Spec) are not kept.
Every value is printed in a form chosen by reading it back: a .ns value is written bare when the .ns
front end reads the bare text as the same value, and in backticks otherwise; a YAML call string is
used only where validate's reading of call strings gives the same Call, else the mapping form.
Where a syntax cannot say a Spec at all (the IR allows a few things neither front end produces),
the printer raises Unprintable naming the piece, rather than write something that reads differently.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import yaml

from ..diagnostics import UsageError
from .dsl import IDENTIFIER, KEYWORDS, canonical_arg, canonical_target, read_count, read_value
from ..ir.expr import ExprError, parse_expr
from ..layers import REGISTRY
from ..ir.spec import (STRUCTURES, Call, Dense, Entry, Flat, If, Merge, Output, Parameter, Ref, Repeat, Residual,
                      Seq, Spec, Splice)
from .validate import TYPE_WORDS
from .yaml_source import _plain_scalar

WIDTH = 100  # an entry longer than this is broken over lines


class Unprintable(UsageError):
    """A Spec (or a piece of one) that this syntax cannot say."""


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type all the way down (1, 1.0 and True are three different values here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def _valid_expression(text: str) -> bool:
    try:
        parse_expr(text)
    except ExprError:
        return False
    return True


# ---- .ns -----------------------------------------------------------------------------------------


def to_ns(spec: Spec, breaks: Any = ()) -> str:
    """The canonical .ns text of a spec: canonical names (no aliases), one top-level entry per line; a
    sequence that does not fit on its line is broken, its entries packed onto lines as they fit. `breaks`:
    IR paths of sequence entries that must start a line (where the source has a comment or a blank line)."""
    return _Ns(spec, breaks).document()


def _at(spec: Spec, path: Any) -> Any:
    """The piece of the spec at an IR path (None where the path names no piece)."""
    node: Any = spec
    for step in path:
        if isinstance(step, int) and isinstance(node, list) and 0 <= step < len(node):
            node = node[step]
        elif isinstance(node, dict) and step in node:
            node = node[step]
        elif isinstance(step, str) and not isinstance(node, (list, dict)) and hasattr(node, step):
            node = getattr(node, step)
        elif isinstance(step, str) and (field := _field_by_alias(node, step)) is not None:
            node = getattr(node, field)  # IR paths use a field's alias: `else` for If.else_
        else:
            return None
    return node


def _field_by_alias(node: Any, alias: str) -> str | None:
    fields = getattr(type(node), "model_fields", {})
    return next((name for name, info in fields.items() if info.alias == alias), None)


def _children(e: Entry) -> list[Entry]:
    if isinstance(e, Seq):
        return list(e.items)
    if isinstance(e, Merge):
        return list(e.branches)
    if isinstance(e, Residual):
        return list(e.body) + (list(e.shortcut) if isinstance(e.shortcut, list) else []) + \
            ([e.after] if e.after is not None else [])
    if isinstance(e, Repeat):
        return [e.block]
    if isinstance(e, Dense):
        return [e.layer]
    if isinstance(e, If):
        return [e.then] + ([e.else_] if e.else_ is not None else [])
    if isinstance(e, (Splice, Flat, Output)):
        return [e.body]
    return []


class _Ns:
    def __init__(self, spec: Spec, breaks: Any = ()):
        self.spec = spec
        self.blocks = set(spec.blocks)
        self.breaks = {id(node) for node in (_at(spec, p) for p in breaks) if node is not None}
        self._pinned: dict[int, bool] = {}

    def pinned(self, e: Entry) -> bool:
        """Must the entry be broken over lines (a sequence inside it has an entry that starts a line)?"""
        key = id(e)
        if key not in self._pinned:
            self._pinned[key] = (isinstance(e, Seq) and any(id(i) in self.breaks for i in e.items)) or \
                any(self.pinned(c) for c in _children(e))
        return self._pinned[key]

    # ---- names, strings and values --------------------------------------------------------------

    def ident(self, name: str, bare_ok: bool = True) -> str:
        if bare_ok and IDENTIFIER.match(name) and name not in KEYWORDS:
            return name
        if "`" in name or "\n" in name or "\r" in name:
            raise Unprintable(f"the name {name!r} cannot be written in .ns (it holds a backtick or a line break)")
        return f"`{name}`"

    def target(self, name: str) -> str:
        return self.ident(name, canonical_target(name, self.blocks) == name)

    def init_kind(self, name: str) -> str:
        return self.ident(name, canonical_target(name) == name)

    def key(self, target: str, key: str) -> str:
        return self.ident(key, canonical_arg(target, key) == key)

    @staticmethod
    def string(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)

    def literal(self, value: Any) -> str:
        """The bare text of a value (what a person would write), before any check."""
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise Unprintable(f"the number {value} cannot be written in .ns (only finite numbers can)")
            return repr(value)
        if isinstance(value, list):
            return "[" + ", ".join(self.value(v) for v in value) + "]"
        if isinstance(value, str):
            return value
        raise Unprintable(f"{value!r} is not a spec value (a number, true/false, null, a list or an expression)")

    def value(self, value: Any) -> str:
        text = self.literal(value)
        if isinstance(value, list) or same(read_value(text), value):
            return text
        return self.raw(value)

    def raw(self, value: Any) -> str:
        if isinstance(value, str) and "`" not in value and "\n" not in value and _valid_expression(value):
            return f"`{value}`"
        why = "number literals stop at 1e18" if isinstance(value, (int, float)) else "it is not an expression netspec reads"
        raise Unprintable(f"the value {value!r} cannot be written in .ns ({why})")

    def count(self, value: Any) -> str:
        text = self.literal(value)
        for candidate in (text, f"({text})"):
            if same(read_count(candidate), value):
                return candidate
        return self.raw(value)

    # ---- entries --------------------------------------------------------------------------------

    def flat(self, e: Entry) -> str:
        """An entry on one line."""
        return self.labeled(e, self.body(e, None, 0))

    def labeled(self, e: Entry, text: str) -> str:
        return f"{self.ident(e.name)}: {text}" if e.name is not None else text

    def entry(self, e: Entry, indent: int, column: int) -> str:
        """An entry starting at `column`; when it does not fit in WIDTH, its outermost group is broken."""
        text = self.flat(e)
        if column + len(text) <= WIDTH and not self.pinned(e):
            return text
        prefix = self.labeled(e, "")
        return prefix + self.body(e, indent, column + len(prefix))

    def lines(self, entries: list[Entry], indent: int) -> str:
        pad = " " * indent
        return "\n".join(pad + self.entry(e, indent, indent) for e in entries)

    def group(self, head: str, entries: list[Entry], close: str, indent: int | None) -> str:
        """`head a b c close` on one line (indent None), or one entry a line."""
        if indent is None:
            inner = " ".join(self.flat(e) for e in entries)
            if head.endswith("{"):
                return f"{head} {inner} {close}" if inner else f"{head}{close}"
            return f"{head}{inner}{close}"
        if not entries:
            return head + close
        inner = self.packed(entries, indent + 2) if head == "[" else self.lines(entries, indent + 2)
        return f"{head}\n{inner}\n{' ' * indent}{close}"

    def packed(self, entries: list[Entry], indent: int) -> str:
        """A broken sequence's entries, as many a line as fit in WIDTH; an entry that is itself broken over
        lines stands alone, and an entry in `breaks` starts a line."""
        pad = " " * indent
        lines: list[str] = []
        line = ""
        for e in entries:
            text = self.flat(e)
            if line and (id(e) in self.breaks or self.pinned(e) or indent + len(line) + 1 + len(text) > WIDTH):
                lines.append(line)
                line = ""
            if line:
                line += " " + text
                continue
            line = self.entry(e, indent, indent)
            if "\n" in line:
                lines.append(line)
                line = ""
        if line:
            lines.append(line)
        return "\n".join(pad + text for text in lines)

    def inner(self, e: Entry, indent: int | None, column: int) -> str:
        return self.flat(e) if indent is None else self.entry(e, indent, column)

    def body(self, e: Entry, indent: int | None, column: int) -> str:
        """The entry without its name: flat when indent is None, else broken at its outermost group."""
        if isinstance(e, Call):
            text = self.target(e.target)
            arguments = [self.value(v) for v in e.args]
            arguments += [f"{self.key(e.target, k)}={self.value(v)}" for k, v in e.kwargs.items()]
            return f"{text}({', '.join(arguments)})" if arguments else text
        if isinstance(e, Ref):
            return f"${e.target}"
        if isinstance(e, Seq):
            return self.group("[", e.items, "]", indent)
        if isinstance(e, Merge):
            option = f"(dim={self.value(e.dim)})" if e.op == "concat" and not same(e.dim, 1) else ""
            return self.group(f"{e.op}{option} {{", e.branches, "}", indent)
        if isinstance(e, Residual):
            text = self.group("residual {", e.body, "}", indent)
            if isinstance(e.shortcut, list):
                text += " " + self.group("shortcut {", e.shortcut, "}", None)
            elif e.shortcut != "auto" or e.shortcut_name != "shortcut":
                text += f" shortcut {e.shortcut}"
            if e.shortcut_name != "shortcut":
                text += f" as {self.ident(e.shortcut_name)}"
            if e.after is not None:
                text += " after "
                text += self.inner(e.after, indent, column + len(text.rsplit("\n", 1)[-1]))
            return text
        if isinstance(e, (Repeat, Dense)):
            head = f"{e.op} {self.count(e.count)}"
            inner = e.block if isinstance(e, Repeat) else e.layer
            if isinstance(e, Repeat) and e.first:
                target = inner.target if isinstance(inner, Call) else ""
                head += " first(" + ", ".join(f"{self.key(target, k)}={self.value(v)}" for k, v in e.first.items()) + ")"
            if e.names is not None:
                head += f" names {self.string(e.names)}"
            return f"{head} {self.inner(inner, indent, column + len(head) + 1)}"
        if isinstance(e, If):
            head = f"if {self.value(e.cond)} then "
            then = self.inner(e.then, indent, column + len(head))
            if e.else_ is None:
                return head + then
            if _open(e.then):  # `else` would bind to the `if` inside: group the then-branch
                then = f"({then})"
            text = f"{head}{then} else "
            return text + self.inner(e.else_, indent, column + len(text.rsplit("\n", 1)[-1]))
        if isinstance(e, (Splice, Flat, Output)):
            head = e.op + (" train_only" if isinstance(e, Output) and e.train_only else "") + " "
            return head + self.inner(e.body, indent, column + len(head))
        if isinstance(e, Parameter):
            shape = self.value(e.shape) if isinstance(e.shape, list) else f"({self.value(e.shape)})"
            init = "" if e.init == Parameter.model_fields["init"].default else f" init {self.count(e.init)}"
            return f"parameter {shape}{init}"
        raise AssertionError(f"unknown IR node {type(e).__name__}")

    # ---- the whole spec -------------------------------------------------------------------------

    def document(self) -> str:
        spec = self.spec
        name = spec.name if IDENTIFIER.match(spec.name) and spec.name not in KEYWORDS else self.string(spec.name)
        head = [f"network {name}" + (f" {self.string(spec.description)}" if spec.description else "")]
        if spec.extends is not None:
            bases = spec.extends if isinstance(spec.extends, list) else [spec.extends]
            head.append("extends " + ", ".join(self.string(base) for base in bases))
        if spec.input or spec.extends is None:
            dims = all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in spec.input) and spec.input
            head.append("input " + ("x".join(map(str, spec.input)) if dims else self.value(spec.input)))
        params = [f"{self.ident(k)} = {self.value(v)}" for k, v in spec.params.items()]
        joined = "param " + ", ".join(params)
        # all params on one line while they fit, as people write them; else one `param` line each
        head += [joined] if params and len(joined) <= WIDTH and "\n" not in joined else [f"param {p}" for p in params]
        if spec.outputs:
            def shown(o: str) -> str:
                return o if (IDENTIFIER.match(o) and o not in KEYWORDS) or o.startswith("$") else self.string(o)
            if isinstance(spec.outputs, dict):
                head.append("outputs " + ", ".join(f"{shown(k)} = {shown(v)}" for k, v in spec.outputs.items()))
            else:
                head.append("outputs " + ", ".join(shown(o) for o in spec.outputs))
        sections = ["\n".join(head)]
        if spec.functions:
            sections.append("\n".join(self.function(name, fn) for name, fn in spec.functions.items()))
        for block_name, block in spec.blocks.items():
            args = []
            for arg in block.args:
                if arg.required and arg.default is not None:
                    raise Unprintable(f"block '{block_name}': argument '{arg.name}' is required and has a default")
                choice = f" in {self.value(arg.choices)}" if arg.choices is not None else ""
                args.append(self.ident(arg.name) + choice + ("" if arg.required else f"={self.value(arg.default)}"))
            text = (self.string(block.doc) + "\n") if block.doc else ""
            text += f"block {self.ident(block_name)}" + (f"({', '.join(args)})" if args else "") + " = "
            text += self.entry(block.body, 0, len(text.rsplit("\n", 1)[-1]))
            sections.append(text)
        if not spec.layers and spec.extends is None:
            raise Unprintable("a spec with no layers and no `extends` cannot be written in .ns")
        if spec.layers:
            sections.append(self.lines(spec.layers, 0))
        if spec.init:
            sections.append("\n".join(
                f"init {self.init_kind(kind)}(" + ", ".join(f"{self.ident(t)}={self.value(v)}" for t, v in table.items())
                + ")" for kind, table in spec.init.items()))
        return "\n\n".join(sections) + "\n"


    def function(self, name: str, fn: Any) -> str:
        args = [self.ident(a.name) + ("" if a.required else f"={self.value(a.default)}") for a in fn.args]
        return f"function {self.ident(name)}({', '.join(args)}) = {self.value(fn.body)}"


def _open(e: Entry) -> bool:
    """Does the entry's text end in an `if` with no `else`, which a following `else` would join?"""
    if isinstance(e, If):
        return e.else_ is None or _open(e.else_)
    if isinstance(e, Repeat):
        return _open(e.block)
    if isinstance(e, Dense):
        return _open(e.layer)
    if isinstance(e, (Splice, Flat, Output)):
        return _open(e.body)
    if isinstance(e, Residual):
        return e.after is not None and _open(e.after)
    return False


# ---- YAML ----------------------------------------------------------------------------------------

_EXPR_KEYWORDS = {"if", "else", "or", "and", "not"}
# A plain YAML scalar in block context: no indicator first, no `: ` or ` #` inside, printable text
_PLAIN = re.compile(r"[A-Za-z_($][^\x00-\x1f\x7f]*\Z")


def to_yaml(spec: Spec) -> str:
    """YAML text that netspec's YAML front end reads back to an equal Spec."""
    return "\n".join(_block_lines(_Yaml(spec).document(), 0)) + "\n"


class _Yaml:
    def __init__(self, spec: Spec):
        self.spec = spec
        self.callables = set(REGISTRY) | set(spec.blocks)

    # ---- values ---------------------------------------------------------------------------------

    def value(self, value: Any) -> Any:
        """A value in a mapping (params, kwargs in mapping form, counts, ...): YAML reads it as it is."""
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, str):
            if value != value.strip() or not _valid_expression(value):
                raise Unprintable(f"the value {value!r} cannot be written in YAML (it is not an expression netspec reads)")
            return value
        if value is None or isinstance(value, (bool, int, float)):
            return value
        raise Unprintable(f"{value!r} is not a spec value (a number, true/false, null, a list or an expression)")

    def call_text(self, value: Any) -> str | None:
        """A value as it stands in a call string such as `conv2d(c * 2, 3)`, or None where it would read differently."""
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return repr(value) if math.isfinite(value) else None
        if isinstance(value, list):
            items = [self.call_text(v) for v in value]
            return None if any(i is None for i in items) else "[" + ", ".join(items) + "]"
        if isinstance(value, str) and _reads_in_call(value):
            return value
        return None

    # ---- entries --------------------------------------------------------------------------------

    def call(self, e: Call) -> Any:
        """`conv2d(64, 3)` where that reads back as this call, else `{conv2d: {out: 64, ...}}`."""
        ok = IDENTIFIER.match(e.target) and e.target not in _EXPR_KEYWORDS
        args = [self.call_text(v) for v in e.args]
        kwargs = [(k, self.call_text(v)) for k, v in e.kwargs.items()]
        ok = ok and all(a is not None for a in args) and all(
            IDENTIFIER.match(k) and k not in _EXPR_KEYWORDS and v is not None for k, v in kwargs)
        if ok:
            parts = args + [f"{k}={v}" for k, v in kwargs]
            return e.target + (f"({', '.join(parts)})" if parts else "")
        where = f"{e.target}(...)"
        if e.args:
            raise Unprintable(f"{where} cannot be written in YAML: a call string cannot hold its arguments "
                              f"{e.args!r} as they are, and the mapping form has no positional arguments")
        kwargs_map = {k: self.value(v) for k, v in e.kwargs.items()}
        if e.target in STRUCTURES or not (e.target in self.callables or not self.node_mapping(kwargs_map)):
            raise Unprintable(f"{where} cannot be written in YAML: the mapping form would read as a structure")
        return {e.target: kwargs_map}

    def node_mapping(self, raw: dict) -> bool:
        """validate's test for a mapping that is one entry (a structure, or a keyword call of a known name)."""
        if not raw:
            return False
        return any(k in STRUCTURES for k in raw) or (len(raw) == 1 and next(iter(raw)) in self.callables)

    def unnamed(self, e: Entry) -> Any:
        """The YAML for an entry, its name left out (the caller says it: a section key, a branch key)."""
        if isinstance(e, Call):
            return self.call(e)
        if isinstance(e, Ref):
            return f"${e.target}"
        if isinstance(e, Seq):
            if not e.items:
                raise Unprintable("an empty list of entries cannot be written in YAML")
            return [self.entry(i) for i in e.items]
        if isinstance(e, Merge):
            out = {e.op: self.entries_map(e.branches)}
            if e.op == "concat" and not same(e.dim, 1):
                out["dim"] = self.value(e.dim)
            return out
        if isinstance(e, Residual):
            body: dict[str, Any] = {"body": [self.entry(i) for i in e.body]}
            if isinstance(e.shortcut, list):
                body["shortcut"] = [self.entry(i) for i in e.shortcut]
            elif e.shortcut != "auto":
                body["shortcut"] = e.shortcut
            if e.shortcut_name != "shortcut":
                body["shortcut_name"] = e.shortcut_name
            if e.after is not None:
                body["after"] = self.entry(e.after)
            return {"residual": body}
        if isinstance(e, Repeat):
            out = {"repeat": self.value(e.count), "block": self.entry(e.block)}
            if e.first:
                out["first"] = {k: self.value(v) for k, v in e.first.items()}
            if e.names is not None:
                out["names"] = e.names
            return out
        if isinstance(e, Dense):
            out = {"dense": self.value(e.count), "layer": self.entry(e.layer)}
            if e.names is not None:
                out["names"] = e.names
            return out
        if isinstance(e, If):
            out = {"if": self.value(e.cond), "then": self.entry(e.then)}
            if e.else_ is not None:
                out["else"] = self.entry(e.else_)
            return out
        if isinstance(e, Output):
            out = {"output": self.entry(e.body)}
            if e.train_only:
                out["train_only"] = True
            return out
        if isinstance(e, (Splice, Flat)):
            return {e.op: self.entry(e.body)}
        if isinstance(e, Parameter):
            out = {"parameter": self.value(e.shape)}
            if e.init != Parameter.model_fields["init"].default:
                out["init"] = self.value(e.init)
            return out
        raise AssertionError(f"unknown IR node {type(e).__name__}")

    def entry(self, e: Entry) -> Any:
        """An entry where validate reads one (a list item, `then:`, `after:`...): `name: entry` when named."""
        node = self.unnamed(e)
        if e.name is None:
            return node
        if e.name in STRUCTURES:
            raise Unprintable(f"an entry named '{e.name}' can only be written in YAML as a section or a named "
                              f"branch: in a list, `{e.name}: ...` reads as that structure")
        if isinstance(node, dict):
            mapping_call = not any(k in STRUCTURES for k in node)
            if e.name in self.callables or (mapping_call and not self.node_mapping(node)):
                raise Unprintable(f"the entry named '{e.name}' cannot be written in YAML: `{e.name}: {{...}}` "
                                  "would read as a call")
        return {e.name: node}

    def entries_map(self, entries: list[Entry]) -> Any:
        """Named entries as a mapping (sections, named branches) when every one has its own name, else a list."""
        names = [e.name for e in entries]
        if entries and None not in names and len(set(names)) == len(names):
            return {e.name: self.unnamed(e) for e in entries}
        return [self.entry(e) for e in entries]

    # ---- the whole spec -------------------------------------------------------------------------

    def block(self, name: str, block: Any) -> dict:
        out: dict[str, Any] = {}
        if block.doc:
            out["doc"] = block.doc
        if any(a.required and a.default is not None for a in block.args):
            raise Unprintable(f"block '{name}': a required argument with a default cannot be written in YAML")
        if all(a.required and a.choices is None for a in block.args):
            out["args"] = [a.name for a in block.args]
        else:
            names = [a.name for a in block.args]
            if len(set(names)) != len(names):
                raise Unprintable(f"block '{name}': an argument listed twice cannot be written in YAML with defaults")
            args = {}
            for a in block.args:
                if not a.required and isinstance(a.default, str) and a.default in TYPE_WORDS:
                    raise Unprintable(f"block '{name}': the default {a.default!r} of '{a.name}' reads as a type in YAML")
                args[a.name] = "required" if a.required else self.value(a.default)
                if a.choices is not None:
                    args[a.name] = {"choice": self.value(a.choices),
                                    **({} if a.required else {"default": self.value(a.default)})}
            out["args"] = args
        if not block.args:
            del out["args"]
        body = block.body
        if body.name is None and not isinstance(body, (Call, Seq)):
            out.update(self.unnamed(body))  # the structure's keys beside `args`, as people write it
            return out
        node = self.entry(body)
        if isinstance(node, dict) and not self.node_mapping(node):  # `layers: {a: ...}` reads as sections
            what = f"its body, named '{body.name}'," if body.name else "its body"
            raise Unprintable(f"block '{name}': {what} cannot be written in YAML, where `layers: {{name: entry}}` "
                              "reads as a list of sections")
        out["layers"] = node
        return out

    def signature(self, name: str, fn: Any) -> str:
        """`make_divisible(v, divisor=8)`: a function's YAML key, its defaults written as expressions."""
        args = [a.name if a.required else f"{a.name}={_default_text(a.default)}" for a in fn.args]
        return f"{name}({', '.join(args)})"

    def document(self) -> dict:
        spec = self.spec
        out: dict[str, Any] = {"name": spec.name}
        if spec.description:
            out["description"] = spec.description
        if spec.extends is not None:
            out["extends"] = spec.extends
        if spec.input or spec.extends is None:
            out["input"] = self.value(spec.input)
        if spec.functions:
            out["functions"] = {self.signature(name, fn): self.value(fn.body) for name, fn in spec.functions.items()}
        if spec.params:
            out["params"] = {k: self.value(v) for k, v in spec.params.items()}
        if spec.blocks:
            out["blocks"] = {name: self.block(name, b) for name, b in spec.blocks.items()}
        if spec.layers or spec.extends is None:
            out["layers"] = self.entries_map(spec.layers)
        if spec.outputs:
            out["outputs"] = dict(spec.outputs) if isinstance(spec.outputs, dict) else list(spec.outputs)
        if spec.init:
            out["init"] = {kind: {t: self.value(v) for t, v in table.items()} for kind, table in spec.init.items()}
        return out


def _default_text(value: Any) -> str:
    """A default as the signature's expression text reads it back (validate keeps such text as it is)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_default_text(v) for v in value) + "]"
    return str(value)


def _reads_in_call(text: str) -> bool:
    """Does validate read `text`, standing as a call argument, back as this very text? (not as 3, true, [..])"""
    try:
        tree = parse_expr(text)
    except ExprError:
        return False
    if tree.data in ("number", "list") or (tree.data == "neg" and tree.children[0].data == "number"):
        return False
    if tree.data == "name" and str(tree.children[0]) in ("true", "false"):
        return False
    return not tree.meta.empty and text[tree.meta.start_pos:tree.meta.end_pos] == text


# ---- YAML text -------------------------------------------------------------------------------------


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        if "e" in text and "." not in text:  # 1e-05 -> 1.0e-05, a number to YAML 1.1 readers too
            text = text.replace("e", ".0e", 1)
        return text
    text = str(value)
    plain = (_PLAIN.match(text) and text == text.strip() and ": " not in text and " #" not in text
             and not text.endswith(":") and text.isprintable() and _plain_scalar(text) == text
             and _yaml_11_reads(text) == text)
    return text if plain else _quoted(text)


def _yaml_11_reads(text: str) -> Any:
    """What a YAML 1.1 reader (PyYAML) makes of `text` as a plain value: a spec must mean the same to it
    (`yes`, `1_000` and `0o7` are not strings there)."""
    try:
        return yaml.safe_load(f"v: {text}\n")["v"]
    except yaml.YAMLError:
        return None


def _quoted(text: str) -> str:
    """A double-quoted YAML scalar."""
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in "\n\t\r":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}[ch])
        elif not ch.isprintable():
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
        else:
            out.append(ch)
    return "".join(out) + '"'


def _simple(value: Any) -> bool:
    return not isinstance(value, (dict, list)) and (not isinstance(value, str) or bool(IDENTIFIER.match(value))
                                                    and _scalar(value) == value)


def _inline(node: Any) -> str | None:
    """The text of a node that stands on its key's line: a scalar, `[]`, `{}` or a short list of plain items."""
    if isinstance(node, (dict, list)) and not node:
        return "[]" if isinstance(node, list) else "{}"
    if isinstance(node, list):
        if all(_simple(v) for v in node):
            text = "[" + ", ".join(_scalar(v) for v in node) + "]"
            return text if len(text) <= 60 else None
        return None
    if isinstance(node, dict):
        return None
    return _scalar(node)


def _block_lines(node: Any, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            text = _inline(value)
            if text is not None:
                lines.append(f"{pad}{_scalar(str(key))}: {text}")
            else:
                lines.append(f"{pad}{_scalar(str(key))}:")
                lines.extend(_block_lines(value, indent + 2))
    else:
        for item in node:
            text = _inline(item)
            if text is not None:
                lines.append(f"{pad}- {text}")
            else:
                inner = _block_lines(item, indent + 2)
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines.extend(inner[1:])
    return lines


__all__ = ["Unprintable", "to_ns", "to_yaml", "same"]
