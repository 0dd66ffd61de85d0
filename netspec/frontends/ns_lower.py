"""Lowering of the .ns parse tree: statements -> the canonical Spec data and where each IR path was written.

The work is split by what is lowered, each part a small class over one shared `Values`:

    Values        positions, tokens and values: Locs, strings, numbers, a value as YAML reads a call
                  argument (a literal, or its expression text), names, `key=value` arguments
    Entries       entries and structures: calls, [ ], concat/add/mul, residual, repeat/dense, if, splice,
                  output, flat, parameter
    Signatures    block and function definitions: their arguments, defaults and choices
    Declarations  the other statements: network, extends, input, param, outputs, init, a line of entries
    _Assembly     the statements, in order, as one spec: each key once, names checked, defaults filled

`Lowering` walks a parse tree bottom up (lark's, or the .ns reader's of ns_read.py: both are read by duck type,
a token is a str with `type`, `line` and `column`, a tree has `data`, `children` and `meta`) and hands each
node of a .ns rule to the part that lowers it; the nodes of an expression are left as they are, since a value
is read from its tree whole. The same rules take statements the fast reader (ns_fast.py) read without a
tree, so every path gives one result.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any, Callable

from ..diagnostics import Collector, Loc, did_you_mean
from ..ir.expr import FUNCTIONS, ExprError, parse_expr
from ..ir.spec import SHORTCUT_MODES
from ..layers import REGISTRY, arg_names
from ..names import module_name_problem
from .validate import copied, number_literal

# Short names a person sketching may write; each lowers to the canonical name in the Spec.
TARGET_ALIASES = {
    "conv": "conv2d",
    "bn": "batchnorm2d",
    "maxpool": "maxpool2d",
    "avgpool": "avgpool2d",
    "adaptive_avgpool": "adaptive_avgpool2d",
    "adaptive_maxpool": "adaptive_maxpool2d",
}
ARG_ALIASES = {"s": "stride", "p": "padding"}  # for layer kinds that have the long name and not the short one

# Words the grammar reserves somewhere; as a name, each is written in backticks (`add`).
KEYWORDS = frozenset({
    "network", "extends", "input", "param", "outputs", "function", "block", "init",
    "concat", "add", "mul", "residual", "shortcut", "as", "after", "repeat", "first", "names", "dense",
    "if", "then", "else", "splice", "output", "train_only", "flat", "parameter",
    "or", "and", "not",  # the expression grammar's own
})
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

CLAUSES = {  # where a clause keyword belongs, for the message when it stands alone
    "shortcut": " that continues `residual { ... }` on the line of its `}`",
    "as": " that continues `residual { ... }` on the line of its `}`",
    "after": " that continues `residual { ... }` on the line of its `}`",
    "first": " that goes between `repeat N` and the entry repeated",
    "names": " that goes between `repeat N` (or `dense N`) and the entry repeated",
    "then": " of `if COND then ENTRY`",
    "else": " of `if COND then ENTRY else ENTRY`",
    "train_only": " that follows `output`",
}


def canonical_target(name: str, blocks: Any = ()) -> str:
    """The layer kind an unquoted call name stands for: an alias is lowered unless a block or a kind has its name."""
    if name in TARGET_ALIASES and name not in blocks and name not in REGISTRY:
        return TARGET_ALIASES[name]
    return name


def canonical_arg(target: str, key: str) -> str:
    """The argument an unquoted keyword stands for in a call of `target` (`s` -> `stride` for conv2d)."""
    full = ARG_ALIASES.get(key)
    if full is None or target not in REGISTRY:
        return key
    names = arg_names(REGISTRY[target])
    return full if full in names and key not in names else key


@dataclass
class Piece:
    """A lowered part of the spec: canonical data, and where each IR path below it was written."""

    data: Any
    locs: dict[tuple, Loc]


@dataclass
class Ident:
    name: str
    loc: Loc
    quoted: bool  # written in backticks: taken as it is (no alias lowering)
    choices: Any = None  # a block argument's `in [...]` (a Piece), where it has one


class Standalone:
    """An expression read on its own (exprparse's tree, positions counted from the start of its text), and
    where that text starts in the file: its offset, line and column. `line` None: the tree's offsets are the
    file's and it may span lines (the .ns reader's, ns_read.py), so each position is looked up."""

    __slots__ = ("tree", "offset", "line", "column")

    def __init__(self, tree: Any, offset: int, line: int | None, column: int):
        self.tree, self.offset, self.line, self.column = tree, offset, line, column


def under(prefix: tuple, locs: dict[tuple, Loc]) -> dict[tuple, Loc]:
    return {prefix + path: loc for path, loc in locs.items()}


def one_line(text: str) -> str:
    """Expression text written across lines (inside brackets): comments dropped, each line break one space."""
    out: list[str] = []
    quote = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            while i < len(text) and text[i] not in "\r\n":
                i += 1
            continue
        elif ch in "\r\n":
            while out and out[-1] in " \t":
                out.pop()
            while i < len(text) and text[i] in " \t\r\n":
                i += 1
            out.append(" ")
            continue
        out.append(ch)
        i += 1
    return "".join(out)


# ---- values ------------------------------------------------------------------------------------


class Values:
    """The text being lowered and the error sink; positions as Locs, tokens and values as Python data."""

    def __init__(self, text: str, file: str, errors: Collector):
        self.text = text
        self.file = file
        self.errors = errors
        self._line_starts: list[int] | None = None

    def loc(self, item: Any) -> Loc:
        return Loc(self.file, item.line, item.column)

    def loc_at(self, item: Any) -> Loc:
        """Where an item whose `start_pos` is an offset in the file is (its line looked up)."""
        if self._line_starts is None:
            self._line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        line = bisect_right(self._line_starts, item.start_pos)
        return Loc(self.file, line, item.start_pos - self._line_starts[line - 1] + 1)

    def error(self, code: str, message: str, loc: Loc) -> None:
        self.errors.error(code, message, "", loc)

    def string(self, token: str) -> str:
        text = str(token)
        if "\\" not in text:  # nothing escaped: the text between the quotes (json, for escapes, is imported late)
            return text[1:-1]
        import json

        try:
            return json.loads(text, strict=False)
        except ValueError:
            self.error("invalid-value", f"bad escape in string {token}; write \\\\ for a backslash and \\\" for a quote",
                       self.loc(token))
            return str(token)[1:-1]

    def number(self, token: str, loc: Loc | None = None) -> int | float | None:
        try:
            return number_literal(str(token))
        except ExprError as exc:
            self.error(exc.code, str(exc), loc or self.loc(token))
            return None

    def value(self, item: Any) -> Piece:
        """A value as YAML reads a call argument (a lark tree of the whole file, or a Standalone): a literal where
        it is one, else its expression text."""
        if isinstance(item, Standalone):
            if item.line is None:
                return self._value(item.tree, 0, self.loc_at, True)
            line, shift = item.line, item.column - 1
            return self._value(item.tree, item.offset, lambda node: Loc(self.file, line, node.column + shift), True)
        return self._value(item, 0, self.loc, False)

    def _value(self, tree: Any, offset: int, at: Callable[[Any], Loc], standalone: bool) -> Piece:
        # `at`: where a node or token of the tree is; `offset`: where the tree's offsets count from
        loc = at(tree.meta)
        kind, kids = tree.data, tree.children
        if kind == "number":
            return Piece(self.number(kids[0], at(kids[0])), {(): loc})
        if kind == "neg" and not isinstance(kids[0], str) and kids[0].data == "number":  # lark's tree or parse_expr's
            number = self.number(kids[0].children[0], at(kids[0].children[0]))
            return Piece(-number if number is not None else None, {(): loc})
        if kind == "name" and str(kids[0]) in ("true", "false", "null"):
            return Piece({"true": True, "false": False, "null": None}[str(kids[0])], {(): loc})
        if kind == "raw":
            text = str(kids[0])[1:-1]
            try:
                parse_expr(text)
            except ExprError as exc:
                column = loc.col + 1 + max((exc.column or 1) - 1, 0)
                self.error(exc.code, str(exc), Loc(self.file, loc.line, column))
            return Piece(text, {(): loc})
        if kind == "list":
            items = [self._value(k, offset, at, standalone) for k in kids if k is not None and not isinstance(k, str)]
            locs = {(): loc}
            for i, item in enumerate(items):
                locs.update(under((i,), item.locs))
            return Piece([item.data for item in items], locs)
        if not standalone:  # a Standalone's text has no backticks (the fast and .ns readers leave those to lark)
            for inner in tree.iter_subtrees():
                if inner.data == "raw":
                    self.error("invalid-value", "a value in backticks stands alone: it cannot be part of an expression",
                               self.loc(inner.meta))
                    break
        text = self.text[offset + tree.meta.start_pos:offset + tree.meta.end_pos]
        if any(ch in text for ch in "\r\n#"):
            text = one_line(text)
        return Piece(text, {(): loc})

    # ---- names ----------------------------------------------------------------------------------

    def ident(self, meta, children) -> Ident:
        token = children[0]
        if token.type == "BACKTICK":
            return Ident(str(token)[1:-1], self.loc(token), True)
        return Ident(str(token), self.loc(token), False)

    def check_name(self, ident: Ident) -> bool:
        """Is a module, param or block name valid? Reported at the name when not (as the YAML front end does)."""
        if IDENTIFIER.match(ident.name):
            return True
        self.error("invalid-name", f"'{ident.name}' is not a valid name (letters, digits and _; not starting with a "
                   "digit)", ident.loc)
        return False

    def check_module_name(self, ident: Ident) -> bool:
        """Is a module name one torch accepts (any text but empty, dotted or an nn.Module attribute)?"""
        problem = module_name_problem(ident.name)
        if problem is not None:
            self.error("invalid-name", problem, ident.loc)
        return problem is None

    def not_keyword(self, ident: Ident) -> None:
        """A keyword the contextual lexer let through as a name (where the keyword cannot stand) needs backticks."""
        if ident.quoted or ident.name not in KEYWORDS:
            return
        place = CLAUSES.get(ident.name, "")
        self.error("syntax", f"'{ident.name}' is a keyword{place}; to use it as a name, write it in backticks: "
                   f"`{ident.name}`", ident.loc)

    def name_piece(self, ident: Ident) -> Piece:
        return Piece(ident.name, {(): ident.loc})

    # ---- arguments ------------------------------------------------------------------------------

    def kwargs(self, target: str, pairs: list[tuple[Ident, Piece]], where: tuple, lower: bool = True) -> Piece:
        """`key=value` pairs as {key: value}, keywords lowered for `target`, a key given twice reported."""
        data: dict[str, Any] = {}
        locs: dict[tuple, Loc] = {}
        for ident, piece in pairs:
            key = ident.name if ident.quoted or not lower else canonical_arg(target, ident.name)
            if key in data:
                self.error("duplicate-arg", f"argument '{key}' is given twice", ident.loc)
                continue
            data[key] = piece.data
            locs.update(under(where + (key,), piece.locs))
            locs[where + (key, "key")] = ident.loc
        return Piece(data, locs)


# ---- entries -----------------------------------------------------------------------------------


class Entries:
    """Entries and structures, each rule's children already lowered (entries as Pieces)."""

    RULES = ("e_kwarg", "e_call", "labeled", "e_seq", "e_ref", "merge_dim", "e_concat", "e_add", "e_mul",
             "shortcut_mode", "shortcut_list", "shortcut_name", "after", "e_residual", "first", "names", "e_repeat",
             "e_dense", "e_if", "e_splice", "e_flat", "e_output", "shape_dims", "shape_list", "shape_expr", "p_init",
             "e_parameter")

    def __init__(self, values: Values, blocks: set[str]):
        self.v = values
        self.blocks = blocks

    def entries(self, children: list, prefix: tuple) -> Piece:
        """The entries among `children`, located under `prefix` (`("items",)`, `("branches",)`...)."""
        data, locs = [], {}
        for i, child in enumerate(c for c in children if isinstance(c, Piece)):
            data.append(child.data)
            locs.update(under(prefix + (i,), child.locs))
        return Piece(data, locs)

    def e_kwarg(self, meta, children) -> tuple[Ident, Piece]:
        return children[0], self.v.value(children[1])

    def e_call(self, meta, children) -> Piece:
        v = self.v
        ident, arguments = children[0], children[1:]
        v.not_keyword(ident)
        target = ident.name if ident.quoted else canonical_target(ident.name, self.blocks)
        node: dict[str, Any] = {"op": "call", "target": target, "args": [], "kwargs": {}}
        locs: dict[tuple, Loc] = {(): ident.loc}
        pairs = []
        for argument in arguments:
            if isinstance(argument, tuple):
                pairs.append(argument)
                continue
            piece = v.value(argument)
            if pairs:
                v.error("invalid-value", "a positional argument cannot follow a keyword argument; "
                        "name it, or move it before the keyword arguments", piece.locs[()])
            locs.update(under(("args", len(node["args"])), piece.locs))
            node["args"].append(piece.data)
        keywords = v.kwargs(target, pairs, ("kwargs",))
        node["kwargs"] = keywords.data
        locs.update(keywords.locs)
        return Piece(node, locs)

    def labeled(self, meta, children) -> Piece:
        ident, piece = children
        self.v.not_keyword(ident)
        self.v.check_module_name(ident)
        data = dict(piece.data, name=ident.name)
        return Piece(data, {**piece.locs, (): ident.loc})

    def e_seq(self, meta, children) -> Piece:
        items = self.entries(children, ("items",))
        if not items.data:
            self.v.error("invalid-entry", "an empty list is not a layer; remove it or add entries", self.v.loc(meta))
        return Piece({"op": "seq", "items": items.data}, {**items.locs, (): self.v.loc(meta)})

    def _merge(self, op: str, meta, children) -> Piece:
        branches = self.entries(children, ("branches",))
        return Piece({"op": op, "branches": branches.data}, {**branches.locs, (): self.v.loc(meta)})

    def e_ref(self, meta, children) -> Piece:
        return Piece({"op": "ref", "target": str(children[0])[1:]}, {(): self.v.loc(children[0])})

    def merge_dim(self, meta, children) -> tuple[str, Piece]:
        ident, piece = children[0]
        if ident.name != "dim":
            self.v.error("unknown-key", f"concat takes one option, `dim` (the dimension joined), not "
                         f"'{ident.name}': write `concat(dim=2) {{ ... }}`", ident.loc)
        return "dim", piece

    def e_concat(self, meta, children) -> Piece:
        merged = self._merge("concat", meta, children)
        for child in children:
            if isinstance(child, tuple) and child[0] == "dim":
                merged.data["dim"] = child[1].data
                merged.locs.update(under(("dim",), child[1].locs))
        return merged

    def e_add(self, meta, children) -> Piece:
        return self._merge("add", meta, children)

    def e_mul(self, meta, children) -> Piece:
        return self._merge("mul", meta, children)

    def shortcut_mode(self, meta, children) -> tuple[str, Piece]:
        ident = children[0]
        if ident.name not in SHORTCUT_MODES:
            self.v.error("invalid-value", f"unknown shortcut '{ident.name}'{did_you_mean(ident.name, SHORTCUT_MODES)}; "
                         f"a shortcut is {', '.join(SHORTCUT_MODES)} or {{ entries }}", ident.loc)
        return "shortcut", Piece(ident.name, {(): ident.loc})

    def shortcut_list(self, meta, children) -> tuple[str, Piece]:
        entries = self.entries(children, ())
        return "shortcut", Piece(entries.data, {**entries.locs, (): self.v.loc(meta)})

    def shortcut_name(self, meta, children) -> tuple[str, Piece]:
        self.v.check_module_name(children[0])
        return "shortcut_name", self.v.name_piece(children[0])

    def after(self, meta, children) -> tuple[str, Piece]:
        return "after", children[0]

    def e_residual(self, meta, children) -> Piece:
        body = self.entries(children, ("body",))
        node: dict[str, Any] = {"op": "residual", "body": body.data}
        locs = {**body.locs, (): self.v.loc(meta)}
        for key, piece in (c for c in children if isinstance(c, tuple)):
            node[key] = piece.data
            locs.update(under((key,), piece.locs))
        return Piece(node, locs)

    def first(self, meta, children) -> tuple[str, list]:
        return "first", children

    def names(self, meta, children) -> tuple[str, Piece]:
        return "names", Piece(self.v.string(children[0]), {(): self.v.loc(children[0])})

    def _counted(self, op: str, inner: str, meta, children) -> Piece:
        count, *modifiers, body = children
        count = self.v.value(count)
        node: dict[str, Any] = {"op": op, "count": count.data, inner: body.data}
        locs = {**under(("count",), count.locs), **under((inner,), body.locs), (): self.v.loc(meta)}
        for key, mod in modifiers:
            if key == "names":
                node["names"] = mod.data
                locs.update(under(("names",), mod.locs))
            else:  # first(...): keywords lowered as the repeated call's own
                target = body.data.get("target", "") if isinstance(body.data, dict) else ""
                first = self.v.kwargs(target, mod, ("first",))
                node["first"] = first.data
                locs.update(first.locs)
        return Piece(node, locs)

    def e_repeat(self, meta, children) -> Piece:
        return self._counted("repeat", "block", meta, children)

    def e_dense(self, meta, children) -> Piece:
        return self._counted("dense", "layer", meta, children)

    def e_if(self, meta, children) -> Piece:
        cond = self.v.value(children[0])
        node: dict[str, Any] = {"op": "if", "cond": cond.data, "then": children[1].data}
        locs = {**under(("cond",), cond.locs), **under(("then",), children[1].locs), (): self.v.loc(meta)}
        if len(children) > 2:
            node["else"] = children[2].data
            locs.update(under(("else",), children[2].locs))
        return Piece(node, locs)

    def _wrap(self, op: str, meta, body: Piece) -> Piece:
        return Piece({"op": op, "body": body.data}, {**under(("body",), body.locs), (): self.v.loc(meta)})

    def e_splice(self, meta, children) -> Piece:
        return self._wrap("splice", meta, children[0])

    def e_flat(self, meta, children) -> Piece:
        return self._wrap("flat", meta, children[0])

    def e_output(self, meta, children) -> Piece:
        piece = self._wrap("output", meta, children[-1])
        if len(children) > 1:
            piece.data["train_only"] = True
            piece.locs[("train_only",)] = self.v.loc(children[0])
        return piece

    def shape_dims(self, meta, children) -> Piece:  # 768x1x1
        return dims(self.v, children[0])

    def shape_list(self, meta, children) -> Piece:  # [dim, 1, 1]
        items = [self.v.value(k) for k in children if k is not None and not isinstance(k, str)]
        locs = {(): self.v.loc(meta)}
        for i, item in enumerate(items):
            locs.update(under((i,), item.locs))
        return Piece([item.data for item in items], locs)

    def shape_expr(self, meta, children) -> Piece:  # (shape_of_the_scale), an expression giving the list
        return self.v.value(children[0])

    def p_init(self, meta, children) -> Piece:
        return self.v.value(children[0])

    def e_parameter(self, meta, children) -> Piece:
        shape = children[0]
        node: dict[str, Any] = {"op": "parameter", "shape": shape.data}
        locs = {**under(("shape",), shape.locs), (): self.v.loc(meta)}
        if len(children) > 1:
            node["init"] = children[1].data
            locs.update(under(("init",), children[1].locs))
        return Piece(node, locs)


