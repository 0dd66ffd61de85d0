"""Every registered built-in kind on at least three configurations of its own (strides, groups, dilation,
padding modes, odd sizes): the static output shape must equal torch's runtime shape, and the static
parameter count and mult-adds must equal torchinfo's on the module the kind builds.

A built-in kind without three configurations here fails `test_every_kind_has_three_configurations`.
"""

from __future__ import annotations

import pytest
import torch
import torchinfo

from netspec.layers import REGISTRY
from netspec.pipeline import analyse, build

# Element-wise kinds: the call forms tried on each of the shapes below.
ELEMENTWISE = {
    "relu": ["relu", "relu(inplace=true)"],
    "relu6": ["relu6"],
    "silu": ["silu"],
    "sigmoid": ["sigmoid"],
    "tanh": ["tanh"],
    "gelu": ["gelu", "gelu(tanh)"],
    "leaky_relu": ["leaky_relu", "leaky_relu(0.2)"],
    "hardswish": ["hardswish", "hardswish(inplace=true)"],
    "hardsigmoid": ["hardsigmoid"],
    "hardtanh": ["hardtanh", "hardtanh(-2, 2)", "hardtanh(0, 6, inplace=true)"],
    "elu": ["elu", "elu(0.5)"],
    "selu": ["selu"],
    "celu": ["celu", "celu(2.0)"],
    "mish": ["mish"],
    "softplus": ["softplus", "softplus(2, 10)", "softplus(beta=0.5)"],
    "identity": ["identity"],
    "dropout": ["dropout", "dropout(0.1)"],
    "alpha_dropout": ["alpha_dropout(0.2)"],
}
ELEMENTWISE_SHAPES = [(3, 5, 7), (7,), (2, 3, 4, 5)]

