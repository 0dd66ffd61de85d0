"""The YAML front end: reads spec text safely into a plain tree plus a map from tree paths to file positions.

The text is standard YAML 1.2, parsed as it is written (nothing rewrites it first). The tree is built
from PyYAML's event stream, never from its constructors, so no tag can run code, duplicate keys are
caught, and aliases, depth and size are capped before anything grows. Plain scalars follow YAML 1.2's
core schema (`yes` and `on` stay strings, `012` is 12, `1e3` is a number, `1_000` is a string).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import yaml

from .. import budgets
from ..diagnostics import Diagnostic, Loc, SpecError

MAX_BYTES = 1 << 20  # 1 MiB: the largest spec file read
MAX_DEPTH = 64  # nesting of mappings and sequences
MAX_ALIASES = 64  # `*name` references in one document
MAX_NODES = 20_000  # values in the tree, aliases counted as what they expand to (the reader stops there)

Path = tuple[Any, ...]

# YAML 1.2 core schema (yaml.org/spec/1.2.2, 10.3.2): exactly these spellings, no underscores, no sexagesimals.
_NULLS = {"", "~", "null", "Null", "NULL"}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_SPECIAL_FLOATS = {
    **{sign + word: float(sign + "inf") for sign in ("", "+", "-") for word in (".inf", ".Inf", ".INF")},
    **{word: float("nan") for word in (".nan", ".NaN", ".NAN")},
}
# The first characters of every null, bool and number spelling above (and of the empty string's none)
_TYPED_START = frozenset("~nNtTfF0123456789+-.")
_STANDARD_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}


class SourceMap:
    """Where each value (and each mapping key) of a raw tree stands in its file.

    A plain class, not a dataclass: every process that reads a spec imports this module, and a dataclass
    costs more to create than its few uses here need."""

    __slots__ = ("file", "values", "keys")

    def __init__(self, file: str, values: dict[Path, Loc] | None = None,
                 keys: dict[Path, Loc | tuple[int, int]] | None = None) -> None:
        self.file = file
        self.values: dict[Path, Loc] = {} if values is None else values
        # a key's (line, column) until `find` first asks for it (most keys never are: `args`, `layers`, `kwargs`...)
        self.keys: dict[Path, Loc | tuple[int, int]] = {} if keys is None else keys

    def find(self, path: Path, key: bool = False) -> Loc | None:
        """The location of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        if key:
            at = self.keys.get(path)
            if at is not None:
                if at.__class__ is tuple:
                    at = self.keys[path] = Loc(self.file, *at)
                return at
        found = self.values.get(path)  # most paths asked for have a value of their own
        if found is not None:
            return found
        while path:
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get(())


class RawDoc:
    """A parsed source: the plain tree (dicts, lists, scalars), its source map and its text."""

    __slots__ = ("tree", "sources", "text")

    def __init__(self, tree: Any, sources: SourceMap, text: str) -> None:
        self.tree, self.sources, self.text = tree, sources, text


def _plain_scalar(value: str) -> Any:
    """A plain scalar's value under YAML 1.2's core schema."""
    if value and value[0] not in _TYPED_START:  # `conv2d(8, 3)`, `relu`: no null, bool or number starts so
        return value
    if value in _NULLS:
        return None
    if value in _BOOLS:
        return _BOOLS[value]
    digits = value[1:] if value[0] in "+-" else value  # [-+]?[0-9]+
    if digits.isdigit() and digits.isascii():
        return int(value)  # ValueError past the digits Python converts (sys.get_int_max_str_digits)
    if value[:2] == "0x" and re.match(r"0x[0-9a-fA-F]+\Z", value):  # compiled at the first use, not at import
        return int(value[2:], 16)
    if value[:2] == "0o" and re.match(r"0o[0-7]+\Z", value):
        return int(value[2:], 8)
    if value in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[value]
    if _FLOAT.match(value):
        return float(value)
    return value


# ---- calls that a flow collection splits --------------------------------------------------------------

_SCALAR_START = r"[A-Za-z_0-9(+-]"  # compiled when first used (only diagnostics and `fmt` scan for split calls)
_BLOCK_SCALAR = r"(^|[\s:-])[|>][-+0-9]*\s*(#.*)?$"
_FLOW_INDICATORS = set(",[]{}")


class SplitCall(NamedTuple):
    """A call written bare inside a flow collection (`[conv2d(c, 1), relu]`), which YAML splits apart."""

    line: int  # 0-based
    start: int  # 0-based columns of the call's text on that line
    end: int
    collection: str  # "[" or "{": the flow collection it stands in

    def text(self, source_lines: list[str]) -> str:
        return source_lines[self.line][self.start:self.end]


