"""Expressions: every construct evaluated by netspec agrees with Python's own reading of the same text, the
cost bounds hold, and value functions (`functions:` / `function`) work the same in both syntaxes.

Python is the independent reference here: each expression below is also valid Python, and Python's `eval`
(run by the test, over a fixed environment, never by netspec) says what it must give.
"""

from __future__ import annotations

import builtins
import math
import textwrap
import time

import pytest

import netspec
from netspec.diagnostics import SpecError
from netspec.ir.expr import ExprError, Symbol, eval_text
from netspec.pipeline import analyse, parse_text
from netspec.frontends.printer import same, to_ns, to_yaml

ENV = {"depths": [1, 2, 3, 4], "i": 2, "setting": [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2]],
       "w0": 24, "wa": 36.44, "wm": 2.49, "d": 13, "names": ["a", "b"], "table": {"a": 1, "b": 2}}

AGREES_WITH_PYTHON = [
    "sum(depths[:i])",
    "depths[1:]", "depths[:-1]", "depths[::2]", "depths[::-1]", "depths[1:3]", "depths[-3:-1]", "depths[:]",
    "[row[2] for row in setting]",
    "[row[1] * 2 for row in setting if row[0] == 6]",
    "[a * b for a in depths for b in depths if a < b]",
    "[i * x for i, x in enumerate(depths)]",
    "[i for i, x in enumerate(depths, 1)]",
    "[a + b for a, b in zip(depths, depths[1:])]",
    "{k: v * 2 for k, v in zip(names, depths)}",
    "{'a': 1, 'b': 2}['b']",
    "sum(range(1, 10, 3))",
    "len(depths) + len(names)",
    "min(depths) + max(depths) + min(3, 1, 2) + max([5, 7])",
    "any([x > 3 for x in depths]) and not all([x > 3 for x in depths])",
    "abs(-3) + abs(2.5)",
    "round(2.5) + round(3.5) + round(2.675, 2)",
    "int(3.9) + int(-3.9)",
    "float(3) / 2",
    "3 in depths", "7 not in depths", "'a' in names", "'a' in table",
    "[0.0] * 3", "3 * [0.0]", "[1, 2] * 2 + [3]",
    "2 ** 10", "-2 ** 2", "7 // 2 + 7 % 3",
    "'ab' + 'cd'",
    "[sum(depths[:k]) for k in range(len(depths) + 1)]",
]

MATH = {
    "sqrt(16) + sqrt(2)": math.sqrt(16) + math.sqrt(2),
    "log(8, 2) + log(math_e)": math.log(8, 2) + 1.0,
    "log2(1024)": 10.0,
    "exp(2)": math.exp(2),
    "ceil(2.1) + floor(2.9)": 5,
    "prod([2, 3, 4])": 24,
    "pow(2, 8)": 256,
}


def _python(text: str):
    """Python's value for `text`; netspec's range, zip and enumerate give lists, so the reference's do too."""
    names = {f: getattr(builtins, f) for f in ("sum", "len", "min", "max", "any", "all", "abs", "round", "int", "float")}
    names.update(range=lambda *a: list(range(*a)), zip=lambda *a: [list(t) for t in zip(*a)],
                 enumerate=lambda xs, start=0: [[i, x] for i, x in enumerate(xs, start)])
    return eval(text, {"__builtins__": {}, **ENV, **names})


@pytest.mark.parametrize("text", AGREES_WITH_PYTHON)
def test_expression_agrees_with_python(text):
    assert eval_text(text, ENV) == _python(text)


def test_range_is_a_list():
    assert eval_text("range(5)", {}) == [0, 1, 2, 3, 4]
    assert eval_text("range(10, 0, -3)", {}) == [10, 7, 4, 1]


@pytest.mark.parametrize("text,expected", MATH.items())
def test_math_functions(text, expected):
    assert eval_text(text, {"math_e": math.e}) == pytest.approx(expected)


