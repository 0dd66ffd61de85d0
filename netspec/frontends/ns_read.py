"""The .ns reader: a hand-written recursive-descent parser of the whole ns.lark grammar, which builds for the
statements it reads the trees lark's LALR parser builds (the same rules, children and positions), so that the
lowering (ns_lower.py) cannot tell them apart and a valid .ns file is read without importing lark.

Its trees are Tree and Token below (a .ns rule's node is its own meta: the line and column of the rule's first
token, as lark's propagate_positions gives them); an expression inside a statement is read by the expression
parser (netspec/ir/exprparse.py) over this reader's tokens, and handed to the lowering as a Standalone (its
tree's offsets are the file's).

The contextual lexer is mirrored by never guessing: a word the grammars spell out (`network`, `then`, `in`...)
is read only where the grammar has that keyword; where lark might take it as a name, or take a keyword off the
front of a longer word (`inx` after a block argument), the reader refuses. It refuses, too, on a value in
backticks inside an expression, a string with a backslash where an expression goes, nesting past the parser's
limits, and on every syntax error: read() returns None and the caller asks lark, which parses the text or
reports its error exactly as it always has. read_one reads a lone value or count the same way (the printer
checks each value it prints by reading it back). tests/test_ns_read.py compares this reader's trees, specs and
values with lark's.
"""

from __future__ import annotations

import re
from typing import Any

from ..ir import exprparse
from ..ir.exprparse import ExpressionReader, Refused
from .ns_lower import Standalone

_LEXEME = re.compile(
    r"[ \t]*(?:"
    r"([A-Za-z_][A-Za-z0-9_]*)"  # 1: a name or a keyword
    r"|((?:[0-9][0-9_]*\.?[0-9_]*|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?)"  # 2: NUMBER
    r"|(\"(?:[^\"\\\n]|\\.)*\")"  # 3: a string in double quotes (DSTRING; STRING too, if it has no backslash)
    r"|('[^'\\\n]*')"  # 4: STRING
    r"|(\$[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)"  # 5: REF
    r"|(`[^`\n]*`)"  # 6: BACKTICK
    r"|(\*\*|==|!=|<=|>=|//|[-+*/%<>=()\[\]{},:;])"  # 7: an operator, a bracket or `;`
    r"|(\r?\n|#[^\n]*)"  # 8: a line break or a comment
    r")")
_BLANKS = re.compile(r"[ \t]*")
_DIMS = re.compile(r"[0-9]+(?:x[0-9]+)*")
_EXPRESSION_KEYWORDS = frozenset(("if", "else", "or", "and", "not", "in", "for"))  # exprparse's kinds of their own
_OPENING, _CLOSING = frozenset("([{"), frozenset(")]}")
_END = "$END"
_NL = "NL"
_STATEMENT_END = frozenset((_NL, ";", _END))
_STRUCTURES = frozenset(("concat", "add", "mul", "residual", "repeat", "dense", "if", "splice", "output", "flat",
                         "parameter"))


class Token(str):
    """A token of a .ns statement (a str of its text) with its terminal's name and its line and column."""

    __slots__ = ("type", "line", "column")

    def __new__(cls, kind: str, value: str, line: int, column: int) -> "Token":
        token = str.__new__(cls, value)
        token.type, token.line, token.column = kind, line, column
        return token

    def __repr__(self) -> str:
        return f"Token({self.type!r}, {str(self)!r})"


class Tree:
    """A node of a .ns rule: its rule (`data`), its children (Trees, Tokens, Standalone expressions) and, as its
    own meta, where its first token is."""

    __slots__ = ("data", "children", "line", "column")
    empty = False

    def __init__(self, data: str, children: list, line: int, column: int):
        self.data, self.children, self.line, self.column = data, children, line, column

    @property
    def meta(self) -> "Tree":
        return self

    def __repr__(self) -> str:
        return f"Tree({self.data!r}, {self.children!r})"


