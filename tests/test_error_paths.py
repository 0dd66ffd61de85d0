"""Paths in errors are the built module paths: the goldens for mistakes under `splice` and inside `flat` name
paths, and here each spec, with its mistake mended, is built by torch and those paths are looked up among the
module's own named_modules() (the reference), so a golden cannot agree with netspec on a path torch lacks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import netspec

HERE = Path(__file__).resolve().parent
GOLDENS = [HERE / "errors" / "unknown-arg--splice.yaml", HERE / "errors" / "unknown-arg--flat.yaml",
           HERE / "dsl_errors" / "unknown-arg--splice.ns", HERE / "dsl_errors" / "unknown-arg--flat.ns"]
_PATHS = re.compile(r"error\[[a-z-]+\]: ([^:]+): .*?(?:\(and \d+ more cop(?:y|ies): ([^)]*)\))?$")


def _named_paths(err: str) -> list[str]:
    found = []
    for line in err.splitlines():
        match = _PATHS.search(line)
        if match:
            found.append(match[1])
            found += [p.strip() for p in (match[2] or "").split(",") if p.strip() and p.strip() != "..."]
    return found


@pytest.mark.parametrize("spec", GOLDENS, ids=lambda p: p.name)
def test_paths_in_the_golden_are_modules_of_the_mended_network(spec, tmp_path):
    paths = _named_paths(spec.with_suffix(".err").read_text(encoding="utf-8"))
    assert paths, "the golden names no path"
    mended = tmp_path / spec.name
    mended.write_text(spec.read_text(encoding="utf-8").replace("strde=", "stride="), encoding="utf-8")
    model = netspec.load(mended, seed=0)
    modules = dict(model.named_modules())
    for path in paths:
        assert isinstance(modules.get(path), torch.nn.Conv2d), f"{path} is not a convolution of the built network"


LIBRARY = sorted([*(HERE.parent / "architectures").rglob("*.yaml"), *(HERE.parent / "architectures").rglob("*.ns")])


@pytest.mark.parametrize("spec", [p for p in LIBRARY if "families" not in p.parts],
                         ids=lambda p: p.relative_to(HERE.parent / "architectures").as_posix())
def test_the_path_a_layer_is_reported_at_is_the_path_it_is_built_at(spec, monkeypatch):
    """Every layer of every bundled spec (VGG and MobileNet splice, SqueezeNet and RegNet are flat): the path
    resolve would name in an error about the layer is the path the _Namer gives it at the end. Block plans are
    off: they report nothing (a call that could go wrong is resolved the general way), so every layer is seen."""
    from netspec.ir import resolve as r
    from netspec.pipeline import analyse

    monkeypatch.setattr(r._Planner, "plan", lambda self, *called: None)

    seen: list[tuple[str, object]] = []
    layer = r._Binder.layer

    def recording(self, node, env, mpath, cpath):
        built = layer(self, node, env, mpath, cpath)
        seen.append((mpath, built))
        return built

    monkeypatch.setattr(r._Binder, "layer", recording)
    analyse(str(spec), max_nodes=200_000)  # the largest library models expand past the default budget
    assert seen
    wrong = [(said, built.path) for said, built in seen if built is not None and said != built.path]
    assert not wrong, f"{len(wrong)} of {len(seen)} layers, e.g. {wrong[:3]}"
