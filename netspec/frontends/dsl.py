"""The .ns front end: text in netspec's own syntax -> ParsedSpec, the same Spec IR and Locations table as YAML.

    read     ns_fast.py: the common statements          text        -> statements, the rest left to a parser
    parse    ns_read.py: the rest, by hand              the rest    -> lark's parse trees, or "lark's"
    parse    lark LALR (ns.lark + expr.grammar.lark)   what's left -> parse trees, or a located syntax error
    lower    ns_lower.py, rule by rule                 statements  -> canonical data + {IR path: Loc}
    check    pydantic, as for YAML                     data        -> Spec

A valid file is read without lark: it is imported only for what ns_read.py leaves to it (every syntax error,
and the rare texts it is not sure of), so errors are reported by lark exactly as before.

Aliases (`conv` for conv2d, `s=` for stride=, ...) are lowered here, so a Spec holds canonical names only,
and every value reads as the YAML front end reads a call argument: numbers, `true`/`false` and lists are
literals, anything else is kept as expression text. Two additions: `null` is the value None, and a value in
backticks is expression text verbatim (`3` is the text "3", not the number 3).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from pydantic import ValidationError

from .. import budgets
from ..diagnostics import Collector, Diagnostic, Loc, SpecError, did_you_mean
from ..ir.expr import GRAMMAR_FILE
from ..ir.spec import Spec, built_spec
from . import ns_read
from .ns_fast import NO_PLAN, line_plan, lower_line, parse_piece, read_line, statements
from .ns_lower import (ARG_ALIASES, CLAUSES, IDENTIFIER, KEYWORDS, TARGET_ALIASES, Lowering, Piece,  # noqa: F401
                       canonical_arg, canonical_target)
from .validate import Located, Locations, ParsedSpec, report_pydantic_errors
from .yaml_source import MAX_BYTES

MAX_NESTING = 100  # parse-tree levels; far above any real spec, well below Python's recursion limit
MAX_TOKENS = 20_000  # words, numbers and symbols; the largest bundled spec in .ns has about 1,400
# A cheap count of tokens (strings, backticked names, comments, words and numbers, single symbols), taken
# before the parser sees the text, so that a huge file is refused in milliseconds, not parsed for minutes.
_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`\n]*`|#[^\n]*|[A-Za-z0-9_.]+|\S')
_TOKEN_KIND = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`\n]*`|(#)[^\n]*|[A-Za-z0-9_.]+|\S')  # the same, comments marked
_PIECE = 1 << 16  # characters counted by one call


# ---- the parser --------------------------------------------------------------------------------

_OPEN = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}


class _Brackets:
    """Newlines end declarations only outside brackets: inside ( ), [ ] and { } they are dropped (lark's postlexer,
    by duck type: lark.lark.PostLex is not imported until lark is)."""

    always_accept = ("_NL",)

    def process(self, stream: Iterator[Any]) -> Iterator[Any]:
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
def grammar_text() -> str:
    """The .ns grammar: the expression grammar, then ns.lark."""
    own = Path(__file__).with_name("ns.lark")
    return GRAMMAR_FILE.read_text(encoding="utf-8") + "\n" + own.read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def reserved_words() -> frozenset[str]:
    """Every word the grammars spell out (`network`, `if`, `for`...): the fast reader leaves a name that is one
    to lark, which reads it by its context."""
    return KEYWORDS | frozenset(re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"', re.sub(r"//[^\n]*", "", grammar_text())))


@lru_cache(maxsize=1)
def _parser() -> Any:
    from lark import Lark

    from ..tables import cached_parser

    grammar = grammar_text()
    # Analysing the grammar takes about 0.2 s; the tables are kept as JSON in the user's cache folder
    # (netspec/tables.py), never as a pickle and never in the package's own folder.
    return cached_parser(grammar, lambda: Lark(
        grammar, start=["start", "value_start", "count_start"], parser="lalr", lexer="contextual",
        propagate_positions=True, maybe_placeholders=False, postlex=_Brackets()), postlex=_Brackets())


# ---- syntax errors -----------------------------------------------------------------------------

_CLAUSES = CLAUSES

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


def _token_text(token: Any) -> str:
    if token.type == "$END":
        return "end of file"
    if token.type == "_NL":
        return "end of line"
    shown = str(token)
    return f"'{shown if len(shown) <= 24 else shown[:21] + '...'}'"


def syntax_error(exc: Any, text: str, file: str) -> Diagnostic:
    """A lark parse failure (UnexpectedInput) as a located `syntax` diagnostic that says what could stand there
    instead."""
    from lark.exceptions import UnexpectedCharacters

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


def _hint(text: str, offset: int, statement: int, token: Any, open_brackets: list) -> str:
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


def _deepest(tree: Any) -> tuple[int, Any]:
    """The depth of lark's parse tree and its deepest node, found without recursion."""
    best = (0, tree)
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > best[0]:
            best = (depth, node)
        stack.extend((kid, depth + 1) for kid in node.children if not isinstance(kid, str))
    return best