CONFIGS: dict[str, list[tuple[str, tuple[int, ...]]]] = {
    name: [(call, shape) for i, shape in enumerate(ELEMENTWISE_SHAPES) for call in calls[i % len(calls):][:1]]
    for name, calls in ELEMENTWISE.items()
}
CONFIGS.update({
    # convolutions
    "conv2d": [("conv2d(8, 3)", (4, 9, 9)), ("conv2d(8, [3, 5], stride=[2, 1], padding=[1, 2], groups=4)", (4, 11, 8)),
               ("conv2d(6, 3, dilation=2, padding=same, padding_mode=reflect, bias=false)", (3, 7, 6))],
    "conv1d": [("conv1d(8, 3)", (4, 17)), ("conv1d(8, 5, stride=2, padding=2, dilation=2, groups=2)", (4, 21)),
               ("conv1d(6, 4, padding=same, padding_mode=reflect, bias=false)", (3, 9)),
               ("conv1d(4, 3, padding=3, padding_mode=circular)", (2, 3))],
    "conv3d": [("conv3d(8, 3)", (2, 5, 6, 7)),
               ("conv3d(8, [1, 3, 3], stride=[1, 2, 2], padding=[0, 1, 1], groups=2)", (4, 3, 9, 8)),
               ("conv3d(4, 3, dilation=2, padding=same, padding_mode=replicate)", (2, 5, 5, 6))],
    "conv_transpose1d": [("conv_transpose1d(8, 4, stride=2, padding=1)", (4, 9)),
                         ("conv_transpose1d(6, 3, stride=3, output_padding=2, groups=2, bias=false)", (4, 5)),
                         ("conv_transpose1d(4, 3, dilation=2, padding=2)", (2, 7))],
    "conv_transpose2d": [("conv_transpose2d(8, 2, stride=2)", (4, 5, 7)),
                         ("conv_transpose2d(6, 3, stride=2, padding=1, output_padding=1, groups=2)", (4, 6, 5)),
                         ("conv_transpose2d(4, [3, 5], stride=[1, 2], padding=[1, 2], dilation=[2, 1], bias=false)",
                          (3, 7, 6)),
                         ("conv_transpose2d(4, 3, dilation=2, output_padding=1)", (2, 4, 4))],
    "conv_transpose3d": [("conv_transpose3d(4, 2, stride=2)", (2, 3, 4, 5)),
                         ("conv_transpose3d(4, 3, stride=[1, 2, 2], padding=1, output_padding=[0, 1, 1], groups=2)",
                          (2, 3, 5, 4)),
                         ("conv_transpose3d(3, [1, 3, 3], padding=[0, 1, 1])", (2, 3, 4, 4))],
    # pooling
    "maxpool2d": [("maxpool2d(2)", (3, 9, 8)), ("maxpool2d(3, stride=2, padding=1, ceil_mode=true)", (3, 10, 7)),
                  ("maxpool2d([2, 3], stride=1, dilation=2)", (2, 8, 9))],
    "avgpool2d": [("avgpool2d(2)", (3, 9, 8)), ("avgpool2d(3, stride=2, padding=1, count_include_pad=false)", (3, 10, 7)),
                  ("avgpool2d([3, 2], stride=[2, 1], ceil_mode=true)", (2, 8, 9))],
    "maxpool1d": [("maxpool1d(3, stride=2, padding=1)", (3, 16)), ("maxpool1d(2)", (3, 9)),
                  ("maxpool1d(3, stride=2, ceil_mode=true, dilation=2)", (2, 15))],
    "maxpool3d": [("maxpool3d(2)", (2, 6, 7, 8)), ("maxpool3d([1, 3, 3], stride=[1, 2, 2], padding=[0, 1, 1])", (2, 3, 9, 9)),
                  ("maxpool3d(3, stride=2, ceil_mode=true)", (2, 7, 8, 9))],
    "avgpool1d": [("avgpool1d(4)", (3, 17)), ("avgpool1d(3, stride=2, padding=1, count_include_pad=false)", (3, 10)),
                  ("avgpool1d(3, stride=2, ceil_mode=true)", (3, 10))],
    "avgpool3d": [("avgpool3d(2)", (2, 4, 6, 8)), ("avgpool3d([2, 3, 3], stride=[1, 2, 2], padding=1)", (2, 3, 7, 7)),
                  ("avgpool3d(3, stride=2, padding=1, ceil_mode=true, count_include_pad=false)", (2, 6, 7, 5))],
    "adaptive_avgpool2d": [("adaptive_avgpool2d(1)", (3, 7, 5)), ("adaptive_avgpool2d([2, 3])", (3, 7, 5)),
                           ("adaptive_avgpool2d([none, 4])", (2, 6, 9))],
    "adaptive_maxpool2d": [("adaptive_maxpool2d(1)", (3, 7, 5)), ("adaptive_maxpool2d([6, 6])", (3, 13, 13)),
                           ("adaptive_maxpool2d([3, none])", (2, 6, 9))],
    "adaptive_avgpool1d": [("adaptive_avgpool1d(1)", (3, 10)), ("adaptive_avgpool1d(4)", (3, 10)),
                           ("adaptive_avgpool1d(7)", (2, 5))],
    "adaptive_maxpool1d": [("adaptive_maxpool1d(1)", (3, 10)), ("adaptive_maxpool1d(3)", (3, 11)),
                           ("adaptive_maxpool1d(8)", (2, 5))],
    "adaptive_avgpool3d": [("adaptive_avgpool3d(1)", (2, 3, 4, 5)), ("adaptive_avgpool3d([1, 2, 2])", (2, 3, 4, 5)),
                           ("adaptive_avgpool3d([none, 2, 3])", (2, 3, 5, 7))],
    "adaptive_maxpool3d": [("adaptive_maxpool3d(1)", (2, 3, 4, 5)), ("adaptive_maxpool3d([1, 2, 2])", (2, 3, 4, 5)),
                           ("adaptive_maxpool3d([2, none, 3])", (2, 5, 4, 7))],
    "lppool1d": [("lppool1d(2, 3, stride=2)", (3, 11)), ("lppool1d(1.5, 2)", (3, 9)), ("lppool1d(3, 3, ceil_mode=true)", (2, 10))],
    "lppool2d": [("lppool2d(2, 3, stride=2)", (3, 9, 9)), ("lppool2d(1.5, [2, 3])", (3, 8, 9)),
                 ("lppool2d(3, 2, ceil_mode=true)", (2, 7, 7))],
    # normalisation
    "batchnorm1d": [("batchnorm1d", (6,)), ("batchnorm1d(eps=0.001, momentum=0.01)", (4, 9)),
                    ("batchnorm1d(affine=false)", (3, 5))],
    "batchnorm2d": [("batchnorm2d", (6, 3, 5)), ("batchnorm2d(eps=0.001, momentum=none)", (4, 5, 5)),
                    ("batchnorm2d(affine=false, track_running_stats=false)", (3, 2, 7))],
    "frozen_batchnorm2d": [("frozen_batchnorm2d", (6, 3, 5)), ("frozen_batchnorm2d(eps=0.001)", (4, 5, 5)),
                           ("frozen_batchnorm2d(features=3)", (3, 2, 7))],
    "batchnorm3d": [("batchnorm3d", (4, 3, 5, 6)), ("batchnorm3d(eps=0.001, momentum=0.01)", (2, 2, 2, 3)),
                    ("batchnorm3d(affine=false)", (3, 4, 4, 4))],
    "groupnorm": [("groupnorm(2)", (4, 5, 5)), ("groupnorm(3, affine=false)", (6, 7)), ("groupnorm(1)", (4, 3, 4, 5)),
                  ("groupnorm(4, eps=0.001)", (8,))],
    "instancenorm1d": [("instancenorm1d", (3, 10)), ("instancenorm1d(affine=true)", (4, 7)),
                       ("instancenorm1d(track_running_stats=true, eps=0.001)", (3, 5))],
    "instancenorm2d": [("instancenorm2d", (3, 5, 4)), ("instancenorm2d(affine=true)", (4, 1, 7)),
                       ("instancenorm2d(affine=true, track_running_stats=true)", (3, 5, 5))],
    "instancenorm3d": [("instancenorm3d", (3, 2, 3, 4)), ("instancenorm3d(affine=true)", (4, 1, 1, 7)),
                       ("instancenorm3d(track_running_stats=true)", (2, 3, 3, 3))],
    "layernorm": [("layernorm", (12,)), ("layernorm(dims=1)", (5, 8)), ("layernorm(2, bias=false)", (3, 4, 5))],
    "layernorm2d": [("layernorm2d", (8, 5, 5)), ("layernorm2d(eps=0.000001)", (4, 3, 7)),
                    ("layernorm2d(elementwise_affine=false)", (3, 4, 4)), ("layernorm2d(bias=false)", (6, 2, 3))],
    "lrn": [("lrn(5)", (8, 5, 5)), ("lrn(3, alpha=0.001, beta=0.5, k=2)", (6, 7)), ("lrn(2)", (3, 4, 5))],
    # resampling and shape
    "upsample": [("upsample(scale_factor=2)", (3, 5, 7)),
                 ("upsample(size=[9, 11], mode=bilinear, align_corners=true)", (3, 5, 7)),
                 ("upsample(scale_factor=1.7, mode=bicubic)", (2, 7, 5)),
                 ("upsample(scale_factor=2.5, mode=linear)", (3, 10)),
                 ("upsample(scale_factor=[1, 2, 2], mode=trilinear)", (2, 3, 4, 5)),
                 ("upsample(scale_factor=0.5, mode='nearest-exact')", (2, 9, 7)),
                 ("upsample(5)", (2, 3, 3, 3))],
    "pixel_shuffle": [("pixel_shuffle(2)", (8, 3, 5)), ("pixel_shuffle(3)", (18, 4, 4)), ("pixel_shuffle(1)", (3, 4, 4))],
    "pixel_unshuffle": [("pixel_unshuffle(2)", (2, 6, 4)), ("pixel_unshuffle(3)", (1, 9, 6)), ("pixel_unshuffle(1)", (3, 5, 5))],
    "pad": [("pad(1)", (3, 5, 5)), ("pad([1, 1, 2, 2], mode=reflect)", (3, 5, 5)), ("pad([2, 1], mode=replicate)", (3, 7)),
            ("pad(3, mode=circular)", (2, 3, 4, 4)), ("pad([1, 0, 0, 2, 1, 1], value=0.5)", (2, 4, 4)),
            ("pad([-1, 2])", (3, 6)), ("pad([2, 2, 0, 1, 1, 0], mode=reflect)", (2, 3, 4, 5))],
    "channel_shuffle": [("channel_shuffle(2)", (8, 5, 5)), ("channel_shuffle(3)", (6, 7)), ("channel_shuffle(4)", (8, 2, 3, 4))],
    "permute": [("permute([0, 2, 3, 1])", (3, 4, 5)), ("permute([0, 2, 1])", (3, 7)), ("permute([0, 1, 3, 2])", (2, 3, 4))],
    "reshape": [("reshape([-1, 4])", (3, 4, 4)), ("reshape([12])", (3, 2, 2)), ("reshape([2, -1, 3])", (4, 3, 2))],
    "unflatten": [("unflatten(1, [16, 2, 2])", (64,)), ("unflatten(2, [2, -1])", (3, 8)), ("unflatten(-1, [3, 2])", (4, 5, 6))],
    "flatten": [("flatten", (3, 4, 5)), ("flatten(2)", (3, 4, 5)), ("flatten(1, 2)", (2, 3, 4, 5))],
    "channel_affine": [("channel_affine([0.5, 2.0, 1.0], [0.1, 0.2, 0.3])", (3, 4, 4)),
                       ("channel_affine([2.0, 3.0], [0.0, 1.0])", (2, 5)), ("channel_affine([0.5], [1.5])", (1, 2, 3, 4))],
    # regularisation, scale
    "dropout1d": [("dropout1d", (3, 10)), ("dropout1d(0.1)", (4, 7)), ("dropout1d(0.3, inplace=true)", (2, 5))],
    "dropout2d": [("dropout2d", (3, 5, 4)), ("dropout2d(0.1)", (4, 1, 7)), ("dropout2d(0.3, inplace=true)", (2, 5, 5))],
    "dropout3d": [("dropout3d", (3, 2, 3, 4)), ("dropout3d(0.1)", (4, 1, 1, 7)), ("dropout3d(0.3)", (2, 3, 3, 3))],
    "stochastic_depth": [("stochastic_depth(0.2)", (3, 4, 4)), ("stochastic_depth(0.5, mode=batch)", (12,)),
                         ("stochastic_depth(0)", (2, 3))],
    "layer_scale": [("layer_scale", (8, 4, 4)), ("layer_scale(0.1, dim=-1)", (5, 6)), ("layer_scale(1.0)", (12,)),
                    ("layer_scale(0.5, dim=2)", (3, 4, 5))],
    # activations with shape rules or parameters
    "prelu": [("prelu", (3, 4, 4)), ("prelu(3)", (3, 4, 4)), ("prelu(5, init=0.1)", (5, 7))],
    "glu": [("glu", (4, 6)), ("glu(1)", (4, 3, 3)), ("glu(-2)", (3, 8, 5))],
    "softmax": [("softmax", (10,)), ("softmax(dim=2)", (3, 4, 5)), ("softmax(-1)", (3, 4))],
    "log_softmax": [("log_softmax", (10,)), ("log_softmax(dim=2)", (3, 4, 5)), ("log_softmax(-1)", (3, 4))],
    "softmax2d": [("softmax2d", (3, 4, 4)), ("softmax2d", (5, 2, 3)), ("softmax2d", (1, 3, 3))],
    "linear": [("linear(5)", (12,)), ("linear(3, bias=false)", (4, 7)), ("linear(2, in=6)", (2, 3, 6))],
})

