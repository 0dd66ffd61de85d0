"""Diagnostics: located, coded user errors, how they print, "did you mean" suggestions, and pydantic's errors in our words."""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any, Iterable, Mapping

from .records import FrozenRecord, Record

# Loc, Diagnostic and Collector are Records, which behave as the dataclasses they were (frozen ones too) with no code
# compiled at import (netspec/records.py).


class Loc(FrozenRecord):
    """A position in a spec source: 1-based line and column."""

    __slots__ = ("file", "line", "col")
    _fields = ("file", "line", "col")
    file: str
    line: int
    col: int

    def __init__(self, file: str, line: int, col: int) -> None:
        # the front ends make a few of these per layer: the slots are filled directly, not through the frozen
        # class's __setattr__; assigning one later raises
        _set_file(self, file)
        _set_line(self, line)
        _set_col(self, col)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is Loc:
            return (self.file, self.line, self.col) == (other.file, other.line, other.col)  # type: ignore[attr-defined]
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.file, self.line, self.col))

    def __getstate__(self) -> list:  # a copy or a pickle fills the slots as __init__ does
        return [self.file, self.line, self.col]

    def __setstate__(self, state: list) -> None:
        self.__init__(*state)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


_set_file, _set_line, _set_col = (Loc.__dict__[name].__set__ for name in ("file", "line", "col"))
_set = object.__setattr__


class Diagnostic(FrozenRecord):
    """One user error: a stable code, where it is, which spec path, and how to fix it."""

    _fields = ("code", "message", "path", "loc")
    code: str
    message: str
    path: str
    loc: Loc | None

    def __init__(self, code: str, message: str, path: str = "", loc: Loc | None = None) -> None:
        _set(self, "code", code)
        _set(self, "message", message)
        _set(self, "path", path)
        _set(self, "loc", loc)

    def render(self, sources: dict[str, str] | None = None, split: dict[str, list[str]] | None = None) -> str:
        """The diagnostic as printed; `split` caches each source's lines across many diagnostics. Control
        characters in any part (location, path, message, quoted line) are printed escaped."""
        where = f"{escaped(str(self.loc))}: " if self.loc else ""
        path = f"{escaped(self.path)}: " if self.path else ""
        text = f"{where}error[{self.code}]: {path}{escaped(self.message)}"
        source = (sources or {}).get(self.loc.file) if self.loc else None
        if source is not None and self.loc is not None:
            if split is None:
                split = {}
            lines = split.get(self.loc.file)
            if lines is None:
                lines = split[self.loc.file] = source_lines(source)
            if 1 <= self.loc.line <= len(lines):
                line = lines[self.loc.line - 1].rstrip()
                gutter = " " * len(str(self.loc.line))
                caret = " " * len(escaped(line[: max(self.loc.col - 1, 0)], keep_tabs=True)) + "^"
                text += f"\n    {self.loc.line} | {escaped(line, keep_tabs=True)}\n    {gutter} | {caret}"
        return text


def source_lines(text: str) -> list[str]:
    """A source split into lines as the front ends count them (\\n, \\r\\n and \\r end a line)."""
    return text.splitlines()