def split_calls(text: str) -> list[SplitCall]:
    """Every plain expression inside a flow collection that holds a flow indicator (`,`, `[`, `]`, `{`, `}`)
    outside quotes: standard YAML splits each such call apart, so it must be quoted (or the list written
    as a block list). This scans the text: it serves the diagnostic and `netspec fmt`'s migration only,
    and never changes what the reader parses.
    """
    scalar_start, block_scalar = re.compile(_SCALAR_START), re.compile(_BLOCK_SCALAR)
    found: list[SplitCall] = []
    opened: list[str] = []  # the flow collections open at this point, innermost last
    block_indent: int | None = None  # inside a literal/folded block scalar: its lines are text
    quote: str | None = None  # a quoted scalar may go on over several lines
    for number, line in enumerate(text.split("\n")):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if block_indent is not None:
            if stripped and indent <= block_indent:
                block_indent = None
            else:
                continue
        i, n = 0, len(line)
        while i < n:
            ch = line[i]
            if quote:
                if ch == quote:
                    if quote == "'" and line.startswith("''", i):
                        i += 2
                        continue
                    quote = None
                elif ch == "\\" and quote == '"':
                    i += 1
                i += 1
                continue
            at_token_start = i == 0 or line[i - 1] in " \t[{,:"
            if ch == "#" and (i == 0 or line[i - 1] in " \t"):
                break
            if ch in "\"'" and at_token_start:
                quote = ch
            elif ch in "[{" and _starts_node(line[:i], bool(opened)):
                opened.append(ch)
            elif ch in "]}":
                if opened:
                    opened.pop()
            elif opened and at_token_start and scalar_start.match(line, i):
                end = _expression_end(line, i)
                if end is not None and _FLOW_INDICATORS.intersection(line[i:end]):
                    found.append(SplitCall(number, i, end, opened[-1]))
                    i = end
                    continue
            i += 1
        if not opened and block_scalar.search(line.split(" #")[0].rstrip()):
            block_indent = indent
    return found


def quote_split_calls(text: str) -> str:
    """The text with every split call (see `split_calls`) double-quoted: `netspec fmt`'s migration of a spec
    written for netspec's older, non-standard YAML reading to standard YAML."""
    lines = text.split("\n")
    for call in reversed(split_calls(text)):
        line = lines[call.line]
        body = line[call.start:call.end].replace("\\", "\\\\").replace('"', '\\"')
        lines[call.line] = f'{line[:call.start]}"{body}"{line[call.end:]}'
    return "\n".join(lines)


def _starts_node(before: str, in_flow: bool) -> bool:
    """Can a flow collection start here? Only where a YAML node starts, not inside a plain scalar."""
    before = before.rstrip()
    if in_flow:
        return before.endswith(("[", "{", ",", ":"))
    if not before or before.endswith(":"):
        return True
    # after a block-sequence dash or a complex-key mark standing on its own ("- [", "- - [", "? [")
    return before[-1] in "-?" and (len(before) == 1 or before[-2] in " \t-?")


def _expression_end(line: str, start: int) -> int | None:
    """Where a plain expression that starts at `start` inside a flow collection ends: at the first `,`, `]`,
    `}`, `: ` or ` #` outside brackets (trailing spaces left out). None when a bracket is left open."""
    level = 0
    j = start
    while j < len(line):
        ch = line[j]
        if ch in "([":
            level += 1
        elif ch in ")]" and level:
            level -= 1
        elif level == 0 and (ch in ",]}" or line.startswith(": ", j) or line.startswith(" #", j)):
            break
        j += 1
    if level:
        return None
    while j > start and line[j - 1] in " \t":
        j -= 1
    return j


def _split_call_error(text: str, file: str, calls: list[SplitCall]) -> SpecError:
    lines = text.split("\n")
    diagnostics = []
    for call in calls:
        body = call.text(lines)
        what = "flow list" if call.collection == "[" else "flow mapping"
        where = "commas" if "," in body else "brackets"
        quoted = '"' + body.replace("\\", "\\\\").replace('"', '\\"') + '"'
        diagnostics.append(Diagnostic(
            "yaml-split-call",
            f"this {what} splits `{body}` at its {where}: quote it as {quoted} "
            "(`netspec fmt --write` quotes every one)",
            "",
            Loc(file, call.line + 1, call.start + 1),
        ))
    return SpecError(diagnostics, {file: text})


# ---- the reader -------------------------------------------------------------------------------------


