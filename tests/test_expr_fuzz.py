"""The expression fuzzer: text drawn from netspec's own expression grammar, plus targeted strategies for the
costly corners, is parsed and evaluated; every case must finish within a second of CPU time and fail, if it fails, only
with netspec's ExprError (never ZeroDivisionError, OverflowError, MemoryError, RecursionError, TypeError...).

The grammar strategy walks the rules lark compiles from netspec/ir/expr.grammar.lark (so a new construct is
fuzzed as soon as it is in the grammar), choosing among each rule's alternatives at random and, past a
depth, only among those that end soonest. (hypothesis.extra.lark.from_lark reads the same grammar, but on
this recursive grammar most of its draws overrun, about 0.1 s per example.)

CI runs 2,000 grammar examples and 500 targeted ones; NETSPEC_FUZZ_EXAMPLES=50000 runs more locally,
NETSPEC_FUZZ_SEED=S draws them from seed S instead (a campaign in shards, one seed each), and
NETSPEC_FUZZ_REPORT=FILE writes the run's figures there as JSON (cases, values, errors by code, the slowest).
"""

from __future__ import annotations

import gc
import json
import os
import random
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from lark import Lark
from lark.grammar import NonTerminal, Terminal

from netspec.ir.expr import (GRAMMAR_FILE, CallValue, ExprError, Function, Later, RefValue, Symbol, eval_text,
                             make_functions, parse_expr)

EXAMPLES = int(os.environ.get("NETSPEC_FUZZ_EXAMPLES", "2000"))
SEED = os.environ.get("NETSPEC_FUZZ_SEED")  # a campaign in shards: each its own seed (CI's run is derandomized)
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=SEED is None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
seeded = seed(int(SEED)) if SEED is not None else (lambda test: test)
GRAMMAR = GRAMMAR_FILE.read_text(encoding="utf-8")

_double = parse_expr("x * 2")
_fact = parse_expr("1 if n <= 1 else n * fact(n - 1)")
_FUNCTIONS = make_functions({"double": ([("x", None)], _double), "fact": ([("n", None)], _fact)})
ENV = {
    "a": 3, "b": 0, "c": -2.5, "big": 10**18, "tiny": 1e-300, "xs": [1, 2, 3], "nested": [[1, 2], [3, 4]],
    "words": [Symbol("relu"), "gelu"], "d": {"k": 1}, "in_channels": Later("in_channels"), "none": None,
    **_FUNCTIONS,
}
NAMES = ["a", "b", "c", "big", "tiny", "xs", "nested", "words", "d", "in_channels", "none", "x", "i", "k",
         "range", "zip", "enumerate", "sum", "min", "max", "len", "any", "all", "abs", "round", "int", "float",
         "sqrt", "log", "log2", "exp", "ceil", "floor", "prod", "pow", "double", "fact", "relu"]
NUMBERS = ["0", "1", "2", "3", "10", "64", "10000", "99999", "1e18", "1e300", "0.5", "1_000", "9", "-1"]


# Terminals whose text is a pattern: drawn from lists that hit the corners. Keywords get spaces around them
# (the grammar ignores spaces, so nothing else would separate `x in y`).
EXPLICIT = {
    "NAME": [f" {n} " for n in NAMES],
    "NUMBER": [f" {n} " for n in NUMBERS],
    "STRING": ["'a'", '"relu"', "''", "'HS'"],
    "REF": [" $a ", " $enc.0 ", " $input "],  # a reference: only resize takes one; elsewhere a located error
    "COMP_OP": ["==", "!=", "<", "<=", ">", ">="],
    "ADD_OP": ["+", "-"],
    "MUL_OP": ["*", "/", "//", "%"],
    "_POW": ["**"],
}
BUDGETS = (5, 15, 30, 60)  # rule expansions before the generator steers to an end


def _grammar_rules() -> tuple[dict[str, list], dict[str, int], dict[str, str]]:
    parser = Lark(GRAMMAR, start="expr", parser="lalr")
    rules: dict[str, list] = {}
    for rule in parser.rules:
        rules.setdefault(rule.origin.name, []).append(rule.expansion)
    literal = {t.name: t.pattern.value for t in parser.terminals if t.pattern.type == "str"}
    depth: dict[str, int] = {}  # the fewest levels each rule needs to end in terminals
    changed = True
    while changed:
        changed = False
        for name, expansions in rules.items():
            for expansion in expansions:
                need = [depth.get(s.name) if isinstance(s, NonTerminal) else 0 for s in expansion]
                if None not in need:
                    best = 1 + max(need, default=0)
                    if best < depth.get(name, 10**9):
                        depth[name], changed = best, True
    return rules, depth, literal


RULES, ENDS, LITERAL = _grammar_rules()


def grammar_text_from(seed: int) -> str:
    """One expression, generated from the grammar's rules by a generator seeded with `seed`."""
    rng = random.Random(seed)
    out: list[str] = []
    budget = rng.choice(BUDGETS)
    stack: list[object] = [NonTerminal("expr")]
    while stack:
        symbol = stack.pop()
        if isinstance(symbol, Terminal):
            name = symbol.name
            if name in EXPLICIT:
                out.append(rng.choice(EXPLICIT[name]))
            else:
                text = LITERAL[name]
                out.append(f" {text} " if text.isalpha() else text)
            continue
        options = RULES[symbol.name]
        budget -= 1
        if budget <= 0:  # spent: from here on, only the alternatives that end soonest
            options = SOONEST[symbol.name]
        elif symbol.name == "atom" and rng.random() < 0.5:  # reach the compound atoms more often than 1 in 10
            options = COMPOUND_ATOMS
        expansion = rng.choice(options)
        stack.extend(reversed(expansion))
    return "".join(out)