_SAFE = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def escaped(text: str, keep_tabs: bool = False) -> str:
    """`text` with control and format characters (escape sequences, newlines, bidi overrides) written as
    escapes, so that nothing from a spec can move the cursor, recolour the terminal or fake a line.
    A quoted source line keeps its tabs (`keep_tabs`), so that it reads as the file does."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable() or unicodedata.category(ch) == "Zs" or (keep_tabs and ch == "\t"):
            out.append(ch)
        elif ch in _SAFE:
            out.append(_SAFE[ch])
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


class SpecError(Exception):
    """Raised for bad input: holds every diagnostic of the run, and the sources to quote."""

    def __init__(self, diagnostics: Iterable[Diagnostic], sources: dict[str, str] | None = None):
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        self.sources: dict[str, str] = dict(sources or {})
        super().__init__()  # rendered when printed, not each time an error is raised again

    def render(self) -> str:
        split: dict[str, list[str]] = {}
        return "\n".join(d.render(self.sources, split) for d in self.diagnostics)

    def __str__(self) -> str:
        return self.render()


class UsageError(Exception):
    """A bad command-line or API argument (not a spec problem): exit status 2 in the CLI."""


MAX_ERRORS = 100  # diagnostics one run reports before it stops


class Collector(Record):
    """Gathers diagnostics during a pass so that one run reports all of them."""

    _fields = ("sources", "items")
    sources: dict[str, str]
    items: list[Diagnostic]

    def __init__(self, sources: dict[str, str] | None = None, items: list[Diagnostic] | None = None) -> None:
        self.sources = {} if sources is None else sources
        self.items = [] if items is None else items

    def error(self, code: str, message: str, path: str = "", loc: Loc | None = None) -> None:
        if len(self.items) >= MAX_ERRORS:  # a file of thousands of mistakes: stop looking, report the first ones
            self.items.append(Diagnostic("too-many-errors", f"more than {MAX_ERRORS} errors; stopped here "
                                         "(fix the ones above, then check again)", path, loc))
            raise SpecError(self.items, self.sources)
        self.items.append(Diagnostic(code, message, path, loc))

    def raise_if_any(self) -> None:
        if self.items:
            raise SpecError(merge_copies(self.items), self.sources)


MAX_LISTED = 3  # copies named in a merged diagnostic


def merge_copies(items: list[Diagnostic]) -> list[Diagnostic]:
    """One diagnostic per mistake: the same message at the same place, made again by every copy of a repeated
    or reused block, becomes one, which names the first copy's path and lists a few of the others."""
    groups: dict[tuple, list[Diagnostic]] = {}
    for d in items:
        groups.setdefault((d.code, d.loc, d.message) if d.loc is not None else (id(d),), []).append(d)
    out = []
    for group in groups.values():
        first = group[0]
        if len(group) > 1:
            others = [d.path for d in group[1:] if d.path]
            listed = ", ".join(others[:MAX_LISTED]) + (", ..." if len(others) > MAX_LISTED else "")
            copies = len(group) - 1
            first = Diagnostic(first.code, f"{first.message} (and {copies} more cop{'y' if copies == 1 else 'ies'}"
                               f"{': ' + listed if listed else ''})", first.path, first.loc)
        out.append(first)
    return out


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A ' (did you mean ...?)' suffix naming the closest choices, or ''."""
    return _closest(str(name), tuple(choices))


@lru_cache(maxsize=1024)
def _closest(name: str, choices: tuple) -> str:
    """did_you_mean, remembered: the same misspelling in every copy of a block is matched once."""
    import difflib  # only a spec with a mistake in it needs it

    close = difflib.get_close_matches(name, sorted(set(choices)), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(f"'{c}'" for c in close) + "?)"


_PYDANTIC_WORDS = {  # pydantic error type -> the sentence netspec says instead ({...} from the error's context)
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be {ge} or more",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be {le} or less",
    "multiple_of": "must be a multiple of {multiple_of}",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "dict_type": "must be a mapping",
    "literal_error": "must be {expected}",
    "enum": "must be {expected}",
    "too_short": "needs at least {min_length} items",
    "too_long": "takes at most {max_length} items",
    "missing": "is required",
}


def plain_message(err: Mapping[str, Any]) -> str:
    """One pydantic error (an item of ValidationError.errors()) in netspec's words, with the value that was given:
    no "Input should be", no "Value error, "."""
    kind, ctx = str(err.get("type", "")), err.get("ctx") or {}
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", err.get("msg", ""))).removeprefix("Assertion failed, ")
    words = _PYDANTIC_WORDS.get(kind)
    if words is None:
        text = str(err.get("msg", "")).removeprefix("Value error, ")
        return text.replace("Input should be", "must be").replace("Input should", "must")
    try:
        text = words.format(**{k: f"{v:g}" if isinstance(v, float) else v for k, v in ctx.items()})
    except (KeyError, IndexError):
        text = words.split(" {")[0]
    given = err.get("input")
    if kind != "missing" and isinstance(given, (bool, int, float, str)) and not isinstance(given, type):
        shown = ("true" if given else "false") if isinstance(given, bool) else repr(given)
        text += f", got {shown}"
    return text
