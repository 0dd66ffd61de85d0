"""Blocks whose argument defaults, call arguments and body (a repeat count, an `if` condition) use the shape
reaching them (`in_channels`, `in_height`, `in_width`), in YAML and .ns.

The reference is torchvision: a MobileNetV2 written with `hidden: int(round(in_channels * t))` instead of an
`inp` argument threaded through every call must have torchvision's state_dict keys and shapes, load its
weights strictly and give its outputs. The rest checks each use against modules torch builds by hand."""

from __future__ import annotations

import pytest
import torch
import torchvision

import netspec
from netspec.diagnostics import SpecError
from netspec.pipeline import analyse
from netspec.frontends.printer import same, to_ns

MOBILENET = """\
name: mobilenet_v2_incoming
input: [3, 64, 64]
params:
  setting: [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2]]
blocks:
  conv_bn_relu6:
    args: {out: required, kernel: 3, stride: 1, groups: 1}
    layers:
      - conv2d(out, kernel, stride=stride, padding=(kernel - 1) // 2, groups=groups, bias=false)
      - batchnorm2d
      - relu6
  inverted_residual:
    args: {out: required, t: required, stride: 1, hidden: int(round(in_channels * t))}
    residual:
      body:
        - conv:
            - if: t != 1
              then: conv_bn_relu6(hidden, 1)
            - conv_bn_relu6(hidden, 3, stride=stride, groups=hidden)
            - conv2d(out, 1, bias=false)
            - batchnorm2d
      shortcut: when_same
  stage:
    args: [row]
    repeat: row[2]
    block: inverted_residual(row[1], row[0])
    first:
      stride: row[3]
layers:
  features:
    - conv_bn_relu6(32, 3, stride=2)
    - splice:
        repeat: len(setting)
        block:
          splice: stage(setting[i])
    - conv_bn_relu6(1280, 1)
  avgpool: adaptive_avgpool2d(1)
  flatten: flatten
  classifier: [dropout(0.2), linear(10)]
"""


def _torchvision_mobilenet() -> torch.nn.Module:
    torch.manual_seed(0)
    model = torchvision.models.MobileNetV2(num_classes=10, inverted_residual_setting=[[1, 16, 1, 1], [6, 24, 2, 2],
                                                                                      [6, 32, 3, 2]])
    for module in model.modules():  # BN statistics other than 0 and 1, so a swapped BN would show
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.mark.parametrize("syntax", ["yaml", "ns"])
def test_a_block_that_takes_its_width_from_the_input_is_torchvisions_mobilenet(syntax):
    spec = netspec.parse(MOBILENET)
    text = MOBILENET if syntax == "yaml" else to_ns(spec)
    if syntax == "ns":
        assert "hidden=int(round(in_channels * t))" in text and same(netspec.parse(text, format="ns"), spec)
    ours = netspec.load(text, format=syntax, seed=0).eval()
    reference = _torchvision_mobilenet()
    theirs = reference.state_dict()
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [(k, tuple(v.shape)) for k, v in theirs.items()]
    ours.load_state_dict(theirs, strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x))
    # the static table agrees with the module torch built
    assert netspec.summarize(text, format=syntax).total_params == sum(p.numel() for p in reference.parameters())


BODY = """\
name: incoming_body
input: [8, 16, 16]
blocks:
  gate:
    args: {channels: in_channels, squeeze: "max(1, channels // 4)"}
    mul:
      - identity
      - [adaptive_avgpool2d(1), "conv2d(squeeze, 1)", relu, "conv2d(channels, 1)", sigmoid]
  unit:
    args: {out: int}
    layers:
      - conv2d(out, 3, padding=1)
      - {if: "in_channels >= 16", then: gate}
      - repeat: in_height // 8
        block: relu
layers:
  - unit(out=in_channels)
  - unit(out=in_channels * 2)
  - pool: maxpool2d(2)
  - unit(16)
"""


