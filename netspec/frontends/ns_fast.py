"""The fast reader: the .ns statements most lines of a large spec are, read without lark's parser.

lark's LALR parser and tree builder run in Python, about 25 µs a token through the expression grammar's
ten levels of precedence, so a plain `conv2d(8, 3, padding=1)` line costs some 200 µs. Most lines of a
large spec are a run of entries of one shape: `NAME`, `NAME(arguments)`, or either after a label `NAME:`,
on one line, with every argument an expression or `key=expression`. This module finds the statements (at the
newlines and `;` outside brackets, as the grammar does), reads those of that shape itself, and leaves every
other statement to a parser: each run of them is parsed as a piece of the file, by the .ns reader
(ns_read.py), or where it is not sure, by lark (parse_piece, its positions moved to where the piece stands).
Any doubt leaves a statement to them: a keyword, a quote, a backtick, a comment or a line break inside the
statement, an argument that parse_expr does not read, a nesting past the parser's limit. Where lark refuses a
piece, the caller parses the whole file with lark instead, so a syntax error is reported exactly as before.
The .ns reader reads these lines too, but builds a tree for each; this reader's caches (each argument's text
read once, each statement's text lowered once) make the repeated lines of a large spec several times cheaper.

Each argument is read by parse_expr (cached per text, and what resolve reads later anyway), and the entries
go through the same lowering rules (ns_lower.py) as lark's trees, so both paths give the same data,
positions and errors; tests/test_ns_fast.py compares the two.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Callable

from ..diagnostics import Collector, Loc, SpecError
from ..ir.expr import ExprError, parse_expr
from ..ir.exprparse import Tree as ExprTree
from .ns_lower import Ident, Lowering, Standalone

# What ends or opens a statement, and what makes one the fast reader leaves to lark: strings, backticks, a
# backslash, a carriage return (a comment is the end of a statement's text, or, inside brackets, lark's)
_SCAN = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`\n]*`|\'[^\'\\\n]*\'|#[^\n]*|[()\[\]{}\n;\r\\]')
_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)[ \t]*")
_KEY = re.compile(r"[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*=(?!=)")
_BLANK = re.compile(r"[ \t]*")
_BRACKET = re.compile(r"[()\[\]{},]")
_CLOSE = {")": "(", "]": "[", "}": "{"}
# A whole line whose only brackets are ( ) pairs not inside one another, and nothing else _SCAN stops at: one
# statement, read in one step (the common `conv2d(8, 3, padding=1)` line)
_PLAIN_LINE = re.compile(r'[^()\[\]{}\n;#"\'`\\\r]*(?:\([^()\[\]{}\n;#"\'`\\\r]*\)[^()\[\]{}\n;#"\'`\\\r]*)*(?=\n)')


class Statement:
    """One statement's text: [start, end) in the file (blanks and a trailing comment left off), its line
    and the offset where that line begins; `simple` when it has nothing that leaves it to lark at once."""

    __slots__ = ("start", "end", "line", "line_start", "simple")

    def __init__(self, start: int, end: int, line: int, line_start: int, simple: bool):
        self.start, self.end, self.line, self.line_start, self.simple = start, end, line, line_start, simple


def statements(text: str) -> list[Statement]:
    """The statements of a .ns text, as the grammar separates them: at a newline or `;` outside brackets."""
    found: list[Statement] = []
    depth = 0
    start, line, line_start, begun_line, begun_at = 0, 1, 0, 1, 0
    end = -1  # where a comment cut the statement's text short
    simple = True

    def close(stop: int) -> None:
        stop = stop if end < 0 else end
        first = _BLANK.match(text, start).end()
        while stop > first and text[stop - 1] in " \t":
            stop -= 1
        if stop > first:
            found.append(Statement(first, stop, begun_line, begun_at, simple))

    pos = 0
    while True:
        if not depth and pos == start and end < 0 and simple:
            whole = _PLAIN_LINE.match(text, pos)
            if whole is not None:  # a line that is one statement with no bracket inside another: as below
                stop = whole.end()
                first = start
                while first < stop and text[first] in " \t":
                    first += 1
                last = stop
                while last > first and text[last - 1] in " \t":
                    last -= 1
                if last > first:
                    found.append(Statement(first, last, begun_line, begun_at, True))
                line, line_start = line + 1, stop + 1
                start = pos = begun_at = stop + 1
                begun_line = line
                continue
        match = _SCAN.search(text, pos)
        if match is None:
            break
        pos = match.end()
        char = match.group()[0]
        if char == "\n":
            line, line_start = line + 1, match.end()
            if depth:
                simple = False  # a statement across lines: lark's
                continue
            close(match.start())
            start, begun_line, begun_at, end, simple = match.end(), line, line_start, -1, True
        elif char == ";":
            if depth:
                continue  # inside brackets (`[a; b]`): part of the statement
            close(match.start())
            start, begun_line, begun_at, end, simple = match.end(), line, line_start, -1, True
        elif char == "#":
            if depth:
                simple = False
            elif end < 0:
                end = match.start()
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(0, depth - 1)  # as the grammar's bracket counter does
        else:  # a string, a backtick, a backslash, a carriage return
            simple = False
    close(len(text))
    return found


@lru_cache(maxsize=4096)
def _expression(text: str) -> tuple[Any, int] | None:
    """parse_expr's tree for an argument's text, and its depth in trees; None where parse_expr refuses it."""
    try:
        tree = parse_expr(text)
    except ExprError:
        return None
    if not isinstance(tree, ExprTree):
        return None
    depth, stack = 0, [(tree, 1)]
    while stack:
        node, level = stack.pop()
        depth = max(depth, level)
        stack.extend((kid, level + 1) for kid in node.children if isinstance(kid, ExprTree))
    return tree, depth


def clear_caches() -> None:
    """Forget the arguments read so far (as expr.parse_expr.cache_clear forgets the expressions)."""
    _expression.cache_clear()


class Entry:
    """A call read by the fast reader: its name, its label, and its arguments (Standalone, or (Ident,
    Standalone) for `key=value`)."""

    __slots__ = ("label", "ident", "args")

    def __init__(self, label: Ident | None, ident: Ident, args: list):
        self.label, self.ident, self.args = label, ident, args


def read_line(text: str, st: Statement, file: str, max_nesting: int, reserved: frozenset[str]) -> list[Entry] | None:
    """The entries of a statement of the fast reader's shape, or None to leave the statement to lark.
    `reserved`: the words the grammar spells out (`network`, `if`, `for`...); a name that is one is lark's."""
    pos, end = st.start, st.end
    entries: list[Entry] = []
    while pos < end:
        head = _NAME.match(text, pos, end)
        if head is None or head.group(1) in reserved:
            return None
        label = None
        if head.end() < end and text[head.end()] == ":":  # `stem: conv2d(...)`
            label = Ident(head.group(1), Loc(file, st.line, pos - st.line_start + 1), False)
            pos = _BLANK.match(text, head.end() + 1, end).end()
            head = _NAME.match(text, pos, end)
            if head is None or head.group(1) in reserved:
                return None
        ident = Ident(head.group(1), Loc(file, st.line, pos - st.line_start + 1), False)
        pos = head.end()
        args: list = []
        if pos < end and text[pos] == "(":
            pos = _arguments(text, pos, end, st, file, args, 3 + (label is not None), max_nesting, reserved)
            if pos < 0:
                return None
            pos = _BLANK.match(text, pos, end).end()
        entries.append(Entry(label, ident, args))
    return entries


