"""Module names: every name torch accepts works in both syntaxes (quoted where the syntax needs it), and the
names torch refuses (empty, dotted, an attribute its modules already have) are located errors at check time,
never a crash in build. The refused attributes are checked against torch's own containers."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from torch import fx, nn

import netspec
from netspec.names import TORCH_ATTRIBUTES, module_name_problem
from netspec.backends.modules import Add, Concat, DenseBlock, Generated, GeneratedNetwork, Mul, Network, Residual
from netspec.pipeline import analyse, build, parse_text
from netspec.frontends.printer import to_ns, to_yaml
from netspec.ir.spec import Call

CONTAINERS = [
    nn.Module(), nn.Sequential(), nn.ModuleDict(), Network(OrderedDict()), Concat(), Add(), Mul(),
    Residual(OrderedDict(), None), DenseBlock(), fx.GraphModule(nn.Module(), fx.Graph()),
    Generated(OrderedDict(), "def forward(self, x):\n    return x\n"),
    GeneratedNetwork(OrderedDict(), "def forward(self, x):\n    return x\n"),
]

ACCEPTED = """\
input: [3, 9, 9]
layers:
  - block1-0: conv2d(4, 3)
  - "7": relu
  - conv 1: batchnorm2d
  - flat:
      - "0": conv2d(4, 1)
      - x-y: relu
      - concat:
          a-1: conv2d(2, 1)
          "2": conv2d(2, 1)
  - head:
      residual:
        body: ["conv2d(6, 3, padding=1)"]
        shortcut_name: skip-1
  - repeat: 2
    names: "stage-{i}"
    block: relu
"""


def test_the_list_covers_every_attribute_of_netspec_s_containers():
    for container in CONTAINERS:
        missing = {n for n in dir(container) if not n.startswith("__")} - TORCH_ATTRIBUTES
        assert not missing, f"{type(container).__name__} has attributes netspec.names does not refuse: {missing}"


@pytest.mark.parametrize("name", ["forward", "state_dict", "_modules", "training", "add_module", "keys", "graph"])
def test_a_refused_name_is_one_torch_refuses(name):
    refused = 0
    for container in CONTAINERS:
        try:
            container.add_module(name, nn.ReLU())
        except KeyError:
            refused += 1
    assert refused, f"no container refuses '{name}', so netspec need not"
    assert module_name_problem(name) is not None


def test_names_torch_accepts_build_under_those_names():
    model = build(ACCEPTED, seed=0)
    names = dict(model.named_modules())
    for path in ["block1-0", "7", "conv 1", "3.0", "3.x-y", "3.a-1", "3.2", "head.skip-1", "5.stage-0", "5.stage-1"]:
        assert path in names, f"no module '{path}' in {sorted(names)}"
    graph = analyse(ACCEPTED)
    with torch.no_grad():
        assert tuple(model(torch.randn(2, 3, 9, 9)).shape[1:]) == graph.root.out_shape
    assert "block1-0.weight" in model.state_dict() and "3.a-1.weight" in model.state_dict()


def test_names_torch_accepts_read_the_same_in_both_syntaxes():
    spec = parse_text(ACCEPTED).spec
    ns = to_ns(spec)
    assert "`block1-0`: conv2d(4, 3)" in ns and "`7`: relu" in ns  # backticks where .ns needs them
    assert parse_text(ns, "<ns>", "ns").spec == spec
    assert parse_text(to_yaml(spec)).spec == spec


@pytest.mark.parametrize(
    "entry, name, words",
    [
        ("  - conv.1: relu", "conv.1", "cannot contain '.'"),
        ("  - forward: relu", "forward", "shadow the attribute 'forward'"),
        ("  - __class__: relu", "__class__", "shadow the attribute '__class__'"),
        ("  - __dict__: relu", "__dict__", "shadow"),
        ("  - concat:\n      training: relu\n      b: relu", "training", "shadow the attribute 'training'"),
        ("  - stem:\n      - _modules: relu", "_modules", "shadow"),
        ("  - residual:\n      body: [relu]\n      shortcut_name: state_dict", "state_dict", "shadow"),
        ("  - repeat: 2\n    names: 'x.{i}'\n    block: relu", "x.0", "cannot contain '.'"),
    ],
)
def test_a_refused_name_is_a_located_error_in_yaml(entry, name, words):
    with pytest.raises(netspec.SpecError) as info:
        analyse(f"input: [3, 8, 8]\nlayers:\n{entry}\n")
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.code == "invalid-name" and words in diagnostic.message and f"'{name}'" in diagnostic.message
    assert diagnostic.loc is not None and diagnostic.loc.line >= 3


@pytest.mark.parametrize("label, words", [("`a.b`", "cannot contain '.'"), ("`forward`", "shadow"),
                                          ("`__dict__`", "shadow"), ("add_module", "shadow")])
def test_a_refused_name_is_a_located_error_in_ns(label, words):
    with pytest.raises(netspec.SpecError) as info:
        analyse(f"input 3x8x8\nconv2d(4, 3)\n{label}: relu\n", format="ns")
    (diagnostic,) = info.value.diagnostics
    assert (diagnostic.code, diagnostic.loc.line, diagnostic.loc.col) == ("invalid-name", 3, 1)
    assert words in diagnostic.message


def test_a_spec_built_in_python_is_checked_too():
    spec = netspec.parse("input: [3, 8, 8]\nlayers:\n  - relu\n")
    bad = spec.with_layers([Call(target="relu", name="eval")])  # IR entries: no front end has checked the name
    with pytest.raises(netspec.SpecError, match="'eval' cannot be a module name"):
        netspec.summarize(bad)
