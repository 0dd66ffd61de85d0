"""Spec expressions read without lark: netspec's own parse trees (Tree, Token) and a hand-written parser of
netspec/ir/expr.grammar.lark that builds, for every text it accepts, the very tree lark's LALR parser builds.

The parser is precedence climbing over a token list: `a if b else c` (right-nested), `or`, `and`, `not`, one
comparison (`==` ... `>`, `in`, `not in`; never a chain), `+ -`, `* / // %`, unary `- +`, `**` (right of it a
unary), subscripts and slices, and the atoms: numbers, strings, names, `$refs`, calls (`key=` arguments
included), lists, tuples (read as lists), dicts and their comprehensions. Positions are lark's too: a node
spans from its first to its last child, where a child in brackets counts with its brackets (lark's
`container_*` fields), and tokens keep their own offsets.

Keywords are read as lark's contextual lexer reads them: a keyword where only a name can stand is a name
(`f(in=in_channels)`, `[x for in in xs]`, `a == not`), and `not` opens a `not` where a not_test may start.

It refuses (returns None, and the caller asks lark, which then parses or reports exactly as it always has)
anything it does not read with certainty: a character outside the grammar, a word that runs into a keyword
after an operand (`a ifb else c`, `x inxs`, which lark splits), nesting deeper than MAX_NESTING brackets, and
every syntax error.
tests/test_expr_parse.py compares its trees with lark's on the grammar fuzzer's texts, on mutations of them
and on every expression of the bundled specs.

Trees and tokens of lark's making (the .ns front end's, and the expression fallback's) are read by the same
duck type: a token is a str with `type` and positions, a tree has `data`, `children` and `meta`."""

from __future__ import annotations

import re
from typing import Any, Iterator

MAX_NESTING = 40  # brackets (and `**`) nested deeper than this are left to lark (each level is ~10 Python frames)


class _Columns:
    """lark's 1-based columns of a one-line span, from its 0-based offsets `start_pos` and `end_pos`."""

    __slots__ = ()

    @property
    def column(self) -> int:
        return self.start_pos + 1  # type: ignore[attr-defined]

    @property
    def end_column(self) -> int:
        return self.end_pos + 1  # type: ignore[attr-defined]


class Token(_Columns, str):
    """A token of an expression (a str of its text) with its kind (`type`) and its offsets in the text. An
    expression is one line, so `line` is 1 and the columns are the offsets plus 1."""

    __slots__ = ("type", "start_pos", "end_pos")
    line = end_line = 1

    def __new__(cls, kind: str, value: str, start: int, end: int) -> "Token":
        token = str.__new__(cls, value)
        token.type, token.start_pos, token.end_pos = kind, start, end
        return token

    @property
    def value(self) -> str:
        return str(self)

    def __eq__(self, other: object) -> bool:  # as lark's: tokens of different kinds differ
        if isinstance(other, str) and hasattr(other, "type") and self.type != other.type:
            return False
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = str.__hash__

    def __repr__(self) -> str:
        return f"Token({self.type!r}, {str(self)!r})"

    def __reduce__(self):
        return Token, (self.type, str(self), self.start_pos, self.end_pos)


class Tree(_Columns):
    """A node of an expression: its rule (`data`) and its children (trees and tokens). It is its own `meta`:
    `start_pos`/`end_pos` are where it starts and ends, `container_*` include the brackets written around
    it, and lines are all 1."""

    __slots__ = ("data", "children", "start_pos", "end_pos", "container_start_pos", "container_end_pos",
                 "_netspec_code")
    line = end_line = container_line = container_end_line = 1
    empty = False

    def __init__(self, data: str, children: list, start: int, end: int):
        self.data = data
        self.children = children
        self.start_pos = self.container_start_pos = start
        self.end_pos = self.container_end_pos = end

    @property
    def meta(self) -> "Tree":
        return self

    @property
    def container_column(self) -> int:
        return self.container_start_pos + 1

    @property
    def container_end_column(self) -> int:
        return self.container_end_pos + 1

    def __eq__(self, other: object) -> bool:  # as lark's: same rule, equal children
        try:
            return self.data == other.data and self.children == other.children  # type: ignore[attr-defined]
        except AttributeError:
            return False

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((self.data, tuple(self.children)))

    def __repr__(self) -> str:
        return f"Tree({self.data!r}, {self.children!r})"

    def iter_subtrees(self) -> Iterator["Tree"]:
        """Every subtree, in the order lark's Tree.iter_subtrees gives them (children before parents)."""
        queue = [self]
        for subtree in queue:
            queue += [c for c in reversed(subtree.children) if isinstance(c, Tree)]
        return reversed(queue)