def _arguments(text: str, open_at: int, end: int, st: Statement, file: str, args: list, call_depth: int,
               max_nesting: int, reserved: frozenset[str]) -> int:
    """The arguments of the call whose `(` is at `open_at`, appended to `args`; the offset after its `)`,
    or -1 where the call is not of the fast reader's shape."""
    stack: list[str] = []
    cuts = [open_at]
    close_at = -1
    for match in _BRACKET.finditer(text, open_at, end):
        char = match.group()
        if char == ",":
            if len(stack) == 1:
                cuts.append(match.start())
        elif char in "([{":
            stack.append(char)
        elif not stack or stack.pop() != _CLOSE[char]:
            return -1
        elif not stack:
            close_at = match.start()
            break
    if close_at < 0:
        return -1
    cuts.append(close_at)
    for i in range(len(cuts) - 1):
        start, stop = cuts[i] + 1, cuts[i + 1]
        key = _KEY.match(text, start, stop)
        at = key.end() if key is not None else start
        at = _BLANK.match(text, at, stop).end()
        while stop > at and text[stop - 1] in " \t":
            stop -= 1
        if at == stop:  # nothing: `f()` and a trailing comma are fine, `f(,)` and `f(a=)` are lark's
            if key is None and i == len(cuts) - 2 and (i > 0 or len(cuts) == 2):
                continue
            return -1
        read = _expression(text[at:stop])
        if read is None:
            return -1
        tree, depth = read
        if call_depth + (2 if key is not None else 1) + depth - 1 > max_nesting:
            return -1
        value = Standalone(tree, at, st.line, at - st.line_start + 1)
        if key is None:
            args.append(value)
        elif key.group(1) in reserved:
            return -1
        else:
            name = key.group(1)
            args.append((Ident(name, Loc(file, st.line, key.start(1) - st.line_start + 1), False), value))
    return close_at + 1


