"""The torchvision library in the text syntax: every family and preset, converted to `.ns` (presets
extending the converted families), reads back equal and compiles to the same module."""

from __future__ import annotations

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
        if spec.extends:
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