def from_lark(node: Any) -> Any:
    """lark's tree or token of an expression as netspec's (called on a tree at most MAX_DEPTH deep)."""
    if isinstance(node, str):
        return Token(node.type, str(node), node.start_pos, node.end_pos)  # type: ignore[attr-defined]
    meta = node.meta
    tree = Tree(node.data, [from_lark(k) for k in node.children if k is not None], meta.start_pos, meta.end_pos)
    tree.container_start_pos, tree.container_end_pos = meta.container_start_pos, meta.container_end_pos
    return tree


# ---- the tokens ---------------------------------------------------------------------------------------------
# The terminals of expr.grammar.lark, blanks (space, tab) skipped. The longer operators come first, as lark
# tries them (`**` has priority, `==` before `=`, `//` before `/`, `<=` before `<`).

_LEXEME = re.compile(
    r"[ \t]*(?:"
    r"([A-Za-z_][A-Za-z0-9_]*)"  # 1: a name or a keyword
    r"|((?:[0-9][0-9_]*\.?[0-9_]*|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?)"  # 2: NUMBER
    r"|('[^'\\\n]*'|\"[^\"\\\n]*\")"  # 3: STRING
    r"|(\$[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)"  # 4: REF
    r"|(\*\*|==|!=|<=|>=|//|[-+*/%<>=()\[\]{},:])"  # 5: an operator or a bracket
    r")")
_BLANKS = re.compile(r"[ \t]*\Z")
_KEYWORDS = frozenset(("if", "else", "or", "and", "not", "in", "for"))
_GROUP_KIND = (None, "NAME", "NUMBER", "STRING", "REF", None)
_COMP = frozenset(("==", "!=", "<=", ">=", "<", ">"))
_MUL = frozenset(("*", "/", "//", "%"))
_END = "$END"
# binary operators: binding level (or 1, and 2, comparisons 4, + - 5, * / // % 6); `not` (3) is a prefix
_LEVEL = {"or": 1, "and": 2, "==": 4, "!=": 4, "<=": 4, ">=": 4, "<": 4, ">": 4, "in": 4, "not": 4,
          "+": 5, "-": 5, "*": 6, "/": 6, "//": 6, "%": 6}
_BINOP_TOKEN = {"+": "ADD_OP", "-": "ADD_OP", "*": "MUL_OP", "/": "MUL_OP", "//": "MUL_OP", "%": "MUL_OP"}


class _Refuse(Exception):
    """Not read here: lark's."""


def _lex(text: str) -> tuple[list, list, list] | None:
    kinds: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos, size = 0, len(text)
    match = _LEXEME.match
    while pos < size:
        found = match(text, pos)
        if found is None:
            if _BLANKS.match(text, pos) is None:
                return None
            break
        group = found.lastindex
        kind = _GROUP_KIND[group]
        if kind is None:
            kind = found.group(5)
        elif group == 1:
            word = found.group(1)
            if word in _KEYWORDS:
                kind = word
        starts.append(found.start(group))
        pos = found.end()
        ends.append(pos)
        kinds.append(kind)
    kinds += (_END, _END)
    starts += (size, size)
    ends += (size, size)
    return kinds, starts, ends


# ---- the parser ---------------------------------------------------------------------------------------------

