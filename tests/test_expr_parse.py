"""The hand-written expression parser (netspec/ir/exprparse.py) against lark's LALR parser of the same grammar:
wherever it answers, its tree is lark's, node for node, token for token, with the same positions (own and
container); where lark refuses a text, it refuses it too (the text then goes to lark, whose error is reported).
Compared on the grammar fuzzer's texts, on mutations of them (keywords, brackets, operators put anywhere), on
listed corners, and on every expression the bundled specs hold."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netspec import pipeline
from netspec.ir import expr, exprparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_expr_fuzz import grammar_text_from  # noqa: E402  (the grammar's own random texts)

REPO = Path(__file__).resolve().parent.parent
TOKEN_FIELDS = ("start_pos", "end_pos", "line", "column", "end_line", "end_column")
META_FIELDS = ("start_pos", "end_pos", "line", "column", "end_line", "end_column", "container_start_pos",
               "container_end_pos", "container_line", "container_column", "container_end_line",
               "container_end_column")


def _lark(text: str):
    try:
        return expr._parser().parse(text)
    except Exception:  # noqa: BLE001 - any refusal
        return None


def _same(mine, theirs, where: str = "root") -> None:
    if isinstance(theirs, str):
        assert type(mine) is exprparse.Token, (where, mine, theirs)
        assert (mine.type, str(mine)) == (theirs.type, str(theirs)), where
        for field in TOKEN_FIELDS:
            assert getattr(mine, field) == getattr(theirs, field), (where, field)
        return
    assert type(mine) is exprparse.Tree, (where, mine, theirs)
    assert mine.data == theirs.data and len(mine.children) == len(theirs.children), (where, mine, theirs)
    assert mine.meta.empty is theirs.meta.empty is False
    for field in META_FIELDS:
        assert getattr(mine.meta, field) == getattr(theirs.meta, field), (where, mine.data, field)
    for i, (a, b) in enumerate(zip(mine.children, theirs.children)):
        _same(a, b, f"{where}.{i}")


def _check(text: str) -> bool:
    """Compare on `text`; True where the hand-written parser answered."""
    mine, theirs = exprparse.read(text), _lark(text)
    if mine is None:
        return False
    assert theirs is not None, f"read {text!r}, which lark refuses"
    _same(mine, theirs)
    assert mine == theirs and theirs == mine
    return True


CASES = [
    "relu", "x", "_a1", "12", "1.5", ".5", "1e5", "1.e-3", "1_000", "-3", "- 3", "-x", "true", "None", "'s'", '"t"',
    "$enc", "$body.layer2", "relu()", "relu( )", "conv2d(64, 3)", "conv2d(64,3,stride=2,padding=1)",
    "conv2d(8, -3, padding=1, bias=false,)", "f(a = 1)", "f(a=-1)", "f(\t1\t,\t2\t)", " relu", "relu ", "f (1)",
    "a + b * c - d / e // f % g", "-2 ** 2", "2 ** -1", "a ** b ** c", "(a + b) * c", "((a))", "((a) + (b))",
    "not a == b", "not not a", "a and not b or c", "a if b else c if d else e", "(a if b else c)", "a in b",
    "a not in b", "x < y", "x <= y", "x != y", "x[0]", "x[1:]", "x[:2]", "x[::]", "x[1:2:3]", "x[::2]", "x[:2:]",
    "x[0][1:][::2]", "f(x)[0]", "[1, 2][0]", "[]", "[a]", "[a,]", "[a, b]", "(a,)", "(a, b, )", "{}", "{a: 1}",
    "{a: 1, 'b': 2,}", "[c * 2 for c in xs if c > 0 if c < 9]", "[i for i, j in zip(a, b)]", "[x for (i, j) in y]",
    "[x for x, in y]", "[x for x in a for y in b]", "{k: v for k, v in d}", "f(in=1)", "f(in)", "in", "for", "if",
    "a == not", "-not", "not(1)", "a == not(1)", "[x for in in y]", "[x for (in, if) in y]", "{in: if}",
    "x if in else for", "a[in:for]", "in ** not", "f(a, or=2)", "not in", "a in in", "in(in=in)",
    "conv2d(width, 7, stride=2, padding=3, bias=false, in=in_channels)", "1if x else 2", "-(3)", "+ + -x",
    # refused by both
    "", " ", "not", "f(not=1)", "()", "f(1)(2)", "f(1", "f(", "f(,)", "f(1,,2)", "f(x y)", "3x", "1e", "a < b < c",
    "a in b in c", "a == b in c", "f(a for a in b)", "[a, b for a in c]", "{a: b, c: d for e in f}", "x.y", "é",
    "f(1\n)", "a if b", "a if b else", "[x for x in y if a else b]", "x[]", "x[1:2:3:4]", "{a}", "(,)", "a b",
    "f(a=)", "f(=1)", "1 + not x", "a ** not", "$", "$a.", "'unclosed", "a = 1", "a ===b", "!a", "a !b",
    # read by lark alone: the lexer splits a keyword off a word (the hand-written one does not)
    "a ifb else c", "x inxs", "1in000", "a andb",
]


def test_the_listed_texts():
    answered = [text for text in CASES if _check(text)]
    assert "conv2d(width, 7, stride=2, padding=3, bias=false, in=in_channels)" in answered
    assert "f(in)" in answered and "[x for (in, if) in y]" in answered and "a ifb else c" not in answered
    for text in ("", "not", "a < b < c", "f(1)(2)"):
        assert exprparse.read(text) is None


@pytest.mark.parametrize("shard", range(4))
def test_grammar_texts_and_their_mutations(shard):
    pieces = ["", "(", ")", "[", "]", "{", "}", ",", ":", "=", "==", "-", "+", "**", "*", " not ", " in ", "in",
              " if ", " else ", " or ", "and ", "for ", " for x in y ", "(in, if)", " in=", "x", "1", "'", ".", "\t"]
    answered = 0
    for seed in range(shard * 500, shard * 500 + 500):
        text = grammar_text_from(seed)
        if len(text) > expr.MAX_EXPR_CHARS:
            continue
        answered += _check(text)
        rng = random.Random(seed)
        for _ in range(3):
            i = rng.randrange(len(text) + 1)
            j = min(len(text), i + rng.randrange(4))
            _check(text[:i] + rng.choice(pieces) + text[j:])
    assert answered > 400  # the grammar's texts are read here, nearly all


PIECES = ["f", "x", "a", "in", "if", "else", "not", "or", "and", "for", "true", "1", "0.5", ".5", "1e3", "1_0",
          "$a", "'s'", "-", "+", "*", "**", "/", "//", "%", "==", "<", ">=", "!=", "(", ")", "[", "]", "{", "}",
          ",", ":", "=", " ", "\t", "é", "\n"]


@settings(max_examples=1500, deadline=None, derandomize=True, database=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=14))
def test_generated_token_soups(pieces):
    _check("".join(pieces))


def test_deep_nesting_is_left_to_lark_and_reported_as_before():
    deep = "(" * (exprparse.MAX_NESTING + 1) + "1" + ")" * (exprparse.MAX_NESTING + 1)
    assert exprparse.read(deep) is None and expr.parse_expr(deep).data == "number"
    ok = "(" * exprparse.MAX_NESTING + "1" + ")" * exprparse.MAX_NESTING
    assert _check(ok)
    for text in ("-" * 150 + "1", "1" + " + 1" * 150, "[" * 120 + "]" * 120, "2" + " ** 2" * 120):
        with pytest.raises(expr.ExprError, match="nested more than 100 levels"):
            expr.parse_expr(text)


def test_parse_expr_gives_netspec_trees_even_where_lark_reads_the_text():
    expr.parse_expr.cache_clear()
    for text in ("conv2d(64, 3)", "a ifb else c"):
        tree = expr.parse_expr(text)
        assert type(tree) is exprparse.Tree and tree == _lark(text)
        _same(tree, _lark(text))
    assert expr.called_names(expr.parse_expr("f(g(1), h(k(2)))")) == \
        [(str(n.children[0]), n.children[0].column) for n in _lark("f(g(1), h(k(2)))").iter_subtrees()
         if n.data == "call"]


def test_every_expression_of_the_bundled_specs(monkeypatch):
    texts: list[str] = []
    real = exprparse.read
    monkeypatch.setattr(exprparse, "read", lambda text: texts.append(text) or real(text))
    pipeline.clear_caches()  # specs parsed by earlier tests in this process would not be read again
    expr.parse_expr.cache_clear()
    specs = sorted(p for p in (REPO / "architectures").rglob("*") if p.suffix in (".yaml", ".ns"))
    for path in specs:
        try:
            pipeline.analyse(path)
        except Exception:  # noqa: BLE001 - a spec that needs params or is too big: its expressions were read
            pass
    expr.parse_expr.cache_clear()
    assert len(set(texts)) > 500
    refused = [text for text in sorted(set(texts)) if not _check(text)]
    assert refused == [], f"the bundled specs' expressions are read by lark: {refused[:5]}"