def dims(values: Values, token: Any) -> Piece:
    """A shape written `3x224x224` (one DIMS token): its numbers, each located."""
    out, locs, column = [], {(): values.loc(token)}, token.column
    for i, part in enumerate(str(token).split("x")):
        where = Loc(values.file, token.line, column)
        out.append(values.number(part, where))
        locs[(i,)] = where
        column += len(part) + 1
    return Piece(out, locs)


# ---- block and function definitions ----------------------------------------------------------------


class Signatures:
    """`block NAME(args) = entry` and `function NAME(args) = expr`: the arguments with their defaults and choices."""

    RULES = ("block_arg", "arg_choice", "arg_default", "block_args", "block", "function")

    def __init__(self, values: Values):
        self.v = values

    def block_arg(self, meta, children) -> tuple[Ident, Piece | None]:
        parts = {kind: piece for kind, piece in children[1:]}
        arg = children[0]
        if "choice" in parts:
            arg = Ident(arg.name, arg.loc, arg.quoted, parts["choice"])
        return arg, parts.get("default")

    def arg_choice(self, meta, children) -> tuple[str, Piece]:
        return "choice", self.v.value(children[0])

    def arg_default(self, meta, children) -> tuple[str, Piece]:
        return "default", self.v.value(children[0])

    def block_args(self, meta, children) -> list:
        return children

    def block(self, meta, children) -> tuple:
        doc = self.v.string(children.pop(0)) if isinstance(children[0], str) else None
        ident, args, body = children[0], (children[1] if len(children) > 2 else []), children[-1]
        data: dict[str, Any] = {"args": [], "body": body.data}
        locs: dict[tuple, Loc] = {(): ident.loc, **under(("body",), body.locs)}
        seen: set[str] = set()
        for i, (arg, default) in enumerate(args):
            if arg.name in seen:
                self.v.error("duplicate-key", f"block argument '{arg.name}' is listed twice", arg.loc)
            seen.add(arg.name)
            locs[("args", i)] = arg.loc
            if default is None:
                data["args"].append({"name": arg.name, "required": True})
            else:
                data["args"].append({"name": arg.name, "default": default.data, "required": False})
                locs.update(under(("args", i, "default"), default.locs))
            choices = arg.choices
            if choices is not None:
                if not isinstance(choices.data, list) or not choices.data:
                    self.v.error("invalid-value", f"argument '{arg.name}': `in` takes a list of the values it may take",
                                 choices.locs[()])
                else:
                    data["args"][-1]["choices"] = choices.data
                    locs.update(under(("args", i, "choices"), choices.locs))
        if doc is not None:
            data["doc"] = doc
        return "block", meta, ident, Piece(data, locs)

    def function(self, meta, children) -> tuple:
        ident, args, body = children[0], (children[1] if len(children) > 2 else []), self.v.value(children[-1])
        data: dict[str, Any] = {"args": [], "body": body.data}
        locs: dict[tuple, Loc] = {(): ident.loc, **under(("body",), body.locs)}
        seen: set[str] = set()
        for i, (arg, default) in enumerate(args):
            if arg.name in seen:
                self.v.error("duplicate-key", f"parameter '{arg.name}' of function '{ident.name}' is listed twice",
                             arg.loc)
            seen.add(arg.name)
            locs[("args", i)] = arg.loc
            if arg.choices is not None:
                self.v.error("invalid-value", f"parameter '{arg.name}' of function '{ident.name}': `in [...]` is for "
                             "block arguments; a function checks its values in its body", arg.loc)
            if default is None:
                if any(not a["required"] for a in data["args"]):
                    self.v.error("bad-expression", f"parameter '{arg.name}' without a default follows one with a "
                                 "default; give it a default or move it first", arg.loc)
                data["args"].append({"name": arg.name, "required": True})
            else:
                data["args"].append({"name": arg.name, "default": default.data, "required": False})
                locs.update(under(("args", i, "default"), default.locs))
        return "function", meta, ident, Piece(data, locs)


