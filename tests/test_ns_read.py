"""The .ns reader (frontends/ns_read.py) against lark's LALR parser of ns.lark: for every text it reads, the very
tree lark builds (rules, children, tokens and every position); for every text lark refuses, no tree at all (so
the error is lark's). And the spec it gives through the lowering is the same as the whole-file lark path's."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netspec.frontends import dsl, ns_read
from netspec.frontends.ns_lower import Standalone

from tests.fuzz.strategies import spec_texts, text_edits
from tests.test_expr_fuzz import grammar_text_from
from tests.test_dsl_properties import SEED_TEXTS, VOCABULARY, _tokens, specs
from tests.test_ns_fast import HEAD, LINES, _same
from netspec.frontends.printer import to_ns

REPO = Path(__file__).resolve().parent.parent
BUNDLED = sorted(p for p in (REPO / "architectures").rglob("*.ns"))
EVERY = sorted(p for p in REPO.glob("**/*.ns") if ".git" not in p.parts)


def _ours(text: str):
    return ns_read.read(text, 0, len(text), 1, 0, dsl.reserved_words(), dsl.MAX_NESTING)


def _lark(text: str):
    from lark.exceptions import UnexpectedInput

    try:
        tree = dsl._parser().parse(text, start="start")
    except UnexpectedInput:
        return None
    return None if dsl._deepest(tree)[0] > dsl.MAX_NESTING else tree


def _line_column(text: str, offset: int) -> tuple[int, int]:
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _expression_differences(text: str, ours, theirs, where: str) -> list[str]:
    """An expression tree of exprparse's (offsets the file's) against lark's: shape, tokens and positions."""
    if isinstance(theirs, str):
        if not isinstance(ours, str) or (ours.type, str(ours), ours.start_pos) != (theirs.type, str(theirs),
                                                                                 theirs.start_pos):
            return [f"{where}: token {ours!r} != {theirs!r}"]
        return []
    found = []
    if isinstance(ours, str) or ours.data != theirs.data or len(ours.children) != len(theirs.children):
        return [f"{where}: {ours!r} != {theirs!r}"]
    meta = theirs.meta
    if (ours.start_pos, ours.end_pos) != (meta.start_pos, meta.end_pos):
        found.append(f"{where}: {ours.data} spans {ours.start_pos}-{ours.end_pos}, lark's {meta.start_pos}-"
                     f"{meta.end_pos}")
    if (ours.container_start_pos, ours.container_end_pos) != (meta.container_start_pos, meta.container_end_pos):
        found.append(f"{where}: {ours.data}'s brackets differ")
    for i, (a, b) in enumerate(zip(ours.children, theirs.children)):
        found += _expression_differences(text, a, b, f"{where}.{i}")
    return found


def differences(text: str, ours, theirs, where: str = "start") -> list[str]:
    """Where this reader's tree differs from lark's (a .ns rule's node and tokens by line and column)."""
    if isinstance(ours, Standalone):
        found = _expression_differences(text, ours.tree, theirs, where)
        if ours.line is not None and not found:  # its line and column, as the lowering will read them
            if (ours.line, ours.tree.column + ours.column - 1) != (theirs.meta.line, theirs.meta.column):
                found.append(f"{where}: placed at {ours.line}:{ours.tree.column + ours.column - 1}")
        return found
    if isinstance(theirs, str):
        if not isinstance(ours, str) or (ours.type, str(ours), ours.line, ours.column) != (
                theirs.type, str(theirs), theirs.line, theirs.column):
            return [f"{where}: token {ours!r} != {theirs!r}"]
        return []
    if isinstance(ours, str) or ours.data != theirs.data or len(ours.children) != len(theirs.children):
        return [f"{where}: {ours!r} != {theirs!r}"]
    found = []
    if where != "start" and (ours.line, ours.column) != (theirs.meta.line, theirs.meta.column):
        found.append(f"{where}: {ours.data} at {ours.line}:{ours.column}, lark's {theirs.meta.line}:"
                     f"{theirs.meta.column}")
    for i, (a, b) in enumerate(zip(ours.children, theirs.children)):
        found += differences(text, a, b, f"{where}.{i}")
    return found


