"""The expression fast path (expr.fast_parse) against lark's own parser: where the fast path answers, its tree is
lark's tree, node for node, with the same positions; where it does not, lark parses (and reports) as before."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from lark import Token, Tree

from netspec.ir import expr

CASES = [
    "relu", "x", "_a1", "12", "1.5", ".5", "1e5", "1.e-3", "1_000", "-3", "- 3", "-x", "true", "None",
    "relu()", "relu( )", "conv2d(64, 3)", "conv2d(64,3,stride=2,padding=1)", "conv2d(8, -3, padding=1, bias=false,)",
    "f(a = 1)", "f(a=-1)", "f(a=- 2.5e3)", "f(\t1\t,\t2\t)", "lrn(5, alpha=0.0001, beta=0.75, k=1)",
    # shapes the fast path leaves to lark (each must still parse, or fail, exactly as lark says)
    "relu(if)", "if", "f(in=3)", "f(x, for)", "f(not)", "not", "f(a=1, 2)", "f(a=1, a=2)", "f(a==1)", "f(1)(2)",
    "f(1", "f(", "f(,)", "f(1,,2)", "f(x y)", "3x", "1e", "f(--1)", "f(+1)", "f(a.b)", " relu", "relu ", "f (1)",
    "f(1) ", "f([1, 2])", "f(a=b=1)", "f(1 + 2)", "x[0]", "f(a=)", "f(=1)", "é", "f(é)", "f(1\n)", "f(')')",
]


def _lark(text: str):
    try:
        return expr._parser().parse(text), None
    except Exception as exc:  # noqa: BLE001 - compared as text below
        return None, type(exc).__name__


def _same(fast, slow) -> None:
    assert type(fast) is type(slow), (fast, slow)
    if isinstance(slow, Token):
        assert (fast.type, str(fast)) == (slow.type, str(slow))
        for attr in ("start_pos", "line", "column", "end_line", "end_column", "end_pos"):
            assert getattr(fast, attr) == getattr(slow, attr), attr
        return
    assert isinstance(slow, Tree)
    assert fast.data == slow.data and len(fast.children) == len(slow.children), (fast, slow)
    slow_meta, fast_meta = vars(slow.meta), vars(fast.meta)
    assert fast_meta == slow_meta, (fast.data, fast_meta, slow_meta)
    for a, b in zip(fast.children, slow.children):
        _same(a, b)


def _check(text: str) -> None:
    fast = expr.fast_parse(text)
    slow, failure = _lark(text)
    if fast is None:
        return
    assert failure is None, f"fast path accepted {text!r}, which lark refuses ({failure})"
    assert fast == slow
    _same(fast, slow)


def test_the_listed_texts_give_lark_s_trees():
    answered = [text for text in CASES if expr.fast_parse(text) is not None]
    assert "conv2d(8, -3, padding=1, bias=false,)" in answered and "relu" in answered and "-3" in answered
    assert "f(a=1, a=2)" not in answered and "relu(if)" not in answered  # left to lark (and its message)
    for text in CASES:
        _check(text)


def test_parse_expr_answers_and_refuses_as_before():
    expr.parse_expr.cache_clear()
    assert expr.parse_expr("conv2d(64, 3)") == expr._parser().parse("conv2d(64, 3)")
    for bad in ("f(a=1, 2", "f(1,,2)", "3x"):
        try:
            expr.parse_expr(bad)
        except expr.ExprError as exc:
            message = str(exc)
        else:
            raise AssertionError(f"{bad!r} parsed")
        assert message.startswith(f"cannot read expression '{bad}'")


PIECES = ["f", "conv2d", "x", "a", "b", "in", "if", "not", "true", "1", "64", "0.5", ".5", "1e3", "1_0", "-", "+",
          "(", ")", ",", "=", "==", " ", "\t", "[", "]", "*", "é", "\n"]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=12))
def test_generated_texts_agree_with_lark(pieces):
    _check("".join(pieces))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["f", "conv2d", "relu"]),
       st.lists(st.tuples(st.sampled_from(["", "", "k=", "in=", "stride =", "a= "]),
                          st.sampled_from(["1", "-2", "- 3", "0.5", "x", "true", "1e-3", "if", "()"])), max_size=5),
       st.sampled_from(["", ",", " ,", ", "]), st.sampled_from([", ", ",", " , ", ",\t"]))
def test_generated_calls_agree_with_lark(target, args, trailing, comma):
    _check(f"{target}({comma.join(k + v for k, v in args)}{trailing if args else ''})")
