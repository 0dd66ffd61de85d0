"""Properties of the two syntaxes (hypothesis): any Spec prints to .ns and to YAML and reads back equal, and a
mutated .ns file reads as a spec or fails with located errors, never with another exception.

The Spec strategy builds IR directly, every node kind nested in every other, with names and values picked
to hit the corners: keywords and aliases used as names (which the .ns printer must put in backticks), values
that look like literals but are expression text ("3", "(a)", "null"), None, floats, lists, odd strings.
It keeps to what both syntaxes can say (see `Unprintable` in netspec/frontends/printer.py for the few corners where
the IR allows more): positional call arguments are values a YAML call string can hold, and entry names are
not layer kinds, blocks or structure keys, which YAML would read as something else in a list.
"""

from __future__ import annotations

import functools
import os
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netspec.diagnostics import SpecError
from netspec.frontends.dsl import _parser
from netspec.ir.expr import ExprError, parse_expr
from netspec.pipeline import analyse, parse, parse_text
from netspec.frontends.printer import same, to_ns, to_yaml
from netspec.ir.spec import SHORTCUT_MODES, Spec

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

LABELS = ["a", "b", "x1", "stem", "head", "first", "names", "after", "input", "block", "then", "null", "true",
          "as", "s", "train_only", "param", "init"]
BLOCKS = ["unit", "inception", "conv", "bn", "blk"]  # `conv` and `bn` shadow aliases once defined as blocks
KINDS = ["conv2d", "relu", "batchnorm2d", "linear", "maxpool2d", "dropout"]
UNKNOWN = ["foo", "bn", "avgpool", "maxpool"]  # called without a block of that name: backticks in .ns
KEYS = ["stride", "padding", "k", "s", "p", "in", "bias", "mode", "null", "first"]
NAMES = ["a", "c1", "width", "i", "fan_out", "null", "None", "first", "then", "names", "block", "in"]
LOOKALIKES = ["3", "-1", "1.5", "true", "false", "null", "[1, 2]", "(a)", "[]", "(3)", "-(2)"]


def _expressions() -> st.SearchStrategy[str]:
    """Expression text as a person writes it; the root is never a bare number, list or true/false."""
    atom = st.sampled_from(NAMES)
    number = st.sampled_from(["2", "0.5", "1e3", "10"])
    operand = atom | number

    def grow(inner):
        return st.one_of(
            st.builds(lambda a, op, b: f"{a} {op} {b}", inner, st.sampled_from(["+", "-", "*", "//", "%", "/"]), inner),
            st.builds(lambda a, b: f"{a}*{b}", inner, inner),
            st.builds(lambda a: f"-{a}", atom),
            st.builds(lambda a, b: f"max({a}, {b})", inner, inner),
            st.builds(lambda a: f"{a}[0]", atom),
            st.builds(lambda a, b, c: f"{a} if {b} else {c}", operand, operand, inner),
            st.builds(lambda a, b: f"{a} > {b}", operand, operand),
            st.builds(lambda a: f"kaiming_normal(mode={a})", atom),
            st.builds(lambda a, b: f"({a} + {b}) * 2", inner, inner),
            st.just("'same'"),
        )

    return atom | st.recursive(operand, grow, max_leaves=3).filter(_expression_text)


def _expression_text(text: str) -> bool:
    """Text that reads as an expression (not as a number or true/false) in both syntaxes."""
    try:
        float(text)
        return False
    except ValueError:
        pass
    try:
        parse_expr(text)
    except ExprError:
        return False
    return text not in ("true", "false")


EXPRESSIONS = _expressions()
FLOATS = st.floats(-1e17, 1e17, allow_nan=False) | st.floats(-1e4, 1e4, width=32)  # number literals are capped at 1e18
CALL_SCALARS = st.one_of(st.integers(-5, 300) | st.integers(-10**18, 10**18), FLOATS, st.booleans(), EXPRESSIONS)
CALL_VALUES = st.recursive(CALL_SCALARS, lambda inner: st.lists(inner, max_size=2), max_leaves=3)
ANY_SCALARS = st.one_of(CALL_SCALARS, st.none(), st.sampled_from(LOOKALIKES))
ANY_VALUES = st.recursive(ANY_SCALARS, lambda inner: st.lists(inner, max_size=2), max_leaves=3)
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


def _named(entry: dict, name: str | None) -> dict:
    return {**entry, "name": name} if name is not None else entry