def _agree(text: str, must_read: bool = False) -> None:
    ours, theirs = _ours(text), _lark(text)
    if theirs is None:
        assert ours is None, text  # lark refuses it: so does this reader, and lark reports the error
        return
    if ours is None:
        assert not must_read, text
        return
    assert differences(text, ours, theirs) == [], text


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: str(p.relative_to(REPO)))
def test_every_bundled_spec_is_read_as_lark_reads_it(path):
    _agree(path.read_text(encoding="utf-8"), must_read=True)


@pytest.mark.parametrize("path", EVERY, ids=lambda p: str(p.relative_to(REPO)))
def test_every_ns_file_in_the_repository_gives_lark_s_tree_or_none(path):
    _agree(path.read_text(encoding="utf-8"))


STATEMENTS = [
    'network t "a description"', "network `odd name`", 'network "quoted name"', "network names", "network t \"\\\"q\\\"\"",
    'extends "a.ns"', 'extends "a.ns", "b.ns"', "input [c, 224, 224]", "input 3", "input 3.5", "input 3x224x", "input 1e3",
    "input (3, 8, 8)", "param a = 1, b = [1,\n 2]", "param first = 1", "param `x` = 2", "param a = 1,", "param a == 1",
    "outputs main", "outputs main, aux", "outputs $c3, $c4", "outputs out = main, aux = $aux.head", 'outputs "o" = `x`',
    "outputs a = b, c", "function half(v) = v // 2", "function f(a, b=2) = a * b", "function f() = 1",
    "function f(a in [1]) = a", "block b(c) = conv2d(c, 3)", 'block b(c, act in [relu, silu] = relu) = relu',
    'block b(a inx) = relu', '"doc"\nblock b = relu', '"doc"; block b = relu', '"doc"\n\n# c\nblock b = relu',
    '"doc" block b = relu', "'doc'\nblock b = relu", "block b() = [relu\n relu]", "block b(c,) = relu",
    "init conv2d(weight=kaiming_normal(mode=fan_out), bias=zeros)", "init linear(weight=normal(0, 0.01)), bn(weight=ones)",
    "init conv2d()", "init conv2d(in=1)", "init conv", "concat { relu relu }", "concat(dim=2) { relu }",
    "concat(axis=2) { relu }", "concat(dim=2, x=1) { relu }", "add { relu; relu }", "mul { [relu] $x }",
    "residual { relu } shortcut auto as down after relu", "residual { relu } shortcut { conv2d(8, 1) bn }",
    "residual { relu } as x", "residual { relu } after [relu relu]", "residual { relu }\nshortcut auto",
    "[residual { relu }\n shortcut conv]", "residual { relu } shortcutt auto", "repeat 2 relu", "repeat n relu",
    "repeat (n * 2) relu", "repeat n(2) relu", "repeat `n` relu", "repeat 2 first(stride=2) names \"b{i}\" basic(8)",
    "repeat (1, 2) relu", "repeat ((1, 2)) relu", "repeat -1 relu", "repeat first relu", "repeat 2 [relu]",
    "repeat 2 first() relu", "dense 4 names \"l{i}\" conv2d(8, 3)", "dense n relu", "if d > 0 then relu",
    "if d > 0 then relu else [relu]", "if a then (relu) else (relu relu)", "if a if b else c then relu",
    "if a then if b then relu else relu", "if x thenrelu", "if x then relu else", "splice [relu]", "flat relu",
    "output relu", "output train_only linear(10)", "output train_only", "parameter [dim, 1, 1]", "parameter 768x1x1",
    "parameter (shape)", "parameter [1] init constant(1e-6)", "parameter [] init 0", "parameter [1,] relu",
    "parameter 3.5", "$x", "$enc.layer2 relu", "a: [relu]", "a: concat { relu }", "a: $x", "`add`: relu",
    "stem: `conv`(8, 3)", "f(in=1)", "f(not=1)", "f(if=1)", "f(`in`=1)", "f(a=`3`)", "f(`3`)", "f(x\n, y)",
    "f([1, # c\n 2])", "f(\"a\\\"b\")", "f('a')", "f(a) # c", "relu then", "relu else relu", "concat { relu",
    "concat { relu ]", "[relu; ; relu]", "[]", "f(1)(2)", "input 3x8x8; relu", "relu;", ";;relu;;", "",
    "\n\n", "# only", "relu\r\nrelu", "relu\rrelu", "f(a=1, 2)", "f(a = b in c)", "f(x for x in y)",
    "f([x for x in y])", "f({a: 1 for a in b})", "f(a[1:2])", "conv2d(c, 3, padding=1 if s else 0)",
    "block b(c) = " + "[" * 60 + "relu" + "]" * 60, "block b(c) = " + "[" * 120 + "relu" + "]" * 120,
    "repeat " * 60 + "relu", "f(" + "(" * 45 + "1" + ")" * 45 + ")",
]


