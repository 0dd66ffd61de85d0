"""The YAML front end: reads spec text safely into a plain tree plus a map from tree paths to file positions.

The tree is built from PyYAML's event stream, never from its constructors, so no tag can run
code, duplicate keys are caught, and aliases, depth and size are capped before anything grows.
Plain scalars follow YAML 1.2's core schema (`yes` and `on` stay strings, `1e3` is a number).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from .diagnostics import Diagnostic, Loc, SpecError

MAX_BYTES = 1 << 20  # 1 MiB: the largest spec file read
MAX_DEPTH = 64  # nesting of mappings and sequences
MAX_ALIASES = 64  # `*name` references in one document
MAX_NODES = 200_000  # values in the tree, aliases counted as what they expand to

Path = tuple[Any, ...]

_INT = re.compile(r"[-+]?[0-9][0-9_]*$")
_HEX = re.compile(r"0x[0-9a-fA-F_]+$")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$")
_SPECIAL_FLOATS = {".inf": float("inf"), "+.inf": float("inf"), "-.inf": float("-inf"), ".nan": float("nan")}
_STANDARD_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}


@dataclass
class SourceMap:
    """Where each value (and each mapping key) of a raw tree stands in its file."""

    file: str
    values: dict[Path, Loc] = field(default_factory=dict)
    keys: dict[Path, Loc] = field(default_factory=dict)

    def find(self, path: Path, key: bool = False) -> Loc | None:
        """The location of `path`, or of its nearest ancestor that has one."""
        table = self.keys if key else self.values
        path = tuple(path)
        if key and path in table:
            return table[path]
        while path:
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get(())


@dataclass
class RawDoc:
    """A parsed source: the plain tree (dicts, lists, scalars), its source map and its text."""

    tree: Any
    sources: SourceMap
    text: str


def _plain_scalar(value: str) -> Any:
    lowered = value.lower()
    if value in ("", "~") or lowered == "null":
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    if _INT.match(value):
        return int(value.replace("_", ""))
    if _HEX.match(value):
        return int(value, 16)
    if lowered in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[lowered]
    if _FLOAT.match(value) and any(ch.isdigit() for ch in value):
        return float(value.replace("_", ""))
    return value


_SCALAR_START = re.compile(r"[A-Za-z_0-9(+-]")
_BLOCK_SCALAR = re.compile(r"(^|[\s:-])[|>][-+0-9]*\s*(#.*)?$")


def quote_flow_calls(text: str) -> tuple[str, dict[int, list[int]]]:
    """Quote expressions with brackets, such as `conv2d(64, 3)` or `depths[0] * 2`, that stand inside
    flow collections (`[...]`, `{...}`).

    YAML splits a plain scalar at the commas of a flow collection and reads `[` as the start of a
    list, so `[conv2d(c, 1), relu]` would read as three items; quoting each expression keeps it whole. Returns the new text and, per
    0-based line, the 0-based columns (in the new text) of the inserted quote characters, so that
    positions can be mapped back to the file the user wrote.
    """
    out_lines: list[str] = []
    inserted: dict[int, list[int]] = {}
    depth = 0
    block_indent: int | None = None  # inside a literal/folded block scalar: leave its lines alone
    quote: str | None = None  # a quoted scalar may go on over several lines
    for number, line in enumerate(text.split("\n")):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if block_indent is not None:
            if stripped and indent <= block_indent:
                block_indent = None
            else:
                out_lines.append(line)
                continue
        pieces: list[str] = []
        i, n = 0, len(line)
        while i < n:
            ch = line[i]
            if quote:
                pieces.append(ch)
                if ch == quote:
                    quote = None
                i += 1
                continue
            at_token_start = i == 0 or line[i - 1] in " \t[{,:"
            if ch == "#" and (i == 0 or line[i - 1] in " \t"):
                pieces.append(line[i:])
                break
            if ch in "\"'" and at_token_start:
                quote = ch
            elif ch in "[{" and _starts_node(line[:i], depth):
                depth += 1
            elif ch in "]}":
                depth = max(0, depth - 1)
            elif depth and at_token_start and _SCALAR_START.match(line, i):
                end = _expression_end(line, i)
                if end is not None and '"' not in line[i:end] and any(c in line[i:end] for c in "(["):
                    column = len("".join(pieces))
                    inserted.setdefault(number, []).extend([column, column + end - i + 1])
                    pieces.append('"' + line[i:end] + '"')
                    i = end
                    continue
            pieces.append(ch)
            i += 1
        new_line = "".join(pieces)
        if depth == 0 and _BLOCK_SCALAR.search(new_line.split(" #")[0].rstrip()):
            block_indent = indent
        out_lines.append(new_line)
    return "\n".join(out_lines), inserted


def _starts_node(before: str, depth: int) -> bool:
    """Can a flow collection start here? Only where a YAML node starts, not inside a plain scalar."""
    before = before.rstrip()
    if depth:
        return before.endswith(("[", "{", ",", ":"))
    if not before or before.endswith(":"):
        return True
    # after a block-sequence dash or a complex-key mark standing on its own ("- [", "- - [", "? [")
    return before[-1] in "-?" and (len(before) == 1 or before[-2] in " \t-?")


def _expression_end(line: str, start: int) -> int | None:
    """Where a plain scalar that starts at `start` inside a flow collection ends: at the first `,`, `]`,
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