BUILT_IN = sorted(n for n, k in REGISTRY.items() if type(k).__module__.startswith("netspec.layers."))
CASES = [(name, call, shape) for name in sorted(CONFIGS) for call, shape in CONFIGS[name]]


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_kind_has_three_configurations(name):
    assert len(CONFIGS.get(name, [])) >= 3, f"add three configurations of '{name}' to CONFIGS"


@pytest.mark.parametrize("name, call, shape", CASES, ids=[f"{c}@{'x'.join(map(str, s))}" for _, c, s in CASES])
def test_static_shape_and_counts_equal_torch_and_torchinfo(name, call, shape):
    text = f"input: {list(shape)}\nlayers:\n  - {call}\n"
    layer = analyse(text).root.items[0]
    assert layer.kind.name == name
    model = build(text, seed=0)
    x = torch.randn(2, *shape)
    with torch.no_grad():
        assert tuple(model.train()(x.clone()).shape[1:]) == layer.out_shape  # training-only checks run too
        assert tuple(model.eval()(x.clone()).shape[1:]) == layer.out_shape
    assert sum(p.numel() for p in model.parameters()) == layer.params
    stats = torchinfo.summary(model, input_data=[x[:1]], verbose=0)
    assert (stats.total_params, stats.total_mult_adds) == (layer.params, layer.mult_adds)


