"""The compiled form of an expression (expr._code: closures made once per parsed tree) against the tree walk it
replaces (expr._Eval with compiled=False, whose methods per node kind are the reference semantics): on the
expression fuzzer's grammar corpus, its targeted corpus and a list of corners (the step, item and depth limits
approached from both sides), both give the same value, of the same types, after the same count of steps, or the
same error (class, code, message, column). tests/test_expressions.py compares values with Python's own arithmetic."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netspec.ir import expr
from netspec.ir.expr import CallValue, Const, ExprError, Later, RefValue, Symbol, make_functions, parse_expr
from tests.test_expr_fuzz import ENV, _targeted, grammar_text_from

_count = parse_expr("0 if n <= 0 else 1 + count(n - 1)")  # 3 levels of nesting a call: the depth limit at n = 66
_twice = parse_expr("count(n) + count(k)")
_FNS = make_functions({"count": ([("n", None)], _count), "twice": ([("n", None), ("k", parse_expr("n // 2"))], _twice),
                       "one": ([], Const(1)), "loop": ([("n", None)], parse_expr("loop(n)"))})
CORNER_ENV = {**ENV, **_FNS, "poisoned": expr.POISON, "p": 7}

CORNERS = [
    # the depth limit through calls of spec functions, from both sides (the walk checks node by node)
    *[f"count({n})" for n in (1, 10, 64, 65, 66, 67, 68, 100)],
    *[f"twice({n})" for n in (60, 63, 64, 65, 66, 130)], "twice(66, 2)", "loop(1)", "one()", "one(1)",
    "[count(i) for i in range(70)]", "count(65) + count(66)", "count(n=66)", "twice(k=1)", "twice(1, n=2)",
    # the step limit, from both sides: 508 steps an outer item, 200,000 passed at the 394th
    *[f"sum([sum([1 for j in range(100)]) for i in range({m})])" for m in (392, 393, 394, 395, 700)],
    *[f"len([0 for i in range(99) for j in range({m})])" for m in (100, 101, 102)],
    # items
    "[0] * 10000", "[0] * 10001", "[[0] * 5000] * 2", "[[0] * 5000] * 3", "'ab' * 3", "[1, 2] + [3]",
    "'a' + 'b'", "relu + 'b'", "[x for x in range(10001)]", "{i: i for i in range(5000)}", "{i: i for i in range(5001)}",
    # arithmetic and its errors, numbers at and past the limits
    "1 / 0", "1 // 0", "1 % 0", "1.0 / 0", "10 ** 18", "10 ** 18 + 1", "-10 ** 18 - 1", "1e18 * 10", "big + 1",
    "-big", "+big", "--big", "- -1", "1e308 * 1e308", "tiny ** -64", "2 ** 64", "2 ** 0.5", "(-8) ** 0.5",
    "99999999999999999999", "-99999999999999999999", "1" + "0" * 45, "3 // 2", "-3 // 2", "-3 % 2", "3.5 % 2",
    "true + 1", "none + 1", "a + relu", "a + in_channels", "in_channels", "in_channels * 2", "poisoned + 1",
    "max(poisoned, 1)", "[poisoned]", "p if poisoned else 1", "poisoned and 1", "not poisoned",
    # comparisons, membership, logic
    "1 < 2", "1 < 2.5", "1 == true", "'a' < 'b'", "'a' < 1", "[1] < [2]", "HS == 'HS'", "relu in words",
    "1 in xs", "4 not in xs", "'k' in d", "'a' in 'cat'", "1 in 2", "1 and 0", "0 or []", "not []", "a if b else c",
    "relu if a else 1", "1 if relu else 2", "x and y",
    # indexing and slicing
    "xs[0]", "xs[-1]", "xs[3]", "xs[-4]", "xs[true]", "xs[1.0]", "nested[1][0]", "d['k']", "d['z']", "d[relu]",
    "xs[1:]", "xs[:-1]", "xs[::2]", "xs[::0]", "xs[::-1]", "'abc'[1:]", "xs[relu:]", "relu[0]", "3[0]", "xs['a']",
    # comprehensions, dicts, calls
    "[x * 2 for x in xs if x > 1]", "[a for a, b in zip(xs, xs)]", "[a for a, b in xs]", "[x for x in 3]",
    "[x for x in d]", "[c for c in 'abc']", "{k: v for k, v in enumerate(xs)}", "{xs: 1}", "{relu: 1}[relu]",
    "[i for i in range(3) for j in range(i) if i > j if j >= 0]", "[x for x in relu]", "sum(xs, 10)",
    "max(xs)", "max()", "max([])", "min(1, 2.0, 1.0)", "max(1, 1.0)", "round(2.5)", "round(2.567, 2)",
    "round(1, 99)", "int(2.9)", "float(2)", "abs(-3)", "len(d)", "len(3)", "range(0, 10, 0)", "range(1, 2, 3, 4)",
    "log(0)", "log(8, 2)", "log(8, 1)", "sqrt(-1)", "exp(43)", "pow(2, 10)", "prod(xs)", "any([])", "all([1, 0])",
    "enumerate(xs, 1)", "zip(xs, words)", "max(ev=1)", "kaiming_normal(mode=fan_out)", "relu()", "f(1, a=2, b=x)",
    "double(3)", "double()", "double(1, 2)", "double(y=1)", "double(3, x=1)", "fact(5)", "fact(30)", "$enc",
    "resize($lateral)", "[$a, 1]", "'it' + 's'", "words[0] == 'relu'", "range(3) * 2", "2 * range(3)", "xs * 1.5",
    "xs * true", "xs * relu", "[] * -1",
    # the built-ins the compiled call answers itself, at the edges of what it answers
    "sum([big, 1])", "sum([big, -1, 1])", "sum([1e18, 1e18])", "sum([0.5, true])", "sum(d)", "sum([])", "sum([a, c])",
    "sum([1, 2], 3)", "sum([xs])", "max(big, 10 ** 18)", "max(1, true)", "min(c, a)", "max(a, poisoned)", "int(c)",
    "int(big)", "int(true)", "int(relu)", "int(1, 2)", "max(1, none)", "max(in_channels, 1)",
]


def _outcome(run):
    try:
        return "value", run()
    except ExprError as exc:
        return "error", (type(exc), str(exc), exc.code, exc.column)


def _same(a, b) -> bool:
    """Equal, and of the same types all the way down (1 and 1.0 and True differ; a Symbol keeps its column)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, Symbol):
        return (a.name, a.column) == (b.name, b.column)
    if isinstance(a, CallValue):
        return a.name == b.name and _same(list(a.args), list(b.args)) and \
            [k for k, _ in a.kwargs] == [k for k, _ in b.kwargs] and _same([v for _, v in a.kwargs], [v for _, v in b.kwargs])
    if isinstance(a, (Later, RefValue)) or a is None or isinstance(a, (bool, int, str)):
        return a == b
    return a is b  # a Function, the poisoned value