@st.composite
def calls(draw, blocks: list[str]) -> dict:
    target = draw(st.sampled_from(KINDS + UNKNOWN + blocks))
    callable_ = target in KINDS or target in blocks
    args = draw(st.lists(CALL_VALUES, max_size=2))
    values = ANY_VALUES if not args and callable_ else CALL_VALUES  # mapping form: keywords only, known names
    kwargs = draw(st.dictionaries(st.sampled_from(KEYS), values, max_size=2))
    return _named({"op": "call", "target": target, "args": args, "kwargs": kwargs},
                  draw(st.none() | st.sampled_from(LABELS)))


@functools.lru_cache(maxsize=None)
def entries(blocks: tuple[str, ...]) -> st.SearchStrategy[dict]:
    label = st.none() | st.sampled_from(LABELS)
    some = lambda inner: st.lists(inner, min_size=1, max_size=2)  # noqa: E731

    def grow(inner):
        shortcut = st.sampled_from(SHORTCUT_MODES) | st.lists(inner, max_size=2)
        return st.one_of(
            st.builds(lambda items, n: _named({"op": "seq", "items": items}, n), some(inner), label),
            st.builds(lambda op, b, n: _named({"op": op, "branches": b}, n), st.sampled_from(["concat", "add"]),
                      some(inner), label),
            st.builds(lambda body, sc, sn, after, n: _named(
                {"op": "residual", "body": body, "shortcut": sc, "shortcut_name": sn, "after": after}, n),
                some(inner), shortcut, st.sampled_from(["shortcut", "downsample", "after", "proj"]),
                st.none() | inner, label),
            st.builds(lambda c, b, f, names, n: _named(
                {"op": "repeat", "count": c, "block": b, "first": f, "names": names}, n),
                ANY_VALUES, inner, st.dictionaries(st.sampled_from(KEYS), ANY_VALUES, max_size=2),
                st.none() | st.sampled_from(["layer{i + 1}", 'b"{i}\\', "x"]), label),
            st.builds(lambda c, layer, names, n: _named({"op": "dense", "count": c, "layer": layer, "names": names}, n),
                      ANY_VALUES, inner, st.none() | st.just("denselayer{i + 1}"), label),
            st.builds(lambda c, t, e, n: _named({"op": "if", "cond": c, "then": t, "else": e}, n),
                      ANY_VALUES, inner, st.none() | inner, label),
            st.builds(lambda op, b, n: _named({"op": op, "body": b}, n), st.sampled_from(["splice", "flat"]), inner, label),
            st.builds(lambda b, t, n: _named({"op": "output", "body": b, "train_only": t}, n), inner, st.booleans(), label),
        )

    return st.recursive(calls(list(blocks)), grow, max_leaves=5)


@st.composite
def args(draw) -> list[dict]:
    names = draw(st.lists(st.sampled_from(["c", "k", "stride", "first", "x", "null"]), unique=True, max_size=3))
    out = []
    for name in names:
        if draw(st.booleans()):
            out.append({"name": name, "required": True})
        else:
            out.append({"name": name, "default": draw(ANY_VALUES), "required": False})
    return out


BLOCK_SETS = st.sampled_from([(), ("unit",), ("conv", "blk"), ("bn", "inception")])


@st.composite
def specs(draw) -> Spec:
    block_names = draw(BLOCK_SETS)
    # a block's body goes unnamed: YAML reads `layers: {name: entry}` as a list of sections
    blocks = {b: {"args": draw(args()), "body": {**draw(entries(block_names)), "name": None},
                  "doc": draw(st.just("") | TEXT)} for b in block_names}
    extends = draw(st.none() | st.sampled_from(["base.ns", "family/resnet.yaml", 'odd "name".ns']))
    data = {
        "name": draw(st.sampled_from(["net", "my net", "123", "network", "x-y"])),
        "description": draw(TEXT),
        "extends": extends,
        "input": draw(st.lists(st.integers(1, 512), min_size=1, max_size=3) | st.lists(ANY_VALUES, max_size=3)),
        "params": draw(st.dictionaries(st.sampled_from(["num_classes", "width", "first", "a", "null"]), ANY_VALUES,
                                       max_size=3)),
        "blocks": blocks,
        "layers": draw(st.lists(entries(block_names), min_size=0 if extends else 1, max_size=3)),
        "outputs": draw(st.lists(st.sampled_from(["main", "aux1", "first", "two words", ""]), max_size=2)),
        "init": draw(st.dictionaries(st.sampled_from(["conv2d", "linear", "conv", "foo"]),
                                     st.dictionaries(st.sampled_from(["weight", "bias", "first"]), ANY_VALUES,
                                                     min_size=1, max_size=2), max_size=2)),
    }
    return Spec.model_validate(data)


