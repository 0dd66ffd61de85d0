"""Diagnostics: located, coded user errors, how they print, and "did you mean" suggestions."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable


@dataclass(frozen=True)
class Loc:
    """A position in a spec source: 1-based line and column."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    """One user error: a stable code, where it is, which spec path, and how to fix it."""

    code: str
    message: str
    path: str = ""
    loc: Loc | None = None

    def render(self, sources: dict[str, str] | None = None, split: dict[str, list[str]] | None = None) -> str:
        """The diagnostic as printed; `split` caches each source's lines across many diagnostics."""
        where = f"{self.loc}: " if self.loc else ""
        path = f"{self.path}: " if self.path else ""
        text = f"{where}error[{self.code}]: {path}{self.message}"
        source = (sources or {}).get(self.loc.file) if self.loc else None
        if source is not None and self.loc is not None:
            if split is None:
                split = {}
            lines = split.get(self.loc.file)
            if lines is None:
                lines = split[self.loc.file] = source.splitlines()
            if 1 <= self.loc.line <= len(lines):
                line = lines[self.loc.line - 1].rstrip()
                gutter = " " * len(str(self.loc.line))
                caret = " " * (self.loc.col - 1) + "^"
                text += f"\n    {self.loc.line} | {line}\n    {gutter} | {caret}"
        return text


class SpecError(Exception):
    """Raised for bad input: holds every diagnostic of the run, and the sources to quote."""

    def __init__(self, diagnostics: Iterable[Diagnostic], sources: dict[str, str] | None = None):
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        self.sources: dict[str, str] = dict(sources or {})
        super().__init__(self.render())

    def render(self) -> str:
        split: dict[str, list[str]] = {}
        return "\n".join(d.render(self.sources, split) for d in self.diagnostics)

    def __str__(self) -> str:
        return self.render()


class UsageError(Exception):
    """A bad command-line or API argument (not a spec problem): exit status 2 in the CLI."""


@dataclass
class Collector:
    """Gathers diagnostics during a pass so that one run reports all of them."""

    sources: dict[str, str] = field(default_factory=dict)
    items: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, path: str = "", loc: Loc | None = None) -> None:
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
    close = difflib.get_close_matches(name, sorted(set(choices)), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(f"'{c}'" for c in close) + "?)"
