"""Comments carried through `netspec fmt` and `netspec convert`: each taken from the source with the spec path
it annotates, and put back beside that path in the printed text, in either syntax.

Both syntaxes give every entry, param, block and key the same IR path (`ParsedSpec.locations`), so a
comment is anchored to a path, not to a line: an end-of-line comment to the outermost path that starts
on its line, a comment on its own lines to the first path after it. Blank lines before an anchor are
kept. Reading and validating never come here: only fmt and convert pay for it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
import yaml

from .validate import IRPath, ParsedSpec


@dataclass(frozen=True)
class Comment:
    """One comment of a source: its text (from `#` on), 1-based line and column, alone on its line or not."""

    text: str
    line: int
    col: int
    own_line: bool


def find_comments(text: str, syntax: str) -> list[Comment]:
    """Every comment of a spec's text, in order."""
    lines = text.split("\n")
    starts = _yaml_comment_starts(text) if syntax == "yaml" else _ns_comment_starts(text)
    found = []
    for line, col in starts:
        body = lines[line - 1]
        found.append(Comment(body[col - 1:].rstrip(), line, col, not body[:col - 1].strip()))
    return found


def _yaml_comment_starts(text: str) -> list[tuple[int, int]]:
    """(line, col) of each `#` that YAML reads as a comment: outside every token PyYAML's scanner finds."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spans = [(t.start_mark.index, t.end_mark.index) for t in yaml.scan(text, Loader=loader)
             if t.start_mark.index != t.end_mark.index]
    spans.sort()
    begins = [s for s, _ in spans]
    starts = []
    index = text.find("#")
    line_starts = _line_starts(text)
    while index != -1:
        before = text[index - 1] if index else "\n"
        k = bisect.bisect_right(begins, index) - 1
        inside = k >= 0 and spans[k][0] <= index < spans[k][1]
        if not inside and before in " \t\n\r":
            line = bisect.bisect_right(line_starts, index)
            starts.append((line, index - line_starts[line - 1] + 1))
            end = text.find("\n", index)
            index = text.find("#", end) if end != -1 else -1
            continue
        index = text.find("#", index + 1)
    return starts


def _ns_comment_starts(text: str) -> list[tuple[int, int]]:
    """(line, col) of each `#` outside strings and backticks: where a .ns comment starts."""
    starts = []
    line, col, quote = 1, 1, None
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\n":
            line, col, quote = line + 1, 1, None
            i += 1
            continue
        if quote:
            if ch == "\\" and quote == '"':
                i, col = i + 2, col + 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"`":
            quote = ch
        elif ch == "#":
            starts.append((line, col))
            end = text.find("\n", i)
            if end == -1:
                break
            col += end - i
            i = end
            continue
        i += 1
        col += 1
    return starts


def _line_starts(text: str) -> list[int]:
    starts = [0]
    index = text.find("\n")
    while index != -1:
        starts.append(index + 1)
        index = text.find("\n", index + 1)
    return starts


# ---- anchoring ----------------------------------------------------------------------------------------


@dataclass
class _Anchored:
    comment: Comment
    path: IRPath | None  # None: after everything (the end of the file)
    up: int  # lines without a path of their own between the comment and the path's line (`params:`, `layers:`)
    blank_before: bool


def _line_paths(parsed: ParsedSpec) -> dict[int, IRPath]:
    """For each line, the outermost path that starts on it (the shortest; the first in the line if tied)."""
    best: dict[int, tuple[int, int, IRPath]] = {}
    for path, located in parsed.locations.table.items():
        loc = located.loc
        if loc is None or loc.file != parsed.file:
            continue
        key = (len(path), loc.col, path)
        if loc.line not in best or key[:2] < best[loc.line][:2]:
            best[loc.line] = key
    return {line: key[2] for line, key in best.items()}


def _anchor(parsed: ParsedSpec, comments: list[Comment]) -> list[_Anchored]:
    lines = parsed.text.split("\n")
    by_line = _line_paths(parsed)
    comment_lines = {c.line for c in comments if c.own_line}
    anchored = []
    for c in comments:
        if not c.own_line and c.line in by_line:
            anchored.append(_Anchored(c, by_line[c.line], 0, False))
            continue
        # the first line after the comment that holds a path, counting the content lines without one
        # on the way (an end-of-line comment's own line among them: `concat:  # ...`)
        up, line, path = (0 if c.own_line else 1), c.line + 1, None
        while line <= len(lines):
            if line in by_line:
                path = by_line[line]
                break
            if line not in comment_lines and lines[line - 1].strip():
                up += 1
            line += 1
        blank = c.own_line and c.line > 1 and not lines[c.line - 2].strip()
        anchored.append(_Anchored(c, path, up, blank))
    return anchored


def _blank_before_paths(parsed: ParsedSpec) -> dict[IRPath, int]:
    """Paths whose line follows a blank line in the source, with the number of header lines (text but no path,
    such as `layers:`) between the blank and the path's line. A blank above a comment belongs to the comment."""
    lines = parsed.text.split("\n")
    by_line = _line_paths(parsed)
    found = {}
    for line, path in by_line.items():
        above, headers = line - 1, 0
        while above >= 1 and lines[above - 1].strip() and above not in by_line \
                and not lines[above - 1].lstrip().startswith("#"):
            headers += 1
            above -= 1
        if above >= 1 and not lines[above - 1].strip():
            found[path] = headers
    return found