def strict(a, b) -> bool:
    """Specs equal with types kept apart (pydantic's == takes 1, 1.0 and True for one value)."""
    return same(_plain(a.model_dump()), _plain(b.model_dump()))


def _plain(value):
    if isinstance(value, dict):
        return [[k, _plain(v)] for k, v in value.items()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# ---- printing and reading back -------------------------------------------------------------------


@SETTINGS
@given(specs())
def test_any_spec_prints_to_both_syntaxes_and_reads_back_equal(spec):
    ns = to_ns(spec)
    from_ns = parse_text(ns, "printed.ns", "ns").spec
    assert strict(from_ns, spec), ns
    assert to_ns(from_ns) == ns  # the canonical form is a fixed point: fmt is idempotent
    yaml = to_yaml(spec)
    from_yaml = parse_text(yaml, "printed.yaml", "yaml").spec
    assert strict(from_yaml, spec), yaml
    assert to_yaml(from_yaml) == yaml
    assert to_ns(from_yaml) == ns  # converting YAML -> .ns gives the same text as printing the Spec


# ---- mutations of valid files -----------------------------------------------------------------------

ARCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "architectures")
SEEDS = sorted(os.path.join(ARCH, f) for f in os.listdir(ARCH) if f.endswith(".ns"))
SEED_TEXTS = [open(p, encoding="utf-8").read() for p in SEEDS]
VOCABULARY = ["(", ")", "[", "]", "{", "}", ",", ":", ";", "=", "\n", "#", "`", '"', "'", "x", "3x3", "-", "*",
              "repeat", "residual", "concat", "if", "then", "else", "param", "block", "input", "network", "first",
              "names", "after", "shortcut", "as", "output", "train_only", "splice", "flat", "dense", "init", "null",
              "`3`", "`a b`", '"s"', "relu", "conv(1, 3)", "9" * 30, "1e999", "\t", "\r\n", "\\", "\ufeff", "\x00",
              "é", "[]", "{}", "()", "extends", "outputs", "add"]


def _outcome(data: bytes) -> None:
    """Read mutated bytes as a .ns file: a spec, or a SpecError whose every diagnostic has a location."""
    fd, path = tempfile.mkstemp(suffix=".ns")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        try:
            parsed = parse(path)
            analyse(parsed)
        except SpecError as exc:
            assert exc.diagnostics, "a SpecError with no diagnostics"
            unlocated = [d for d in exc.diagnostics if d.loc is None]
            assert not unlocated, f"diagnostics without a location: {unlocated}"
            exc.render()
    finally:
        os.unlink(path)


@SETTINGS
@given(st.sampled_from(SEED_TEXTS), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255),
                                                          st.sampled_from(["insert", "delete", "replace"])),
                                                min_size=1, max_size=4))
def test_byte_mutations_give_a_spec_or_located_errors(text, edits):
    data = bytearray(text.encode("utf-8"))
    for position, byte, how in edits:
        at = position % (len(data) + 1)
        if how == "insert":
            data[at:at] = bytes([byte])
        elif at < len(data):
            data[at:at + 1] = b"" if how == "delete" else bytes([byte])
    _outcome(bytes(data))


def _tokens(text: str) -> list[str]:
    """The text cut at token boundaries (whitespace kept with the token before it), so that joining restores it."""
    cuts = sorted({t.start_pos for t in _parser().lex(text)} | {0, len(text)})
    return [text[a:b] for a, b in zip(cuts, cuts[1:])]


@SETTINGS
@given(st.sampled_from(SEED_TEXTS), st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(VOCABULARY),
                                                          st.sampled_from(["insert", "delete", "replace", "swap", "dup"])),
                                                min_size=1, max_size=4))
def test_token_mutations_give_a_spec_or_located_errors(text, edits):
    tokens = _tokens(text)
    for position, word, how in edits:
        at = position % len(tokens)
        if how == "insert":
            tokens.insert(at, word + " ")
        elif how == "delete" and len(tokens) > 1:
            del tokens[at]
        elif how == "replace":
            tokens[at] = word + " "
        elif how == "swap" and at + 1 < len(tokens):
            tokens[at], tokens[at + 1] = tokens[at + 1], tokens[at]
        elif how == "dup":
            tokens.insert(at, tokens[at])
    _outcome("".join(tokens).encode("utf-8"))
