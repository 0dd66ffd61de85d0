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