def _need(expansion) -> int:
    return max((ENDS[s.name] if isinstance(s, NonTerminal) else 0 for s in expansion), default=0)


SOONEST = {name: [x for x in options if _need(x) == min(map(_need, options))] for name, options in RULES.items()}
COMPOUND_ATOMS = [x for x in RULES["atom"] if len(x) > 1] or RULES["atom"]


# hypothesis draws one seed per example; the text follows from it (one draw, where a choice per rule costs
# hundreds of draws an example)
grammar_text = st.integers(0, 2**63).map(grammar_text_from)


REPORT = os.environ.get("NETSPEC_FUZZ_REPORT")
FIGURES: dict[str, Counter] = {}  # test -> outcome -> cases (for NETSPEC_FUZZ_REPORT)
SLOWEST: dict[str, tuple[float, str]] = {}


def _run(text: str) -> tuple[float, object]:
    paused = gc.isenabled()
    gc.disable()  # a collection of the test process's heap (hundreds of MB in a campaign) is not the case's cost
    start = time.process_time()  # CPU time: a busy machine does not make a case slow (no wall-clock asserts)
    outcome = "value"
    try:
        value = eval_text(text, ENV)
    except ExprError as exc:
        value, outcome = None, f"error[{exc.code}]"
    finally:
        elapsed = time.process_time() - start
        if paused:
            gc.enable()
    if REPORT:
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").split("::")[-1].split(" ")[0]
        FIGURES.setdefault(test, Counter())[outcome] += 1
        if elapsed > SLOWEST.get(test, (0.0, ""))[0]:
            SLOWEST[test] = (elapsed, text)
    return elapsed, value


def teardown_module() -> None:
    if REPORT:
        figures = {test: {"cases": sum(c.values()), "outcomes": dict(c.most_common()),
                          "slowest_s": round(SLOWEST.get(test, (0.0, ""))[0], 4), "slowest": SLOWEST.get(test, (0.0, ""))[1][:300]}
                   for test, c in FIGURES.items()}
        Path(REPORT).write_text(json.dumps({"examples": EXAMPLES, "tests": figures}, indent=1), encoding="utf-8")


def _check(text: str) -> None:
    elapsed, value = _run(text)
    if elapsed >= 1.0:  # a collection or a page fault can stall one case; a costly expression is slow every time
        if REPORT:
            FIGURES.setdefault("retried after 1 s", Counter())[text[:300]] += 1
        elapsed, value = _run(text)
    assert elapsed < 1.0, f"{text!r} took {elapsed:.2f} s"
    assert value is None or isinstance(value, (int, float, str, bool, list, dict, Symbol, CallValue, Later, Function, RefValue))


@seeded
@SETTINGS
@given(grammar_text)
def test_grammar_expressions_are_bounded_and_raise_only_netspec_errors(text):
    _check(text)


def _targeted() -> st.SearchStrategy[str]:
    n = st.sampled_from(["0", "1", "7", "100", "10000", "100000", "10 ** 17", "-5", "1e18", "2.5"])
    small = st.sampled_from(["[0]", "[1, 2]", "[[0] * 100]", "xs", "nested", "'ab'", "d", "[]"])

    def grow(inner):
        return st.one_of(
            st.builds(lambda x, k: f"{x} * {k}", inner, n),
            st.builds(lambda k, x: f"{k} * {x}", n, inner),
            st.builds(lambda x, y: f"{x} + {y}", inner, inner),
            st.builds(lambda x: f"[{x}]", inner),
            st.builds(lambda x, k: f"[{x} for _ in range({k})]", inner, n),
            st.builds(lambda x, k: f"{{i: {x} for i in range({k})}}", inner, n),
            st.builds(lambda k, m: f"[i * j for i in range({k}) for j in range({m})]", n, n),
            st.builds(lambda f, x: f"{f}({x})", st.sampled_from(["sum", "prod", "len", "max", "min", "any", "all",
                                                                  "sqrt", "log", "exp", "int", "round", "zip",
                                                                  "enumerate", "double", "fact"]), inner),
            st.builds(lambda x, k: f"round({x}, {k})", inner, n),
            st.builds(lambda x, k: f"pow({x}, {k})", inner, n),
            st.builds(lambda x, k: f"{x} ** {k}", inner, n),
            st.builds(lambda x, k: f"{x} // {k}", inner, n),
            st.builds(lambda x, k: f"{x} % {k}", inner, n),
            st.builds(lambda x, k: f"{x}[{k}:]", inner, n),
            st.builds(lambda x, k: f"{x}[::{k}]", inner, n),
            st.builds(lambda x, y: f"{x} == {y}", inner, inner),
            st.builds(lambda x, y: f"{x} in {y}", inner, inner),
            st.builds(lambda k: f"fact({k})", n),
        )

    return st.recursive(small | n, grow, max_leaves=12)


@seeded
@settings(SETTINGS, max_examples=max(500, EXAMPLES // 4))
@given(_targeted())
def test_costly_corners_are_bounded_and_raise_only_netspec_errors(text):
    _check(text)