def _syntax_message(exc: Any, text: str, file: str, inserted: dict[int, list[int]]) -> tuple[str, Loc | None]:
    """A YAML syntax error in plain words, placed where the user can fix it (`text` is what the parser read)."""
    problem = (exc.problem or exc.context or "invalid YAML").strip()
    mark = exc.problem_mark or exc.context_mark
    lines = text.split("\n")
    if mark is not None and 0 <= mark.line < len(lines) and lines[mark.line][mark.column:mark.column + 1] == "\t":
        return "a tab character cannot start a token; indent YAML with spaces, not tabs", _mark_loc(file, mark, inserted)
    context = exc.context_mark
    at_end = mark is not None and (mark.line >= len(lines) or not text[mark.index:].strip())
    if context is not None and exc.context and at_end and "flow" in exc.context:
        bracket = text[context.index:context.index + 1] if 0 <= context.index < len(text) else "["
        detail = problem.replace("but found", "").split(",  ")[0]
        return f"this '{bracket}' is never closed ({detail.rstrip()})", _mark_loc(file, context, inserted)
    return problem, _mark_loc(file, mark, inserted) if mark else None


def _mark_loc(file: str, mark: Any, inserted: dict[int, list[int]] | None = None) -> Loc:
    column = mark.column
    if inserted and mark.line in inserted:
        column -= sum(1 for c in inserted[mark.line] if c < mark.column)
    return Loc(file, mark.line + 1, column + 1)


def read_yaml(text: str, file: str = "<string>") -> RawDoc:
    """Parse YAML text into a RawDoc, refusing anything unsafe with a located diagnostic."""

    def fail(code: str, message: str, loc: Loc | None) -> SpecError:
        return SpecError([Diagnostic(code, message, "", loc)], {file: text})

    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_BYTES:
        return_loc = Loc(file, 1, 1)
        raise fail("file-too-large", f"spec is {size:,} bytes; the limit is {MAX_BYTES:,} bytes", return_loc)

    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    sources = SourceMap(file)
    anchors: dict[str, tuple[Any, int]] = {}
    # Each open container: [value, path, pending key (mappings only), key loc, node count]
    stack: list[list[Any]] = []
    root: list[Any] = []
    nodes = 0
    aliases = 0

    def place(value: Any, loc: Loc, count: int) -> Path:
        """Attach a finished value to its parent; return its path."""
        nonlocal nodes
        nodes += count
        if nodes > MAX_NODES:
            raise fail("too-large", f"spec expands to more than {MAX_NODES:,} values (aliases included)", loc)
        if not stack:
            root.append(value)
            path: Path = ()
        else:
            frame = stack[-1]
            container, parent_path = frame[0], frame[1]
            frame[4] += count
            if isinstance(container, list):
                path = parent_path + (len(container),)
                container.append(value)
            elif frame[2] is _NO_KEY:
                if isinstance(value, (dict, list)):
                    raise fail("invalid-key", "a mapping key must be a plain scalar, not a mapping or list", loc)
                key = value
                if key in container:
                    raise fail(
                        "duplicate-key",
                        f"key '{key}' appears twice in this mapping; YAML would silently keep only the last one",
                        loc,
                    )
                frame[2], frame[3] = key, loc
                return parent_path
            else:
                key, key_loc = frame[2], frame[3]
                path = parent_path + (key,)
                container[key] = value
                sources.keys[path] = key_loc
                frame[2] = _NO_KEY
        sources.values.setdefault(path, loc)
        return path

    def check_tag(event: Any, loc: Loc) -> None:
        tag = getattr(event, "tag", None)
        if tag and tag not in _STANDARD_TAGS and tag not in ("!", "?"):
            raise fail(
                "yaml-tag",
                f"tag '{tag}' is not allowed: a spec is plain data (no Python objects or custom tags)",
                loc,
            )

    parse_text, inserted = quote_flow_calls(text)
    try:
        for event in yaml.parse(parse_text, Loader=loader_cls):
            loc = _mark_loc(file, event.start_mark, inserted)
            if isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > MAX_ALIASES:
                    raise fail("alias-limit", f"more than {MAX_ALIASES} aliases; write the values out", loc)
                if event.anchor not in anchors:
                    raise fail("yaml-syntax", f"alias '*{event.anchor}' names no anchor defined before it", loc)
                value, count = anchors[event.anchor]
                place(value, loc, count)
            elif isinstance(event, yaml.ScalarEvent):
                check_tag(event, loc)
                if not event.style and event.implicit[0]:
                    value = _plain_scalar(event.value)
                else:
                    value = event.value
                place(value, loc, 1)
                if event.anchor:
                    anchors[event.anchor] = (value, 1)
            elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                check_tag(event, loc)
                if len(stack) >= MAX_DEPTH:
                    raise fail("too-deep", f"nesting deeper than {MAX_DEPTH} levels", loc)
                container: Any = {} if isinstance(event, yaml.MappingStartEvent) else []
                if stack and isinstance(stack[-1][0], dict) and stack[-1][2] is _NO_KEY:
                    raise fail("invalid-key", "a mapping key must be a plain scalar, not a mapping or list", loc)
                path = place(container, loc, 0)
                stack.append([container, path, _NO_KEY, None, 1, event.anchor])
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                frame = stack.pop()
                count = frame[4]
                nodes += 1
                if stack:
                    stack[-1][4] += count
                if frame[5]:
                    anchors[frame[5]] = (frame[0], count)
            elif isinstance(event, yaml.DocumentStartEvent) and root:
                raise fail("yaml-syntax", "a spec file holds one YAML document; remove the extra '---'", loc)
    except yaml.MarkedYAMLError as exc:
        raise fail("yaml-syntax", *_syntax_message(exc, parse_text, file, inserted)) from None
    except yaml.YAMLError as exc:  # reader errors (bad bytes) carry no mark
        raise fail("yaml-syntax", str(exc).splitlines()[0], Loc(file, 1, 1)) from None

    tree = root[0] if root else None
    return RawDoc(tree, sources, text)


class _NoKey:
    def __repr__(self) -> str:
        return "<no key>"


_NO_KEY = _NoKey()