def _lex(text: str, start: int, stop: int, line: int, line_start: int) -> tuple | None:
    """The tokens of text[start:stop] (which begins on `line`, whose first character is at `line_start`): their
    kinds (exprparse's for an expression's tokens, NL for a line break or comment outside brackets), offsets,
    lines and the offsets of their lines' starts, and the words; None for a character outside the grammar."""
    kinds: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    rows: list[int] = []
    row_starts: list[int] = []
    words: list[str | None] = []
    depth = 0
    pos = start
    match = _LEXEME.match
    while pos < stop:
        found = match(text, pos, stop)
        if found is None:
            if _BLANKS.match(text, pos, stop).end() < stop:
                return None
            break
        group = found.lastindex
        begin = found.start(group)
        pos = found.end()
        word = None
        if group == 1:
            word = found.group(1)
            kind = word if word in _EXPRESSION_KEYWORDS else "NAME"
        elif group == 7:
            kind = found.group(7)
            if kind in _OPENING:
                depth += 1
            elif kind in _CLOSING:
                depth = max(0, depth - 1)  # as the grammar's bracket counter does
        elif group == 8:
            if text[begin] != "#":
                line, line_start = line + 1, pos
            if depth:
                continue  # inside brackets a line break (and a comment) is plain space
            kind = _NL
        elif group == 3:
            kind = "DSTRING" if "\\" in text[begin:pos] else "STRING"
        else:
            kind = ("NUMBER", None, "STRING", "REF", "BACKTICK")[group - 2]
        kinds.append(kind)
        starts.append(begin)
        ends.append(pos)
        rows.append(line)
        row_starts.append(line_start)
        words.append(word)
    kinds += (_END, _END)
    starts += (stop, stop)
    ends += (stop, stop)
    rows += (line, line)
    row_starts += (line_start, line_start)
    words += (None, None)
    return kinds, starts, ends, rows, row_starts, words


