"""Every registered layer kind, picked up from the registry: its documented example, statically and built.

The static shape, parameter count and mult-adds must equal what torch and torchinfo say about
the module the kind builds; a kind added to the registry is tested here without any new code.
"""

from __future__ import annotations

import pytest
import torch
import torchinfo

from netspec.diagnostics import SpecError
from netspec.layers import REGISTRY
from netspec.pipeline import analyse, build

# Inputs tried in turn until the kind's example accepts one: (C, H, W), (C, L), (F,), then more channels, (C, D, H, W).
CANDIDATE_INPUTS = [(3, 13, 11), (3, 12), (12,), (16, 12, 12), (16, 12), (16,), (3, 5, 7, 6), (16, 4, 6, 6)]


def example_spec(name: str, shape: tuple[int, ...]) -> str:
    example = REGISTRY[name].example
    return f"input: {list(shape)}\nparams: {{num_classes: 5}}\nlayers:\n  - {example}\n"


def accepted_input(name: str) -> tuple[int, ...]:
    for shape in CANDIDATE_INPUTS:
        try:
            analyse(example_spec(name, shape))
            return shape
        except SpecError as exc:
            if any(d.code not in ("rank-mismatch", "shape-mismatch", "spatial-too-small") for d in exc.diagnostics):
                raise
    raise AssertionError(f"the example of '{name}' accepts none of {CANDIDATE_INPUTS}")


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_kind_is_documented(name):
    kind = REGISTRY[name]
    assert kind.summary and kind.example and kind.torch_class, f"{name} needs summary, example and torch_class"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_example_static_counts_equal_torch_and_torchinfo(name):
    shape = accepted_input(name)
    text = example_spec(name, shape)
    graph = analyse(text)
    layer = graph.root.items[0]
    model = build(text, seed=0).eval()
    x = torch.randn(2, *shape)
    with torch.no_grad():
        out = model(x)
    assert tuple(out.shape[1:]) == layer.out_shape
    assert sum(p.numel() for p in model.parameters()) == layer.params
    stats = torchinfo.summary(model, input_data=[x[:1]], verbose=0)
    assert stats.total_params == layer.params
    assert stats.total_mult_adds == layer.mult_adds


@pytest.mark.parametrize(
    "example, shape, out",
    [
        ("conv2d(8, [1, 7], padding=[0, 3])", (4, 17, 17), (8, 17, 17)),
        ("conv2d(8, 3, stride=2, dilation=2, padding=2)", (4, 15, 15), (8, 8, 8)),
        ("conv2d(8, 3, groups=4, padding=same)", (4, 9, 9), (8, 9, 9)),
        ("maxpool2d(3, stride=2, ceil_mode=true)", (4, 14, 14), (4, 7, 7)),
        ("maxpool2d(3, stride=2, padding=1, ceil_mode=true)", (4, 28, 28), (4, 15, 15)),
        ("maxpool2d(2, stride=2, padding=1, ceil_mode=true)", (4, 5, 5), (4, 3, 3)),
        ("avgpool2d(3, stride=2, ceil_mode=true)", (4, 10, 10), (4, 5, 5)),
        ("adaptive_avgpool2d([3, 5])", (4, 10, 10), (4, 3, 5)),
        ("flatten(2)", (4, 3, 5), (4, 15)),
        ("layernorm(dims=2)", (4, 3, 5), (4, 3, 5)),
        ("linear(6)", (4, 3, 5), (4, 3, 6)),
    ],
)
def test_shape_rules_match_torch(example, shape, out):
    text = f"input: {list(shape)}\nlayers:\n  - {example}\n"
    assert analyse(text).root.out_shape == out
    with torch.no_grad():
        assert tuple(build(text)(torch.randn(1, *shape)).shape[1:]) == out


@pytest.mark.parametrize(
    "example, shape, code",
    [
        ("conv2d(8, 3, in=5)", (4, 9, 9), "shape-mismatch"),
        ("conv2d(8, 3, groups=3)", (4, 9, 9), "shape-mismatch"),
        ("conv2d(8, 7)", (4, 5, 5), "spatial-too-small"),
        ("linear(3, in=10)", (12,), "shape-mismatch"),
        ("batchnorm2d", (12,), "rank-mismatch"),
        ("maxpool2d(2, padding=2)", (4, 9, 9), "invalid-value"),
        ("conv2d(8, 3, stride=2, padding=same)", (4, 9, 9), "invalid-value"),
    ],
)
def test_bad_layer_use_is_a_located_error(example, shape, code):
    with pytest.raises(SpecError) as info:
        analyse(f"input: {list(shape)}\nlayers:\n  - {example}\n")
    diag = info.value.diagnostics[0]
    assert diag.code == code
    assert (diag.loc.line, diag.loc.col) == (3, 5)