@pytest.mark.parametrize("statement", STATEMENTS)
def test_the_listed_statements_read_as_lark_reads_them(statement):
    for text in (HEAD + statement + "\n", statement, HEAD + statement + "\nrelu\n  " + statement):
        _agree(text)
    _same(HEAD + statement + "\n")


@pytest.mark.parametrize("line", LINES)
def test_the_fast_reader_s_lines_read_as_lark_reads_them(line):
    _agree(HEAD + line + "\n")
    _agree(HEAD + "[" + line + "\n]\n")


_WORD = st.sampled_from(["relu", "conv2d", "x", "c", "n", "add", "concat", "residual", "repeat", "dense", "if", "then",
                         "else", "in", "not", "first", "names", "shortcut", "as", "after", "output", "train_only",
                         "splice", "flat", "parameter", "init", "param", "block", "network", "input", "true"])
_PIECE = st.one_of(_WORD, st.sampled_from(["(", ")", "[", "]", "{", "}", ",", "=", ":", ";", "\n", "1", "2x3", "-",
                                           "*", "$x", "`b`", '"s"', "'s'", "# c\n", "==", ".5", "auto", "identity"]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=st.lists(_PIECE, min_size=1, max_size=14), glue=st.sampled_from([" ", ""]))
def test_generated_statements_read_as_lark_reads_them(pieces, glue):
    """Words, keywords and symbols of the grammar in any order: this reader's tree is lark's, or it has none."""
    _agree(HEAD + glue.join(pieces) + "\n")


_ENTRY = st.deferred(lambda: st.one_of(
    st.sampled_from(["relu", "conv2d(c, 3, padding=1)", "bn", "$x", "stem: relu", "f(in=c)", "linear(n * 2)"]),
    _ENTRY.map(lambda e: f"[{e} relu]"),
    st.tuples(st.sampled_from(["concat", "add", "mul", "concat(dim=1)"]), st.lists(_ENTRY, max_size=3)).map(
        lambda t: t[0] + " { " + " ".join(t[1]) + " }"),
    st.tuples(_ENTRY, st.sampled_from(["", " shortcut auto", " shortcut { bn }", " as down", " after relu"])).map(
        lambda t: "residual { " + t[0] + " }" + t[1]),
    st.tuples(st.sampled_from(["2", "n", "(n + 1)", "`k`", "m(2)"]), st.sampled_from(["", " first(stride=2)"]),
              st.sampled_from(["", ' names "b{i}"']), _ENTRY).map(lambda t: f"repeat {t[0]}{t[1]}{t[2]} {t[3]}"),
    st.tuples(st.sampled_from(["a", "d > 0", "x in [1, 2]"]), _ENTRY, st.one_of(st.none(), _ENTRY)).map(
        lambda t: f"if {t[0]} then {t[1]}" + (f" else ({t[2]})" if t[2] else "")),
    _ENTRY.map(lambda e: f"splice {e}"), _ENTRY.map(lambda e: f"output train_only {e}"),
    st.sampled_from(["parameter [c, 1, 1] init 0", "parameter 8x1x1", "parameter (s)"]),
))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=st.lists(_ENTRY, min_size=1, max_size=3), separator=st.sampled_from([" ", "\n", "; ", "\n  # c\n"]),
       wrap=st.booleans())
