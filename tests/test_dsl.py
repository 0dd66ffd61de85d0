"""The .ns syntax (issue 4): every architecture in both syntaxes is one network, the DSL says everything the
YAML says, aliases lower to canonical names, values read as in YAML call strings, `fmt` and `convert` round
trip, every command and `netspec.load` accept .ns, and check/summary stay free of torch."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from lark import Lark, logger

import netspec
from netspec.diagnostics import SpecError
from netspec.frontends.dsl import ARG_ALIASES, KEYWORDS, TARGET_ALIASES, parse_ns
from netspec.layers import REGISTRY, arg_names
from netspec.pipeline import analyse, parse, parse_text
from netspec.frontends.printer import Unprintable, to_ns, to_yaml
from netspec.ir.spec import Call, If, Spec

REPO = Path(__file__).resolve().parent.parent
ARCH = REPO / "architectures"
YAMLS = sorted(ARCH.glob("*.yaml"))
PAIRS = sorted(p.stem for p in YAMLS if p.with_suffix(".ns").exists())


def spec_of(text: str, syntax: str = "ns") -> Spec:
    return parse_text(text, f"t.{syntax}", syntax).spec


# ---- the architectures, in both syntaxes ------------------------------------------------------------


def test_every_yaml_architecture_has_an_ns_twin():
    assert PAIRS == sorted(p.stem for p in YAMLS), "write architectures/NAME.ns for every architectures/NAME.yaml"


@pytest.mark.parametrize("name", PAIRS)
def test_ns_twin_reads_as_the_same_spec_with_every_location(name):
    yaml, ns = parse(ARCH / f"{name}.yaml"), parse(ARCH / f"{name}.ns")
    assert ns.spec == yaml.spec
    assert ns.format == "ns" and yaml.format == "yaml"
    # every IR path the YAML front end can locate, the .ns front end locates too, in its own file
    missing = set(yaml.locations.table) - set(ns.locations.table)
    assert not missing, f"IR paths located for YAML but not for .ns: {sorted(missing, key=str)[:10]}"
    assert {loc.loc.file for loc in ns.locations.table.values()} == {str(ARCH / f"{name}.ns")}


@pytest.mark.parametrize("name", PAIRS)
def test_ns_twin_compiles_to_the_same_module(name):
    a = netspec.summarize(ARCH / f"{name}.yaml")
    b = netspec.summarize(ARCH / f"{name}.ns")
    assert (a.total_params, a.total_mult_adds, a.output_shape) == (b.total_params, b.total_mult_adds, b.output_shape)
    from_yaml = netspec.load(ARCH / f"{name}.yaml", device="meta").state_dict()
    from_ns = netspec.load(ARCH / f"{name}.ns", device="meta").state_dict()
    assert {k: tuple(v.shape) for k, v in from_yaml.items()} == {k: tuple(v.shape) for k, v in from_ns.items()}
    assert list(from_yaml) == list(from_ns)


@pytest.mark.parametrize("name", PAIRS)
def test_summary_prints_the_same_table_for_both(name, cli):
    yaml, ns = cli("summary", ARCH / f"{name}.yaml"), cli("summary", ARCH / f"{name}.ns")
    assert yaml.rc == ns.rc == 0, ns.output
    assert ns.stdout == yaml.stdout


def test_build_googlenet_ns_prints_the_same_table_as_the_yaml(cli):
    yaml = cli("build", ARCH / "googlenet.yaml", "--seed", "0")
    ns = cli("build", ARCH / "googlenet.ns", "--seed", "0")
    assert yaml.rc == ns.rc == 0, ns.output
    assert ns.stdout == yaml.stdout
    assert "Total params: 6,998,552" in ns.stdout


@pytest.mark.parametrize("name, limit", [("resnet18", 30), ("googlenet", 40)])
def test_the_dsl_is_concise(name, limit):
    lines = [line for line in (ARCH / f"{name}.ns").read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(lines) <= limit, f"{name}.ns has {len(lines)} non-blank lines; the issue allows {limit}"


def test_check_and_summary_never_import_torch_for_ns():
    script = """
import sys
from netspec.cli import main
for argv in (["summary", "architectures/googlenet.ns"], ["check", "architectures/resnet18.ns", "architectures/densenet121.ns"],
             ["fmt", "architectures/vgg11.ns"], ["convert", "architectures/nin.ns", "--to", "yaml"]):
    sys.argv = ["netspec", *argv]
    try:
        main()
    except SystemExit as exc:
        assert not exc.code, argv