@pytest.mark.parametrize("mode", ["row", "batch"])
def test_stochastic_depth_draws_as_torchvision_does(mode):
    from torchvision.ops import StochasticDepth

    ours = build(f"input: [3, 4, 4]\nlayers:\n  - stochastic_depth(0.5, mode={mode})\n").train()
    theirs = StochasticDepth(0.5, mode).train()
    x = torch.randn(16, 3, 4, 4)
    for seed in range(5):
        torch.manual_seed(seed)
        got = ours(x)
        torch.manual_seed(seed)
        assert torch.equal(got, theirs(x))
    assert torch.equal(ours.eval()(x), x)
    assert sum(p.numel() for p in ours.parameters()) == 0


def test_layernorm2d_matches_torchvision_convnext():
    from torchvision.models.convnext import LayerNorm2d

    ours = build("input: [8, 5, 6]\nlayers:\n  - layernorm2d(eps=0.000001)\n", seed=0)[0]
    theirs = LayerNorm2d(8, eps=1e-6)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight", "bias"]
    with torch.no_grad():
        ours.weight.normal_()
        ours.bias.normal_()
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 8, 5, 6)
    torch.testing.assert_close(ours(x), theirs(x))


def test_layer_scale_starts_at_its_initial_value_and_learns():
    model = build("input: [6, 3, 3]\nlayers:\n  - layer_scale(0.25)\n")
    scale = model[0].weight
    assert scale.shape == (6, 1, 1) and scale.requires_grad and torch.all(scale == 0.25)
    x = torch.randn(2, 6, 3, 3)
    torch.testing.assert_close(model(x), x * 0.25)


