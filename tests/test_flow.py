"""Data flow beyond add and concat: the `mul` merge (torch broadcasting, squeeze-and-excitation) and
misspelt structure keywords, in both syntaxes, checked against hand-written torch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import netspec
from netspec.diagnostics import SpecError
from netspec.pipeline import analyse, parse_text
from netspec.frontends.printer import to_ns, to_yaml

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
    assert "shape-mismatch" in message and "'a' (line 5) gives (16, 8, 8)" in message and "'b' (line 6) gives (8, 8, 8)" in message


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


# ---- parameter: a tensor of the enclosing module ----------------------------------------------

SCALED_YAML = """\
name: scaled
input: [16, 8, 8]
params: {scale: 0.5}
layers:
  - conv2d(16, 1)
  - block:
      flat:
        residual:
          body:
            - mul:
                - gamma:
                    parameter: [16, 1, 1]
                    init: constant(scale)
                - f: ["conv2d(16, 3, padding=1)", relu]
          shortcut: identity
  - bias:
      add:
        x: identity
        beta: {parameter: [16, 8, 8], init: ones}
"""

SCALED_NS = """\
network scaled
input 16x8x8
param scale = 0.5

conv2d(16, 1)
`block`: flat residual {
  mul { gamma: parameter [16, 1, 1] init constant(scale)  f: [conv2d(16, 3, padding=1) relu] }
} shortcut identity
bias: add { x: identity  beta: parameter 16x8x8 init ones }
"""


class HandScaled(nn.Module):
    """What the spec says, by hand: a block owning its scale `gamma` (ConvNeXt's CNBlock.layer_scale), and a
    learnable per-position bias owned by the add."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(16, 16, 1)
        self.gamma = nn.Parameter(torch.full((16, 1, 1), 0.5))
        self.f = nn.Conv2d(16, 16, 3, padding=1)
        self.beta = nn.Parameter(torch.ones(16, 8, 8))

    def forward(self, x):
        x = self.conv(x)
        x = self.gamma * torch.relu(self.f(x)) + x
        return x + self.beta


@pytest.mark.parametrize("text, fmt", [(SCALED_YAML, "yaml"), (SCALED_NS, "ns")])
def test_parameter_is_a_tensor_of_the_enclosing_module(text, fmt):
    model = netspec.load(text, format=fmt, seed=0).eval()
    # a module's own tensors come before its children's in torch's state_dict
    assert list(model.state_dict()) == ["0.weight", "0.bias", "block.gamma", "block.f.0.weight", "block.f.0.bias",
                                        "bias.beta"]
    assert isinstance(model.block.gamma, nn.Parameter) and isinstance(model.bias.beta, nn.Parameter)
    assert torch.equal(model.block.gamma.detach(), torch.full((16, 1, 1), 0.5))  # init: constant(scale)
    assert torch.equal(model.bias.beta.detach(), torch.ones(16, 8, 8))
    hand = HandScaled().eval()
    for p in hand.parameters():
        torch.nn.init.normal_(p)  # values other than the initial ones: the load must carry them
    names = {"0.weight": "conv.weight", "0.bias": "conv.bias", "block.gamma": "gamma", "block.f.0.weight": "f.weight",
             "block.f.0.bias": "f.bias", "bias.beta": "beta"}
    model.load_state_dict({ours: hand.state_dict()[theirs] for ours, theirs in names.items()}, strict=True)
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        assert torch.allclose(model(x), hand(x), atol=1e-6)
    graph = analyse(text, format=fmt)
    params = {n.path: (n.op, n.out_shape, n.params, n.mult_adds) for n in graph.walk() if n.op == "parameter"}
    assert params == {"block.gamma": ("parameter", (16, 1, 1), 16, 0), "bias.beta": ("parameter", (16, 8, 8), 1024, 0)}
    assert graph.root.params == sum(p.numel() for p in hand.parameters())
    import torchinfo

    stats = torchinfo.summary(model, (1, 16, 8, 8), verbose=0)
    assert stats.total_params == graph.root.params and stats.total_mult_adds == graph.root.mult_adds


def test_parameter_round_trips_between_syntaxes():
    from_yaml = parse_text(SCALED_YAML, "s.yaml", "yaml").spec
    from_ns = parse_text(SCALED_NS, "s.ns", "ns").spec
    assert from_yaml == from_ns
    assert parse_text(to_ns(from_yaml), "x.ns", "ns").spec == from_yaml
    assert parse_text(to_yaml(from_ns), "x.yaml", "yaml").spec == from_ns
    # the default initialiser (zeros) is left out; a shape given by one expression is kept as one
    text = "network z\ninput 4x2x2\nparam s = [4, 1, 1]\n\nmul { identity  w: parameter (s) }\n"
    spec = parse_text(text, "z.ns", "ns").spec
    assert spec.layers[0].branches[1].shape == "s" and spec.layers[0].branches[1].init == "zeros"
    assert "parameter (s)\n" in to_ns(spec) or "parameter (s) }" in to_ns(spec)
    assert parse_text(to_yaml(spec), "z.yaml", "yaml").spec == spec


def test_parameter_with_a_leading_batch_dimension():
    """torch aligns shapes from the right: a (1, L, D) tensor (ViT's position embedding) beside an (L, D)
    input is one per sample, broadcast over the batch; its state_dict shape stays (1, L, D)."""
    text = "network pos\ninput 5x8\n\nadd { identity  pos_embedding: parameter 1x5x8 init normal(0, 0.02) }\n"
    graph = analyse(text, format="ns")
    assert graph.root.out_shape == (5, 8)
    model = netspec.load(text, format="ns", seed=0)
    assert tuple(model.state_dict()["0.pos_embedding"].shape) == (1, 5, 8)
    x = torch.randn(3, 5, 8)
    assert torch.equal(model(x), x + model[0].pos_embedding)


def test_parameter_initialisers_are_seeded():
    text = "network r\ninput 4x2x2\n\nmul { identity  w: parameter [4, 1, 1] init normal(0, 0.02) }\n"
    a, b = (netspec.load(text, format="ns", seed=3)[0].w for _ in range(2))
    assert torch.equal(a, b) and a.std() > 0


@pytest.mark.parametrize("layers, code, words", [
    ("[{concat: [identity, {w: {parameter: [4, 2, 2]}}]}]", "invalid-entry", "is in a concat"),
    ("[{mul: [identity, {parameter: [4, 1, 1]}]}]", "missing-key", "a parameter needs a name"),
    ("[{mul: [{v: {parameter: [4, 1, 1]}}, {w: {parameter: [4, 1, 1]}}]}]", "invalid-entry", "only parameters"),
    ("[{mul: [identity, {w: {parameter: [4, 0, 1]}}]}]", "invalid-value", "whole numbers >= 1"),
    ("[{mul: [identity, {w: {parameter: [4, 1, 1], init: gaussian}}]}]", "unknown-init", "unknown initialiser"),
    ("[{mul: [identity, {w: {parameter: [4], init: kaiming_normal}}]}]", "invalid-value", "is a vector"),
    ("[{mul: [identity, {w: {parameter: [2, 4, 1, 1]}}]}]", "rank-mismatch", "only leading 1s"),
    ("[{mul: [identity, {w: {parameter: [8, 1, 1]}}]}]", "shape-mismatch", "broadcast"),
])
def test_parameter_misuse_is_a_located_error(layers, code, words):
    text = f"name: m\ninput: [4, 2, 2]\nlayers: {layers}\n"
    with pytest.raises(SpecError) as err:
        analyse(text)
    diagnostic = err.value.diagnostics[0]
    assert diagnostic.code == code and words in diagnostic.message, str(err.value)
    assert diagnostic.loc is not None and diagnostic.loc.line == 3


def _slip_by_edits(word: str):
    """misspelt_structure's answer worked out the long way: the edit distance to every keyword."""
    from netspec.ir.spec import STRUCTURES, _edits

    if word in STRUCTURES or word.rstrip("0123456789_") in STRUCTURES:
        return None
    lowered = word.lower()
    return next((k for k in STRUCTURES if lowered == k or _edits(lowered, k) <= (2 if len(k) >= 6 else 1) < len(k) - 1),
                None)


def test_misspelt_structure_skips_only_keywords_too_far_to_be_meant():
    import random

    from netspec.ir.spec import STRUCTURES, misspelt_structure

    rng = random.Random(7)
    letters = "acdefilmnoprstuACDEP_19x"
    words = ["conv1", "stem", "layer1", "features", "classifier", "Residual", "outptu", "pa", "if2", "iff", "fi"]
    for keyword in STRUCTURES:
        for _ in range(400):  # up to three random edits of each keyword
            word = list(keyword)
            for _ in range(rng.randint(1, 3)):
                at, roll = rng.randrange(len(word)), rng.random()
                if roll < 0.3 and len(word) > 1:
                    del word[at]
                elif roll < 0.6:
                    word.insert(at, rng.choice(letters))
                elif roll < 0.8:
                    word[at] = rng.choice(letters)
                elif at + 1 < len(word):
                    word[at], word[at + 1] = word[at + 1], word[at]
            words.append("".join(word))
    words += ["".join(rng.choice(letters) for _ in range(rng.randint(1, 10))) for _ in range(3000)]
    answers = [misspelt_structure.__wrapped__(w) for w in words]
    assert answers == [_slip_by_edits(w) for w in words]
    assert sum(a is not None for a in answers) > 1000
