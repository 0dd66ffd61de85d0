"""The validate pass: a raw YAML tree and its source map become a Spec (the IR) and a table of locations.

Shorthand forms are made canonical here (`relu`, `conv2d(64, 3)`, `conv2d: {out: 64}`,
`name: entry`, `concat: [...]`), every structural problem is reported at its file position, and
the canonical data becomes the IR's models: directly where every value is plainly of its field's type
(netspec.ir.spec.built_spec), else through pydantic, whose errors are reported at their positions.
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from .. import budgets
from ..diagnostics import Collector, Loc, did_you_mean, plain_message
from ..ir.expr import FUNCTIONS, MAX_MAGNITUDE, ExprError, _number, parse_expr, parse_signature
from ..ir.exprparse import Token, Tree
from ..layers import REGISTRY
from ..names import module_name_problem
from ..ir.spec import (FLOW_CALLS, NAME_PATTERN, REFERENCE_PATTERN, SHORTCUT_MODES, STRUCTURES, RAW_READERS, BlockDef,
                       IRPath, Located, Locations, ParsedSpec, Spec, built_spec, misspelt_structure,
                       shown_path)
from .yaml_source import RawDoc, read_yaml

TOP_KEYS = ("name", "description", "extends", "input", "params", "functions", "blocks", "layers", "outputs", "init")
TYPE_WORDS = ("int", "float", "bool", "str", "list", "required")
_TAGS = {"call", "seq", "concat", "add", "mul", "residual", "repeat", "dense", "if", "splice", "output", "flat",
         "parameter"}
_STRUCTURE_KEYS = {
    "concat": ("concat", "dim"),
    "add": ("add",),
    "mul": ("mul",),
    "residual": ("residual",),
    "repeat": ("repeat", "block", "first", "names"),
    "dense": ("dense", "layer", "names"),
    "if": ("if", "then", "else"),
    "splice": ("splice",),
    "output": ("output", "train_only"),
    "flat": ("flat",),
    "parameter": ("parameter", "init"),
}

@lru_cache(maxsize=4096)  # a spec names the same params and blocks in file after file
def _is_name(text: str) -> bool:
    return re.match(NAME_PATTERN, text) is not None


class _Recorder:
    """Where each IR path came from, and the errors found: shared by the readers below."""

    def __init__(self, doc: RawDoc, errors: Collector, block_names: set[str]):
        self.doc = doc
        self.src = doc.sources
        self.errors = errors
        self.locations = Locations(sources={doc.sources.file: doc.text})
        self.block_names = block_names
        self.lines: list[str] | None = None  # the source's lines, split when a position inside a value is first needed
        self.own_value = doc.sources.values.get  # a path's own position: what most lookups find

    def record(self, cpath: IRPath, rpath: tuple, loc: Loc | None = None) -> Loc | None:
        loc = loc or self.own_value(rpath) or self.src.find(rpath)
        self.locations.table[cpath] = Located(loc, rpath)  # the path joined only if a message names it
        return loc

    def error(self, code: str, message: str, rpath: tuple, key: bool = False, loc: Loc | None = None) -> None:
        loc = loc or self.src.find(rpath, key=key) or Loc(self.src.file, 1, 1)
        self.errors.error(code, message, shown_path(rpath), loc)

    def check_name(self, name: Any, rpath: tuple) -> bool:
        """Is `name` usable as a module, param or block name? Reports it at its key when not."""
        if isinstance(name, str) and _is_name(name):
            return True
        self.error("invalid-name", f"'{name}' is not a valid name (letters, digits and _; not starting with a digit)",
                   rpath, key=True)
        return False

    def check_module_name(self, name: Any, rpath: tuple) -> bool:
        """Is `name` usable as a module name (any text torch accepts)? Reports it at its key when not."""
        problem = module_name_problem(str(name))
        if problem is None:
            return True
        self.error("invalid-name", problem, rpath, key=True)
        return False

    def callable_name(self, name: str) -> bool:
        return name in REGISTRY or name in self.block_names or name in FLOW_CALLS

    def node_mapping(self, raw: Any) -> bool:
        """Does a mapping read as one entry (a structure, or a keyword call of a known kind/block)?"""
        if not isinstance(raw, dict) or not raw:
            return False
        if any(k in STRUCTURES for k in raw):
            return True
        return len(raw) == 1 and self.callable_name(next(iter(raw)))

    def offset_loc(self, rpath: tuple, offset: int) -> Loc | None:
        base = self.src.find(rpath)
        if base is None:
            return None
        return Loc(base.file, base.line, base.col + self.quoted(base) + offset)

    def quoted(self, base: Loc) -> int:
        """1 where the value at `base` is a quoted scalar (its text starts one column on), else 0."""
        if self.lines is None:  # split once per file, not once per value
            self.lines = self.doc.text.splitlines()
        lines = self.lines
        if 1 <= base.line <= len(lines):
            line = lines[base.line - 1]
            if base.col - 1 < len(line) and line[base.col - 1] in "\"'":
                return 1
        return 0


class _Values:
    """Values, expressions and call strings (`conv2d(64, 3, stride=2)`) as IR data, each position recorded."""

    def __init__(self, at: _Recorder):
        self.record, self.error, self.offset_loc = at.record, at.error, at.offset_loc
        self.find, self.table, self.quoted = at.src.find, at.locations.table, at.quoted
        self.plans: dict[str, tuple] = {}  # entry text -> entry_plan(text), for this file (wrong texts included)

    def expr_text(self, text: str, rpath: tuple) -> Tree | Token | None:
        try:
            return parse_expr(text)
        except ExprError as exc:
            loc = self.offset_loc(rpath, (exc.column or 1) - 1)
            self.error(exc.code, str(exc), rpath, loc=loc)
            return None

    def value(self, raw: Any, rpath: tuple, cpath: IRPath) -> Any:
        self.record(cpath, rpath)
        if isinstance(raw, str):
            text = raw.strip()
            self.expr_text(text, rpath)
            return text
        if isinstance(raw, list):
            return [self.value(v, rpath + (i,), cpath + (i,)) for i, v in enumerate(raw)]
        if isinstance(raw, dict):
            self.error("invalid-value", "expected a number, a name, an expression or a list, not a mapping", rpath)
            return None
        if isinstance(raw, (int, float)) and not isinstance(raw, bool) and abs(raw) > MAX_MAGNITUDE:
            self.error("eval-error", f"{_magnitude(raw)} is too large (the limit is 1e18)", rpath)
            return None
        return raw

    def call_text(self, text: str, rpath: tuple, cpath: IRPath) -> dict | None:
        """An entry string as a call node, its path and those below it recorded. What it holds, the paths
        recorded under the entry and the errors found depend on its text alone, so each distinct text is read
        once per file, most once per process (`entry_plan`), and every entry of that text replays the plan at its
        own position."""
        text = text.strip()
        plan = self.plans.get(text)
        if plan is None:
            plan = self.plans[text] = entry_plan(text)
        node, steps, clean = plan
        base = self.find(rpath)
        table = self.table
        table[cpath] = Located(base, rpath)  # the entry itself
        if base is None:  # no position for the value (data, not text): every path gets none
            for step in steps:
                if len(step) == 2:
                    table[cpath + step[0]] = Located(None, rpath)
                else:
                    self.error(step[0], step[1], rpath)
        elif clean:  # no error: paths only (most entries)
            file, line, column = base.file, base.line, base.col + self.quoted(base)
            for suffix, offset in steps:
                table[cpath + suffix] = Located(Loc(file, line, column + offset), rpath)
        else:
            file, line, column = base.file, base.line, base.col + self.quoted(base)
            for step in steps:
                if len(step) == 2:
                    table[cpath + step[0]] = Located(Loc(file, line, column + step[1]), rpath)
                else:
                    offset = step[2]
                    self.error(step[0], step[1], rpath, loc=None if offset is None else Loc(file, line, column + offset))
        if node is None:
            return None
        if node[0]:  # a list among the arguments: each entry gets its own
            return copied(node[1])
        template = node[1]
        out = template.copy()
        out["args"] = template["args"].copy()
        out["kwargs"] = template["kwargs"].copy()
        return out


def _magnitude(number: int | float) -> str:
    """A number in three significant figures, `1.23e+45`; also an integer too large for a float."""
    try:
        return f"{number:.3g}"
    except OverflowError:
        from decimal import Decimal

        mantissa, exponent = f"{Decimal(number):.2e}".split("e")  # as `g` writes it: no trailing zeros
        return f"{mantissa.rstrip('0').rstrip('.')}e{exponent}"


def copied(value: Any) -> Any:
    """A copy of replayed entry data whose lists and dicts are new (both front ends' plans hand out copies)."""
    if isinstance(value, list):
        return [copied(v) for v in value]
    if isinstance(value, dict):
        return {k: copied(v) for k, v in value.items()}
    return value


ENTRY_PLANS: dict[str, tuple] = {}  # entry text -> (its parse, its plan): see entry_plan
MAX_ENTRY_PLANS = 4096


def entry_plan(text: str) -> tuple[tuple[bool, dict] | None, list[tuple], bool]:
    """`_call_plan`'s reading of `text` and whether its steps hold no error; shared, so never changed (call_text
    copies).

    The specs of one family, and the families, share most entry texts (`relu`, `bn`...), so a plan is kept for
    the process, as long as the parse it was made from: a text that `parse_expr` reads afresh (its cache
    cleared) is planned afresh. A text that does not parse is planned each time (its error is not cached)."""
    try:
        tree: Tree | Token | ExprError = parse_expr(text)
    except ExprError as exc:
        tree = exc
    kept = ENTRY_PLANS.get(text)
    if kept is not None and kept[0] is tree:
        return kept[1]
    node, steps = _call_plan(text, tree)
    plan = node, steps, all(len(step) == 2 for step in steps)
    if not isinstance(tree, ExprError):
        if len(ENTRY_PLANS) >= MAX_ENTRY_PLANS:
            del ENTRY_PLANS[next(iter(ENTRY_PLANS))]  # the oldest
        ENTRY_PLANS[text] = tree, plan
    return plan


def _call_plan(text: str, tree: Tree | Token | ExprError) -> tuple[tuple[bool, dict] | None, list[tuple]]:
    """What an entry string (stripped), parsed as `tree` (or refused with that error), reads as: the call node (and
    whether a list stands among its arguments), and in order the steps taken at each entry of this text: (IR
    path below the entry, column offset) for a path recorded, (code, message, column offset or None) for an
    error."""
    steps: list[tuple] = []
    if isinstance(tree, ExprError):
        steps.append((tree.code, str(tree), (tree.column or 1) - 1))
        return None, steps
    lists = [False]

    def sub_value(tree: Any, suffix: tuple) -> Any:
        """A call argument: a literal where it is one, else its expression text."""
        meta = getattr(tree, "meta", None)
        start = getattr(tree, "start_pos", None) if isinstance(tree, Token) else getattr(meta, "start_pos", None)
        steps.append((suffix, start or 0))
        try:
            return literal_or_text(tree, suffix, start, meta)
        except ExprError as exc:
            steps.append((exc.code, str(exc), start or 0))
            return None

    def literal_or_text(tree: Any, suffix: tuple, start: int | None, meta: Any) -> Any:
        if isinstance(tree, Token) and tree.type == "NUMBER":
            return number_literal(str(tree))
        if isinstance(tree, Tree):
            if tree.data == "number":
                return number_literal(str(tree.children[0]))
            if tree.data == "neg" and isinstance(tree.children[0], Tree) and tree.children[0].data == "number":
                return -number_literal(str(tree.children[0].children[0]))
            if tree.data == "name" and str(tree.children[0]) in ("true", "false"):
                return str(tree.children[0]) == "true"
            if tree.data == "list":
                lists[0] = True
                kids = [k for k in tree.children if k is not None]
                return [sub_value(k, suffix + (i,)) for i, k in enumerate(kids)]
            end = meta.end_pos if meta is not None and not meta.empty else None
            if start is not None and end is not None:
                return text[start:end]
        if isinstance(tree, Token) and tree.type == "NAME" and str(tree) in ("true", "false"):
            return str(tree) == "true"
        return str(tree)

    if isinstance(tree, Token) and tree.type == "NAME":
        return (False, {"op": "call", "target": str(tree), "args": [], "kwargs": {}}), steps
    if isinstance(tree, Tree) and tree.data == "name":
        return (False, {"op": "call", "target": str(tree.children[0]), "args": [], "kwargs": {}}), steps
    if isinstance(tree, Tree) and tree.data == "call":
        node: dict = {"op": "call", "target": str(tree.children[0]), "args": [], "kwargs": {}}
        arguments = tree.children[1] if len(tree.children) > 1 and tree.children[1] is not None else None
        for arg in arguments.children if arguments is not None else []:
            if isinstance(arg, Tree) and arg.data == "kwarg":
                key = str(arg.children[0])
                key_offset = arg.children[0].start_pos or 0
                if key in node["kwargs"]:
                    steps.append(("duplicate-arg", f"argument '{key}' is given twice", key_offset))
                node["kwargs"][key] = sub_value(arg.children[1], ("kwargs", key))
                steps.append((("kwargs", key, "key"), key_offset))
            else:
                if node["kwargs"]:
                    start = arg.start_pos if isinstance(arg, Token) else getattr(arg.meta, "start_pos", 0)
                    steps.append(("invalid-value", "a positional argument cannot follow a keyword argument; "
                                  "name it, or move it before the keyword arguments", start or 0))
                node["args"].append(sub_value(arg, ("args", len(node["args"]))))
        return (lists[0], node), steps
    steps.append((
        "invalid-entry",
        f"'{text}' is not a layer or block call; write a name such as `relu` or a call such as `conv2d(64, 3)`",
        None,
    ))
    return None, steps


class _Entries:
    """Entries: a call, a reference, a sequence, a named entry, or a structure (concat, residual, repeat...)."""

    def __init__(self, at: _Recorder, values: _Values):
        self.src, self.record, self.error = at.src, at.record, at.error
        self.check_module_name, self.callable_name, self.node_mapping = (at.check_module_name, at.callable_name,
                                                                         at.node_mapping)
        self.value, self.call_text = values.value, values.call_text

    def entry(self, raw: Any, rpath: tuple, cpath: IRPath) -> dict | None:
        if isinstance(raw, str):
            text = raw.strip()
            if not text.startswith("$"):
                return self.call_text(text, rpath, cpath)  # the entry's own path recorded first, as here
            self.record(cpath, rpath)
            return self.reference(text, rpath)
        self.record(cpath, rpath)
        if isinstance(raw, list):
            if not raw:
                self.error("invalid-entry", "an empty list is not a layer; remove it or add entries", rpath)
                return None
            items = [self.entry(v, rpath + (i,), cpath + ("items", i)) for i, v in enumerate(raw)]
            return {"op": "seq", "items": items}
        if isinstance(raw, dict):
            if not raw:
                self.error("invalid-entry", "an empty mapping is not a layer", rpath)
                return None
            structures = [k for k in raw if k in STRUCTURES]
            if len(structures) > 1:
                self.error("invalid-entry", f"one entry cannot be both {' and '.join(structures)}", rpath)
                return None
            if structures:
                return self.structure(structures[0], raw, rpath, cpath)
            if len(raw) > 1:
                keys = ", ".join(map(str, raw))
                self.error(
                    "invalid-entry",
                    f"cannot tell what this entry is (keys: {keys}); an entry is a call, `name: entry`, "
                    f"or one of {', '.join(STRUCTURES)}",
                    rpath,
                )
                return None
            (key, val), = raw.items()
            key = str(key)
            near = misspelt_structure(key)
            if near is not None and not self.callable_name(key) and isinstance(val, (list, dict)):
                self.error("unknown-structure", f"'{key}' looks like the structure keyword '{near}' misspelt "
                           f"(did you mean '{near}'?); write `{near}:`, or rename the entry if '{key}' is its name",
                           rpath + (key,), key=True)
                return None
            structure_inside = isinstance(val, dict) and any(k in STRUCTURES or (len(val) == 1 and misspelt_structure(str(k)))
                                                               for k in val)
            if isinstance(val, dict) and not structure_inside and (self.callable_name(key) or not self.node_mapping(val)):
                return self.keyword_call(key, val, rpath + (key,), cpath)
            if val is None:
                if self.callable_name(key):
                    return {"op": "call", "target": key}
                self.error("invalid-entry", f"entry '{key}' is empty; give it a layer, e.g. `{key}: relu`", rpath)
                return None
            if isinstance(val, (str, list, dict)):
                if not self.check_module_name(key, rpath + (key,)):
                    return None
                node = self.entry(val, rpath + (key,), cpath)
                if node is not None:
                    node["name"] = key
                    self.record(cpath, rpath + (key,), self.src.find(rpath + (key,), key=True))
                return node
            self.error(
                "invalid-entry",
                f"entry '{key}' is {val!r}; an entry is a layer or block call, a list of entries, or a structure",
                rpath + (key,),
            )
            return None
        self.error("invalid-entry", f"{raw!r} is not an entry; write a layer such as `relu` or `conv2d(64, 3)`", rpath)
        return None

    def reference(self, text: str, rpath: tuple) -> dict | None:
        """`$name`, `$a.b.0`: the output of an earlier entry (resolved once every entry has its module path)."""
        if not re.match(REFERENCE_PATTERN, text[1:]):
            self.error("invalid-reference", f"'{text}' is not a reference; write `$` and an entry's name, with `.` "
                       "before a name inside it: `$enc`, `$body.layer2`, `$halves.0`, `$input`", rpath)
            return None
        return {"op": "ref", "target": text[1:]}

    def keyword_call(self, target: str, raw: dict, rpath: tuple, cpath: IRPath) -> dict:
        node: dict = {"op": "call", "target": target, "kwargs": {}}
        for key, val in raw.items():
            node["kwargs"][str(key)] = self.value(val, rpath + (key,), cpath + ("kwargs", str(key)))
            self.record(cpath + ("kwargs", str(key), "key"), rpath + (key,), self.src.find(rpath + (key,), key=True))
        return node

    def entry_list(self, raw: Any, rpath: tuple, cpath: IRPath) -> list:
        if isinstance(raw, list):
            return [self.entry(v, rpath + (i,), cpath + (i,)) for i, v in enumerate(raw)]
        return [self.entry(raw, rpath, cpath + (0,))]

    def sections(self, mapping: dict, rpath: tuple, cpath: IRPath) -> list:
        """`{stem: [...], body: [...]}`: named entries in order, each a submodule."""
        out = []
        for section, body in mapping.items():
            if not self.check_module_name(section, rpath + (section,)):
                continue
            index = len(out)
            node = self.entry(body, rpath + (section,), cpath + (index,))
            if node is not None:
                node["name"] = str(section)
                self.record(cpath + (index,), rpath + (section,), self.src.find(rpath + (section,), key=True))
            out.append(node)
        return out

    def check_keys(self, raw: dict, allowed: tuple[str, ...], rpath: tuple, what: str) -> None:
        for key in raw:
            if key not in allowed:
                self.error(
                    "unknown-key",
                    f"unknown key '{key}' in {what}{did_you_mean(key, allowed)}; allowed: {', '.join(allowed)}",
                    rpath + (key,),
                    key=True,
                )

    def structure(self, op: str, raw: dict, rpath: tuple, cpath: IRPath) -> dict | None:
        self.check_keys(raw, _STRUCTURE_KEYS[op], rpath, op)
        body = raw[op]
        brpath = rpath + (op,)
        if op in ("concat", "add", "mul"):
            if isinstance(body, dict):
                branches = []
                for i, (bname, braw) in enumerate(body.items()):
                    if not self.check_module_name(bname, brpath + (bname,)):
                        continue
                    node = self.entry(braw, brpath + (bname,), cpath + ("branches", i))
                    if node is not None:
                        node["name"] = str(bname)
                    branches.append(node)
            elif isinstance(body, list):
                branches = [self.entry(b, brpath + (i,), cpath + ("branches", i)) for i, b in enumerate(body)]
            else:
                self.error("invalid-entry", f"{op} takes a list of branches or a mapping of named branches", brpath)
                return None
            node = {"op": op, "branches": branches}
            if "dim" in raw:
                node["dim"] = self.value(raw["dim"], rpath + ("dim",), cpath + ("dim",))
            return node
        if op == "if":
            if "then" not in raw:
                self.error("missing-key", "`if` needs `then`: the entry used when the condition holds", rpath,
                           loc=self.src.find(brpath, key=True))  # at `if:`, also where a block's `args:` come first
                return None
            node = {"op": "if", "cond": self.value(body, brpath, cpath + ("cond",)),
                    "then": self.entry(raw["then"], rpath + ("then",), cpath + ("then",))}
            if raw.get("else") is not None:
                node["else"] = self.entry(raw["else"], rpath + ("else",), cpath + ("else",))
            return node
        if op in ("splice", "flat"):
            return {"op": op, "body": self.entry(body, brpath, cpath + ("body",))}
        if op == "parameter":  # a learnable tensor: `layer_scale: {parameter: [dim, 1, 1], init: constant(1e-6)}`
            node = {"op": "parameter", "shape": self.value(body, brpath, cpath + ("shape",))}
            if "init" in raw:
                node["init"] = self.value(raw["init"], rpath + ("init",), cpath + ("init",))
            return node
        if op == "output":
            node = {"op": "output", "body": self.entry(body, brpath, cpath + ("body",))}
            if "train_only" in raw:
                node["train_only"] = raw["train_only"]
                self.record(cpath + ("train_only",), rpath + ("train_only",))
            return node
        if op == "residual":
            if not isinstance(body, dict):
                self.error("invalid-entry", "residual takes a mapping with `body` (and optional `shortcut`, `after`)", brpath)
                return None
            self.check_keys(body, ("body", "shortcut", "shortcut_name", "after"), brpath, "residual")
            if "body" not in body:
                self.error("missing-key", "residual needs a `body`: the layers whose output is added to the shortcut", brpath)
                return None
            node = {"op": "residual", "body": self.entry_list(body["body"], brpath + ("body",), cpath + ("body",))}
            if "shortcut" in body:
                sc = body["shortcut"]
                if isinstance(sc, str) and sc.strip() in SHORTCUT_MODES:
                    node["shortcut"] = sc.strip()
                    self.record(cpath + ("shortcut",), brpath + ("shortcut",))
                else:
                    node["shortcut"] = self.entry_list(sc, brpath + ("shortcut",), cpath + ("shortcut",))
            if "shortcut_name" in body and self.check_module_name(body["shortcut_name"], brpath + ("shortcut_name",)):
                node["shortcut_name"] = body["shortcut_name"]
                self.record(cpath + ("shortcut_name",), brpath + ("shortcut_name",))
            if body.get("after") is not None:
                node["after"] = self.entry(body["after"], brpath + ("after",), cpath + ("after",))
            return node
        # repeat and dense: a count plus the thing repeated
        inner = "block" if op == "repeat" else "layer"
        if inner not in raw:
            self.error("missing-key", f"{op} needs `{inner}`: the entry to {op}", rpath,
                       loc=self.src.find(brpath, key=True))  # at `repeat:`, also where a block's `args:` come first
            return None
        node = {
            "op": op,
            "count": self.value(body, brpath, cpath + ("count",)),
            inner: self.entry(raw[inner], rpath + (inner,), cpath + (inner,)),
        }
        if "names" in raw:
            node["names"] = raw["names"]
            self.record(cpath + ("names",), rpath + ("names",))
        if op == "repeat" and "first" in raw:
            first = raw["first"]
            if not isinstance(first, dict):
                self.error("invalid-value", "`first` takes a mapping of arguments for the first copy", rpath + ("first",))
            else:
                node["first"] = {
                    str(k): self.value(v, rpath + ("first", k), cpath + ("first", str(k))) for k, v in first.items()
                }
        return node


class _Normalizer:
    """The whole spec: its top-level keys, functions and blocks, read through the entry and value readers."""

    def __init__(self, doc: RawDoc, errors: Collector, block_names: set[str]):
        at = _Recorder(doc, errors, block_names)
        values = _Values(at)
        entries = _Entries(at, values)
        self.locations = at.locations
        self.src, self.record, self.error, self.check_name = at.src, at.record, at.error, at.check_name
        self.node_mapping, self.value = at.node_mapping, values.value
        self.entry, self.sections, self.check_keys = entries.entry, entries.sections, entries.check_keys

    def function(self, signature: Any, body: Any, rpath: tuple) -> tuple[str, dict] | None:
        """`make_divisible(v, divisor=8): <expression>` -> (name, FunctionDef data)."""
        text = str(signature)
        key_loc = self.src.find(rpath, key=True)
        try:
            name, params = parse_signature(text.strip())
        except ExprError as exc:
            loc = key_loc and Loc(key_loc.file, key_loc.line, key_loc.col + (exc.column or 1) - 1)
            self.error(exc.code, f"function '{text}': {exc}", rpath, loc=loc)
            return None
        if name in FUNCTIONS:
            self.error("invalid-name", f"'{name}' is a built-in function; give the spec's function another name",
                       rpath, key=True)
            return None
        cpath = ("functions", name)
        self.record(cpath, rpath, key_loc)
        args = []
        for i, (param, default) in enumerate(params):
            self.record(cpath + ("args", i), rpath, key_loc)
            if default is None:
                args.append({"name": param, "required": True})
            else:
                args.append({"name": param, "default": _literal(default), "required": False})
        if isinstance(body, (dict, list)) or body is None:
            self.error("invalid-value", f"function '{name}' is one expression, such as "
                       "`max(divisor, int(v + divisor / 2) // divisor * divisor)`", rpath)
            return None
        return name, {"args": args, "body": self.value(body, rpath, cpath + ("body",))}

    def block(self, raw: Any, rpath: tuple, cpath: IRPath) -> dict | None:
        self.record(cpath, rpath)
        if not isinstance(raw, dict):
            self.error("invalid-block", "a block is a mapping with `args` and a body (`layers:` or a structure)", rpath)
            return None
        args_raw = raw.get("args", [])
        args = []
        if isinstance(args_raw, list):
            for i, a in enumerate(args_raw):
                self.record(cpath + ("args", i), rpath + ("args", i))
                args.append({"name": a, "required": True})
        elif isinstance(args_raw, dict):
            for i, (a, default) in enumerate(args_raw.items()):
                self.record(cpath + ("args", i), rpath + ("args", a))
                if isinstance(default, str) and default in TYPE_WORDS:
                    args.append({"name": a, "required": True})
                elif isinstance(default, dict):  # {choice: [relu, hardswish], default: relu}
                    self.check_keys(default, ("choice", "default"), rpath + ("args", a), f"argument '{a}'")
                    choice = default.get("choice")
                    if not isinstance(choice, list) or not choice:
                        self.error("invalid-value", f"argument '{a}': `choice` is a list of the values it may take",
                                   rpath + ("args", a))
                        continue
                    arg = {"name": a, "required": "default" not in default,
                           "choices": self.value(choice, rpath + ("args", a, "choice"), cpath + ("args", i, "choices"))}
                    if "default" in default:
                        arg["default"] = self.value(default["default"], rpath + ("args", a, "default"),
                                                    cpath + ("args", i, "default"))
                    args.append(arg)
                else:
                    default = self.value(default, rpath + ("args", a), cpath + ("args", i, "default"))
                    args.append({"name": a, "default": default, "required": False})
        else:
            self.error("invalid-value", "`args` is a list of names or a mapping of names to defaults", rpath + ("args",))
        body_keys = [k for k in raw if k not in ("args", "doc")]
        if body_keys == ["layers"] and isinstance(raw["layers"], dict) and not self.node_mapping(raw["layers"]):
            self.record(cpath + ("body",), rpath + ("layers",))
            body = {"op": "seq", "items": self.sections(raw["layers"], rpath + ("layers",), cpath + ("body", "items"))}
        elif body_keys == ["layers"]:
            body = self.entry(raw["layers"], rpath + ("layers",), cpath + ("body",))
        elif body_keys:
            rest = {k: raw[k] for k in body_keys}
            structures = [k for k in rest if k in STRUCTURES]
            if not structures:
                self.check_keys(rest, ("args", "doc", "layers", *STRUCTURES), rpath, "a block")
                return None
            if "layers" in rest or len(structures) > 1:
                both = ", ".join(f"`{k}:`" for k in rest if k == "layers" or k in STRUCTURES)
                self.error("invalid-block", f"a block has one body, `layers:` or one structure; this one has {both}",
                           rpath + (structures[-1],), key=True)
                return None
            if len(structures) == 1:  # keys that are neither the block's nor its structure's: listed with both
                allowed = ("args", "doc", *_STRUCTURE_KEYS[structures[0]])
                self.check_keys({k: v for k, v in rest.items() if k not in allowed}, allowed, rpath,
                                f"a block whose body is {structures[0]}")
                rest = {k: v for k, v in rest.items() if k in allowed}
            body = self.entry(rest, rpath, cpath + ("body",))
            # errors in the body belong at its structure key, not at the block's first line
            self.record(cpath + ("body",), rpath + (structures[0],), self.src.find(rpath + (structures[0],), key=True))
        else:
            self.error("missing-key", "block has no body: add `layers: [...]` or a structure such as `concat:`", rpath)
            return None
        out: dict = {"args": args, "body": body}
        if "doc" in raw:
            out["doc"] = raw["doc"]
        return out

    def spec(self, raw: Any, default_name: str) -> dict | None:
        if not isinstance(raw, dict):
            self.error("invalid-spec", "a spec is a mapping with at least `input` and `layers`", ())
            return None
        self.record((), ())
        for key in raw:
            if key not in TOP_KEYS:
                hint = did_you_mean(key, TOP_KEYS)
                if not hint and isinstance(raw[key], list):
                    hint = f" (sections go under `layers:`, e.g. `layers: {{{key}: [...]}}`)"
                self.error("unknown-key", f"unknown top-level key '{key}'{hint}", (key,), key=True)
        for key in ("input", "layers"):
            if key not in raw and "extends" not in raw:
                self.error("missing-key", f"a spec needs `{key}` (or `extends:` naming a spec that has it)", ())
        out: dict = {"name": raw.get("name", default_name)}
        self.record(("name",), ("name",))
        for key in ("description", "extends"):
            if key in raw:
                out[key] = raw[key]
                self.record((key,), (key,))
        if isinstance(raw.get("extends"), list) and len(raw["extends"]) == 1:  # one base, listed: the same as bare
            out["extends"] = raw["extends"][0]
            self.record(("extends",), ("extends", 0))
        if isinstance(raw.get("extends"), list):  # several bases: each one located
            for i, item in enumerate(raw["extends"]):
                self.record(("extends", i), ("extends", i))
                if not isinstance(item, str):
                    self.error("invalid-value", f"each item names a spec file, got {item!r}", ("extends", i))
                    out.pop("extends", None)
        elif "extends" in raw and not isinstance(raw["extends"], str):
            self.error("invalid-value", f"must name a spec file, or a list of them; got {raw['extends']!r}",
                       ("extends",))
            out.pop("extends", None)
        if "outputs" in raw:
            out["outputs"] = raw["outputs"]
            self.record(("outputs",), ("outputs",))
            if isinstance(raw["outputs"], list):
                for i in range(len(raw["outputs"])):
                    self.record(("outputs", i), ("outputs", i))
            elif isinstance(raw["outputs"], dict):
                out["outputs"] = {str(k): v for k, v in raw["outputs"].items()}
                for k in raw["outputs"]:
                    self.record(("outputs", str(k)), ("outputs", k))
                    self.record(("outputs", str(k), "key"), ("outputs", k), self.src.find(("outputs", k), key=True))
        if "input" in raw:
            inp = raw["input"]
            if isinstance(inp, str) and "x" in inp:
                inp = [p.strip() for p in inp.split("x")]
                inp = [int(p) if p.isascii() and p.isdigit() else p for p in inp]
            out["input"] = self.value(inp, ("input",), ("input",))
        if isinstance(raw.get("params"), dict):
            out["params"] = {}
            for k, v in raw["params"].items():
                if self.check_name(k, ("params", k)):
                    out["params"][str(k)] = self.value(v, ("params", k), ("params", str(k)))
        elif "params" in raw and raw["params"] is not None:
            self.error("invalid-value", "`params` is a mapping of names to default values", ("params",))
        if isinstance(raw.get("functions"), dict):
            out["functions"] = {}
            for signature, body in raw["functions"].items():
                made = self.function(signature, body, ("functions", signature))
                if made is not None:
                    if made[0] in out["functions"]:
                        self.error("duplicate-key", f"function '{made[0]}' is defined twice", ("functions", signature),
                                   key=True)
                    out["functions"][made[0]] = made[1]
        elif raw.get("functions") is not None:
            self.error("invalid-value", "`functions` maps signatures such as `make_divisible(v, divisor=8)` to "
                       "expressions", ("functions",))
        if isinstance(raw.get("blocks"), dict):
            out["blocks"] = {}
            for bname, braw in raw["blocks"].items():
                if not self.check_name(bname, ("blocks", bname)):
                    continue
                if bname in REGISTRY:
                    self.error("invalid-name", f"block '{bname}' has the name of a layer kind, so calls to it would "
                               "be ambiguous; rename the block", ("blocks", bname), key=True)
                    continue
                block = self.block(braw, ("blocks", bname), ("blocks", str(bname)))
                if block is not None:
                    out["blocks"][str(bname)] = block
        elif raw.get("blocks") is not None:
            self.error("invalid-value", "`blocks` is a mapping of block names to definitions", ("blocks",))
        layers = raw.get("layers")
        if isinstance(layers, dict):
            out["layers"] = self.sections(layers, ("layers",), ("layers",))
        elif isinstance(layers, list):
            out["layers"] = [self.entry(v, ("layers", i), ("layers", i)) for i, v in enumerate(layers)]
        elif "layers" in raw:
            self.error("invalid-value", "`layers` is a list of entries or a mapping of named sections", ("layers",))
        if isinstance(raw.get("init"), dict):
            out["init"] = {}
            for kind, table in raw["init"].items():
                if not isinstance(table, dict):
                    self.error("invalid-value", "each `init` entry maps tensor names to initialisers", ("init", kind))
                    continue
                self.record(("init", str(kind)), ("init", kind), self.src.find(("init", kind), key=True))
                out["init"][str(kind)] = {
                    str(t): self.value(v, ("init", kind, t), ("init", str(kind), str(t))) for t, v in table.items()
                }
        elif raw.get("init") is not None:
            self.error("invalid-value", "`init` maps layer kinds to {tensor: initialiser}", ("init",))
        return out


def _literal(text: str) -> Any:
    """A default written in a signature: a number or true/false/none as such, anything else as expression text."""
    word = {"true": True, "True": True, "false": False, "False": False, "none": None, "None": None, "null": None}
    if text in word:
        return word[text]
    try:
        return _number(text) if re.fullmatch(r"-?\d[\d_]*(\.[\d_]*)?([eE][-+]?\d+)?", text) else text
    except ExprError:
        return text


def number_literal(text: str) -> int | float:
    return _number(text)


def _strip_tags(loc: tuple) -> tuple:
    """Drop the discriminator and union-member segments pydantic adds to error locations."""
    out = []
    for part in loc:
        if isinstance(part, str) and (part in _TAGS or part.startswith(("literal[", "list[", "function-"))):
            continue
        out.append(part)
    return tuple(out)


def report_pydantic_errors(exc: ValidationError, locations: Locations, errors: Collector, file: str) -> None:
    seen = set()
    for err in exc.errors():
        path = _strip_tags(err["loc"])
        where = locations.find(path)
        message = plain_message(err)
        if err["type"] == "extra_forbidden":
            message = f"unknown key '{path[-1]}'"
        if err["type"] == "string_pattern_mismatch":
            message = f"'{err.get('input')}' is not a valid name (letters, digits and _; not starting with a digit)"
        key = (where.loc, message)
        if key in seen:
            continue
        seen.add(key)
        code = "missing-key" if err["type"] == "missing" else "invalid-value"
        errors.error(code, message, where.shown or ".".join(map(str, path)), where.loc)


MAX_VALUES = 5_000  # values written in one spec: the largest bundled spec has 337; each may be an expression


def validate(doc: RawDoc, default_name: str = "network") -> ParsedSpec:
    """Raw tree -> Spec. Raises SpecError listing every problem found."""
    errors = Collector(sources={doc.sources.file: doc.text})
    max_values = budgets.current().cap(MAX_VALUES, budgets.VALUES_PER_NODE)
    if len(doc.sources.values) > max_values:  # refused before any of them is parsed as an expression
        where = next(itertools.islice(iter(doc.sources.values.values()), max_values, None))
        errors.error("too-large", f"the spec holds more than {max_values:,} values; a network this large is "
                     "written with blocks and repeat (or a larger --max-nodes / max_nodes= raises this limit)", "", where)
        errors.raise_if_any()
    raw = doc.tree
    block_names = set(raw.get("blocks") or {}) if isinstance(raw, dict) and isinstance(raw.get("blocks"), dict) else set()
    norm = _Normalizer(doc, errors, {str(b) for b in block_names})
    canonical = norm.spec(raw, default_name)
    errors.raise_if_any()
    spec = built_spec(canonical)  # what pydantic would make of plainly valid data; else pydantic decides
    if spec is None:
        try:
            spec = Spec.model_validate(canonical)
        except ValidationError as exc:
            report_pydantic_errors(exc, norm.locations, errors, doc.sources.file)
            errors.raise_if_any()
            raise AssertionError("pydantic failed without errors")  # unreachable: raise_if_any raised
    return ParsedSpec(spec, norm.locations, doc.text, doc.sources.file, "yaml")


def block_from_raw(raw: Any, name: str) -> BlockDef:
    """A BlockDef from YAML text or a dict (for Spec.with_block)."""
    if isinstance(raw, str):
        doc = read_yaml(raw, f"<block {name}>")
    else:
        from .yaml_source import SourceMap

        doc = RawDoc(raw, SourceMap(f"<block {name}>"), "")
    errors = Collector(sources={doc.sources.file: doc.text})
    norm = _Normalizer(doc, errors, _AnyName())
    block = norm.block(doc.tree, (), ())
    errors.raise_if_any()
    try:
        return BlockDef.model_validate(block)
    except ValidationError as exc:
        report_pydantic_errors(exc, norm.locations, errors, doc.sources.file)
        errors.raise_if_any()
        raise


def layers_from_raw(raw: Any, block_names: set[str]) -> list:
    """IR entries from YAML text or data in the form of `layers:` (for Spec.with_layers)."""
    doc = read_yaml(raw, "<layers>") if isinstance(raw, str) else RawDoc(raw, _empty_map("<layers>"), "")
    errors = Collector(sources={doc.sources.file: doc.text})
    norm = _Normalizer(doc, errors, set(block_names))
    tree = doc.tree
    items = norm.sections(tree, (), ()) if isinstance(tree, dict) else [
        norm.entry(v, (i,), (i,)) for i, v in enumerate(tree if isinstance(tree, list) else [tree])]
    errors.raise_if_any()
    try:
        return [Spec.model_validate({"name": "x", "input": [1], "layers": [item]}).layers[0] for item in items]
    except ValidationError as exc:
        report_pydantic_errors(exc, norm.locations, errors, doc.sources.file)
        errors.raise_if_any()
        raise


def _empty_map(file: str):
    from .yaml_source import SourceMap

    return SourceMap(file)


class _AnyName(set):
    """Inside a lone block definition every name may be a block defined elsewhere in the spec."""

    def __contains__(self, item: object) -> bool:
        return True


RAW_READERS.update(block=block_from_raw, layers=layers_from_raw)  # Spec.with_block / with_layers read through these