# ---- putting them back --------------------------------------------------------------------------------


def carry(source: ParsedSpec, printed: ParsedSpec) -> str:
    """`printed.text` with the comments (and the blank-line grouping) of `source` put back beside the paths
    they annotate. `printed` is the canonical text of the same Spec, parsed, in either syntax."""
    comments = find_comments(source.text, source.format)
    blanks = _blank_before_paths(source)
    if not comments and not blanks:
        return printed.text
    out_lines = printed.text.split("\n")
    if out_lines and out_lines[-1] == "":
        out_lines.pop()
    out_paths = _line_paths(printed)
    first_line: dict[IRPath, int] = {}
    for line, path in sorted(out_paths.items()):
        first_line.setdefault(path, line)
    for path, located in printed.locations.table.items():  # paths that are not the outermost on their line
        if located.loc is not None and located.loc.file == printed.file:
            first_line.setdefault(path, located.loc.line)

    def line_of(path: IRPath) -> int | None:
        """The printed line of `path`, else of its first descendant, else of its nearest ancestor."""
        if path in first_line:
            return first_line[path]
        below = [ln for p, ln in first_line.items() if p[:len(path)] == path]
        if below:
            return min(below)
        while path:
            path = path[:-1]
            if path in first_line:
                return first_line[path]
        return None

    before: dict[int, list[tuple[str, bool]]] = {}  # 0-based printed line -> comments above it (text, blank first)
    after: dict[int, list[str]] = {}  # 0-based printed line -> end-of-line comments
    blank_at: set[int] = set()
    trailer: list[str] = []
    eol_col: dict[int, int] = {}

    def header(index: int) -> bool:
        """Is the printed line just above 0-based `index` a header: text, but no path of its own (`layers:`)?"""
        above = out_lines[index - 1] if index > 0 else ""
        return index > 0 and index not in out_paths and bool(above.strip()) and not above.lstrip().startswith("#")

    for a in _anchor(source, comments):
        target = line_of(a.path) if a.path is not None else None
        if target is None:
            trailer.append(a.comment.text)
            continue
        index, up = target - 1, a.up  # 0-based
        while up > 0 and header(index):
            index, up = index - 1, up - 1
        blank_before = a.blank_before
        if a.comment.own_line and blank_before and a.up == 0 and header(index):
            above = index  # a group that starts with a blank line starts above the printed `layers:`
            while header(above):
                above -= 1
            blank_at.add(above)
            blank_before = False
        if a.comment.own_line or up > 0 or index in after:  # an end-of-line comment whose line is gone goes above
            before.setdefault(index, []).append((a.comment.text, blank_before))
        else:
            after[index] = [a.comment.text]
            eol_col[index] = a.comment.col
    for path, headers in blanks.items():
        if path in first_line:
            index = first_line[path] - 1
            while headers > 0 and header(index):
                index, headers = index - 1, headers - 1
            while headers == 0 and header(index):  # likewise: the blank goes above the printed header
                index -= 1
            blank_at.add(index)

    result: list[str] = []
    for index, line in enumerate(out_lines):
        indent = line[:len(line) - len(line.lstrip())]
        for text, blank in before.get(index, []):
            if blank and result and result[-1].strip():
                result.append("")
            result.append(indent + text)
        if index in blank_at and result and result[-1].strip():
            result.append("")
        if index in after:
            text = after[index][0]
            width = len(line.rstrip())
            column = eol_col[index] - 1
            line = line.rstrip() + (" " * (column - width) if column >= width + 2 else "  ") + text
        result.append(line)
    if trailer:
        if result and result[-1].strip():
            result.append("")
        result.extend(trailer)
    return "\n".join(result) + "\n"


def line_breaks(parsed: ParsedSpec) -> set[IRPath]:
    """The paths of sequence entries that must start a printed line: those with a comment or a blank line
    between them and the entry before them (or the sequence's opening) in the source. The .ns printer packs the
    other entries of a broken sequence onto lines as they fit, so comments and blank-line groups keep their
    place and nothing else about the source's line breaks is kept."""
    table = parsed.locations.table
    comments = find_comments(parsed.text, parsed.format)
    comment_lines = sorted(c.line for c in comments)
    lines = parsed.text.split("\n")
    found: set[IRPath] = set()
    for path, located in table.items():
        if len(path) < 2 or path[-2] != "items" or not isinstance(path[-1], int) or located.loc is None:
            continue
        index = path[-1]
        before = table.get(path[:-1] + (index - 1,)) if index else table.get(path[:-2])
        if before is None or before.loc is None or before.loc.file != located.loc.file:
            continue
        first, line = before.loc.line, located.loc.line
        if line <= first:
            continue
        k = bisect.bisect_left(comment_lines, first)
        commented = k < len(comment_lines) and comment_lines[k] <= line  # its own end-of-line comment too
        blank = any(not lines[n - 1].strip() for n in range(first + 1, line))
        if commented or blank or (parsed.format == "ns" and line > first):
            found.add(path)
    return found


def comment_texts(text: str, syntax: str) -> list[str]:
    """The text of each comment in a spec, in order (what fmt and convert must keep)."""
    return [c.text for c in find_comments(text, syntax)]


__all__ = ["Comment", "carry", "comment_texts", "find_comments", "line_breaks"]
