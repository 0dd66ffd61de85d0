"""The YAML front end: standard YAML 1.2 scalar typing, source positions, and calls that flow collections split."""

from __future__ import annotations

import pytest
import yaml

from netspec.diagnostics import SpecError
from netspec.frontends.yaml_source import quote_split_calls, read_yaml


@pytest.mark.parametrize(
    "text, value",
    [
        ("1000", 1000), ("-3", -3), ("0x1F", 31), ("1e3", 1000.0), ("0.5", 0.5), (".inf", float("inf")),
        ("true", True), ("False", False), ("null", None), ("~", None),
        ("yes", "yes"), ("on", "on"), ("012", 12), ("'12'", "12"), ('"true"', "true"), ("fan_out", "fan_out"),
        # YAML 1.2.2 section 10.3.2, the core schema: these spellings only
        ("TRUE", True), ("NULL", None), ("Null", None), ("nUll", "nUll"), ("tRue", "tRue"), ("0o17", 15),
        ("+12", 12), ("1.", 1.0), ("-.5e-1", -0.05), (".Inf", float("inf")), ("-.INF", float("-inf")),
        ("1_000", "1_000"), ("0x1_F", "0x1_F"), ("1_0.5", "1_0.5"), ("0b101", "0b101"), ("1:30", "1:30"),
        (".iNf", ".iNf"), ("e3", "e3"), ("0x", "0x"),
    ],
)
def test_scalars_follow_yaml_12_core_schema(text, value):
    assert read_yaml(f"v: {text}\n").tree == {"v": value}


def test_every_value_and_key_has_its_position():
    doc = read_yaml("a:\n  b: [1, 2]\n  c: x\n", "f.yaml")
    assert (doc.sources.values[("a", "b", 1)].line, doc.sources.values[("a", "b", 1)].col) == (2, 10)
    assert (doc.sources.keys[("a", "c")].line, doc.sources.keys[("a", "c")].col) == (3, 3)
    assert doc.sources.find(("a", "c", "deeper")).line == 3  # falls back to the nearest ancestor


def test_the_text_is_read_as_written():
    # no call is split here, so this is what every YAML reader makes of it
    doc = read_yaml('l: [relu(), "conv2d(8, 3)", x]\nm: conv2d(64, 3, padding=1)\n')
    assert doc.tree == {"l": ["relu()", "conv2d(8, 3)", "x"], "m": "conv2d(64, 3, padding=1)"}
    assert doc.sources.values[("l", 2)].col == 29


@pytest.mark.parametrize(
    "text, calls",
    [
        ("l: [conv2d(64, 3, padding=1), relu, conv2d(8, [1, 7], padding=[0, 3])]\n",
         [(1, 5, "conv2d(64, 3, padding=1)"), (1, 37, "conv2d(8, [1, 7], padding=[0, 3])")]),
        ("a: {x: f(1, 2), y: 3}\n", [(1, 8, "f(1, 2)")]),
        ("a: [[relu, conv(1, 2)],\n    d[0] * 2]\n", [(1, 12, "conv(1, 2)"), (2, 5, "d[0] * 2")]),
    ],
)
def test_a_call_a_flow_collection_splits_is_one_located_error(text, calls):
    with pytest.raises(SpecError) as info:
        read_yaml(text, "f.yaml")
    got = [(d.code, d.loc.line, d.loc.col) for d in info.value.diagnostics]
    assert got == [("yaml-split-call", line, col) for line, col, _ in calls]
    for diag, (_, _, call) in zip(info.value.diagnostics, calls):
        assert f"`{call}`" in diag.message and f'quote it as "{call}"' in diag.message


def test_migration_quotes_split_calls_only():
    text = ("d: |\n  [conv(1, 2)]\ne: it's [x(1, 2)]\nf: [a(1, 2), b(), 'c(1, 2)']  # [g(1, 2)]\n"
            "g: ['it''s', h(1, 2)]\n")
    migrated = quote_split_calls(text)
    assert migrated == ("d: |\n  [conv(1, 2)]\ne: it's [x(1, 2)]\nf: [\"a(1, 2)\", b(), 'c(1, 2)']  # [g(1, 2)]\n"
                        "g: ['it''s', \"h(1, 2)\"]\n")
    assert read_yaml(migrated).tree["f"] == ["a(1, 2)", "b()", "c(1, 2)"]


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


def test_fmt_write_migrates_a_spec_in_the_old_form(cli, tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text("name: old\ninput: [3, 8, 8]\nlayers: [conv2d(4, 3, padding=1), relu, flatten, linear(2)]\n")
    assert cli("check", path).rc == 1
    assert cli("fmt", "--check", path).rc == 1
    assert cli("fmt", "--write", path).rc == 0
    assert cli("check", path).rc == 0 and cli("fmt", "--check", path).rc == 0
    # the standard form: the same tree to PyYAML as to netspec, calls whole
    assert yaml.safe_load(path.read_text())["layers"] == ["conv2d(4, 3, padding=1)", "relu", "flatten", "linear(2)"]