class _Reader:
    """The parser over one piece's tokens; each method reads the rule it is named for at `at`, or raises Refused."""

    def __init__(self, text: str, lexed: tuple, reserved: frozenset[str], max_nesting: int):
        self.text = text
        self.kinds, self.starts, self.ends, self.rows, self.row_starts, self.words = lexed
        self.expressions = ExpressionReader(text, self.kinds, self.starts, self.ends)
        self.reserved = reserved
        self.max_nesting = max_nesting
        self.nesting = 0
        self.at = 0

    # ---- tokens ------------------------------------------------------------------------------------

    def token(self, kind: str, i: int) -> Token:
        start = self.starts[i]
        return Token(kind, self.text[start:self.ends[i]], self.rows[i], start - self.row_starts[i] + 1)

    def node(self, data: str, children: list, i: int) -> Tree:
        """The tree of rule `data` whose first token is token `i`."""
        return Tree(data, children, self.rows[i], self.starts[i] - self.row_starts[i] + 1)

    def expect(self, kind: str) -> None:
        if self.kinds[self.at] != kind:
            raise Refused
        self.at += 1

    def keyword(self, word: str) -> bool:
        """Is the keyword `word` here? (Stepped over if so.)"""
        if self.words[self.at] == word:
            self.at += 1
            return True
        return False

    def dstring(self) -> Token:
        at = self.at
        if self.kinds[at] not in ("STRING", "DSTRING") or self.text[self.starts[at]] != '"':
            raise Refused
        self.at = at + 1
        return self.token("DSTRING", at)

    def name_token(self, also_dstring: bool = False, any_word: bool = False) -> Token:
        """NAME or BACKTICK, or with `also_dstring` a DSTRING too. A word the grammars spell out is a NAME only
        with `any_word`: where a name is all that may stand (just after `network`, `param`, `(` of a block's
        arguments...), lark's state accepts no keyword, so its lexer reads every word as a name."""
        at = self.at
        kind = self.kinds[at]
        if kind == "NAME" and self.words[at] not in self.reserved or any_word and self.words[at] is not None:
            self.at = at + 1
            return self.token("NAME", at)
        if kind == "BACKTICK":
            self.at = at + 1
            return self.token("BACKTICK", at)
        if also_dstring:
            return self.dstring()
        raise Refused

    def ident(self, any_word: bool = False) -> Tree:
        at = self.at
        return self.node("ident", [self.name_token(any_word=any_word)], at)

    def dims(self) -> Token | None:
        """A DIMS token (`3x224x224`) here, where the grammar reads one (lark prefers it to a number)."""
        at = self.at
        found = _DIMS.match(self.text, self.starts[at])
        if found is None:
            return None
        end = found.end()
        i = at
        while self.ends[i] < end:
            i += 1
        if self.ends[i] != end:  # `3.5`, `1e3`: not where a token ends (lark's error)
            raise Refused
        self.at = i + 1
        start = self.starts[at]
        return Token("DIMS", self.text[start:end], self.rows[at], start - self.row_starts[at] + 1)

    # ---- expressions -------------------------------------------------------------------------------

    def placed(self, tree: Any, first: int) -> Standalone:
        """An expression's tree (its offsets the file's) from token `first` to the one before `at`."""
        last = self.at - 1
        if self.rows[first] == self.rows[last]:
            return Standalone(tree, 0, self.rows[first], 1 - self.row_starts[first])
        return Standalone(tree, 0, None, 0)  # across lines: each position is looked up

    def expression(self) -> Standalone:
        first = self.at
        reader = self.expressions
        reader.at, reader.nesting = first, 0
        tree = reader.cond()
        self.at = reader.at
        return self.placed(tree, first)

    def count(self) -> Standalone:
        """A repeat or dense count: a number, a name, a call, a value in backticks or ( expression )."""
        at = self.at
        kind = self.kinds[at]
        if kind == "BACKTICK":
            start, end = self.starts[at], self.ends[at]
            self.at = at + 1
            tree = exprparse.Tree("raw", [exprparse.Token("BACKTICK", self.text[start:end], start, end)], start, end)
            return self.placed(tree, at)
        if not (kind == "NUMBER" or kind == "(" or kind == "NAME" and self.words[at] not in self.reserved):
            raise Refused
        reader = self.expressions
        reader.at, reader.nesting = at, 0
        tree = reader.atom()
        if kind == "(" and tree.start_pos == self.starts[at]:  # `(1, 2)`: a tuple is not a count
            raise Refused
        self.at = reader.at
        return self.placed(tree, at)

    # ---- statements --------------------------------------------------------------------------------

    def start(self) -> Tree:
        kinds = self.kinds
        statements = []
        while kinds[self.at] == _NL or kinds[self.at] == ";":
            self.at += 1
        while kinds[self.at] != _END:
            statements.append(self.statement())
            if kinds[self.at] not in _STATEMENT_END:
                raise Refused
            while kinds[self.at] == _NL or kinds[self.at] == ";":
                self.at += 1
        return Tree("start", statements, 1, 1)

    def statement(self) -> Tree:
        word = self.words[self.at]
        if word is not None:
            read = self._DECLARATIONS.get(word)
            if read is not None:
                return read(self)
        elif self.kinds[self.at] in ("STRING", "DSTRING"):
            return self.block()
        return self.line()

    def network(self) -> Tree:
        first = self.at
        self.at += 1
        children = [self.name_token(also_dstring=True, any_word=True)]
        if self.kinds[self.at] not in _STATEMENT_END:
            children.append(self.dstring())
        return self.node("network", children, first)

    def listed(self, data: str, read: Any) -> Tree:
        """A declaration `KEYWORD item, item...` as the rule `data`, each item read by `read`."""
        first = self.at
        self.at += 1
        items = [read()]
        while self.kinds[self.at] == ",":
            self.at += 1
            items.append(read())
        return self.node(data, items, first)

    def extends(self) -> Tree:
        return self.listed("extends", self.dstring)

    def input(self) -> Tree:
        first = self.at
        self.at += 1
        dims = self.dims()
        return self.node("input", [dims if dims is not None else self.expression()], first)

    def params(self) -> Tree:
        return self.listed("params", lambda: self.assignment("param"))

    def assignment(self, data: str) -> Tree:
        """`ident = expr` as the rule `data` (param, e_kwarg, init_arg), where only a name may start."""
        first = self.at
        ident = self.ident(any_word=True)
        self.expect("=")
        return self.node(data, [ident, self.expression()], first)

    def outputs(self) -> Tree:
        return self.listed("outputs", self.output)

    def output(self) -> Any:
        at = self.at
        if self.kinds[at] == "REF":
            self.at = at + 1
            return self.token("REF", at)
        name = self.name_token(also_dstring=True, any_word=True)
        if self.kinds[self.at] != "=":
            return name
        self.at += 1
        if self.kinds[self.at] == "REF":
            self.at += 1
            value = self.token("REF", self.at - 1)
        else:
            value = self.name_token(also_dstring=True, any_word=True)
        return self.node("output_pair", [name, value], at)

    def signature(self) -> list:
        """`KEYWORD NAME [(arguments)] =` of a block or a function: the name and the arguments."""
        self.at += 1
        parts = [self.ident(any_word=True)]
        if self.kinds[self.at] == "(":
            parts.append(self.block_args())
        self.expect("=")
        return parts

    def function(self) -> Tree:
        first = self.at
        return self.node("function", self.signature() + [self.expression()], first)

    def block(self) -> Tree:
        first = self.at
        children: list = []
        if self.words[first] != "block":  # the doc string, then a separator
            children.append(self.dstring())
            if self.kinds[self.at] != _NL and self.kinds[self.at] != ";":
                raise Refused
            while self.kinds[self.at] == _NL or self.kinds[self.at] == ";":
                self.at += 1
            if self.words[self.at] != "block":
                raise Refused
        children += self.signature()
        children.append(self.entry())
        return self.node("block", children, first)

    def block_args(self) -> Tree:
        first = self.at
        self.at += 1
        args = []
        while self.kinds[self.at] != ")":
            at = self.at
            parts = [self.ident(any_word=True)]
            if self.kinds[self.at] == "in":
                word = self.at
                self.at += 1
                parts.append(self.node("arg_choice", [self.expression()], word))
            if self.kinds[self.at] == "=":
                equal = self.at
                self.at += 1
                parts.append(self.node("arg_default", [self.expression()], equal))
            args.append(self.node("block_arg", parts, at))
            if self.kinds[self.at] != ",":
                break
            self.at += 1
        self.expect(")")
        return self.node("block_args", args, first)

    def init(self) -> Tree:
        return self.listed("init", self.init_kind)

    def init_kind(self) -> Tree:
        first = self.at
        children: list = [self.ident(any_word=True)]
        self.expect("(")
        children += self.keyword_arguments("init_arg")
        return self.node("init_kind", children, first)

    def keyword_arguments(self, data: str) -> list:
        """`key=value` arguments, each the rule `data`, up to the `)` they end with (stepped over; `(` was)."""
        found = []
        while self.kinds[self.at] != ")":
            found.append(self.assignment(data))
            if self.kinds[self.at] != ",":
                break
            self.at += 1
        self.expect(")")
        return found

    def line(self) -> Tree:
        first = self.at
        entries = [self.entry()]
        while self.kinds[self.at] not in _STATEMENT_END:
            entries.append(self.entry())
        return self.node("line", entries, first)

    _DECLARATIONS = {"network": network, "extends": extends, "input": input, "param": params, "outputs": outputs,
                     "function": function, "block": block, "init": init}

    # ---- entries -----------------------------------------------------------------------------------

    def entry(self, labeled: bool = True) -> Any:
        self.nesting += 1
        if self.nesting > self.max_nesting:
            raise Refused
        at = self.at
        kind = self.kinds[at]
        word = self.words[at]
        if word in _STRUCTURES:
            self.at = at + 1
            node = getattr(self, "e_" + word)(at)
        elif kind == "NAME" or kind == "BACKTICK":
            ident = self.ident()
            if labeled and self.kinds[self.at] == ":":
                self.at += 1
                node = self.node("labeled", [ident, self.entry(labeled=False)], at)
            else:
                node = self.call(ident, at)
        elif kind == "[":
            self.at = at + 1
            node = self.node("e_seq", self.entries("]"), at)
        elif kind == "REF":
            self.at = at + 1
            node = self.node("e_ref", [self.token("REF", at)], at)
        else:
            raise Refused
        self.nesting -= 1
        return node

    def entries(self, close: str) -> list:
        """Entries (and `;`) up to `close`, which is stepped over."""
        kinds = self.kinds
        found = []
        while kinds[self.at] != close:
            if kinds[self.at] == ";":
                self.at += 1
            else:
                found.append(self.entry())
        self.at += 1
        return found

    def braced(self) -> list:
        self.expect("{")
        return self.entries("}")

    def call(self, ident: Tree, first: int) -> Tree:
        children: list = [ident]
        kinds = self.kinds
        if kinds[self.at] == "(":
            self.at += 1
            while kinds[self.at] != ")":
                at = self.at
                if kinds[at + 1] == "=" and (kinds[at] == "BACKTICK" or self.words[at] not in (None, "not")):
                    # `in=3`: where an argument starts, lark reads any word but `not` as a name (only `not`
                    # can open an expression there)
                    self.at = at + 2
                    key = self.node("ident", [self.token(kinds[at] if kinds[at] == "BACKTICK" else "NAME", at)], at)
                    children.append(self.node("e_kwarg", [key, self.expression()], at))
                else:
                    children.append(self.expression())
                if kinds[self.at] != ",":
                    break
                self.at += 1
            self.expect(")")
        return self.node("e_call", children, first)

    def e_concat(self, first: int) -> Tree:
        children = []
        if self.kinds[self.at] == "(":
            open_at = self.at
            self.at += 1
            children.append(self.node("merge_dim", [self.assignment("e_kwarg")], open_at))
            self.expect(")")
        return self.node("e_concat", children + self.braced(), first)

    def e_add(self, first: int) -> Tree:
        return self.node("e_add", self.braced(), first)

    def e_mul(self, first: int) -> Tree:
        return self.node("e_mul", self.braced(), first)

    def e_residual(self, first: int) -> Tree:
        children = self.braced()
        at = self.at
        if self.keyword("shortcut"):
            if self.kinds[self.at] == "{":
                children.append(self.node("shortcut_list", self.braced(), at))
            else:
                children.append(self.node("shortcut_mode", [self.ident(any_word=True)], at))
        at = self.at
        if self.keyword("as"):
            children.append(self.node("shortcut_name", [self.ident(any_word=True)], at))
        at = self.at
        if self.keyword("after"):
            children.append(self.node("after", [self.entry()], at))
        return self.node("e_residual", children, first)

    def e_repeat(self, first: int) -> Tree:
        children: list = [self.count()]
        at = self.at
        if self.keyword("first"):
            self.expect("(")
            children.append(self.node("first", self.keyword_arguments("e_kwarg"), at))
        return self.node("e_repeat", children + self.names() + [self.entry()], first)

    def e_dense(self, first: int) -> Tree:
        children: list = [self.count()]
        return self.node("e_dense", children + self.names() + [self.entry()], first)

    def names(self) -> list:
        at = self.at
        if self.keyword("names"):
            return [self.node("names", [self.dstring()], at)]
        return []

    def e_if(self, first: int) -> Tree:
        children: list = [self.expression()]
        if not self.keyword("then"):
            raise Refused
        children.append(self.branch())
        if self.keyword("else"):
            children.append(self.branch())
        return self.node("e_if", children, first)

    def branch(self) -> Any:
        if self.kinds[self.at] != "(":
            return self.entry()
        self.at += 1
        entry = self.entry()
        self.expect(")")
        return entry

    def e_splice(self, first: int) -> Tree:
        return self.node("e_splice", [self.entry()], first)

    def e_flat(self, first: int) -> Tree:
        return self.node("e_flat", [self.entry()], first)

    def e_output(self, first: int) -> Tree:
        children: list = []
        if self.words[self.at] == "train_only":
            self.at += 1
            children.append(self.token("TRAIN_ONLY", self.at - 1))
        return self.node("e_output", children + [self.entry()], first)

    def e_parameter(self, first: int) -> Tree:
        at = self.at
        kind = self.kinds[at]
        if kind == "NUMBER":
            dims = self.dims()
            if dims is None:
                raise Refused
            shape = self.node("shape_dims", [dims], at)
        elif kind == "[":
            self.at += 1
            items = []
            while self.kinds[self.at] != "]":
                items.append(self.expression())
                if self.kinds[self.at] != ",":
                    break
                self.at += 1
            self.expect("]")
            shape = self.node("shape_list", items, at)
        elif kind == "(":
            self.at += 1
            shape = self.node("shape_expr", [self.expression()], at)
            self.expect(")")
        else:
            raise Refused
        children = [shape]
        at = self.at
        if self.keyword("init"):
            children.append(self.node("p_init", [self.count()], at))
        return self.node("e_parameter", children, first)


