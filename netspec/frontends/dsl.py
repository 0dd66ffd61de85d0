"""The .ns front end: text in netspec's own syntax -> ParsedSpec, the same Spec IR and Locations table as YAML.

    parse    lark LALR (ns.lark + expr.grammar.lark)   text        -> parse tree, or a located syntax error
    lower    _Lower, a lark Transformer                parse tree  -> canonical data + {IR path: Loc}
    check    pydantic, as for YAML                     data        -> Spec

Aliases (`conv` for conv2d, `s=` for stride=, ...) are lowered here, so a Spec holds canonical names only,
and every value reads as the YAML front end reads a call argument: numbers, `true`/`false` and lists are
literals, anything else is kept as expression text. Two additions: `null` is the value None, and a value in
backticks is expression text verbatim (`3` is the text "3", not the number 3).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, VisitError
from lark.lark import PostLex
from pydantic import ValidationError

from .. import budgets
from ..diagnostics import Collector, Diagnostic, Loc, SpecError, did_you_mean
from ..ir.expr import FUNCTIONS, GRAMMAR_FILE, ExprError, parse_expr
from ..layers import REGISTRY, arg_names
from ..names import module_name_problem
from ..ir.spec import SHORTCUT_MODES, Spec
from ..tables import cached_parser
from .validate import Located, Locations, ParsedSpec, number_literal, report_pydantic_errors
from .yaml_source import MAX_BYTES

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
MAX_NESTING = 100  # parse-tree levels; far above any real spec, well below Python's recursion limit
MAX_TOKENS = 20_000  # words, numbers and symbols; the largest bundled spec in .ns has about 1,400
# A cheap count of tokens (strings, backticked names, comments, words and numbers, single symbols), taken
# before the parser sees the text, so that a huge file is refused in milliseconds, not parsed for minutes.
_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`\n]*`|#[^\n]*|[A-Za-z0-9_.]+|\S')
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


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


# ---- the parser --------------------------------------------------------------------------------

_OPEN = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}


class _Brackets(PostLex):
    """Newlines end declarations only outside brackets: inside ( ), [ ] and { } they are dropped."""

    always_accept = ("_NL",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        depth = 0
        for token in stream:
            if token.type == "_NL":
                if depth:
                    continue
            elif token.type in _OPEN:
                depth += 1
            elif token.type in _OPEN.values():
                depth = max(0, depth - 1)
            yield token


@lru_cache(maxsize=1)
def _parser() -> Lark:
    own = Path(__file__).with_name("ns.lark")
    grammar = GRAMMAR_FILE.read_text(encoding="utf-8") + "\n" + own.read_text(encoding="utf-8")
    # Analysing the grammar takes about 0.2 s; the tables are kept as JSON in the user's cache folder
    # (netspec/tables.py), never as a pickle and never in the package's own folder.
    return cached_parser(grammar, lambda: Lark(
        grammar, start=["start", "value_start", "count_start"], parser="lalr", lexer="contextual",
        propagate_positions=True, maybe_placeholders=False, postlex=_Brackets()), postlex=_Brackets())


# ---- lowering ----------------------------------------------------------------------------------


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


def _under(prefix: tuple, locs: dict[tuple, Loc]) -> dict[tuple, Loc]:
    return {prefix + path: loc for path, loc in locs.items()}


def _one_line(text: str) -> str:
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


@v_args(meta=True)
class _Lower(Transformer):
    """Parse tree -> Pieces, bottom up; `start` assembles the Spec data and its location table."""

    def __init__(self, text: str, file: str, errors: Collector, blocks: set[str], default_name: str):
        super().__init__()
        self.text = text
        self.file = file
        self.errors = errors
        self.blocks = blocks
        self.default_name = default_name

    # ---- helpers --------------------------------------------------------------------------------

    def _loc(self, item: Any) -> Loc:
        return Loc(self.file, item.line, item.column)

    def _error(self, code: str, message: str, loc: Loc) -> None:
        self.errors.error(code, message, "", loc)

    def _string(self, token: Token) -> str:
        try:
            return json.loads(str(token), strict=False)
        except ValueError:
            self._error("invalid-value", f"bad escape in string {token}; write \\\\ for a backslash and \\\" for a quote",
                       self._loc(token))
            return str(token)[1:-1]

    def _number(self, token: Token) -> int | float | None:
        try:
            return number_literal(str(token))
        except ExprError as exc:
            self._error(exc.code, str(exc), self._loc(token))
            return None

    def _value(self, tree: Tree) -> Piece:
        """A value as YAML reads a call argument: a literal where it is one, else its expression text."""
        loc = self._loc(tree.meta)
        kind, kids = tree.data, tree.children
        if kind == "number":
            return Piece(self._number(kids[0]), {(): loc})
        if kind == "neg" and isinstance(kids[0], Tree) and kids[0].data == "number":
            number = self._number(kids[0].children[0])
            return Piece(-number if number is not None else None, {(): loc})
        if kind == "name" and str(kids[0]) in ("true", "false", "null"):
            return Piece({"true": True, "false": False, "null": None}[str(kids[0])], {(): loc})
        if kind == "raw":
            text = str(kids[0])[1:-1]
            try:
                parse_expr(text)
            except ExprError as exc:
                column = loc.col + 1 + max((exc.column or 1) - 1, 0)
                self._error(exc.code, str(exc), Loc(self.file, loc.line, column))
            return Piece(text, {(): loc})
        if kind == "list":
            items = [self._value(k) for k in kids if isinstance(k, Tree)]
            locs = {(): loc}
            for i, item in enumerate(items):
                locs.update(_under((i,), item.locs))
            return Piece([item.data for item in items], locs)
        for inner in tree.iter_subtrees():
            if inner.data == "raw":
                self._error("invalid-value", "a value in backticks stands alone: it cannot be part of an expression",
                           self._loc(inner.meta))
                break
        text = self.text[tree.meta.start_pos:tree.meta.end_pos]
        if any(ch in text for ch in "\r\n#"):
            text = _one_line(text)
        return Piece(text, {(): loc})

    def _check_name(self, ident: Ident) -> bool:
        """Is a module, param or block name valid? Reported at the name when not (as the YAML front end does)."""
        if IDENTIFIER.match(ident.name):
            return True
        self._error("invalid-name", f"'{ident.name}' is not a valid name (letters, digits and _; not starting with a "
                    "digit)", ident.loc)
        return False

    def _check_module_name(self, ident: Ident) -> bool:
        """Is a module name one torch accepts (any text but empty, dotted or an nn.Module attribute)?"""
        problem = module_name_problem(ident.name)
        if problem is not None:
            self._error("invalid-name", problem, ident.loc)
        return problem is None

    def _name_piece(self, ident: Ident) -> Piece:
        return Piece(ident.name, {(): ident.loc})

    def _entries(self, children: list, prefix: tuple) -> Piece:
        """The entries among `children`, located under `prefix` (`("items",)`, `("branches",)`...)."""
        data, locs = [], {}
        for i, child in enumerate(c for c in children if isinstance(c, Piece)):
            data.append(child.data)
            locs.update(_under(prefix + (i,), child.locs))
        return Piece(data, locs)

    def _kwargs(self, target: str, pairs: list[tuple[Ident, Piece]], where: tuple, lower: bool = True) -> Piece:
        """`key=value` pairs as {key: value}, keywords lowered for `target`, a key given twice reported."""
        data: dict[str, Any] = {}
        locs: dict[tuple, Loc] = {}
        for ident, piece in pairs:
            key = ident.name if ident.quoted or not lower else canonical_arg(target, ident.name)
            if key in data:
                self._error("duplicate-arg", f"argument '{key}' is given twice", ident.loc)
                continue
            data[key] = piece.data
            locs.update(_under(where + (key,), piece.locs))
            locs[where + (key, "key")] = ident.loc
        return Piece(data, locs)

    # ---- names ----------------------------------------------------------------------------------

    def ident(self, meta, children) -> Ident:
        token = children[0]
        if token.type == "BACKTICK":
            return Ident(str(token)[1:-1], self._loc(token), True)
        return Ident(str(token), self._loc(token), False)

    # ---- entries --------------------------------------------------------------------------------

    def e_kwarg(self, meta, children) -> tuple[Ident, Piece]:
        return children[0], self._value(children[1])

    def _not_keyword(self, ident: Ident) -> None:
        """A keyword the contextual lexer let through as a name (where the keyword cannot stand) needs backticks."""
        if ident.quoted or ident.name not in KEYWORDS:
            return
        place = _CLAUSES.get(ident.name, "")
        self._error("syntax", f"'{ident.name}' is a keyword{place}; to use it as a name, write it in backticks: "
                    f"`{ident.name}`", ident.loc)

    def e_call(self, meta, children) -> Piece:
        ident, arguments = children[0], children[1:]
        self._not_keyword(ident)
        target = ident.name if ident.quoted else canonical_target(ident.name, self.blocks)
        node: dict[str, Any] = {"op": "call", "target": target, "args": [], "kwargs": {}}
        locs: dict[tuple, Loc] = {(): ident.loc}
        pairs = []
        for argument in arguments:
            if isinstance(argument, tuple):
                pairs.append(argument)
                continue
            piece = self._value(argument)
            if pairs:
                self._error("invalid-value", "a positional argument cannot follow a keyword argument; "
                            "name it, or move it before the keyword arguments", piece.locs[()])
            locs.update(_under(("args", len(node["args"])), piece.locs))
            node["args"].append(piece.data)
        keywords = self._kwargs(target, pairs, ("kwargs",))
        node["kwargs"] = keywords.data
        locs.update(keywords.locs)
        return Piece(node, locs)

    def labeled(self, meta, children) -> Piece:
        ident, piece = children
        self._not_keyword(ident)
        self._check_module_name(ident)
        data = dict(piece.data, name=ident.name)
        return Piece(data, {**piece.locs, (): ident.loc})

    def e_seq(self, meta, children) -> Piece:
        items = self._entries(children, ("items",))
        if not items.data:
            self._error("invalid-entry", "an empty list is not a layer; remove it or add entries", self._loc(meta))
        return Piece({"op": "seq", "items": items.data}, {**items.locs, (): self._loc(meta)})

    def _merge(self, op: str, meta, children) -> Piece:
        branches = self._entries(children, ("branches",))
        return Piece({"op": op, "branches": branches.data}, {**branches.locs, (): self._loc(meta)})

    def e_ref(self, meta, children) -> Piece:
        return Piece({"op": "ref", "target": str(children[0])[1:]}, {(): self._loc(children[0])})

    def merge_dim(self, meta, children) -> tuple[str, Piece]:
        ident, piece = children[0]
        if ident.name != "dim":
            self._error("unknown-key", f"concat takes one option, `dim` (the dimension joined), not "
                        f"'{ident.name}': write `concat(dim=2) {{ ... }}`", ident.loc)
        return "dim", piece

    def e_concat(self, meta, children) -> Piece:
        merged = self._merge("concat", meta, children)
        for child in children:
            if isinstance(child, tuple) and child[0] == "dim":
                merged.data["dim"] = child[1].data
                merged.locs.update(_under(("dim",), child[1].locs))
        return merged

    def e_add(self, meta, children) -> Piece:
        return self._merge("add", meta, children)

    def e_mul(self, meta, children) -> Piece:
        return self._merge("mul", meta, children)

    def shortcut_mode(self, meta, children) -> tuple[str, Piece]:
        ident = children[0]
        if ident.name not in SHORTCUT_MODES:
            self._error("invalid-value", f"unknown shortcut '{ident.name}'{did_you_mean(ident.name, SHORTCUT_MODES)}; "
                       f"a shortcut is {', '.join(SHORTCUT_MODES)} or {{ entries }}", ident.loc)
        return "shortcut", Piece(ident.name, {(): ident.loc})

    def shortcut_list(self, meta, children) -> tuple[str, Piece]:
        entries = self._entries(children, ())
        return "shortcut", Piece(entries.data, {**entries.locs, (): self._loc(meta)})

    def shortcut_name(self, meta, children) -> tuple[str, Piece]:
        self._check_module_name(children[0])
        return "shortcut_name", self._name_piece(children[0])

    def after(self, meta, children) -> tuple[str, Piece]:
        return "after", children[0]

    def e_residual(self, meta, children) -> Piece:
        body = self._entries(children, ("body",))
        node: dict[str, Any] = {"op": "residual", "body": body.data}
        locs = {**body.locs, (): self._loc(meta)}
        for key, piece in (c for c in children if isinstance(c, tuple)):
            node[key] = piece.data
            locs.update(_under((key,), piece.locs))
        return Piece(node, locs)

    def first(self, meta, children) -> tuple[str, list]:
        return "first", children

    def names(self, meta, children) -> tuple[str, Piece]:
        return "names", Piece(self._string(children[0]), {(): self._loc(children[0])})

    def _counted(self, op: str, inner: str, meta, children) -> Piece:
        count, *modifiers, body = children
        count = self._value(count)
        node: dict[str, Any] = {"op": op, "count": count.data, inner: body.data}
        locs = {**_under(("count",), count.locs), **_under((inner,), body.locs), (): self._loc(meta)}
        for key, mod in modifiers:
            if key == "names":
                node["names"] = mod.data
                locs.update(_under(("names",), mod.locs))
            else:  # first(...): keywords lowered as the repeated call's own
                target = body.data.get("target", "") if isinstance(body.data, dict) else ""
                first = self._kwargs(target, mod, ("first",))
                node["first"] = first.data
                locs.update(first.locs)
        return Piece(node, locs)

    def e_repeat(self, meta, children) -> Piece:
        return self._counted("repeat", "block", meta, children)

    def e_dense(self, meta, children) -> Piece:
        return self._counted("dense", "layer", meta, children)

    def e_if(self, meta, children) -> Piece:
        cond = self._value(children[0])
        node: dict[str, Any] = {"op": "if", "cond": cond.data, "then": children[1].data}
        locs = {**_under(("cond",), cond.locs), **_under(("then",), children[1].locs), (): self._loc(meta)}
        if len(children) > 2:
            node["else"] = children[2].data
            locs.update(_under(("else",), children[2].locs))
        return Piece(node, locs)

    def _wrap(self, op: str, meta, body: Piece) -> Piece:
        return Piece({"op": op, "body": body.data}, {**_under(("body",), body.locs), (): self._loc(meta)})

    def e_splice(self, meta, children) -> Piece:
        return self._wrap("splice", meta, children[0])

    def e_flat(self, meta, children) -> Piece:
        return self._wrap("flat", meta, children[0])

    def e_output(self, meta, children) -> Piece:
        piece = self._wrap("output", meta, children[-1])
        if len(children) > 1:
            piece.data["train_only"] = True
            piece.locs[("train_only",)] = self._loc(children[0])
        return piece

    def shape_dims(self, meta, children) -> Piece:  # 768x1x1
        token = children[0]
        dims, locs, column = [], {(): self._loc(token)}, token.column
        for i, part in enumerate(str(token).split("x")):
            dims.append(self._number(Token("NUMBER", part, line=token.line, column=column)))
            locs[(i,)] = Loc(self.file, token.line, column)
            column += len(part) + 1
        return Piece(dims, locs)

    def shape_list(self, meta, children) -> Piece:  # [dim, 1, 1]
        items = [self._value(k) for k in children if isinstance(k, Tree)]
        locs = {(): self._loc(meta)}
        for i, item in enumerate(items):
            locs.update(_under((i,), item.locs))
        return Piece([item.data for item in items], locs)

    def shape_expr(self, meta, children) -> Piece:  # (shape_of_the_scale), an expression giving the list
        return self._value(children[0])

    def p_init(self, meta, children) -> Piece:
        return self._value(children[0])

    def e_parameter(self, meta, children) -> Piece:
        shape = children[0]
        node: dict[str, Any] = {"op": "parameter", "shape": shape.data}
        locs = {**_under(("shape",), shape.locs), (): self._loc(meta)}
        if len(children) > 1:
            node["init"] = children[1].data
            locs.update(_under(("init",), children[1].locs))
        return Piece(node, locs)

    # ---- declarations ---------------------------------------------------------------------------

    def network(self, meta, children) -> tuple:
        name = children[0]
        text = self._string(name) if name.type == "DSTRING" else str(name).strip("`")
        description = Piece(self._string(children[1]), {(): self._loc(children[1])}) if len(children) > 1 else None
        return "network", meta, Piece(text, {(): self._loc(name)}), description

    def extends(self, meta, children) -> tuple:
        if len(children) == 1:
            return "extends", meta, Piece(self._string(children[0]), {(): self._loc(children[0])})
        locs = {(): self._loc(children[0]), **{(i,): self._loc(c) for i, c in enumerate(children)}}
        return "extends", meta, Piece([self._string(c) for c in children], locs)

    def input(self, meta, children) -> tuple:
        item = children[0]
        if isinstance(item, Token):  # 3x224x224
            dims, locs, column = [], {(): self._loc(item)}, item.column
            for i, part in enumerate(str(item).split("x")):
                dims.append(self._number(Token("NUMBER", part, line=item.line, column=column)))
                locs[(i,)] = Loc(self.file, item.line, column)
                column += len(part) + 1
            return "input", meta, Piece(dims, locs)
        return "input", meta, self._value(item)

    def param(self, meta, children) -> tuple[Ident, Piece]:
        return children[0], self._value(children[1])

    def params(self, meta, children) -> tuple:
        return "params", meta, children

    def _output_name(self, token: Token) -> str:
        if token.type == "REF":
            return str(token)
        return self._string(token) if token.type == "DSTRING" else str(token).strip("`")

    def output_pair(self, meta, children) -> tuple[Token, Token]:
        return children[0], children[1]

    def outputs(self, meta, children) -> tuple:
        pairs = [c for c in children if isinstance(c, tuple)]
        if pairs and len(pairs) != len(children):
            self._error("syntax", "outputs are either all named (`out = main, aux = $aux`, a dict) or none "
                        "(`main, $aux`, a tuple); name each one, or none", self._loc(meta))
        if pairs:
            data = {self._output_name(k): self._output_name(v) for k, v in pairs}
            locs = {}
            for k, v in pairs:
                locs[(self._output_name(k),)] = self._loc(v)
                locs[(self._output_name(k), "key")] = self._loc(k)
            return "outputs", meta, Piece(data, {**locs, (): self._loc(meta)})
        names = [self._output_name(t) for t in children]
        locs = {(i,): self._loc(t) for i, t in enumerate(children)}
        return "outputs", meta, Piece(names, {**locs, (): self._loc(meta)})

    def block_arg(self, meta, children) -> tuple[Ident, Piece | None]:
        parts = {kind: piece for kind, piece in children[1:]}
        arg = children[0]
        if "choice" in parts:
            arg = Ident(arg.name, arg.loc, arg.quoted, parts["choice"])
        return arg, parts.get("default")

    def arg_choice(self, meta, children) -> tuple[str, Piece]:
        return "choice", self._value(children[0])

    def arg_default(self, meta, children) -> tuple[str, Piece]:
        return "default", self._value(children[0])

    def block_args(self, meta, children) -> list:
        return children

    def block(self, meta, children) -> tuple:
        doc = self._string(children.pop(0)) if isinstance(children[0], Token) else None
        ident, args, body = children[0], (children[1] if len(children) > 2 else []), children[-1]
        data: dict[str, Any] = {"args": [], "body": body.data}
        locs: dict[tuple, Loc] = {(): ident.loc, **_under(("body",), body.locs)}
        seen: set[str] = set()
        for i, (arg, default) in enumerate(args):
            if arg.name in seen:
                self._error("duplicate-key", f"block argument '{arg.name}' is listed twice", arg.loc)
            seen.add(arg.name)
            locs[("args", i)] = arg.loc
            if default is None:
                data["args"].append({"name": arg.name, "required": True})
            else:
                data["args"].append({"name": arg.name, "default": default.data, "required": False})
                locs.update(_under(("args", i, "default"), default.locs))
            choices = arg.choices
            if choices is not None:
                if not isinstance(choices.data, list) or not choices.data:
                    self._error("invalid-value", f"argument '{arg.name}': `in` takes a list of the values it may take",
                                choices.locs[()])
                else:
                    data["args"][-1]["choices"] = choices.data
                    locs.update(_under(("args", i, "choices"), choices.locs))
        if doc is not None:
            data["doc"] = doc
        return "block", meta, ident, Piece(data, locs)

    def function(self, meta, children) -> tuple:
        ident, args, body = children[0], (children[1] if len(children) > 2 else []), self._value(children[-1])
        data: dict[str, Any] = {"args": [], "body": body.data}
        locs: dict[tuple, Loc] = {(): ident.loc, **_under(("body",), body.locs)}
        seen: set[str] = set()
        for i, (arg, default) in enumerate(args):
            if arg.name in seen:
                self._error("duplicate-key", f"parameter '{arg.name}' of function '{ident.name}' is listed twice",
                            arg.loc)
            seen.add(arg.name)
            locs[("args", i)] = arg.loc
            if arg.choices is not None:
                self._error("invalid-value", f"parameter '{arg.name}' of function '{ident.name}': `in [...]` is for "
                            "block arguments; a function checks its values in its body", arg.loc)
            if default is None:
                if any(not a["required"] for a in data["args"]):
                    self._error("bad-expression", f"parameter '{arg.name}' without a default follows one with a "
                                "default; give it a default or move it first", arg.loc)
                data["args"].append({"name": arg.name, "required": True})
            else:
                data["args"].append({"name": arg.name, "default": default.data, "required": False})
                locs.update(_under(("args", i, "default"), default.locs))
        return "function", meta, ident, Piece(data, locs)

    def init_arg(self, meta, children) -> tuple[Ident, Piece]:
        return children[0], self._value(children[1])

    def init_kind(self, meta, children) -> tuple[Ident, Piece]:
        ident = children[0]
        kind = ident.name if ident.quoted else canonical_target(ident.name)
        return Ident(kind, ident.loc, ident.quoted), self._kwargs(kind, children[1:], (), lower=False)

    def init(self, meta, children) -> tuple:
        return "init", meta, children

    def line(self, meta, children) -> tuple:
        return "line", meta, children

    # ---- the whole spec -------------------------------------------------------------------------

    def start(self, meta, children) -> Piece:
        spec: dict[str, Any] = {"name": self.default_name}
        first_loc = self._loc(children[0][1]) if children else Loc(self.file, 1, 1)
        locs: dict[tuple, Loc] = {(): first_loc, ("name",): first_loc}
        seen: dict[str, Loc] = {}
        layers: list = []
        params: dict[str, Any] = {}
        blocks: dict[str, Any] = {}
        init: dict[str, Any] = {}
        functions: dict[str, Any] = {}

        def once(what: str, meta) -> bool:
            if what in seen:
                self._error("duplicate-key", f"`{what}` is given twice (first at line {seen[what].line})", self._loc(meta))
                return False
            seen[what] = self._loc(meta)
            return True

        for statement in children:
            kind, smeta, *rest = statement
            if kind == "network" and once("network", smeta):
                name, description = rest
                spec["name"] = name.data
                locs[("name",)] = name.locs[()]
                if description is not None:
                    spec["description"] = description.data
                    locs[("description",)] = description.locs[()]
            elif kind in ("extends", "input", "outputs") and once(kind, smeta):
                spec[kind] = rest[0].data
                locs.update(_under((kind,), rest[0].locs))
            elif kind == "params":
                for ident, piece in rest[0]:
                    if not self._check_name(ident):
                        continue
                    if ident.name in params:
                        self._error("duplicate-key", f"param '{ident.name}' is defined twice", ident.loc)
                        continue
                    params[ident.name] = piece.data
                    locs.update(_under(("params", ident.name), piece.locs))
                    locs[("params", ident.name)] = ident.loc
            elif kind == "block":
                ident, piece = rest
                if not self._check_name(ident):
                    continue
                if ident.name in REGISTRY:
                    self._error("invalid-name", f"block '{ident.name}' has the name of a layer kind, so calls to it "
                                "would be ambiguous; rename the block", ident.loc)
                    continue
                if ident.name in blocks:
                    self._error("duplicate-key", f"block '{ident.name}' is defined twice", ident.loc)
                    continue
                blocks[ident.name] = piece.data
                locs.update(_under(("blocks", ident.name), piece.locs))
            elif kind == "function":
                ident, piece = rest
                if not self._check_name(ident):
                    continue
                if ident.name in FUNCTIONS:
                    self._error("invalid-name", f"'{ident.name}' is a built-in function; give the spec's function "
                                "another name", ident.loc)
                    continue
                if ident.name in functions:
                    self._error("duplicate-key", f"function '{ident.name}' is defined twice", ident.loc)
                    continue
                functions[ident.name] = piece.data
                locs.update(_under(("functions", ident.name), piece.locs))
            elif kind == "init":
                for ident, table in rest[0]:
                    if ident.name in init:
                        self._error("duplicate-key", f"init for '{ident.name}' is given twice; "
                                   "put all its tensors in one init", ident.loc)
                        continue
                    init[ident.name] = table.data
                    locs.update(_under(("init", ident.name), table.locs))
                    locs[("init", ident.name)] = ident.loc
            elif kind == "line":
                for piece in rest[0]:
                    locs.update(_under(("layers", len(layers)), piece.locs))
                    layers.append(piece.data)
        if "extends" not in spec:
            if "input" not in spec:
                self._error("missing-key", "a spec needs `input`, e.g. `input 3x224x224` (or `extends` naming "
                           "a spec that has it)", first_loc)
            if not layers:
                self._error("missing-key", "a spec needs layers: write its entries, e.g. `conv2d(64, 3) relu` "
                           "(or `extends` naming a spec that has them)", first_loc)
        for key, value in (("params", params), ("functions", functions), ("blocks", blocks), ("layers", layers),
                           ("init", init)):
            if value:
                spec[key] = value
        return Piece(spec, locs)


# ---- syntax errors -----------------------------------------------------------------------------

_CLAUSES = {  # where a clause keyword belongs, for the message when it stands alone
    "shortcut": " that continues `residual { ... }` on the line of its `}`",
    "as": " that continues `residual { ... }` on the line of its `}`",
    "after": " that continues `residual { ... }` on the line of its `}`",
    "first": " that goes between `repeat N` and the entry repeated",
    "names": " that goes between `repeat N` (or `dense N`) and the entry repeated",
    "then": " of `if COND then ENTRY`",
    "else": " of `if COND then ENTRY else ENTRY`",
    "train_only": " that follows `output`",
}

_DESCRIBED = {
    "NAME": "a name", "NUMBER": "a number", "STRING": "a string", "DSTRING": 'a "string"',
    "BACKTICK": "a name or value in backticks", "REF": "a reference such as $enc", "DIMS": "a shape such as 3x224x224", "_NL": "a line break",
    "COMP_OP": "a comparison", "ADD_OP": "'+' or '-'", "MUL_OP": "'*', '/', '//' or '%'", "_POW": "'**'",
    "$END": "the end of the file",
}
_ENTRY = {"NAME", "BACKTICK", "LSQB", "CONCAT", "ADD", "MUL", "RESIDUAL", "REPEAT", "DENSE", "IF", "SPLICE", "OUTPUT", "FLAT",
          "PARAMETER"}
_VALUE = {"NAME", "NUMBER", "STRING", "BACKTICK", "LSQB", "LPAR", "LBRACE", "MINUS", "PLUS", "NOT", "REF"}
_DECLARATION = {"NETWORK", "EXTENDS", "INPUT", "PARAM", "OUTPUTS", "FUNCTION", "BLOCK", "INIT", "DSTRING"}
_CONTINUATION = {"ADD_OP", "MUL_OP", "COMP_OP", "_POW", "MINUS", "PLUS", "IF", "OR", "AND", "IN", "NOT", "FOR", "LSQB", "LPAR"}
_ORDER = ["RPAR", "RSQB", "RBRACE", "COMMA", "COLON", "EQUAL", "_NL", "SEMICOLON", "$END"]


def _terminal_text(name: str) -> str:
    if name in _DESCRIBED:
        return _DESCRIBED[name]
    try:
        pattern = _parser().get_terminal(name).pattern
    except KeyError:
        return name.lower()
    return f"'{pattern.value}'" if pattern.type == "str" else name.lower()


def _expected(names: set[str]) -> str:
    """Terminal names as a person reads them: "')' or ','", "an entry or ']'"."""
    names = set(names)
    groups = []
    if _ENTRY <= names:
        groups.append("a declaration or an entry" if _DECLARATION <= names else "an entry")
        names -= _ENTRY | {"REF"} | (_DECLARATION if _DECLARATION <= names else set())  # a reference is an entry
    elif {"NAME", "NUMBER"} <= names:  # where a number and a name both fit, any value does
        groups.append("a value")
        names -= _VALUE
    if "NAME" in names:
        names.discard("BACKTICK")  # a name may always be written in backticks; saying so each time is noise
    if names - _CONTINUATION or groups:
        names -= _CONTINUATION  # `+`, `[` and friends could continue an expression, but are rarely what was meant
    rest = sorted(names, key=lambda n: (_ORDER.index(n) if n in _ORDER else len(_ORDER), _terminal_text(n)))
    words = list(dict.fromkeys(groups + [_terminal_text(n) for n in rest]))
    if not words:
        return ""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _scan(text: str, end: int) -> tuple[list[tuple[str, int]], int]:
    """Brackets still open at `end` (innermost last, with their offsets), and where the statement there began."""
    stack: list[tuple[str, int]] = []
    statement = 0
    i = 0
    closer = {")": "(", "]": "[", "}": "{"}
    while i < end:
        ch = text[i]
        if ch == "#":
            while i < end and text[i] != "\n":
                i += 1
            continue
        if ch in "\"'`":
            j = i + 1
            while j < end and text[j] != ch and text[j] != "\n":
                j += 2 if ch == '"' and text[j] == "\\" else 1
            i = j + 1
            continue
        if ch in "([{":
            stack.append((ch, i))
        elif ch in ")]}" and stack and stack[-1][0] == closer[ch]:
            stack.pop()
        elif (ch == "\n" or ch == ";") and not stack:
            statement = i + 1
        i += 1
    return stack, statement


def _position(text: str, offset: int, file: str) -> Loc:
    line = text.count("\n", 0, offset) + 1
    return Loc(file, line, offset - (text.rfind("\n", 0, offset) + 1) + 1)


def _end_of_text(text: str, file: str) -> Loc:
    """Where the file ends, as a caret can show it: just after the last character that is not blank."""
    stripped = text.rstrip()
    return _position(text, len(stripped), file) if stripped else Loc(file, 1, 1)


def _token_text(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    if token.type == "_NL":
        return "end of line"
    shown = str(token)
    return f"'{shown if len(shown) <= 24 else shown[:21] + '...'}'"


def syntax_error(exc: UnexpectedInput, text: str, file: str) -> Diagnostic:
    """A lark parse failure as a located `syntax` diagnostic that says what could stand there instead."""
    offset = exc.pos_in_stream if exc.pos_in_stream is not None else len(text)
    parser = getattr(exc, "interactive_parser", None)
    accepts = parser.accepts() if parser is not None else (getattr(exc, "allowed", None) or exc.expected or set())
    if isinstance(exc, UnexpectedCharacters):
        char = text[offset] if offset < len(text) else ""
        shown = f"'{char}'" if char.isprintable() and char else f"U+{ord(char):04X}" if char else "end of file"
        expected = _expected(accepts)
        message = f"unexpected character {shown}" + (f"; expected {expected}" if expected else "")
        if char.isnumeric():  # '৪', '８': digits of other scripts are not numbers here
            message += " (numbers are written with the ASCII digits 0-9)"
        return Diagnostic("syntax", message, "", Loc(file, exc.line, exc.column))
    token = getattr(exc, "token", None)
    at_end = token is None or token.type == "$END" or (token.type == "_NL" and not text[token.end_pos:].strip())
    if at_end:
        offset = len(text)
    open_brackets, statement = _scan(text, offset)
    expected = _expected(accepts)
    if at_end and open_brackets:
        char, where = open_brackets[-1]
        closing = {"(": ")", "[": "]", "{": "}"}[char]
        return Diagnostic("syntax", f"unclosed '{char}': the file ends before its '{closing}'", "",
                          _position(text, where, file))
    loc = _end_of_text(text, file) if at_end else Loc(file, exc.line, exc.column)
    word = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*$", text[statement:offset])
    if not at_end and token is not None and token.type == "LBRACE" and word:
        from .validate import misspelt_structure

        near = misspelt_structure(word.group(1))
        if near is not None:  # `concatt { ... }`, `mull { ... }`: a structure keyword misspelt
            start = statement + word.start(1)
            return Diagnostic("unknown-structure", f"'{word.group(1)}' is not a structure keyword "
                              f"(did you mean '{near}'?); write `{near} {{ ... }}`", "", _position(text, start, file))
    message = f"unexpected {_token_text(token) if token is not None and not at_end else 'end of file'}"
    if expected:
        message += f"; expected {expected}"
    message += _hint(text, offset, statement, token, open_brackets)
    return Diagnostic("syntax", message, "", loc)


def _hint(text: str, offset: int, statement: int, token: Token | None, open_brackets: list) -> str:
    before = text[statement:offset]
    word = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*$", before)
    kind = token.type if token is not None else "$END"
    if word and word.group(1) in KEYWORDS and kind in ("COLON", "LPAR", "EQUAL", "COMMA"):
        name = word.group(1)
        return f" ('{name}' is a keyword; to use it as a name, write it in backticks: `{name}`)"
    if re.search(r"\b(repeat|dense)\s+[^\s(\[{]+\s*$", before) and kind in _CONTINUATION | {"MINUS", "PLUS"}:
        return " (a count that is more than a number or a name goes in parentheses: `repeat (n * 2) ...`)"
    if kind == "NAME" and token is not None and str(token) not in KEYWORDS:
        near = did_you_mean(str(token), _CLAUSES)
        if near:  # `residual { ... } shortcutt auto`: a clause keyword misspelt
            return f"{near[:-1]} an entry's clauses are {', '.join(_CLAUSES)})"
    closes = {"RPAR": "(", "RSQB": "[", "RBRACE": "{"}
    if kind in closes and open_brackets and open_brackets[-1][0] != closes[kind]:
        char, where = open_brackets[-1]
        line = text.count("\n", 0, where) + 1
        return f" (the '{char}' on line {line} is still open)"
    if not open_brackets and kind in _ENTRY and re.match(r'\s*("|block\b)', text[statement:]) and "=" in before:
        return " (a block's body is one entry: put several in [ ])"
    return ""


# ---- entry point ---------------------------------------------------------------------------------


def _deepest(tree: Tree) -> tuple[int, Tree]:
    """The depth of the parse tree and its deepest node, found without recursion."""
    best = (0, tree)
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > best[0]:
            best = (depth, node)
        stack.extend((kid, depth + 1) for kid in node.children if isinstance(kid, Tree))
    return best


def _check_tokens(text: str, file: str, sources: dict[str, str]) -> None:
    """Refuse a text of more than MAX_TOKENS tokens (comments not counted), at the first token over."""
    count = 0
    max_tokens = budgets.current().cap(MAX_TOKENS, budgets.TOKENS_PER_NODE)
    for match in _TOKEN.finditer(text):
        if match.group().startswith("#"):
            continue
        count += 1
        if count > max_tokens:
            line = text.count("\n", 0, match.start()) + 1
            column = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
            raise SpecError([Diagnostic("too-large", f"the spec has more than {max_tokens:,} tokens (names, numbers "
                                        "and symbols); a network this large is written with blocks and repeat "
                                        "(or a larger --max-nodes / max_nodes= raises this limit)", "",
                                        Loc(file, line, column))], sources)


def parse_ns(text: str, file: str = "<string>", default_name: str = "network") -> ParsedSpec:
    """.ns text -> ParsedSpec. Raises SpecError listing every problem found (a syntax error stops at the first)."""
    text = text[1:] if text.startswith("\ufeff") else text
    sources = {file: text}
    size = len(text.encode("utf-8", errors="replace"))
    max_bytes = budgets.current().bytes(MAX_BYTES)
    if size > max_bytes:
        raise SpecError([Diagnostic("file-too-large", f"spec is {size:,} bytes; the limit is {max_bytes:,} bytes "
                                    "(raise it with --max-bytes / max_bytes=)",
                                    "", Loc(file, 1, 1))], sources)
    _check_tokens(text, file, sources)
    try:
        tree = _parser().parse(text, start="start")
    except UnexpectedInput as exc:
        raise SpecError([syntax_error(exc, text, file)], sources) from None
    depth, deepest = _deepest(tree)
    if depth > MAX_NESTING:
        where = Loc(file, deepest.meta.line, deepest.meta.column) if not deepest.meta.empty else Loc(file, 1, 1)
        raise SpecError([Diagnostic("too-deep", f"nesting deeper than {MAX_NESTING} levels", "", where)], sources)
    errors = Collector(sources=sources)
    blocks = {str(next(c for c in b.children if isinstance(c, Tree)).children[0]).strip("`")
              for b in tree.find_data("block")}
    try:
        lowered = _Lower(text, file, errors, blocks, default_name).transform(tree)
    except VisitError as exc:  # a bug in the lowering, not in the spec: let it surface as itself
        raise exc.orig_exc from None
    errors.raise_if_any()
    locations = Locations(sources=sources)
    for path, loc in lowered.locs.items():
        locations.table[path] = Located(loc, _shown(path, lowered.data))
    try:
        spec = Spec.model_validate(lowered.data)
    except ValidationError as exc:
        report_pydantic_errors(exc, locations, errors, file)
        errors.raise_if_any()
        raise AssertionError("pydantic failed without errors") from None
    return ParsedSpec(spec, locations, text, file, "ns")


def _shown(path: tuple, data: Any) -> str:
    """An IR path as a person names it: entry names where entries have them (`body.inception3a.branch2`)."""
    parts: list[str] = []
    node = data
    for segment in path:
        child = None
        if isinstance(node, dict):
            child = node.get(segment)
        elif isinstance(node, list) and isinstance(segment, int) and 0 <= segment < len(node):
            child = node[segment]
        if segment in ("items", "branches") and isinstance(child, list):
            node = child
            continue
        name = child.get("name") if isinstance(child, dict) and isinstance(segment, int) else None
        parts.append(str(name if name else segment))
        node = child
    return ".".join(parts)


def read_value(text: str) -> Any:
    """How `text`, written where a value goes, reads back (the printer checks its output with this);
    a private sentinel when it does not read as one value."""
    return _read_one(text, "value_start")


def read_count(text: str) -> Any:
    """How `text`, written as a repeat or dense count, reads back."""
    return _read_one(text, "count_start")


_NOTHING = object()


@lru_cache(maxsize=4096)
def _read_one(text: str, start: str) -> Any:
    try:
        tree = _parser().parse(text, start=start)
    except UnexpectedInput:
        return _NOTHING
    errors = Collector()
    piece = _Lower(text, "<value>", errors, set(), "")._value(tree.children[0])
    return _NOTHING if errors.items else piece.data


def has_comments(text: str) -> bool:
    """Does .ns text hold a comment (a `#` outside strings and backticks)?"""
    i, quote = 0, None
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 1
            elif ch == quote or ch == "\n":
                quote = None
        elif ch in "\"'`":
            quote = ch
        elif ch == "#":
            return True
        i += 1
    return False