def test_generated_structures_are_read_and_lowered_as_lark_reads_them(entries, separator, wrap):
    """Valid nested structures, on one line or across lines in brackets: read (never left to lark) into lark's
    tree, and lowered to the same spec as the whole-file lark path."""
    body = separator.join(entries)
    text = HEAD + "param c = 8, n = 2\n" + (f"block b(x) = [\n{body}\n]\nb(1)\n" if wrap else body + "\n")
    _agree(text, must_read="`" not in text)
    _same(text)


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(spec_texts("ns"))
def test_the_fuzzer_s_specs_read_as_lark_reads_them(text):
    """The spec fuzzer's .ns texts (tests/fuzz: every construct, one in eight with an edit): lark's tree or none,
    and the same spec or the same report as the whole-file lark path."""
    _agree(str(text))
    _same(str(text))


@FUZZ
@given(specs())
def test_printed_specs_read_as_lark_reads_them(spec):
    """Specs printed to .ns (keywords as names in backticks, values that look like literals...)."""
    text = to_ns(spec)
    _agree(text)
    _same(text)


@FUZZ
@given(st.sampled_from(SEED_TEXTS), st.data())
def test_edited_bundled_specs_read_as_lark_reads_them(text, data):
    edited = data.draw(text_edits(text))
    _agree(edited)
    _same(edited)


@FUZZ
@given(st.sampled_from(SEED_TEXTS), st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(VOCABULARY)),
                                             min_size=1, max_size=3))
def test_bundled_specs_with_tokens_replaced_read_as_lark_reads_them(text, edits):
    tokens = _tokens(text)
    for position, word in edits:
        tokens[position % len(tokens)] = word + " "
    _agree("".join(tokens))
    _same("".join(tokens))


def test_a_valid_file_is_read_without_lark_s_parser(monkeypatch):
    """Declarations, blocks and structures of every kind, across lines: no call of lark's parser."""
    calls = []
    monkeypatch.setattr(dsl, "_parser", lambda: calls.append(1))
    for path in BUNDLED:
        dsl.parse_ns(path.read_text(encoding="utf-8"), str(path))
    assert calls == []


def _lark_value(text: str, start: str):
    from lark.exceptions import UnexpectedInput

    try:
        return dsl.lowered_value(text, dsl._parser().parse(text, start=start).children[0])
    except UnexpectedInput:
        return dsl._NOTHING


VALUES = ["3", "-3", "- 3", "1.5", "1e3", "true", "null", "[1, 2]", "[1, [2, 3]]", "(1, 2)", "(3)", "-(2)", "a",
          "a * 2", "c if s else 0", "'s'", '"s"', '"a\\"b"', "`3`", "`a b`", "[`3`]", "f(x, k=1)", "$x", "{a: 1}",
          "x[1:2]", "[i for i in x]", "not a", "a in b", "", " ", "1 # c", "1\n", "[1,\n 2]", "3x3", "first",
          "if", "1 2", "(1,)", "((1, 2))", "n(2)", "f(", "é", "9" * 30, "1e999", "in", "not"]


@pytest.mark.parametrize("text", VALUES)
def test_values_and_counts_read_back_as_lark_reads_them(text):
    """The printer's checks (dsl.read_value, read_count) give what lark's `value_start` and `count_start` give."""
    for start, read in (("value_start", dsl.read_value), ("count_start", dsl.read_count)):
        assert read(text) == _lark_value(text, start), (start, text)


@FUZZ
@given(st.integers(0, 10**9))
def test_the_grammar_s_expressions_read_back_as_lark_reads_them(seed):
    text = grammar_text_from(seed)
    for start, read in (("value_start", dsl.read_value), ("count_start", dsl.read_count)):
        assert read(text) == _lark_value(text, start), (start, text)