def test_regnet_widths_from_w0_wa_wm():
    # RegNetY-400MF's parameters (torchvision's BlockParams.from_init_params); its stage widths and depths
    # are [48, 104, 208, 440] and [1, 3, 6, 6]
    env = {"w0": 48, "wa": 27.89, "wm": 2.09, "depth": 16, "q": 8}
    widths = eval_text("[int(round(w0 * wm ** round(log(w0 + wa * j) / log(wm) - log(w0) / log(wm)) / q) * q) "
                       "for j in range(depth)]", env)
    stages = eval_text("[w for k, w in enumerate(ws) if k == 0 or w != ws[k - 1]]", {"ws": widths})
    depths = eval_text("[len([w for w in ws if w == s]) for s in st]", {"ws": widths, "st": stages})
    assert stages == [48, 104, 208, 440]
    assert depths == [1, 3, 6, 6]


def test_words_equal_strings_of_the_same_text():
    hs = Symbol("HS")
    assert eval_text("HS == 'HS'", {}) is True
    assert eval_text("act == 'HS'", {"act": hs}) is True
    assert eval_text("act == RE", {"act": hs}) is False
    assert eval_text("act in ['RE', HS]", {"act": hs}) is True
    assert eval_text("{HS: 1, RE: 2}['RE']", {}) == 2
    assert eval_text("'HS' != HS", {}) is False


BOUNDED = [
    "[[[0] * 10000] * 100] * 10000",
    "[0] * 100000",
    "10000 * [[0] * 10000]",
    "range(10 ** 17)",
    "[x for x in range(10000) for y in range(10000)]",
    "sum([sum(range(10000)) for x in range(10000)])",
    "[[y for y in range(100)] for x in range(1000)]",
    "{x: x for x in range(20000)}",
    "round(1.5, 10 ** 18)",
    "round(15, -10 ** 18)",
    "9 ** 9 ** 9",
    "pow(10, 100)",
    "exp(1000)",
    "prod(range(1, 100))",
    "1 / 0", "1 // 0", "1 % 0", "1.5 % 0.0", "0 ** -1",
    "log(0)", "log(8, 1)", "sqrt(-1)", "max([])",
    "int(1e300 * 1e300)",
    "1e-300 ** -64", "(-1e-300) ** -63", "pow(1e-300, -64)",  # float overflow before the magnitude check
]


@pytest.mark.parametrize("text", BOUNDED)
def test_costly_or_invalid_expressions_fail_fast_with_netspec_errors(text):
    def timed() -> tuple[float, ExprError]:
        start = time.perf_counter()
        with pytest.raises(ExprError) as info:
            eval_text(text, {})
        return time.perf_counter() - start, info.value

    elapsed, error = timed()
    if elapsed >= 1.0:  # a busy machine can stall any one call; a costly expression is slow every time
        elapsed, error = timed()
    assert elapsed < 1.0
    assert error.code == "eval-error"