def _compare(text: str, env) -> None:
    try:
        tree = parse_expr(text)
    except ExprError:
        return
    walk, compiled = expr._Eval(compiled=False), expr._Eval()
    want = _outcome(lambda: walk.run(tree, env))
    code = expr._code(tree)
    got = _outcome(lambda: code(compiled, env))
    assert got[0] == want[0], (text, got, want)
    if want[0] == "error":
        assert got[1] == want[1], text
    else:
        assert _same(got[1], want[1]), (text, got[1], want[1])
        assert compiled.steps == walk.steps, (text, compiled.steps, walk.steps)
        assert compiled.depth == walk.depth == 0


@pytest.mark.parametrize("text", CORNERS)
def test_corners_evaluate_alike(text):
    _compare(text, CORNER_ENV)


def test_the_corners_reach_both_sides_of_each_limit():
    """The corner list is worth something only if it crosses the limits: check that it does."""
    outcomes = {}
    for text in CORNERS:
        try:
            expr.eval_text(text, CORNER_ENV)
            outcomes[text] = "value"
        except ExprError as exc:
            outcomes[text] = str(exc)
    assert outcomes["count(65)"] == "value" and "nests more than" in outcomes["count(66)"]
    assert outcomes["twice(64)"] == "value" and "nests more than" in outcomes["twice(65)"]
    steps = [outcomes[f"sum([sum([1 for j in range(100)]) for i in range({m})])"] for m in (393, 394)]
    assert steps[0] == "value" and "steps" in steps[1]
    assert outcomes["[0] * 10000"] == "value" and "items" in outcomes["[0] * 10001"]


def test_bundled_texts_evaluate_alike():
    """Every expression text the fuzzer's corpus file lists, and those of the language guide's tables."""
    for text in ["make(1)", "[row[2] for row in [[1, 2, 3], [4, 5, 6]]]", "{RE: 0, HS: 1}[HS]",
                 "round(log(a / 2) / log(2))", "[w for k, w in enumerate(xs) if k == 0 or w != xs[k - 1]]",
                 "max(8, a // 4)", "sum(xs[:2])", "stride > 1", "act in [HS, RE]", "wide and not deep"]:
        _compare(text, CORNER_ENV)


@settings(max_examples=1500, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.integers(0, 2**63))
def test_grammar_corpus_evaluates_alike(seed):
    _compare(grammar_text_from(seed), CORNER_ENV)


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(_targeted())
def test_targeted_corpus_evaluates_alike(text):
    _compare(text, CORNER_ENV)


def test_a_tree_is_compiled_once_and_dropped_with_its_parse():
    expr.parse_expr.cache_clear()
    tree = parse_expr("a * 2 + 1")
    code = expr._code(tree)
    assert expr._code(tree) is code and expr.eval_text("a * 2 + 1", {"a": 3}) == 7
    expr.parse_expr.cache_clear()
    assert expr._code(parse_expr("a * 2 + 1")) is not code
