"""The torchvision library in the text syntax: every family and preset, converted to `.ns` (presets
extending the converted families), reads back equal and compiles to the same module;
and `netspec check` and `netspec convert` (there and back) on every spec from the command line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import netspec
from netspec.pipeline import analyse, parse
from netspec.frontends.printer import same, to_ns

LIBRARY = Path(__file__).resolve().parent.parent / "architectures" / "torchvision"
SPECS = sorted(LIBRARY.rglob("*.yaml"))
PRESETS = sorted(LIBRARY.glob("*.yaml"))


@pytest.fixture(scope="module")
def ns_library(tmp_path_factory) -> Path:
    """The whole library written out as .ns files, same folders, `extends` pointing at .ns files."""
    root = tmp_path_factory.mktemp("library")
    for path in SPECS:
        spec = parse(path).spec  # as written: a preset keeps its `extends`
        if isinstance(spec.extends, list):  # a family on several families
            spec = spec.model_copy(update={"extends": [base.replace(".yaml", ".ns") for base in spec.extends]})
        elif spec.extends:
            spec = spec.model_copy(update={"extends": spec.extends.replace(".yaml", ".ns")})
        target = root / path.relative_to(LIBRARY).with_suffix(".ns")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(to_ns(spec), encoding="utf-8")
    return root


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.relative_to(LIBRARY).as_posix())
def test_each_spec_reads_back_equal_from_ns(path, ns_library):
    converted = ns_library / path.relative_to(LIBRARY).with_suffix(".ns")
    original = parse(path).spec
    again = parse(converted).spec
    assert same(again.model_copy(update={"extends": original.extends}), original)


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_each_preset_compiles_to_the_same_module_from_ns(path, ns_library):
    converted = ns_library / path.with_suffix(".ns").name
    from_yaml, from_ns = netspec.summarize(path), netspec.summarize(converted)
    assert (from_ns.total_params, from_ns.total_mult_adds) == (from_yaml.total_params, from_yaml.total_mult_adds)
    assert [(r.path, r.kind, r.output_shape) for r in from_ns.rows] == \
        [(r.path, r.kind, r.output_shape) for r in from_yaml.rows]
    yaml_module = netspec.load(path, device="meta", max_params=None)  # nothing is allocated: no budget
    ns_module = netspec.load(converted, device="meta", max_params=None)
    assert {k: tuple(v.shape) for k, v in ns_module.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in yaml_module.state_dict().items()}
    assert analyse(converted).outputs == analyse(path).outputs


def test_every_spec_checks_and_survives_netspec_convert_there_and_back(cli, tmp_path):
    """The command line end to end, on the whole library: `netspec check` passes every spec (presets and families,
    under the default budgets); `netspec convert` writes each one as .ns and that .ns back as YAML, in trees of the
    library's layout (a converted preset still extends the YAML family beside it); both read back as the same spec,
    and `netspec check` gives every converted file the same parameter count and output shape as its original."""
    ns_tree, back_tree = tmp_path / "ns", tmp_path / "back"
    for path in SPECS:
        rel = path.relative_to(LIBRARY)
        for tree in (ns_tree, back_tree):
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        ns, back = (ns_tree / rel).with_suffix(".ns"), back_tree / rel
        shutil.copy(path, ns_tree / rel)  # the YAML a converted preset extends
        there = cli("convert", path, "--to", "ns", "-o", ns)
        assert there.rc == 0, there.output
        again = cli("convert", ns, "--to", "yaml", "-o", back)
        assert again.rc == 0, again.output
        assert same(parse(ns).spec, parse(path).spec), f"{rel}: the .ns reads as another spec"
        assert same(parse(back).spec, parse(path).spec), f"{rel}: back in YAML, another spec"

    def verdicts(files: list[Path], root: Path) -> dict[str, str]:
        result = cli("check", *files)
        assert result.rc == 0, result.output
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        assert len(lines) == len(files) and all(": ok (" in line for line in lines), result.output
        return {Path(line.split(": ok (")[0]).relative_to(root).with_suffix("").as_posix(): line.split(": ok (")[1]
                for line in lines}

    original = verdicts(SPECS, LIBRARY)
    assert len(original) == len(SPECS) and set(original) >= {"regnet_y_128gf", "families/shufflenet_v2"}
    assert verdicts([(ns_tree / p.relative_to(LIBRARY)).with_suffix(".ns") for p in SPECS], ns_tree) == original
    assert verdicts([back_tree / p.relative_to(LIBRARY) for p in SPECS], back_tree) == original