def _check_tokens(text: str, file: str, sources: dict[str, str]) -> None:
    """Refuse a text of more than MAX_TOKENS tokens (comments not counted), at the first token over.

    The tokens are counted a piece of the text at a time (no token spans a line, so the pieces end at line
    ends), each by one call of the regex engine; only the piece where the count runs over is walked token by
    token, to find the first one over. A huge file is refused after its first pieces; a text of no more
    characters than the budget has tokens is not counted at all."""
    count = 0
    max_tokens = budgets.current().cap(MAX_TOKENS, budgets.TOKENS_PER_NODE)
    if len(text) <= max_tokens:  # every token is at least one character: no count can run over
        return
    start = 0
    while start < len(text):
        end = text.find("\n", start + _PIECE)
        end = len(text) if end < 0 else end + 1
        kinds = _TOKEN_KIND.findall(text, start, end)  # "#" for a comment, "" for any other token
        if count + len(kinds) - kinds.count("#") > max_tokens:
            break
        count += len(kinds) - kinds.count("#")
        start = end
    else:
        return
    for match in _TOKEN.finditer(text, start):
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


FAST = True  # read the common statements with the fast reader (ns_fast.py); tests turn it off to compare


def _lower_whole(text: str, file: str, errors: Collector, default_name: str, sources: dict[str, str]) -> Piece:
    """The whole text parsed by lark and lowered: the reference path, and the one that reports syntax errors."""
    from lark.exceptions import UnexpectedInput

    try:
        tree = _parser().parse(text, start="start")
    except UnexpectedInput as exc:
        raise SpecError([syntax_error(exc, text, file)], sources) from None
    depth, deepest = _deepest(tree)
    if depth > MAX_NESTING:
        where = Loc(file, deepest.meta.line, deepest.meta.column) if not deepest.meta.empty else Loc(file, 1, 1)
        raise SpecError([Diagnostic("too-deep", f"nesting deeper than {MAX_NESTING} levels", "", where)], sources)
    lowering = Lowering(text, file, errors, _block_names(tree.children), default_name)
    return lowering.spec([lowering.lower(statement) for statement in tree.children])


def _block_names(statements: list) -> set[str]:
    """The names of the blocks among the statements (trees of `start`'s children, lark's or ns_read's)."""
    return {str(next(c for c in b.children if not isinstance(c, str)).children[0]).strip("`")
            for b in statements if getattr(b, "data", None) == "block"}


def _parse_run(text: str, first: Any, last: Any, reserved: frozenset[str]) -> Any:
    """The `start` tree of the statements from `first` to `last` (ns_fast.Statement), positions the file's: read
    by ns_read.py, or where it leaves them, by lark; None where lark refuses them or they nest too deep."""
    tree = ns_read.read(text, first.start, last.end, first.line, first.line_start, reserved, MAX_NESTING)
    if tree is not None:
        return tree
    from lark.exceptions import UnexpectedInput

    try:
        tree = parse_piece(lambda piece: _parser().parse(piece, start="start"), text, first, last)
    except UnexpectedInput:
        return None
    return None if _deepest(tree)[0] > MAX_NESTING else tree