# ---- the other statements ----------------------------------------------------------------------------


class Declarations:
    """network, extends, input, param, outputs, init and a line of entries: each as (kind, meta, parts...)."""

    RULES = ("network", "extends", "input", "param", "params", "output_pair", "outputs", "init_arg", "init_kind",
             "init", "line")

    def __init__(self, values: Values):
        self.v = values

    def network(self, meta, children) -> tuple:
        name = children[0]
        text = self.v.string(name) if name.type == "DSTRING" else str(name).strip("`")
        description = Piece(self.v.string(children[1]), {(): self.v.loc(children[1])}) if len(children) > 1 else None
        return "network", meta, Piece(text, {(): self.v.loc(name)}), description

    def extends(self, meta, children) -> tuple:
        v = self.v
        if len(children) == 1:
            return "extends", meta, Piece(v.string(children[0]), {(): v.loc(children[0])})
        locs = {(): v.loc(children[0]), **{(i,): v.loc(c) for i, c in enumerate(children)}}
        return "extends", meta, Piece([v.string(c) for c in children], locs)

    def input(self, meta, children) -> tuple:
        item = children[0]
        if isinstance(item, str):  # 3x224x224
            return "input", meta, dims(self.v, item)
        return "input", meta, self.v.value(item)

    def param(self, meta, children) -> tuple[Ident, Piece]:
        return children[0], self.v.value(children[1])

    def params(self, meta, children) -> tuple:
        return "params", meta, children

    def _output_name(self, token: Any) -> str:
        if token.type == "REF":
            return str(token)
        return self.v.string(token) if token.type == "DSTRING" else str(token).strip("`")

    def output_pair(self, meta, children) -> tuple[Any, Any]:
        return children[0], children[1]

    def outputs(self, meta, children) -> tuple:
        v = self.v
        pairs = [c for c in children if isinstance(c, tuple)]
        if pairs and len(pairs) != len(children):
            v.error("syntax", "outputs are either all named (`out = main, aux = $aux`, a dict) or none "
                    "(`main, $aux`, a tuple); name each one, or none", v.loc(meta))
        if pairs:
            data = {self._output_name(k): self._output_name(x) for k, x in pairs}
            locs = {}
            for k, x in pairs:
                locs[(self._output_name(k),)] = v.loc(x)
                locs[(self._output_name(k), "key")] = v.loc(k)
            return "outputs", meta, Piece(data, {**locs, (): v.loc(meta)})
        names = [self._output_name(t) for t in children]
        locs = {(i,): v.loc(t) for i, t in enumerate(children)}
        return "outputs", meta, Piece(names, {**locs, (): v.loc(meta)})

    def init_arg(self, meta, children) -> tuple[Ident, Piece]:
        return children[0], self.v.value(children[1])

    def init_kind(self, meta, children) -> tuple[Ident, Piece]:
        ident = children[0]
        kind = ident.name if ident.quoted else canonical_target(ident.name)
        return Ident(kind, ident.loc, ident.quoted), self.v.kwargs(kind, children[1:], (), lower=False)

    def init(self, meta, children) -> tuple:
        return "init", meta, children

    def line(self, meta, children) -> tuple:
        return "line", meta, children