class _At:
    """Where a statement begins, as lark's meta gives it (what the lowering reads of a statement's meta)."""

    __slots__ = ("line", "column")

    def __init__(self, line: int, column: int):
        self.line, self.column = line, column


def lower_line(lowering: Lowering, entries: list[Entry]) -> tuple:
    """A line the fast reader read, lowered by the same rules, in the same order, as lark's tree of it."""
    rules = lowering.entries
    pieces = []
    for entry in entries:
        children: list = [entry.ident]
        for arg in entry.args:
            children.append(rules.e_kwarg(None, list(arg)) if isinstance(arg, tuple) else arg)
        piece = rules.e_call(None, children)
        if entry.label is not None:
            piece = rules.labeled(None, [entry.label, piece])
        pieces.append(piece)
    first = entries[0].label or entries[0].ident
    return "line", _At(first.loc.line, first.loc.col), pieces


# ---- a text written many times: lowered once ------------------------------------------------------------

NO_PLAN = object()  # a statement lowered afresh each time (see line_plan)


class LinePlan:
    """A statement's lowering, positions counted from where the statement starts (all on its line): the entries'
    data with the IR paths recorded under each, the errors reported, and the statement's own column. The
    lowering of a fast-read statement depends on its text alone (and on the file's block names, fixed for the
    file), so every statement of the same text replays the plan at its own place."""

    __slots__ = ("at", "pieces", "errors")

    def __init__(self, at: int, pieces: list, errors: list):
        self.at, self.pieces, self.errors = at, pieces, errors

    def replay(self, errors: Any, st: Statement) -> tuple:
        """The errors reported where `st` stands, and the statement for the assembly (`_Assembly.add`)."""
        column = st.start - st.line_start + 1
        for code, message, path, file, offset in self.errors:
            errors.error(code, message, path, Loc(file, st.line, column + offset))
        return "replay", _At(st.line, column + self.at), self, st.line, column


def line_plan(lowering: Lowering, entries: list[Entry], st: Statement) -> LinePlan | object:
    """The LinePlan of a fast-read statement (its entries); NO_PLAN where a position falls off its line or the
    statement alone reports more errors than a run may (the Collector then stops the run where it stands)."""
    values = lowering.values
    sink, values.errors = values.errors, Collector()
    try:
        _, at, pieces = lower_line(lowering, entries)
        reported = values.errors.items
    except SpecError:
        return NO_PLAN
    finally:
        values.errors = sink
    column = st.start - st.line_start + 1
    planned = []
    for piece in pieces:
        rows = []
        for path, loc in piece.locs.items():
            if loc.line != st.line or loc.file != values.file:
                return NO_PLAN
            rows.append((path, loc.col - column))
        data = piece.data
        nested = any(isinstance(v, (list, dict)) for v in data.get("args", ())) or any(
            isinstance(v, (list, dict)) for v in data.get("kwargs", {}).values())
        planned.append((data, rows, nested))
    found = []
    for d in reported:
        if d.loc is None or d.loc.line != st.line:
            return NO_PLAN
        found.append((d.code, d.message, d.path, d.loc.file, d.loc.col - column))
    return LinePlan(at.column - column, planned, found)


# ---- lark for what the .ns reader leaves ----------------------------------------------------------------

_LINE_KEYS = ("line", "end_line", "container_line", "container_end_line")
_POS_KEYS = ("start_pos", "end_pos", "container_start_pos", "container_end_pos")


def parse_piece(parse: Callable[[str], Any], text: str, first: Statement, last: Statement) -> Any:
    """lark's tree of the statements from `first` to `last`, its positions those in the whole text.

    The piece is parsed from the start of its first line, blanks standing for what comes before it there,
    so columns come out right; lines and offsets are moved by where that line is."""
    piece = " " * (first.start - first.line_start) + text[first.start:last.end]
    tree = parse(piece)
    lines, offset = first.line - 1, first.line_start
    if not lines and not offset:
        return tree
    for node in tree.iter_subtrees():
        meta = node.meta
        if not meta.empty:
            fields = meta.__dict__
            for key in _LINE_KEYS:
                if key in fields:
                    fields[key] += lines
            for key in _POS_KEYS:
                if key in fields:
                    fields[key] += offset
        for kid in node.children:
            if isinstance(kid, str):  # a lark Token
                if kid.line is not None:
                    kid.line += lines
                    kid.end_line += lines
                if kid.start_pos is not None:
                    kid.start_pos += offset
                    kid.end_pos += offset
    return tree