@pytest.mark.parametrize(
    "call, shape, code, words",
    [
        ("conv1d(8, 3)", (3, 8, 8), "rank-mismatch", "conv1d expects (C, L) input, got (3, 8, 8)"),
        ("conv3d(8, 3)", (3, 8, 8), "rank-mismatch", "conv3d expects (C, D, H, W) input, got (3, 8, 8)"),
        ("maxpool1d(2)", (12,), "rank-mismatch", "maxpool1d expects (C, L) input, got (12,)"),
        ("batchnorm3d", (3, 4, 4), "rank-mismatch", "expects (C, D, H, W) input, got (3, 4, 4)"),
        ("upsample(scale_factor=2, mode=bilinear)", (3, 8), "rank-mismatch", "expects (C, H, W) input, got (3, 8)"),
        ("pad([3, 3, 1, 1], mode=reflect)", (2, 5, 3), "invalid-value", "each side smaller than the padded dimension's size 3"),
        ("conv1d(4, 3, padding=4, padding_mode=reflect)", (2, 4), "invalid-value", "reflect padding (4, 4)"),
        ("pad(5, mode=circular)", (2, 4), "invalid-value", "at most once"),
        ("conv2d(4, 3, padding=3, padding_mode=reflect)", (2, 3, 5), "invalid-value", "reflect padding (3, 3)"),
        ("conv2d(4, 4, padding=same, padding_mode=reflect)", (2, 2, 5), "invalid-value", "reflect padding (1, 2)"),
        ("pad([1, 1], mode=reflect)", (2, 4, 4), "invalid-value", "give 4 values, not 2"),
        ("conv_transpose2d(4, 3, output_padding=1)", (2, 4, 4), "invalid-value", "smaller than the stride"),
        ("conv_transpose1d(4, 3, padding=4)", (2, 2), "spatial-too-small", "too small"),
        ("groupnorm(4)", (6, 3, 3), "shape-mismatch", "divisible by 4, got 6"),
        ("instancenorm2d", (6, 1, 1), "spatial-too-small", "more than one position"),
        ("pixel_shuffle(2)", (6, 3, 3), "shape-mismatch", "divisible by 4, got 6"),
        ("upsample(scale_factor=0.1)", (2, 7, 5), "spatial-too-small", "7x5 into 0x0"),
        ("upsample(scale_factor=2, mode=nearest, align_corners=true)", (2, 4, 4), "invalid-value", "align_corners"),
        ("reshape([5, -1])", (3, 4), "shape-mismatch", "12 values"),
        ("permute([1, 0, 2])", (3, 4), "invalid-value", "keep the batch"),
        ("glu(1)", (5, 4), "shape-mismatch", "must be even, got 5"),
        ("prelu(4)", (3, 5), "shape-mismatch", "needs that many channels, got 3 channels"),
        ("conv3d(4, [3, 3])", (2, 5, 5, 5), "invalid-value", "kernel has 2 values; give one int or 3"),
        ("maxpool3d(3, padding=2)", (2, 5, 5, 5), "invalid-value", "at most half the kernel"),
        ("conv1d(4, 3, stride=2, padding=same)", (2, 9), "invalid-value", "needs stride 1"),
    ],
)
def test_bad_use_of_a_new_kind_is_a_located_error(call, shape, code, words):
    from netspec.diagnostics import SpecError

    with pytest.raises(SpecError) as info:
        analyse(f"input: {list(shape)}\nlayers:\n  - {call}\n")
    diag = info.value.diagnostics[0]
    assert diag.code == code, diag.message
    assert words in diag.message
    assert diag.loc.line == 3