print("TORCH MODULES:", sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")), file=sys.stderr)
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Total params: 6,998,552" in proc.stdout
    assert "TORCH MODULES: []" in proc.stderr, proc.stderr.splitlines()[-1]


# ---- every construct the YAML has ------------------------------------------------------------------------

def _everything() -> tuple[str, str]:
    """The doc's closing example, one spec using every construct, in both syntaxes (docs/dsl.md)."""
    from netspec.docgen import code_blocks

    blocks = {b.title: b.body for b in code_blocks((REPO / "docs" / "dsl.md").read_text(encoding="utf-8")) if b.title}
    return blocks["everything.ns"], blocks["everything.yaml"]


def _ops(node, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        if "op" in node:
            found.add(node["op"])
        for value in node.values():
            _ops(value, found)
    elif isinstance(node, list):
        for value in node:
            _ops(value, found)
    return found


def test_every_construct_reads_as_its_yaml_twin():
    ns_text, yaml_text = _everything()
    ns, yaml = spec_of(ns_text), spec_of(yaml_text, "yaml")
    assert ns == yaml
    every_kind = {"call", "seq", "concat", "add", "residual", "repeat", "dense", "if", "splice", "output", "flat"}
    assert _ops(ns.model_dump(), set()) == every_kind
    assert ns.outputs and ns.init and ns.blocks and ns.params and ns.description
    graph = analyse(parse_text(ns_text, "everything.ns", "ns"))
    assert graph.root.out_shape == (10,)


def test_extends_reads_across_syntaxes(tmp_path):
    (tmp_path / "family.yaml").write_text(
        "name: family\ninput: [1, 28, 28]\nparams: {width: 8}\nlayers: ['conv2d(width, 3)', relu, flatten, linear(10)]\n")
    (tmp_path / "wide.ns").write_text('network wide\nextends "family.yaml"\nparam width = 32\n')
    summary = netspec.summarize(tmp_path / "wide.ns")
    assert summary.total_params == 32 * 9 + 32 + 32 * 26 * 26 * 10 + 10
    (tmp_path / "narrow.yaml").write_text("name: narrow\nextends: wide.ns\nparams: {width: 4}\n")
    assert netspec.summarize(tmp_path / "narrow.yaml").total_params == 4 * 9 + 4 + 4 * 26 * 26 * 10 + 10


def test_extends_a_list_in_both_syntaxes_and_round_trip(tmp_path):
    """`extends "a", "b"` is YAML's `extends: [a, b]`; both print back to themselves."""
    (tmp_path / "a.yaml").write_text(
        "name: a\ninput: [1, 8, 8]\nparams: {width: 8}\nblocks:\n  unit: {args: [c], layers: ['conv2d(c, 3)']}\n"
        "layers: [unit(width), flatten, linear(10)]\n")
    (tmp_path / "b.ns").write_text("network b\ninput 1x12x12\nparam classes = 4\nflatten\nlinear(classes)\n")
    ns_text = 'network ab\nextends "a.yaml", "b.ns"\nunit(width)\nflatten\nlinear(classes)\n'
    yaml_text = "name: ab\nextends: [a.yaml, b.ns]\nlayers: [unit(width), flatten, linear(classes)]\n"
    ns, yaml = spec_of(ns_text), spec_of(yaml_text, "yaml")
    assert ns == yaml and ns.extends == ["a.yaml", "b.ns"]
    assert spec_of(to_ns(ns)) == ns and spec_of(to_yaml(yaml), "yaml") == yaml
    assert 'extends "a.yaml", "b.ns"' in to_ns(ns)
    (tmp_path / "ab.ns").write_text(ns_text)
    summary = netspec.summarize(tmp_path / "ab.ns")
    assert summary.input_shape == (1, 12, 12) and summary.output_shape == (4,)
    assert summary.total_params == 8 * 9 + 8 + 8 * 10 * 10 * 4 + 4


def test_dangling_else_joins_the_nearest_if_and_parentheses_group():
    inner = spec_of("input 3x8x8\nif a then if b then relu else tanh").layers[0]
    assert isinstance(inner, If) and inner.else_ is None and inner.then.else_ == Call(target="tanh")
    outer = spec_of("input 3x8x8\nif a then (if b then relu) else tanh").layers[0]
    assert outer.else_ == Call(target="tanh") and outer.then.else_ is None
    assert "(if b then relu) else tanh" in to_ns(spec_of("input 3x8x8\nif a then (if b then relu) else tanh"))


def test_the_grammar_has_one_conflict_the_dangling_else():
    """LALR conflicts are resolved silently (as shift); this keeps the only one the known, intended one."""
    from netspec.frontends.dsl import _parser

    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        Lark(_parser().source_grammar, start=["start", "value_start", "count_start"], parser="lalr",
             maybe_placeholders=False, debug=True)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    conflicts = [r for r in records if "conflict" in r.lower()]
    assert conflicts == ["Shift/Reduce conflict for terminal ELSE: (resolving as shift)"], conflicts


# ---- aliases -----------------------------------------------------------------------------------------


def test_the_sketch_line_lowers_to_canonical_names():
    sketch = spec_of("input 3x224x224\nconv(64, 7, s=2) bn relu maxpool(3, s=2)")
    canonical = spec_of("input 3x224x224\nconv2d(64, 7, stride=2) batchnorm2d relu maxpool2d(3, stride=2)")
    assert sketch == canonical
    assert to_ns(sketch) == to_ns(canonical)
    assert "conv2d(64, 7, stride=2) batchnorm2d relu maxpool2d(3, stride=2)" in to_ns(sketch).replace("\n", " ")


def test_every_alias_names_a_registered_kind_and_argument():
    assert all(kind in REGISTRY and alias not in REGISTRY for alias, kind in TARGET_ALIASES.items())
    for short, long in ARG_ALIASES.items():
        assert any(long in arg_names(kind) and short not in arg_names(kind) for kind in REGISTRY.values())


def test_aliases_give_way_to_blocks_backticks_and_real_argument_names():
    spec = spec_of("input 3x8x8\nblock conv(c) = [conv(c, 3) relu]\nconv(8) `bn` dropout(p=0.5) conv(4, 3, p=1)")
    assert spec.layers[0].target == "conv"  # the block, which shadows the alias
    assert spec.blocks["conv"].body.items[0].target == "conv"  # inside the file, the block again
    assert spec.layers[1].target == "bn"  # backticks: the name as it is
    assert spec.layers[2].kwargs == {"p": 0.5}  # dropout has an argument `p` of its own
    assert spec.layers[3].kwargs == {"p": 1}  # `conv` is the block here: its arguments are not aliased
    plain = spec_of("input 3x8x8\nconv(4, 3, p=1, `s`=2)").layers[0]
    assert plain.target == "conv2d" and plain.kwargs == {"padding": 1, "s": 2}


def test_keywords_as_names_take_backticks_and_the_printer_adds_them():
    spec = spec_of("input 3x8x8\n`output`: relu\n[`repeat` `after`: tanh]\nblock `repeat` = relu")
    assert spec.layers[0].name == "output" and spec.layers[1].items[0].target == "repeat"
    text = to_ns(spec)
    assert "`output`: relu" in text and "block `repeat` = relu" in text
    assert spec_of(text) == spec
    assert KEYWORDS >= {"repeat", "residual", "concat", "add", "if", "output", "first", "names", "after"}


# ---- values ------------------------------------------------------------------------------------------


def test_values_read_as_yaml_reads_call_strings():
    args = "64, -3, 0.5, 1e3, 1_000, true, false, [1, c], (2, 3), c * 2, c*2, (c), -(2), 'same', max(c, 4), d[0]"
    ns = spec_of(f"input 3x8x8\nparam c = 1, d = [1]\nconv2d({args})").layers[0]
    yaml = spec_of(f'name: t\ninput: [3, 8, 8]\nparams: {{c: 1, d: [1]}}\nlayers: ["conv2d({args})"]', "yaml").layers[0]
    assert ns == yaml
    assert ns.args == [64, -3, 0.5, 1000.0, 1000, True, False, [1, "c"], [2, 3], "c * 2", "c*2", "c", -2, "'same'",
                       "max(c, 4)", "d[0]"]


def test_null_and_backticks_say_what_yaml_mappings_say():
    spec = spec_of("input 3x8x8\nparam a = null, b = `3`, c = 3, d = `(x)`, e = [`true`, true]\nrelu")
    assert spec.params == {"a": None, "b": "3", "c": 3, "d": "(x)", "e": ["true", True]}
    yaml = spec_of('name: t\ninput: [3, 8, 8]\nparams: {a: null, b: "3", c: 3, d: (x), e: ["true", true]}\n'
                   "layers: [relu]", "yaml")
    assert spec.params == yaml.params and type(spec.params["c"]) is type(yaml.params["c"])


def test_an_expression_across_lines_is_one_line_of_text():
    spec = spec_of("input 3x8x8\nparam w = 2\nconv2d(w *  # the width\n   4, 3)")
    assert spec.layers[0].args == ["w * 4", 3]


def test_a_backtick_value_inside_an_expression_is_a_located_error():
    with pytest.raises(SpecError) as caught:
        parse_ns("input 3x8x8\nconv2d(1 + `2`, 3)", "x.ns")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "invalid-value" and (diagnostic.loc.line, diagnostic.loc.col) == (2, 12)


# ---- locations -----------------------------------------------------------------------------------------


def test_later_errors_point_into_the_ns_file():
    text = "network t\ninput 3x8x8\nparam width = 8\nfeatures: [\n  conv2d(width, 3, strde=2)\n  linear(10)\n]\n"
    with pytest.raises(SpecError) as caught:
        analyse(parse_text(text, "t.ns", "ns"))
    found = {(d.code, d.loc.line, d.loc.col) for d in caught.value.diagnostics}
    assert ("unknown-arg", 5, 20) in found  # at the keyword, as YAML puts it


def test_deep_nesting_is_refused_with_a_location_and_moderate_nesting_works():
    with pytest.raises(SpecError) as caught:
        parse_ns("input 3x8x8\n" + "[" * 150 + "relu" + "]" * 150, "deep.ns")
    assert caught.value.diagnostics[0].code == "too-deep" and caught.value.diagnostics[0].loc.line == 2
    graph = analyse(parse_text("input 3x8x8\n" + "[" * 40 + "relu" + "]" * 40, "ok.ns", "ns"))
    assert graph.root.out_shape == (3, 8, 8)


# ---- the Python API and the command line --------------------------------------------------------------


def test_parse_and_load_take_ns_text_with_format_ns():
    text = "network tiny\ninput 1x8x8\nconv(4, 3) relu flatten linear(2)"
    spec = netspec.parse(text, format="ns")
    assert spec.name == "tiny" and spec.layers[0].target == "conv2d"
    module = netspec.load(text, format="ns", device="meta")
    assert sum(p.numel() for p in module.parameters()) == 4 * 9 + 4 + 4 * 36 * 2 + 2
    with pytest.raises(SpecError):
        netspec.parse(text)  # without format= text is YAML, and this is not


@pytest.mark.parametrize("name", PAIRS)
def test_fmt_is_idempotent(name, cli, tmp_path):
    once = cli("fmt", ARCH / f"{name}.ns")
    assert once.rc == 0, once.output
    (tmp_path / f"{name}.ns").write_text(once.stdout)
    twice = cli("fmt", tmp_path / f"{name}.ns")
    assert twice.stdout == once.stdout
    assert cli("fmt", "--check", tmp_path / f"{name}.ns").rc == 0
    assert parse(tmp_path / f"{name}.ns").spec == parse(ARCH / f"{name}.ns").spec


def test_fmt_write_keeps_comments(cli, tmp_path):
    path = tmp_path / "c.ns"
    path.write_text("# a tiny net\nnetwork c  # tiny\ninput 1x8x8\n\n# the body\nconv(4, 3)   relu   # two\n")
    assert cli("fmt", "--check", path).rc == 1
    assert cli("fmt", "--write", path).rc == 0
    # an end-of-line comment keeps its column where the line is short enough
    assert path.read_text() == "# a tiny net\nnetwork c  # tiny\ninput 1x8x8\n\n# the body\nconv2d(4, 3)        # two\nrelu\n"
    assert cli("fmt", "--check", path).rc == 0


@pytest.mark.parametrize("name", PAIRS)
def test_convert_round_trips_losslessly(name, cli, tmp_path):
    to_ns_run = cli("convert", ARCH / f"{name}.yaml", "--to", "ns", "-o", tmp_path / f"{name}.ns")
    assert to_ns_run.rc == 0, to_ns_run.output
    back = cli("convert", tmp_path / f"{name}.ns", "--to", "yaml", "-o", tmp_path / f"{name}.yaml")
    assert back.rc == 0, back.output
    original = parse(ARCH / f"{name}.yaml").spec
    assert parse(tmp_path / f"{name}.ns").spec == original == parse(tmp_path / f"{name}.yaml").spec
    a = netspec.load(ARCH / f"{name}.yaml", device="meta").state_dict()
    b = netspec.load(tmp_path / f"{name}.yaml", device="meta").state_dict()
    assert {k: tuple(v.shape) for k, v in a.items()} == {k: tuple(v.shape) for k, v in b.items()}


def test_convert_says_what_the_other_syntax_cannot_hold(cli, tmp_path):
    (tmp_path / "odd.ns").write_text("input 1x8x8\nconv2d(null, 3)\n")  # YAML call strings have no None
    run = cli("convert", tmp_path / "odd.ns", "--to", "yaml")
    assert run.rc == 2 and "cannot be written in YAML" in run.stderr, run.output
    with pytest.raises(Unprintable):
        to_yaml(parse(tmp_path / "odd.ns").spec)


def test_a_checkpoint_of_an_ns_spec_rebuilds_from_its_own_text(cli, tmp_path):
    from netspec.checkpoint import load_checkpoint

    run = cli("build", ARCH / "lenet5.ns", "--seed", "0", "-o", tmp_path / "lenet5.pt")
    assert run.rc == 0, run.output
    module = load_checkpoint(tmp_path / "lenet5.pt")
    built = netspec.load(ARCH / "lenet5.ns", seed=0)
    assert all((built.state_dict()[k] == v).all() for k, v in module.state_dict().items())