def _body_reference() -> list[tuple[str, tuple]]:
    """The module tree the spec means, built by hand: (path, weight shape) for every convolution."""
    return [("0.0", (8, 8, 3, 3)),                                     # unit(8) on 8 channels: no gate (8 < 16)
            ("1.0", (16, 8, 3, 3)), ("1.1.1.1", (4, 16, 1, 1)), ("1.1.1.3", (16, 4, 1, 1)),  # 16 >= 16: a gate
            ("3.0", (16, 16, 3, 3)), ("3.1.1.1", (4, 16, 1, 1)), ("3.1.1.3", (16, 4, 1, 1))]


@pytest.mark.parametrize("syntax", ["yaml", "ns"])
def test_a_body_counts_and_chooses_by_the_shape_reaching_it(syntax):
    text = BODY if syntax == "yaml" else to_ns(netspec.parse(BODY))
    model = netspec.load(text, format=syntax, seed=0)
    convs = [(name, tuple(m.weight.shape)) for name, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs == _body_reference()
    relus = {name.rsplit(".", 1)[0]: 0 for name, m in model.named_modules() if isinstance(m, torch.nn.ReLU)}
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.ReLU) and name.count(".") == 2:
            relus[name.rsplit(".", 1)[0]] += 1
    # the repeat count is in_height // 8 of what reaches it: 16 // 8 twice, then 8 // 8 after the pool
    assert (relus["0.2"], relus["1.2"], relus["3.2"]) == (2, 2, 1)
    assert model(torch.randn(1, 8, 16, 16)).shape == (1, 16, 8, 8)


def test_a_false_condition_on_the_incoming_shape_keeps_its_place():
    """Numbering is settled before shapes are known, so an `if` that waits for them and gives nothing stays as an
    empty step: the entries after it keep the numbers they were given."""
    model = netspec.load("input: [4, 8, 8]\nlayers:\n  - {if: 'in_channels > 4', then: relu}\n  - conv2d(2, 1)\n", seed=0)
    assert isinstance(model[1], torch.nn.Conv2d) and len(model[0]) == 0
    assert list(model.state_dict()) == ["1.weight", "1.bias"]


def test_a_param_of_the_same_name_hides_the_incoming_size_in_a_default():
    model = netspec.load("input: [4, 8, 8]\nparams: {in_channels: 3}\nblocks:\n  b: {args: {c: in_channels * 2}, "
                         "layers: ['conv2d(c, 1)']}\nlayers: [b]\n", seed=0)
    (conv,) = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert conv.weight.shape == (6, 4, 1, 1)  # c is twice the param (3), on the 4 channels that reach it


@pytest.mark.parametrize("text, says", [
    ("input: [4, 8, 8]\nlayers:\n  - features: [{splice: {repeat: in_channels, block: relu}}]\n",
     "a spliced entry's arguments, count or condition cannot use in_channels"),
    ("input: [4, 8, 8]\nblocks:\n  b: {args: {c: in_channels}, layers: ['conv2d(c, 1)']}\n"
     "layers:\n  - {flat: [b, relu]}\n", "inside a flat module"),
    ("input: [4, 8, 8]\nblocks:\n  b: {args: {k: in_height}, layers: ['conv2d(4, k)']}\nlayers: [flatten, b]\n",
     "has no height or width"),
])
def test_where_the_incoming_shape_cannot_be_waited_for(text, says):
    with pytest.raises(SpecError) as info:
        analyse(text)
    assert len(info.value.diagnostics) == 1 and says in str(info.value), str(info.value)
    assert info.value.diagnostics[0].loc is not None


def test_a_mistake_in_a_block_that_waited_is_reported_at_its_line_and_path():
    text = ("input: [4, 8, 8]\nblocks:\n  b:\n    args: {c: in_channels}\n    layers: ['conv2d(c, 1, strde=2)']\n"
            "layers:\n  - relu\n  - x: b\n")
    with pytest.raises(SpecError) as info:
        analyse(text)
    (diag,) = info.value.diagnostics
    assert (diag.code, diag.path, diag.loc.line) == ("unknown-arg", "x.0", 5)
