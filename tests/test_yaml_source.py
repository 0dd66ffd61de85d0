"""The YAML front end: scalar typing, source positions, and calls inside flow collections."""

from __future__ import annotations

import pytest

from netspec.diagnostics import SpecError
from netspec.yaml_source import quote_flow_calls, read_yaml


@pytest.mark.parametrize(
    "text, value",
    [
        ("1000", 1000), ("-3", -3), ("0x1F", 31), ("1e3", 1000.0), ("0.5", 0.5), (".inf", float("inf")),
        ("true", True), ("False", False), ("null", None), ("~", None),
        ("yes", "yes"), ("on", "on"), ("012", 12), ("'12'", "12"), ('"true"', "true"), ("fan_out", "fan_out"),
    ],
)
def test_scalars_follow_yaml_12_core_schema(text, value):
    assert read_yaml(f"v: {text}\n").tree == {"v": value}


def test_every_value_and_key_has_its_position():
    doc = read_yaml("a:\n  b: [1, 2]\n  c: x\n", "f.yaml")
    assert (doc.sources.values[("a", "b", 1)].line, doc.sources.values[("a", "b", 1)].col) == (2, 10)
    assert (doc.sources.keys[("a", "c")].line, doc.sources.keys[("a", "c")].col) == (3, 3)
    assert doc.sources.find(("a", "c", "deeper")).line == 3  # falls back to the nearest ancestor


def test_calls_in_flow_lists_are_kept_whole():
    doc = read_yaml("l: [conv2d(64, 3, padding=1), relu, conv2d(8, [1, 7], padding=[0, 3])]\n")
    assert doc.tree == {"l": ["conv2d(64, 3, padding=1)", "relu", "conv2d(8, [1, 7], padding=[0, 3])"]}
    # positions are those of the text as written, not of the quoted copy the parser read
    assert doc.sources.values[("l", 1)].col == 31
    assert doc.sources.values[("l", 2)].col == 37


def test_flow_quoting_leaves_plain_text_and_block_scalars_alone():
    text = "d: |\n  [conv(1, 2)]\ne: it's [x(1, 2)]\nf: [a(1, 2)]\n"
    quoted, inserted = quote_flow_calls(text)
    assert quoted == 'd: |\n  [conv(1, 2)]\ne: it\'s [x(1, 2)]\nf: ["a(1, 2)"]\n'
    assert inserted == {3: [4, 12]}


@pytest.mark.parametrize(
    "text, code, line",
    [
        ("a: 1\na: 2\n", "duplicate-key", 2),
        ("a:\n  b: 1\n  b: 2\n", "duplicate-key", 3),
        ("a: !!python/object/apply:os.system ['true']\n", "yaml-tag", 1),
        ("a: !custom 1\n", "yaml-tag", 1),
        ("a: [1, 2\n", "yaml-syntax", 1),  # at the bracket that is never closed
        ("a: *nowhere\n", "yaml-syntax", 1),
        ("a: 1\n---\nb: 2\n", "yaml-syntax", 2),
    ],
)
def test_unsafe_or_broken_yaml_is_a_located_error(text, code, line):
    with pytest.raises(SpecError) as info:
        read_yaml(text, "f.yaml")
    diag = info.value.diagnostics[0]
    assert (diag.code, diag.loc.line) == (code, line)


def test_alias_expansion_is_counted_not_built():
    bomb = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
    for level in "bcdefghi":
        prev = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [" + ", ".join([f"*{prev}"] * 9) + "]\n"
    with pytest.raises(SpecError) as info:
        read_yaml(bomb)
    assert info.value.diagnostics[0].code in ("too-large", "alias-limit")


def test_deep_nesting_is_refused():
    with pytest.raises(SpecError) as info:
        read_yaml("a: " + "[" * 100 + "]" * 100 + "\n")
    assert info.value.diagnostics[0].code == "too-deep"