# ---- the whole spec ------------------------------------------------------------------------------------


class _Assembly:
    """The lowered statements, in file order, as the Spec's data and its location table."""

    def __init__(self, values: Values, default_name: str, first_loc: Loc):
        self.v = values
        self.first_loc = first_loc
        self.spec: dict[str, Any] = {"name": default_name}
        self.locs: dict[tuple, Loc] = {(): first_loc, ("name",): first_loc}
        self.seen: dict[str, Loc] = {}
        self.layers: list = []
        self.params: dict[str, Any] = {}
        self.blocks: dict[str, Any] = {}
        self.init: dict[str, Any] = {}
        self.functions: dict[str, Any] = {}

    def once(self, what: str, meta) -> bool:
        if what in self.seen:
            self.v.error("duplicate-key", f"`{what}` is given twice (first at line {self.seen[what].line})",
                         self.v.loc(meta))
            return False
        self.seen[what] = self.v.loc(meta)
        return True

    def add(self, statement: tuple) -> None:
        kind, smeta, *rest = statement
        if kind == "line":
            self.line(rest[0])
        elif kind == "replay":
            self.replayed(*rest)
        elif kind == "network":
            if self.once("network", smeta):
                self.network(*rest)
        elif kind in ("extends", "input", "outputs"):
            if self.once(kind, smeta):
                self.spec[kind] = rest[0].data
                self.locs.update(under((kind,), rest[0].locs))
        elif kind == "params":
            self.param_list(rest[0])
        elif kind == "block":
            self.block(*rest)
        elif kind == "function":
            self.function(*rest)
        elif kind == "init":
            self.init_list(rest[0])

    def network(self, name: Piece, description: Piece | None) -> None:
        self.spec["name"] = name.data
        self.locs[("name",)] = name.locs[()]
        if description is not None:
            self.spec["description"] = description.data
            self.locs[("description",)] = description.locs[()]

    def param_list(self, pairs: list[tuple[Ident, Piece]]) -> None:
        for ident, piece in pairs:
            if not self.v.check_name(ident):
                continue
            if ident.name in self.params:
                self.v.error("duplicate-key", f"param '{ident.name}' is defined twice", ident.loc)
                continue
            self.params[ident.name] = piece.data
            self.locs.update(under(("params", ident.name), piece.locs))
            self.locs[("params", ident.name)] = ident.loc

    def block(self, ident: Ident, piece: Piece) -> None:
        if not self.v.check_name(ident):
            return
        if ident.name in REGISTRY:
            self.v.error("invalid-name", f"block '{ident.name}' has the name of a layer kind, so calls to it "
                         "would be ambiguous; rename the block", ident.loc)
            return
        if ident.name in self.blocks:
            self.v.error("duplicate-key", f"block '{ident.name}' is defined twice", ident.loc)
            return
        self.blocks[ident.name] = piece.data
        self.locs.update(under(("blocks", ident.name), piece.locs))

    def function(self, ident: Ident, piece: Piece) -> None:
        if not self.v.check_name(ident):
            return
        if ident.name in FUNCTIONS:
            self.v.error("invalid-name", f"'{ident.name}' is a built-in function; give the spec's function "
                         "another name", ident.loc)
            return
        if ident.name in self.functions:
            self.v.error("duplicate-key", f"function '{ident.name}' is defined twice", ident.loc)
            return
        self.functions[ident.name] = piece.data
        self.locs.update(under(("functions", ident.name), piece.locs))

    def init_list(self, tables: list[tuple[Ident, Piece]]) -> None:
        for ident, table in tables:
            if ident.name in self.init:
                self.v.error("duplicate-key", f"init for '{ident.name}' is given twice; "
                             "put all its tensors in one init", ident.loc)
                continue
            self.init[ident.name] = table.data
            self.locs.update(under(("init", ident.name), table.locs))
            self.locs[("init", ident.name)] = ident.loc

    def line(self, pieces: list[Piece]) -> None:
        for piece in pieces:
            self.locs.update(under(("layers", len(self.layers)), piece.locs))
            self.layers.append(piece.data)

    def replayed(self, plan: Any, line: int, column: int) -> None:
        """A line of entries lowered once for its text (ns_fast.LinePlan), placed at `line` from `column`: as
        `line` places the pieces it was lowered to, each entry's data its own."""
        file, locs, layers = self.v.file, self.locs, self.layers
        for data, rows, nested in plan.pieces:
            prefix = ("layers", len(layers))
            for path, offset in rows:
                locs[prefix + path] = Loc(file, line, column + offset)
            if nested:
                layers.append(copied(data))
            else:
                data = data.copy()
                data["args"], data["kwargs"] = data["args"].copy(), data["kwargs"].copy()
                layers.append(data)

    def finish(self) -> Piece:
        spec = self.spec
        if "extends" not in spec:
            if "input" not in spec:
                self.v.error("missing-key", "a spec needs `input`, e.g. `input 3x224x224` (or `extends` naming "
                             "a spec that has it)", self.first_loc)
            if not self.layers:
                self.v.error("missing-key", "a spec needs layers: write its entries, e.g. `conv2d(64, 3) relu` "
                             "(or `extends` naming a spec that has them)", self.first_loc)
        for key, value in (("params", self.params), ("functions", self.functions), ("blocks", self.blocks),
                           ("layers", self.layers), ("init", self.init)):
            if value:
                spec[key] = value
        return Piece(spec, self.locs)