def _syntax_message(exc: Any, text: str, file: str) -> tuple[str, Loc | None]:
    """A YAML syntax error in plain words, placed where the user can fix it."""
    problem = (exc.problem or exc.context or "invalid YAML").strip()
    mark = exc.problem_mark or exc.context_mark
    lines = text.split("\n")
    if mark is not None and 0 <= mark.line < len(lines) and lines[mark.line][mark.column:mark.column + 1] == "\t":
        return "a tab character cannot start a token; indent YAML with spaces, not tabs", _mark_loc(file, mark)
    context = exc.context_mark
    at_end = mark is not None and (mark.line >= len(lines) or not text[mark.index:].strip())
    if context is not None and exc.context and at_end and "flow" in exc.context:
        bracket = text[context.index:context.index + 1] if 0 <= context.index < len(text) else "["
        detail = problem.replace("but found", "").split(",  ")[0]
        return f"this '{bracket}' is never closed ({detail.rstrip()})", _mark_loc(file, context)
    return problem, _mark_loc(file, mark) if mark else None


def _mark_loc(file: str, mark: Any) -> Loc:
    return Loc(file, mark.line + 1, mark.column + 1)


def read_yaml(text: str, file: str = "<string>") -> RawDoc:
    """Parse standard YAML 1.2 text into a RawDoc, refusing anything unsafe with a located diagnostic.

    Nothing rewrites the text first: the tree is what any YAML 1.2 reader makes of it. A call that a flow
    collection splits at its commas (`[conv2d(c, 1), relu]`) is refused with one error per call.
    """

    def fail(code: str, message: str, loc: Loc | None) -> SpecError:
        return SpecError([Diagnostic(code, message, "", loc)], {file: text})

    budget = budgets.current()
    max_bytes, max_nodes = budget.bytes(MAX_BYTES), budget.cap(MAX_NODES, budgets.VALUES_PER_NODE)
    size = len(text.encode("utf-8", errors="replace"))
    if size > max_bytes:
        return_loc = Loc(file, 1, 1)
        raise fail("file-too-large", f"spec is {size:,} bytes; the limit is {max_bytes:,} bytes (raise it with "
                   "--max-bytes / max_bytes=)", return_loc)

    sources = SourceMap(file)
    reader = _EventReader(text, file, max_nodes, sources, fail)
    try:
        reader.read()
    except SpecError:
        calls = split_calls(text) if reader.split_suspect else []
        if calls:  # a split call reads as odd keys (`3)`, `[3, 1]`): name the cause, not its symptom
            raise _split_call_error(text, file, calls) from None
        raise
    except yaml.MarkedYAMLError as exc:
        calls = split_calls(text)
        if calls:
            raise _split_call_error(text, file, calls) from None
        raise fail("yaml-syntax", *_syntax_message(exc, text, file)) from None
    except yaml.YAMLError as exc:  # reader errors (bad bytes) carry no mark
        raise fail("yaml-syntax", str(exc).splitlines()[0], Loc(file, 1, 1)) from None
    if reader.split_suspect:
        calls = split_calls(text)
        if calls:
            raise _split_call_error(text, file, calls)

    root = reader.root
    tree = root[0] if root else None
    return RawDoc(tree, sources, text)


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # PyYAML's C event reader where libyaml is installed
_MAPPING, _SEQUENCE = yaml.MappingStartEvent, yaml.SequenceStartEvent
_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


