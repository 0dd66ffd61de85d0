"""The example specs in architectures/examples/ (a 1-D audio net, a 3-D net, a decoder): each .yaml and its
.ns twin read as the same spec, and every module's static output shape equals the shape torch produces,
with the totals equal to torchinfo's."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchinfo

import netspec
from netspec.pipeline import parse

EXAMPLES = Path(__file__).resolve().parent.parent / "architectures" / "examples"
NAMES = ["audio_m5", "clip3d", "conv_decoder", "dense_block", "inception_module", "residual_block"]
KINDS = {"audio_m5": {"conv1d", "maxpool1d", "adaptive_avgpool1d", "log_softmax"},
         "clip3d": {"conv3d", "batchnorm3d", "maxpool3d", "dropout3d", "adaptive_avgpool3d"},
         "conv_decoder": {"conv_transpose2d", "upsample", "pad"},
         # the building blocks the diagram gallery draws (docs/gallery.md); block names show in the Kind column
         "dense_block": {"dense", "transition", "conv2d", "avgpool2d"},
         "inception_module": {"inception", "conv2d", "maxpool2d"},
         "residual_block": {"basic", "conv2d", "batchnorm2d"}}


def test_the_folder_holds_the_examples():
    assert sorted(p.stem for p in EXAMPLES.glob("*.yaml")) == sorted(p.stem for p in EXAMPLES.glob("*.ns")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_both_syntaxes_say_the_same(name):
    assert parse(EXAMPLES / f"{name}.yaml").spec == parse(EXAMPLES / f"{name}.ns").spec


@pytest.mark.parametrize("name", NAMES)
def test_static_shapes_equal_runtime_shapes(name):
    path = EXAMPLES / f"{name}.yaml"
    summary = netspec.summarize(path)
    assert KINDS[name] <= {row.kind for row in summary.rows}
    model = netspec.load(path, seed=0).eval()
    seen: dict[str, tuple[int, ...]] = {}
    hooks = [module.register_forward_hook(lambda m, i, out, path=p: seen.__setitem__(path, tuple(out.shape[1:])))
             for p, module in model.named_modules() if p]
    with torch.no_grad():
        out = model(torch.randn(2, *summary.input_shape))
    for hook in hooks:
        hook.remove()
    assert tuple(out.shape[1:]) == summary.output_shape
    static = {row.path: row.output_shape for row in summary.rows}
    assert seen == static
    stats = torchinfo.summary(model, (1, *summary.input_shape), device="cpu", verbose=0)
    assert (stats.total_params, stats.total_mult_adds) == (summary.total_params, summary.total_mult_adds)