_LEAVES = (str, Standalone)  # a tree's children that are not lowered: tokens, and the .ns reader's expressions


# ---- the walk ------------------------------------------------------------------------------------------


class Lowering:
    """One file's lowering: parse trees (or the fast reader's statements) -> lowered statements -> the spec."""

    def __init__(self, text: str, file: str, errors: Collector, blocks: set[str], default_name: str):
        self.values = Values(text, file, errors)
        self.entries = Entries(self.values, blocks)
        self.default_name = default_name
        self.rules: dict[str, Callable] = {"ident": self.values.ident}
        for part in (self.entries, Signatures(self.values), Declarations(self.values)):
            self.rules.update((rule, getattr(part, rule)) for rule in part.RULES)

    def lower(self, tree: Any) -> Any:
        """A .ns rule's tree, bottom up; an expression's tree (no .ns rule inside) is returned as it is."""
        rule = self.rules.get(tree.data)
        if rule is None:
            return tree
        return rule(tree.meta, [kid if isinstance(kid, _LEAVES) else self.lower(kid) for kid in tree.children])

    def spec(self, statements: list[tuple]) -> Piece:
        """The lowered statements (each `(kind, meta, ...)`, in file order) as the Spec's data and locations."""
        first_loc = self.values.loc(statements[0][1]) if statements else Loc(self.values.file, 1, 1)
        assembly = _Assembly(self.values, self.default_name, first_loc)
        for statement in statements:
            assembly.add(statement)
        return assembly.finish()