class _Reader:
    __slots__ = ("text", "kinds", "starts", "ends", "at", "nesting")

    def __init__(self, text: str, kinds: list, starts: list, ends: list):
        self.text, self.kinds, self.starts, self.ends = text, kinds, starts, ends
        self.at = 0
        self.nesting = 0

    def token(self, kind: str, i: int) -> Token:
        start, end = self.starts[i], self.ends[i]
        return Token(kind, self.text[start:end], start, end)

    def expect(self, kind: str) -> int:
        """The end offset of the token `kind` standing here (stepped over)."""
        at = self.at
        if self.kinds[at] != kind:
            raise _Refuse
        self.at = at + 1
        return self.ends[at]

    def enter(self) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise _Refuse

    # cond: or_test ["if" or_test "else" cond]
    def cond(self) -> Tree:
        then = self.test(1)
        kinds = self.kinds
        if kinds[self.at] != "if":
            return then
        pairs = []
        while True:
            self.at += 1
            condition = self.test(1)
            self.expect("else")
            pairs.append((then, condition))
            then = self.test(1)
            if kinds[self.at] != "if":
                break
        node = then
        for value, condition in reversed(pairs):
            node = Tree("ifelse", [value, condition, node], value.container_start_pos, node.container_end_pos)
        return node

    def test(self, level: int) -> Tree:
        """An expression whose operators bind at `level` or tighter (1: or_test, 3: not_test, 5: sum...)."""
        kinds = self.kinds
        if level <= 3 and kinds[self.at] == "not":
            nots = []
            while kinds[self.at] == "not":
                nots.append(self.starts[self.at])
                self.at += 1
            node = self.test(4)
            for start in reversed(nots):
                node = Tree("not_", [node], start, node.container_end_pos)
        else:
            node = self.unary()
        while True:
            at = self.at
            kind = kinds[at]
            op = _LEVEL.get(kind)
            if op is None or op < level:
                return node
            if op == 4:
                if kind == "not":
                    if kinds[at + 1] != "in":
                        return node
                    self.at = at + 2
                    right = self.test(5)
                    node = Tree("not_contains", [node, right], node.container_start_pos, right.container_end_pos)
                elif kind == "in":
                    self.at = at + 1
                    right = self.test(5)
                    node = Tree("contains", [node, right], node.container_start_pos, right.container_end_pos)
                else:
                    operator = self.token("COMP_OP", at)
                    self.at = at + 1
                    right = self.test(5)
                    node = Tree("compare", [node, operator, right], node.container_start_pos,
                                right.container_end_pos)
                if _LEVEL.get(kinds[self.at]) == 4:  # a comparison chain: not in the grammar
                    raise _Refuse
            elif op <= 2:
                self.at = at + 1
                right = self.test(op + 1)
                node = Tree("or_" if op == 1 else "and_", [node, right], node.container_start_pos,
                            right.container_end_pos)
            else:
                operator = self.token(_BINOP_TOKEN[kind], at)
                self.at = at + 1
                right = self.test(op + 1)
                node = Tree("binop", [node, operator, right], node.container_start_pos, right.container_end_pos)

    # unary: ("-" | "+")* primary ["**" unary];  primary: atom ("[" subscript "]")*
    def unary(self) -> Tree:
        kinds = self.kinds
        kind = kinds[self.at]
        signs = None
        if kind == "-" or kind == "+":
            signs = []
            while kind == "-" or kind == "+":
                signs.append((kind, self.starts[self.at]))
                self.at += 1
                kind = kinds[self.at]
        node = self.atom()
        while kinds[self.at] == "[":
            node = self.subscript(node)
        if kinds[self.at] == "**":
            self.at += 1
            self.enter()
            right = self.unary()
            self.nesting -= 1
            node = Tree("pow", [node, right], node.container_start_pos, right.container_end_pos)
        if signs is not None:
            for kind, start in reversed(signs):
                node = Tree("neg" if kind == "-" else "pos", [node], start, node.container_end_pos)
        return node

    def subscript(self, node: Tree) -> Tree:
        kinds = self.kinds
        self.at += 1
        self.enter()
        parts = [node]
        if kinds[self.at] != ":":
            low = self.cond()
            if kinds[self.at] == "]":
                end = self.ends[self.at]
                self.at += 1
                self.nesting -= 1
                return Tree("index", [node, low], node.container_start_pos, end)
            parts.append(Tree("s_lo", [low], low.container_start_pos, low.container_end_pos))
        self.expect(":")
        if kinds[self.at] != ":" and kinds[self.at] != "]":
            high = self.cond()
            parts.append(Tree("s_hi", [high], high.container_start_pos, high.container_end_pos))
        if kinds[self.at] == ":":
            self.at += 1
            if kinds[self.at] != "]":
                step = self.cond()
                parts.append(Tree("s_step", [step], step.container_start_pos, step.container_end_pos))
        end = self.expect("]")
        self.nesting -= 1
        return Tree("slice", parts, node.container_start_pos, end)

    def atom(self) -> Tree:
        at = self.at
        kind = self.kinds[at]
        if kind == "NAME" or kind in _KEYWORDS:  # where an operand starts, lark reads a keyword as a name
            if self.kinds[at + 1] == "(":
                return self.call()
            self.at = at + 1
            return Tree("name", [self.token("NAME", at)], self.starts[at], self.ends[at])
        if kind == "NUMBER" or kind == "STRING" or kind == "REF":
            self.at = at + 1
            return Tree(kind.lower(), [self.token(kind, at)], self.starts[at], self.ends[at])
        if kind == "(":
            return self.parenthesised()
        if kind == "[":
            return self.list()
        if kind == "{":
            return self.dict()
        raise _Refuse

    def call(self) -> Tree:
        kinds = self.kinds
        first = self.at
        name = self.token("NAME", first)
        self.at = first + 2
        self.enter()
        if kinds[self.at] == ")":
            end = self.ends[self.at]
            self.at += 1
            self.nesting -= 1
            return Tree("call", [name], self.starts[first], end)
        args = []
        while True:
            at = self.at
            if kinds[at + 1] == "=" and (kinds[at] == "NAME" or kinds[at] in _KEYWORDS and kinds[at] != "not"):
                key = self.token("NAME", at)
                self.at = at + 2
                value = self.cond()
                args.append(Tree("kwarg", [key, value], key.start_pos, value.container_end_pos))
            else:
                args.append(self.cond())
            at = self.at
            if kinds[at] == ",":
                last = self.ends[at]
                self.at = at + 1
                if kinds[at + 1] == ")":
                    break
            elif kinds[at] == ")":
                last = args[-1].container_end_pos
                break
            else:
                raise _Refuse
        end = self.expect(")")
        self.nesting -= 1
        arguments = Tree("arguments", args, args[0].container_start_pos, last)
        return Tree("call", [name, arguments], self.starts[first], end)

    def items(self, first: Tree, close: str) -> list:
        """`first` and the items after it, each after a comma, up to `close` (a trailing comma allowed)."""
        kinds = self.kinds
        items = [first]
        while kinds[self.at] == ",":
            self.at += 1
            if kinds[self.at] == close:
                break
            items.append(self.cond())
        return items

    def parenthesised(self) -> Tree:
        start = self.starts[self.at]
        self.at += 1
        self.enter()
        inner = self.cond()
        if self.kinds[self.at] == ")":  # `(expr)`: the expression itself, its container the brackets
            inner.container_start_pos, inner.container_end_pos = start, self.ends[self.at]
            self.at += 1
            self.nesting -= 1
            return inner
        if self.kinds[self.at] != ",":
            raise _Refuse
        items = self.items(inner, ")")
        end = self.expect(")")
        self.nesting -= 1
        return Tree("list", items, start, end)

    def list(self) -> Tree:
        start = self.starts[self.at]
        self.at += 1
        self.enter()
        if self.kinds[self.at] == "]":
            end = self.ends[self.at]
            self.at += 1
            self.nesting -= 1
            return Tree("list", [], start, end)
        first = self.cond()
        if self.kinds[self.at] == "for":
            kids = [first, *self.comprehension()]
            data = "list_comp"
        else:
            kids = self.items(first, "]")
            data = "list"
        end = self.expect("]")
        self.nesting -= 1
        return Tree(data, kids, start, end)

    def dict(self) -> Tree:
        kinds = self.kinds
        start = self.starts[self.at]
        self.at += 1
        self.enter()
        if kinds[self.at] == "}":
            end = self.ends[self.at]
            self.at += 1
            self.nesting -= 1
            return Tree("dict", [], start, end)
        key = self.cond()
        self.expect(":")
        value = self.cond()
        if kinds[self.at] == "for":
            kids = [key, value, *self.comprehension()]
            end = self.expect("}")
            self.nesting -= 1
            return Tree("dict_comp", kids, start, end)
        pairs = [Tree("pair", [key, value], key.container_start_pos, value.container_end_pos)]
        while kinds[self.at] == ",":
            self.at += 1
            if kinds[self.at] == "}":
                break
            key = self.cond()
            self.expect(":")
            value = self.cond()
            pairs.append(Tree("pair", [key, value], key.container_start_pos, value.container_end_pos))
        end = self.expect("}")
        self.nesting -= 1
        return Tree("dict", pairs, start, end)

    # comp_for: "for" targets "in" or_test ("if" or_test)*
    def comprehension(self) -> list:
        kinds = self.kinds
        clauses = []
        while kinds[self.at] == "for":
            start = self.starts[self.at]
            self.at += 1
            targets = self.targets()
            self.expect("in")
            source = self.test(1)
            kids = [targets, source]
            end = source.container_end_pos
            while kinds[self.at] == "if":
                if_at = self.starts[self.at]
                self.at += 1
                condition = self.test(1)
                end = condition.container_end_pos
                kids.append(Tree("comp_if", [condition], if_at, end))
            clauses.append(Tree("comp_for", kids, start, end))
        return clauses

    def name(self) -> Token:
        at = self.at
        if self.kinds[at] != "NAME" and self.kinds[at] not in _KEYWORDS:  # a target: lark reads a keyword as a name
            raise _Refuse
        self.at = at + 1
        return self.token("NAME", at)

    def targets(self) -> Tree:
        kinds = self.kinds
        if kinds[self.at] == "(":
            start = self.starts[self.at]
            self.at += 1
            names = [self.name()]
            while kinds[self.at] == ",":
                self.at += 1
                if kinds[self.at] == ")":
                    break
                names.append(self.name())
            end = self.expect(")")
            return Tree("targets", names, start, end)
        names = [self.name()]
        end = names[0].end_pos
        while kinds[self.at] == ",":
            end = self.ends[self.at]
            self.at += 1
            if kinds[self.at] == "in" or kinds[self.at] != "NAME" and kinds[self.at] not in _KEYWORDS:
                break  # `for x, in xs`: after the comma, `in` is the keyword
            names.append(self.name())
            end = names[-1].end_pos
        return Tree("targets", names, names[0].start_pos, end)


def read(text: str) -> Tree | None:
    """The tree lark builds for the expression `text`, or None where this parser leaves it to lark (see above)."""
    lexed = _lex(text)
    if lexed is None:
        return None
    reader = _Reader(text, *lexed)
    try:
        tree = reader.cond()
    except (_Refuse, RecursionError):
        return None
    if reader.kinds[reader.at] != _END:
        return None
    return tree


# The .ns reader (frontends/ns_read.py) runs this parser over the tokens of whole statements, lexed with the same
# kinds (its `at` set where an expression starts, `cond()` or `atom()` called); Refused is its "lark's" signal.
ExpressionReader = _Reader
Refused = _Refuse
