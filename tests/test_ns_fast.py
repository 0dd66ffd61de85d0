"""The .ns fast reader (frontends/ns_fast.py) against lark's parse of the whole file: for every text, the same
Spec, the same location table (positions and shown paths) and the same errors, or the same rendered report."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netspec.diagnostics import SpecError
from netspec.frontends import dsl, ns_fast

REPO = Path(__file__).resolve().parent.parent
FILES = sorted(p for p in REPO.glob("**/*.ns") if ".git" not in p.parts)


def _outcome(text: str, fast: bool):
    saved = dsl.FAST
    dsl.FAST = fast
    try:
        parsed = dsl.parse_ns(text, "t.ns")
    except SpecError as exc:
        return "error", exc.render()
    finally:
        dsl.FAST = saved
    table = {path: (located.loc, located.shown) for path, located in parsed.locations.table.items()}
    return "spec", parsed.spec.model_dump(), table


def _same(text: str) -> None:
    assert _outcome(text, True) == _outcome(text, False), text


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_ns_file_in_the_repository_reads_the_same(path):
    _same(path.read_text(encoding="utf-8"))


HEAD = "network t\ninput 3x8x8\n"
LINES = [
    "conv2d(8, 3, padding=1)", "relu", "relu()", "relu( )", "conv2d(8,3,)", "conv(8, 3, s=2, p=1)", "bn",
    "stem: conv2d(8, 3)", "stem : relu", "a: b: relu", "conv2d(8, 3) relu bn", "conv2d(8, 3)relu", "relu; relu",
    "relu ;; relu", "relu  # a comment", "# only a comment", "conv2d(8, 3, padding=1, padding=2)",
    "relu(inplace=true, 3)", "conv2d((8), (3))", "conv2d(-8, - 3)", "conv2d(-(8), 3)", "linear([1, 2][0])",
    "linear((1, 2))", "linear(num_classes)", "conv2d(8, 3, padding=1 +)", "conv2d(8 3)", "conv2d(,)", "conv2d(8,,3)",
    "conv2d(a=)", "conv2d(=1)", "conv2d(a==1)", "conv2d(a = 1)", "conv2d(a <= 1)", "f(1)(2)", "f (1)", "f(1", "f(1))",
    "f(]", "f([1, 2)", "f({'a': 1})", "f({a: 1})", "f(x[1:2], x[::2])", "f([i * 2 for i in range(3)])",
    "f(1 if a else 2)", "f(not a)", "f(a in [1])", "f($x)", "resize($enc, mode=nearest)", "f('a')", 'f("a")',
    "f(`a`)", "`add`", "add { relu relu }", "f(first=1)", "f(in=1)", "f(x, for)", "input", "relu input", "then",
    "repeat 2 relu", "f(1_000, 1e3, .5, 1.)", "f(1__0)", "f(1e999)", "f(é)", "é", "f(a.b)", "relu.x", "relu:",
    "x = 3", "relu\\", "f(true, false, null)", "f(a=null)", "f([])", "f([[1], [2, 3]])", "f(\t1\t,\t2\t)",
    "f(1,\n2)", "f(1, # c\n 2)", "[relu relu]", "conv2d(8, 3) [relu]", "relu(inplace=True)", "dropout(0.5)",
    "maxpool(3, s=2)", "conv2d(8, " + "(" * 120 + "1" + ")" * 120 + ")", "f(" + "[" * 99 + "]" * 99 + ")",
    "f(" + "[" * 97 + "1" + "]" * 97 + ")", "stem: f(a=" + "-" * 96 + "1)", "f(" + "-" * 96 + "1)",
]


@pytest.mark.parametrize("line", LINES)
def test_the_listed_lines_read_the_same(line):
    _same(HEAD + line + "\n")
    _same(HEAD + line + "\nrelu\n")
    _same(HEAD + "relu\n" + line)


def test_declarations_between_fast_lines_keep_their_positions():
    text = ("# a spec\nnetwork t \"a net\"\ninput 3x8x8\nparam w = 2, k = [1, 3]\nconv2d(w * 4, k[1])\n"
            "function half(v) = v // 2\nrelu; block unit(c, s=1) = [conv2d(c, 3, stride=s) relu]\n"
            "unit(half(8))  # a call of the block\n\"the doc\"\nblock other(c) = residual { conv2d(c, 3) }\n"
            "repeat 2 unit(4)\nlinear(10) relu\n  outputs main\n")
    _same(text)
    _same(text.replace("block unit", "block conv"))  # a block named as an alias: the alias is not lowered
    _same(text.replace("linear(10)", "linear(10, 11, bias=3, bias=4)"))  # errors in fast and lark lines alike
    _same(text.replace("repeat 2 unit(4)", "repeat 2 unit(4"))  # a syntax error in a piece lark reads
    _same(text.replace("\n", "\r\n"))


_WORD = st.sampled_from(["relu", "conv2d", "conv", "bn", "linear", "a", "stem", "x", "c", "s", "p", "in_channels",
                         "add", "if", "true", "null", "dim", "first", "in"])
_ATOM = st.one_of(_WORD, st.sampled_from(["1", "8", "-3", "2.5", "1e3", "[1, 2]", "(1)", "x[0]", "x * 2", "$x",
                                         "a if b else c", "[i for i in x]", "{a: 1}", "'s'", "(1, 2)", "f(a=1)"]))
_ARG = st.one_of(_ATOM, st.tuples(_WORD, _ATOM).map(lambda kv: f"{kv[0]}={kv[1]}"))
_CALL = st.tuples(st.one_of(st.just(""), _WORD.map(lambda w: w + ": ")), _WORD,
                  st.one_of(st.just(None), st.lists(_ARG, max_size=4))).map(
    lambda t: t[0] + t[1] + ("" if t[2] is None else "(" + ", ".join(t[2]) + ")"))
_LINE = st.lists(_CALL, min_size=1, max_size=3).map(" ".join)
_NOISE = st.sampled_from(["", " ", ";", "#", "(", ")", "[", "]", ",", "=", ":", "\n", "`", "'", "\\", "$", "-", "x"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(st.tuples(_LINE, _NOISE, st.integers(0, 40)), min_size=1, max_size=5))
def test_generated_lines_read_the_same(lines):
    """Lines of calls built from names, values and keywords that need care, each with a character of noise
    put somewhere in it (a bracket, a quote, a separator...): the fast reader and lark agree on all."""
    body = []
    for line, noise, where in lines:
        where = min(where, len(line))
        body.append(line[:where] + noise + line[where:])
    _same(HEAD + "\n".join(body) + "\n")


def test_plain_lines_are_read_without_lark(monkeypatch):
    """A spec of 1,000 plain lines makes no call of lark's parser: the fast reader reads the lines, the .ns
    reader (ns_read.py) its two declarations."""
    calls = []
    real = dsl._parser()

    class Counting:
        def parse(self, text, *args, **kwargs):
            calls.append(text)
            return real.parse(text, *args, **kwargs)

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(dsl, "_parser", lambda: Counting())
    text = HEAD + "".join("conv2d(8, 3, padding=1)\nstem: relu\n" for _ in range(500))
    parsed = dsl.parse_ns(text, "t.ns")
    assert len(parsed.spec.layers) == 1000
    assert calls == []
    statements = ns_fast.statements(text)
    assert sum(ns_fast.read_line(text, s, "t.ns", dsl.MAX_NESTING, dsl.reserved_words()) is not None for s in statements) == 1000