def depth(tree: Any) -> int:
    """The depth of a tree of this reader's (its expressions' trees included) as lark's tree of it counts it."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, Standalone):
            node = node.tree
        deepest = max(deepest, level)
        stack.extend((kid, level + 1) for kid in node.children if not isinstance(kid, str))
    return deepest


def read(text: str, start: int, stop: int, line: int, line_start: int, reserved: frozenset[str],
         max_nesting: int) -> Tree | None:
    """lark's `start` tree of the statements in text[start:stop] (on `line` from `line_start`), positions those of
    the whole text; None where lark must read them (see above). `reserved`: the words the grammars spell out."""
    lexed = _lex(text, start, stop, line, line_start)
    if lexed is None:
        return None
    reader = _Reader(text, lexed, reserved, max_nesting)
    try:
        tree = reader.start()
    except (Refused, RecursionError):
        return None
    if depth(tree) > max_nesting:
        return None
    return tree


def read_one(text: str, count: bool, reserved: frozenset[str], max_nesting: int) -> Standalone | None:
    """What lark's `value_start` (or with `count`, `count_start`) reads `text` as: its expression, placed; None
    where lark must read it."""
    lexed = _lex(text, 0, len(text), 1, 0)
    if lexed is None:
        return None
    reader = _Reader(text, lexed, reserved, max_nesting)
    try:
        item = reader.count() if count else reader.expression()
    except (Refused, RecursionError):
        return None
    return item if reader.kinds[reader.at] == _END else None
