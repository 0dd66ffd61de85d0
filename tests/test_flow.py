"""Data flow beyond add and concat: the `mul` merge (torch broadcasting, squeeze-and-excitation) and
misspelt structure keywords, in both syntaxes, checked against hand-written torch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import netspec
from netspec.diagnostics import SpecError
from netspec.pipeline import analyse, parse_text
from netspec.printer import to_ns, to_yaml

SE_YAML = """\
name: se
input: [32, 10, 10]
layers:
  - conv2d(32, 3, padding=1)
  - se:
      mul:
        features: identity
        gate:
          - adaptive_avgpool2d(1)
          - conv2d(8, 1)
          - relu
          - conv2d(32, 1)
          - sigmoid
"""

SE_NS = """\
network se
input 32x10x10

conv2d(32, 3, padding=1)
se: mul {
  features: identity
  gate: [adaptive_avgpool2d(1) conv2d(8, 1) relu conv2d(32, 1) sigmoid]
}
"""


class HandSE(nn.Module):
    """Squeeze-and-excitation as one writes it by hand (Hu et al.): x * sigmoid(W2 relu(W1 avgpool(x)))."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(32, 32, 3, padding=1)
        self.fc1 = nn.Conv2d(32, 8, 1)
        self.fc2 = nn.Conv2d(8, 32, 1)

    def forward(self, x):
        x = self.conv(x)
        gate = torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean((2, 3), keepdim=True)))))
        return x * gate


@pytest.mark.parametrize("text, fmt", [(SE_YAML, "yaml"), (SE_NS, "ns")])
def test_se_matches_hand_written(text, fmt):
    model = netspec.load(text, format=fmt, seed=0).eval()
    assert list(model.state_dict()) == ["0.weight", "0.bias", "se.gate.1.weight", "se.gate.1.bias",
                                        "se.gate.3.weight", "se.gate.3.bias"]
    hand = HandSE().eval()
    hand.load_state_dict(dict(zip(hand.state_dict(), model.state_dict().values())), strict=True)
    x = torch.randn(2, 32, 10, 10)
    assert torch.allclose(model(x), hand(x), atol=1e-6)
    graph = analyse(text, format=fmt)
    se = graph.root.items[1]
    assert se.op == "mul" and se.out_shape == (32, 10, 10)
    assert [b.out_shape for b in se.branches] == [(32, 10, 10), (32, 1, 1)]
    assert graph.root.params == sum(p.numel() for p in hand.parameters())


def test_se_round_trips_between_syntaxes():
    from_yaml = parse_text(SE_YAML, "se.yaml", "yaml").spec
    from_ns = parse_text(SE_NS, "se.ns", "ns").spec
    assert from_yaml == from_ns
    assert parse_text(to_ns(from_yaml), "x.ns", "ns").spec == from_yaml
    assert parse_text(to_yaml(from_ns), "x.yaml", "yaml").spec == from_ns


@pytest.mark.parametrize("a, b, out", [
    ((16, 8, 8), (16, 1, 1), (16, 8, 8)),
    ((16, 1, 1), (16, 8, 8), (16, 8, 8)),
    ((1, 8, 8), (16, 8, 1), (16, 8, 8)),
    ((16, 8, 8), (16, 8, 8), (16, 8, 8)),
])
def test_mul_broadcasts_as_torch_does(a, b, out):
    # each branch reshapes the (16, 8, 8) input to the branch's shape with pooling
    def branch(shape):
        if shape == (16, 8, 8):
            return "identity"
        if shape == (16, 1, 1):
            return "adaptive_avgpool2d(1)"
        if shape == (1, 8, 8):
            return "conv2d(1, 1)"
        return "adaptive_avgpool2d([8, 1])"
    text = (f"name: m\ninput: [16, 8, 8]\nlayers:\n  - mul:\n      a: {branch(a)}\n"
            f"      b: {branch(b)}\n")
    graph = analyse(text)
    assert graph.root.out_shape == out
    model = netspec.load(text, seed=0)
    x = torch.randn(2, 16, 8, 8)
    got = model(x)
    m = model[0]
    assert got.shape[1:] == out == torch.broadcast_shapes(m.a(x).shape, m.b(x).shape)[1:]
    assert torch.equal(got, m.a(x) * m.b(x))


def test_mul_that_does_not_broadcast_names_both_branches():
    text = "name: m\ninput: [16, 8, 8]\nlayers:\n  - mul:\n      a: identity\n      b: conv2d(8, 1)\n"
    with pytest.raises(SpecError) as err:
        analyse(text)
    message = str(err.value)
    assert "shape-mismatch" in message and "'a' gives (16, 8, 8)" in message and "'b' gives (8, 8, 8)" in message


@pytest.mark.parametrize("word, meant", [("concatt", "concat"), ("residul", "residual"), ("mull", "mul"),
                                         ("ad", "add"), ("Concat", "concat"), ("repaet", "repeat")])
def test_misspelt_structure_is_an_error_in_yaml(word, meant):
    text = f"name: m\ninput: [16, 8, 8]\nlayers:\n  - {word}:\n      - relu\n      - identity\n"
    with pytest.raises(SpecError) as err:
        analyse(text)
    assert err.value.diagnostics[0].code == "unknown-structure"
    assert f"did you mean '{meant}'" in str(err.value)


@pytest.mark.parametrize("word, meant", [("concatt", "concat"), ("mull", "mul"), ("ad", "add")])
def test_misspelt_structure_is_an_error_in_ns(word, meant):
    text = f"network m\ninput 16x8x8\n\nx: {word} {{ relu identity }}\n"
    with pytest.raises(SpecError) as err:
        analyse(text, format="ns")
    assert err.value.diagnostics[0].code == "unknown-structure"
    assert f"did you mean '{meant}'" in str(err.value)


@pytest.mark.parametrize("name", ["add1", "output2", "denseblock1", "features", "block"])
def test_names_near_keywords_stay_names(name):
    text = f"name: m\ninput: [16, 8, 8]\nlayers:\n  - {name}:\n      - relu\n      - identity\n"
    graph = analyse(text)
    assert graph.root.items[0].name == name