class _EventReader:
    """One text's tree and source map, built from its YAML events with every cap checked as the tree grows."""

    def __init__(self, text: str, file: str, max_nodes: int, sources: SourceMap, fail: Any):
        self.text, self.file, self.max_nodes, self.sources, self.fail = text, file, max_nodes, sources, fail
        self.root: list[Any] = []
        self.split_suspect = False  # a plain scalar in a flow collection with an unclosed `(`: a call split apart

    def read(self) -> None:
        file, fail, max_nodes, root = self.file, self.fail, self.max_nodes, self.root
        values, keys = self.sources.values, self.sources.keys
        anchors: dict[str, tuple[Any, int]] = {}
        # Each open container: [value, path, pending key (mappings only) or _NO_KEY, the key's loc, is a mapping,
        # anchor, in flow style, values counted before it]; what it counts (aliases as what they expand to) is
        # the running count at its end less the count before it
        stack: list[list[Any]] = []
        nodes = 0
        aliases = 0
        no_key = _NO_KEY
        scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
        loader = _LOADER(self.text)
        next_event = loader.get_event
        try:
            while True:
                event = next_event()
                if event is None:
                    break
                kind = event.__class__
                if kind is scalar_event:  # most events: tested first
                    mark = event.start_mark
                    loc = None  # made when the scalar is a value, not a key (most keys' positions are never asked)
                    tag = event.tag
                    if tag and tag not in _STANDARD_TAGS and tag not in ("!", "?"):
                        raise _tag_error(fail, tag, Loc(file, mark.line + 1, mark.column + 1))
                    value = event.value
                    if not event.style and event.implicit[0]:
                        if stack and stack[-1][6] and "(" in value and value.count("(") > value.count(")"):
                            self.split_suspect = True
                        if not value or value[0] in _TYPED_START:
                            try:
                                value = _plain_scalar(value)
                            except ValueError:  # more digits than Python reads as a number
                                raise fail("eval-error", f"a number of {len(value):,} digits is too large (the "
                                           "limit is 1e18)", Loc(file, mark.line + 1, mark.column + 1)) from None
                    count = 1
                elif kind is alias_event:
                    mark = event.start_mark
                    loc = Loc(file, mark.line + 1, mark.column + 1)
                    aliases += 1
                    if aliases > MAX_ALIASES:
                        raise fail("alias-limit", f"more than {MAX_ALIASES} aliases; write the values out", loc)
                    if event.anchor not in anchors:
                        raise fail("yaml-syntax", f"alias '*{event.anchor}' names no anchor defined before it", loc)
                    value, count = anchors[event.anchor]
                elif kind is _MAPPING or kind is _SEQUENCE:
                    mark = event.start_mark
                    loc = Loc(file, mark.line + 1, mark.column + 1)
                    tag = event.tag
                    if tag and tag not in _STANDARD_TAGS and tag not in ("!", "?"):
                        raise _tag_error(fail, tag, loc)
                    if len(stack) >= MAX_DEPTH:
                        raise fail("too-deep", f"nesting deeper than {MAX_DEPTH} levels", loc)
                    value = {} if kind is _MAPPING else []
                    count = 0
                elif kind in _ENDS:
                    frame = stack.pop()
                    nodes += 1
                    if frame[5]:
                        anchors[frame[5]] = (frame[0], nodes - frame[7])
                    continue
                else:
                    if kind is yaml.DocumentStartEvent and root:
                        mark = event.start_mark
                        raise fail("yaml-syntax", "a spec file holds one YAML document; remove the extra '---'",
                                   Loc(file, mark.line + 1, mark.column + 1))
                    continue
                # place the value (a scalar, an alias's value, or a container just opened) in its parent
                nodes += count
                if nodes > max_nodes:
                    raise fail("too-large", f"spec expands to more than {max_nodes:,} values (aliases included); "
                               "a larger --max-nodes / max_nodes= raises this limit",
                               loc or Loc(file, mark.line + 1, mark.column + 1))
                if not stack:
                    root.append(value)
                    path: Path = ()
                else:
                    frame = stack[-1]
                    container = frame[0]
                    if not frame[4]:
                        path = frame[1] + (len(container),)
                        container.append(value)
                    elif frame[2] is no_key:  # a key
                        if kind is not scalar_event and isinstance(value, (dict, list)):
                            raise fail("invalid-key", "a mapping key must be a plain scalar, not a mapping or list",
                                       loc)
                        if value in container:
                            raise fail("duplicate-key", f"key '{value}' appears twice in this mapping; YAML would "
                                       "silently keep only the last one", loc or Loc(file, mark.line + 1, mark.column + 1))
                        frame[2], frame[3] = value, loc or (mark.line + 1, mark.column + 1)
                        if kind is scalar_event and event.anchor:
                            anchors[event.anchor] = (value, 1)
                        continue
                    else:
                        path = frame[1] + (frame[2],)
                        container[frame[2]] = value
                        keys[path] = frame[3]
                        frame[2] = no_key
                values[path] = loc or Loc(file, mark.line + 1, mark.column + 1)  # a new path: keys are never twice
                if kind is scalar_event:
                    if event.anchor:
                        anchors[event.anchor] = (value, 1)
                elif kind is not alias_event:  # a container opened: its values go in it
                    stack.append([value, path, no_key, None, kind is _MAPPING, event.anchor, bool(event.flow_style),
                                  nodes])
        finally:
            loader.dispose()


def _tag_error(fail: Any, tag: str, loc: Loc) -> SpecError:
    return fail("yaml-tag", f"tag '{tag}' is not allowed: a spec is plain data (no Python objects or custom tags)", loc)


class _NoKey:
    def __repr__(self) -> str:
        return "<no key>"


_NO_KEY = _NoKey()