def _spec(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


MAKE_DIVISIBLE_YAML = _spec("""
    name: functions
    input: [3, 32, 32]
    functions:
      make_divisible(v, divisor=8, min_value=none): at_least(max(divisor if min_value == none else min_value, int(v + divisor / 2) // divisor * divisor), v, divisor)
      at_least(n, v, divisor): n + divisor if n < 0.9 * v else n
    params:
      width_mult: 1.0
      widths: "[make_divisible(c * width_mult) for c in [16, 24, 40, 80]]"
    layers:
      - repeat: len(widths)
        block: conv2d(widths[i], 3, padding=1)
      - conv2d(make_divisible(in_channels * 1.3, divisor=16), 1)
""")

MAKE_DIVISIBLE_NS = _spec("""
    network functions
    input 3x32x32
    function make_divisible(v, divisor=8, min_value=null) = at_least(max(divisor if min_value == none else min_value, int(v + divisor / 2) // divisor * divisor), v, divisor)
    function at_least(n, v, divisor) = n + divisor if n < 0.9 * v else n
    param width_mult = 1.0
    param widths = [make_divisible(c * width_mult) for c in [16, 24, 40, 80]]

    repeat len(widths) conv2d(widths[i], 3, padding=1)
    conv2d(make_divisible(in_channels * 1.3, divisor=16), 1)
""")


def _torchvision_make_divisible(v, divisor=8, min_value=None):
    """torchvision.models._utils._make_divisible, restated as the reference."""
    from torchvision.models._utils import _make_divisible

    return _make_divisible(v, divisor, min_value)


@pytest.mark.parametrize("width_mult", [0.35, 0.5, 0.75, 1.0, 1.4])
@pytest.mark.parametrize("text,fmt", [(MAKE_DIVISIBLE_YAML, "yaml"), (MAKE_DIVISIBLE_NS, "ns")])
def test_value_functions_match_torchvision_make_divisible(text, fmt, width_mult):
    summary = netspec.summarize(text, format=fmt, width_mult=width_mult)
    widths = [_torchvision_make_divisible(c * width_mult) for c in [16, 24, 40, 80]]
    convs = [row.output_shape[0] for row in summary.rows if row.kind == "conv2d"]
    assert convs == [*widths, _torchvision_make_divisible(widths[-1] * 1.3, 16)]


def test_value_functions_read_the_same_in_both_syntaxes_and_round_trip():
    yaml_spec = parse_text(MAKE_DIVISIBLE_YAML, format="yaml").spec
    ns_spec = parse_text(MAKE_DIVISIBLE_NS, format="ns").spec
    assert same(yaml_spec, ns_spec)
    assert same(parse_text(to_ns(yaml_spec), format="ns").spec, yaml_spec)
    assert same(parse_text(to_yaml(ns_spec), format="yaml").spec, ns_spec)


def test_function_errors_name_the_function_and_arguments_are_checked():
    text = _spec("""
        input: [3, 8, 8]
        functions:
          ratio(a, b): a // b
        params: {zero: 0}
        layers:
          - conv2d(ratio(8, zero), 1)
    """)
    with pytest.raises(SpecError) as info:
        analyse(text)
    assert "in ratio(): division by zero" in str(info.value)
    for call, message in [("ratio(8)", "needs argument 'b'"), ("ratio(8, 2, 1)", "takes 2 arguments"),
                          ("ratio(8, c=2)", "has no parameter 'c'")]:
        with pytest.raises(SpecError) as info:
            analyse(text.replace("ratio(8, zero)", call))
        assert message in str(info.value)


def test_a_function_that_calls_itself_stops_with_an_error():
    text = _spec("""
        input: [3, 8, 8]
        functions:
          loop(n): loop(n + 1)
        layers:
          - conv2d(loop(1), 1)
    """)
    with pytest.raises(SpecError) as info:
        analyse(text)
    assert "eval-error" in str(info.value) and "nests more than" in str(info.value)


def test_function_body_cannot_see_params():
    text = _spec("""
        input: [3, 8, 8]
        functions:
          scaled(c): c * width
        params: {width: 2}
        layers:
          - conv2d(scaled(4), 1)
    """)
    with pytest.raises(SpecError) as info:
        analyse(text)
    assert "unknown name 'width'" in str(info.value)


def test_a_function_may_not_take_a_builtin_name():
    with pytest.raises(SpecError) as info:
        analyse("input: [3, 8, 8]\nfunctions:\n  max(a, b): a\nlayers: [relu]\n")
    assert "invalid-name" in str(info.value)


def _chained_blocks(blocks: int, levels: int) -> str:
    nest = lambda inner: "[" * levels + inner + "]" * levels  # noqa: E731
    lines = ["network deep", "input 3x8x8", "block b0 = " + nest("relu")]
    lines += [f"block b{i} = " + nest(f"b{i - 1}") for i in range(1, blocks)]
    return "\n".join([*lines, f"body: b{blocks - 1}"]) + "\n"


def test_nesting_through_chained_blocks_is_refused_where_it_goes_too_deep():
    # 31 blocks of 55 nested lists each: 1,700 levels once expanded, though each block is within the .ns cap
    with pytest.raises(SpecError) as info:
        analyse(parse_text(_chained_blocks(31, 55), "deep.ns", "ns"))
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.code == "too-deep" and "150 levels" in diagnostic.message
    assert diagnostic.loc.line > 3  # inside a block's body, not at the top
    # two blocks of 70 levels (140 in all) still check
    assert analyse(parse_text(_chained_blocks(2, 70), "ok.ns", "ns")).root is not None
