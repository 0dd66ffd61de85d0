"""The YAML front end: standard YAML 1.2 scalar typing, source positions, and calls that flow collections split."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from netspec.diagnostics import Loc, SpecError
from netspec.frontends import yaml_source
from netspec.frontends.yaml_source import _plain_scalar, quote_split_calls, read_yaml


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
        (".iNf", ".iNf"), ("e3", "e3"), ("0x", "0x"), ("+-1", "+-1"), ("0o", "0o"), ("0o8", "0o8"),
        ("0xg", "0xg"), ("-0x1F", "-0x1F"), ("１２", "１２"), ("1²", "1²"), ("٣", "٣"),  # ASCII digits only
    ],
)
def test_scalars_follow_yaml_12_core_schema(text, value):
    assert read_yaml(f"v: {text}\n").tree == {"v": value}


def test_every_value_and_key_has_its_position():
    doc = read_yaml("a:\n  b: [1, 2]\n  c: x\n", "f.yaml")
    assert (doc.sources.values[("a", "b", 1)].line, doc.sources.values[("a", "b", 1)].col) == (2, 10)
    assert doc.sources.keys[("a", "c")] == (3, 3)  # a key's position is made a Loc when first asked for
    assert doc.sources.find(("a", "c"), key=True) == Loc("f.yaml", 3, 3)
    assert doc.sources.keys[("a", "c")] is doc.sources.find(("a", "c"), key=True)
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



def _composed_positions(text: str) -> tuple[dict, dict]:
    """(values, keys): each value's and mapping key's 1-based (line, column), as PyYAML's own composer places
    its nodes (for texts without aliases, whose nodes the composer shares)."""
    values: dict = {}
    keys: dict = {}

    def walk(node, path):
        values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = _plain_scalar(key_node.value) if key_node.style is None else key_node.value
                keys[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                walk(value_node, path + (key,))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, path + (i,))

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, ())
    return values, keys


REPO = Path(__file__).resolve().parent.parent
_NO_ALIASES = [p for p in sorted((REPO / "architectures").rglob("*.yaml")) + sorted((REPO / "tests/errors").glob("*.yaml"))
               if "&" not in p.read_text(encoding="utf-8", errors="replace")]


@pytest.mark.parametrize("path", _NO_ALIASES, ids=[p.relative_to(REPO).as_posix() for p in _NO_ALIASES])
def test_every_position_is_the_composers(path):
    """The event reader places every value and key where PyYAML's composer puts its node, in the same order
    (in every shipped spec and every error golden that reads as YAML)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        doc = read_yaml(text, "f.yaml")
    except SpecError:
        return
    values, keys = _composed_positions(text)
    assert [(p, (loc.line, loc.col)) for p, loc in doc.sources.values.items()] == list(values.items())
    assert list(doc.sources.keys) == list(keys)
    assert [doc.sources.find(p, key=True) for p in keys] == [Loc("f.yaml", *at) for at in keys.values()]
    assert {loc.file for loc in doc.sources.values.values()} <= {"f.yaml"}


def test_an_alias_is_placed_where_it_is_written_and_counted_as_what_it_expands_to(monkeypatch):
    text = "a: &x [1, [2, 3]]\nb: *x\nc: &y 4\nd: [*y, *x]\n"
    doc = read_yaml(text)
    assert doc.tree == {"a": [1, [2, 3]], "b": [1, [2, 3]], "c": 4, "d": [4, [1, [2, 3]]]}
    assert (doc.sources.values[("b",)].line, doc.sources.values[("b",)].col) == (2, 4)
    assert (doc.sources.values[("d", 1)].line, doc.sources.values[("d", 1)].col) == (4, 9)
    assert ("b", 0) not in doc.sources.values  # inside an alias, the alias's own position serves
    # when the last alias is placed: 4 keys, `a` 5 values (its list, 1, the inner list and its 2), `b` 5 again,
    # `c` 1, `*y` 1 and `*x` 5: 21 (`d`'s list and the root mapping count themselves at their end)
    monkeypatch.setattr(yaml_source, "MAX_NODES", 21)
    read_yaml(text)
    monkeypatch.setattr(yaml_source, "MAX_NODES", 20)
    with pytest.raises(SpecError) as info:
        read_yaml(text)
    assert info.value.diagnostics[0].code == "too-large"
    assert (info.value.diagnostics[0].loc.line, info.value.diagnostics[0].loc.col) == (4, 9)


def test_a_number_too_long_to_read_is_a_located_error_not_a_crash(cli, tmp_path):
    """Python reads at most 4,300 decimal digits as a number; a longer plain scalar is refused where it stands, and
    a long one it does read is reported too large without being turned into a float (which would overflow)."""
    with pytest.raises(SpecError) as info:
        read_yaml("a:\n  - " + "1" * 5000 + "\n", "f.yaml")
    diag = info.value.diagnostics[0]
    assert (diag.code, diag.message, diag.loc) == (
        "eval-error", "a number of 5,000 digits is too large (the limit is 1e18)", Loc("f.yaml", 2, 5))
    path = tmp_path / "long.yaml"
    path.write_text("name: t\ninput: [3, " + "1" * 4000 + "]\nlayers: [relu]\n")
    run = cli("check", path)
    assert run.rc == 1 and "error[eval-error]: input.1: 1.11e+3999 is too large (the limit is 1e18)" in run.output
    assert "internal error" not in run.output