def _lower_fast(text: str, file: str, errors: Collector, default_name: str) -> Piece | None:
    """The common statements read by the fast reader, runs of the others parsed (_parse_run) as pieces of the
    file; None (nothing lowered, nothing reported) where lark refuses a piece, so that the whole text is parsed
    by lark, which reports the error."""
    parts: list = []  # per statement in order: (statement, its text, the fast reader's entries or None), or a tree
    run: list = []  # the statements waiting for the parser

    def parse_run() -> bool:
        if run:
            tree = _parse_run(text, run[0], run[-1], reserved)
            if tree is None:
                return False
            parts.extend(tree.children)
            run.clear()
        return True

    reserved = reserved_words()
    known: dict[str, bool] = {}  # a statement's text -> does the fast reader read it (its positions aside)
    for statement in statements(text):
        if not statement.simple:
            run.append(statement)
            continue
        key = text[statement.start:statement.end]
        read = known.get(key)
        entries = None
        if read is None:  # the first statement of this text: read it
            entries = read_line(text, statement, file, MAX_NESTING, reserved)
            read = known[key] = entries is not None
        if not read:
            run.append(statement)
            continue
        if run and not parse_run():
            return None
        parts.append((statement, key, entries))  # entries None: lowered as the first of its text was
    if not parse_run():
        return None
    lowering = Lowering(text, file, errors, _block_names([p for p in parts if not isinstance(p, tuple)]),
                        default_name)
    plans: dict[str, Any] = {}  # a statement's text -> its LinePlan, or NO_PLAN
    lowered = []
    for part in parts:
        if not isinstance(part, tuple):
            lowered.append(lowering.lower(part))
            continue
        statement, key, entries = part
        plan = plans.get(key)
        if plan is None:
            plan = plans[key] = line_plan(lowering, entries, statement)
        if plan is NO_PLAN:
            entries = entries or read_line(text, statement, file, MAX_NESTING, reserved)
            lowered.append(lower_line(lowering, entries))
        else:
            lowered.append(plan.replay(errors, statement))
    return lowering.spec(lowered)


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
    errors = Collector(sources=sources)
    lowered = _lower_fast(text, file, errors, default_name) if FAST else None
    if lowered is None:
        lowered = _lower_whole(text, file, errors, default_name, sources)
    errors.raise_if_any()
    data = lowered.data
    locations = Locations({path: _Shown(loc, path, data) for path, loc in lowered.locs.items()}, sources)
    spec = built_spec(data)  # what pydantic would make of plainly valid data; else pydantic decides
    if spec is None:
        try:
            spec = Spec.model_validate(data)
        except ValidationError as exc:
            report_pydantic_errors(exc, locations, errors, file)
            errors.raise_if_any()
            raise AssertionError("pydantic failed without errors") from None
    return ParsedSpec(spec, locations, text, file, "ns")


class _Shown(Located):
    """A location whose path as a person names it (`_shown`) is worked out from the spec's data the first time a
    message reads it: most paths of a valid spec are never named."""

    __slots__ = ("_data",)

    def __init__(self, loc: Loc, path: tuple, data: Any) -> None:
        self.loc, self._shown, self._data = loc, path, data

    def moved(self, loc: Loc | None) -> "_Shown":
        return _Shown(loc, self._shown, self._data)  # type: ignore[arg-type]

    @property
    def shown(self) -> str:
        if not isinstance(self._shown, str):
            self._shown, self._data = _shown(self._shown, self._data), None
        return self._shown


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
    item = ns_read.read_one(text, start == "count_start", reserved_words(), MAX_NESTING)
    if item is None:  # a text the .ns reader leaves to lark
        from lark.exceptions import UnexpectedInput

        try:
            item = _parser().parse(text, start=start).children[0]
        except UnexpectedInput:
            return _NOTHING
    return lowered_value(text, item)


def lowered_value(text: str, item: Any) -> Any:
    """The value a tree of `text` (lark's, or ns_read's Standalone) lowers to; a private sentinel where the
    lowering reports a problem."""
    errors = Collector()
    piece = Lowering(text, "<value>", errors, set(), "").values.value(item)
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
