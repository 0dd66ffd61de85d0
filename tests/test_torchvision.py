"""The torchvision library (architectures/torchvision/): every model is torchvision 0.29's, exactly.

For each model: the static totals equal the reference figures and torchinfo's count of the compiled
module; the compiled module has torchvision's state_dict keys and shapes, loads its weights with
strict=True and then gives the same outputs (eval mode, and train mode with the auxiliary heads).
The library itself: presets are thin, no block is defined twice, every family can be varied
(`num_classes`, `in_channels`), and summarising any spec never imports torch.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchinfo

import netspec

REPO = Path(__file__).resolve().parent.parent
LIBRARY = REPO / "architectures" / "torchvision"
FAMILIES = LIBRARY / "families"

# torchvision 0.29.1 with torchinfo 1.8.0, batch 1, eval mode (the reference figures table):
# name -> (input C, H, W), params, mult-adds. googlenet and inception_v3 include their auxiliary
# heads in the params; in eval mode those do not run, so their mult-adds are not counted.
# EfficientNet's inputs are the crop sizes of torchvision's weights for each model (240 for B1, 600 for B7).
FIGURES = {
    "alexnet": ((3, 224, 224), 61_100_840, 714_682_664),
    "vgg11": ((3, 224, 224), 132_863_336, 7_616_525_288),
    "vgg13": ((3, 224, 224), 133_047_848, 11_320_718_312),
    "vgg16": ((3, 224, 224), 138_357_544, 15_483_821_032),
    "vgg19": ((3, 224, 224), 143_667_240, 19_646_923_752),
    "vgg11_bn": ((3, 224, 224), 132_868_840, 7_616_530_792),
    "vgg13_bn": ((3, 224, 224), 133_053_736, 11_320_724_200),
    "vgg16_bn": ((3, 224, 224), 138_365_992, 15_483_829_480),
    "vgg19_bn": ((3, 224, 224), 143_678_248, 19_646_934_760),
    "googlenet": ((3, 224, 224), 13_004_888, 1_498_391_752),
    "inception_v3": ((3, 299, 299), 27_161_264, 5_713_251_528),
    "resnet18": ((3, 224, 224), 11_689_512, 1_814_083_944),
    "resnet34": ((3, 224, 224), 21_797_672, 3_663_779_432),
    "resnet50": ((3, 224, 224), 25_557_032, 4_089_238_376),
    "resnet101": ((3, 224, 224), 44_549_160, 7_801_511_784),
    "resnet152": ((3, 224, 224), 60_192_808, 11_513_779_048),
    "resnext50_32x4d": ((3, 224, 224), 25_028_904, 4_230_549_096),
    "resnext101_32x8d": ((3, 224, 224), 88_791_336, 16_414_219_368),
    "resnext101_64x4d": ((3, 224, 224), 83_455_272, 15_460_473_960),
    "wide_resnet50_2": ((3, 224, 224), 68_883_240, 11_398_090_344),
    "wide_resnet101_2": ((3, 224, 224), 126_886_696, 22_753_189_480),
    "densenet121": ((3, 224, 224), 7_978_856, 2_834_246_312),
    "densenet161": ((3, 224, 224), 28_681_000, 7_728_128_008),
    "densenet169": ((3, 224, 224), 14_149_480, 3_360_002_728),
    "densenet201": ((3, 224, 224), 20_013_928, 4_291_595_944),
    "squeezenet1_0": ((3, 224, 224), 1_248_424, 823_270_824),
    "squeezenet1_1": ((3, 224, 224), 1_235_496, 351_741_288),
    "mobilenet_v2": ((3, 224, 224), 3_504_872, 300_809_384),
    "mobilenet_v3_large": ((3, 224, 224), 5_483_032, 216_621_520),
    "efficientnet_b0": ((3, 224, 224), 5_288_548, 385_867_108),
    "efficientnet_b1": ((3, 240, 240), 7_794_184, 686_880_040),
    "efficientnet_b2": ((3, 288, 288), 9_109_994, 1_087_613_434),
    "efficientnet_b3": ((3, 300, 300), 12_233_232, 1_827_249_768),
    "efficientnet_b4": ((3, 380, 380), 19_341_616, 4_393_926_264),
    "efficientnet_b5": ((3, 456, 456), 30_389_784, 10_266_598_808),
    "efficientnet_b6": ((3, 528, 528), 43_040_704, 19_067_871_568),
    "efficientnet_b7": ((3, 600, 600), 66_347_960, 37_746_269_112),
    "efficientnet_v2_s": ((3, 384, 384), 21_458_488, 8_365_807_216),
    "efficientnet_v2_m": ((3, 480, 480), 54_139_356, 24_582_821_236),
    "efficientnet_v2_l": ((3, 480, 480), 118_515_272, 56_080_332_136),
    "mobilenet_v3_small": ((3, 224, 224), 2_542_856, 56_527_424),
    "mnasnet0_5": ((3, 224, 224), 2_218_512, 104_477_592),
    "mnasnet0_75": ((3, 224, 224), 3_170_208, 215_523_912),
    "mnasnet1_0": ((3, 224, 224), 4_383_312, 314_454_792),
    "mnasnet1_3": ((3, 224, 224), 6_282_256, 526_412_248),
    "regnet_x_400mf": ((3, 224, 224), 5_495_976, 413_851_464),
    "regnet_x_800mf": ((3, 224, 224), 7_259_656, 799_738_024),
    "regnet_x_1_6gf": ((3, 224, 224), 9_190_136, 1_602_894_296),
    "regnet_x_3_2gf": ((3, 224, 224), 15_296_552, 3_176_685_512),
    "regnet_x_8gf": ((3, 224, 224), 39_572_648, 7_995_223_880),
    "regnet_x_16gf": ((3, 224, 224), 54_278_536, 15_940_867_624),
    "regnet_x_32gf": ((3, 224, 224), 107_811_560, 31_736_092_808),
    "regnet_y_400mf": ((3, 224, 224), 4_344_144, 401_876_208),
    "regnet_y_800mf": ((3, 224, 224), 6_432_512, 833_893_280),
    "regnet_y_1_6gf": ((3, 224, 224), 11_202_430, 1_612_139_998),
    "regnet_y_3_2gf": ((3, 224, 224), 19_436_338, 3_176_562_322),
    "regnet_y_8gf": ((3, 224, 224), 39_381_472, 8_473_174_144),
    "regnet_y_16gf": ((3, 224, 224), 83_590_140, 15_911_656_860),
    "regnet_y_32gf": ((3, 224, 224), 145_046_770, 32_279_741_650),
    "regnet_y_128gf": ((3, 224, 224), 644_812_894, 127_518_311_422),
    "convnext_tiny": ((3, 224, 224), 28_589_128, 322_371_592),
    "convnext_small": ((3, 224, 224), 50_223_688, 411_391_240),
    "convnext_base": ((3, 224, 224), 88_591_464, 646_530_408),
    "convnext_large": ((3, 224, 224), 197_767_336, 1_263_822_376),
    "shufflenet_v2_x0_5": ((3, 224, 224), 1_366_792, 40_485_400),
    "shufflenet_v2_x1_0": ((3, 224, 224), 2_278_604, 144_925_172),
    "shufflenet_v2_x1_5": ((3, 224, 224), 3_503_624, 295_783_832),
    "shufflenet_v2_x2_0": ((3, 224, 224), 7_393_996, 583_288_180),
}
# Params without the auxiliary heads (aux_logits=False), from the same table.
PARAMS_WITHOUT_AUX = {"googlenet": 6_624_904, "inception_v3": 23_834_568}
# What forward returns in training mode, in torchvision's order (besides the main output).
AUX_OUTPUTS = {"googlenet": 2, "inception_v3": 1}
CLASSES = 1000

NAMES = list(FIGURES)
# Models too big to fill with real weights in the suite (RegNetY-32GF and -128GF: 145M and 645M params;
# ConvNeXt-Large: 198M): their keys, shapes and strict load are checked on the meta device; their family's
# forward is checked on the others.
META_ONLY = {"regnet_y_32gf", "regnet_y_128gf", "convnext_large"}


def _heavy(name: str) -> bool:
    _, params, mult_adds = FIGURES[name]
    return params > 40_000_000 or mult_adds > 7_000_000_000


# The heavy ones (VGG, the deep and wide ResNets, the big DenseNets, Inception v3) are marked slow.
MODELS = [pytest.param(n, marks=pytest.mark.slow) if _heavy(n) else n for n in NAMES]

# A small input each network accepts in eval mode (Inception v3 needs at least 75x75; ConvNeXt, whose
# stem and downsamples divide by 32, is cheapest at 32x32).
EVAL_SIZE = {"inception_v3": 80, **{f"convnext_{s}": 32 for s in ("tiny", "small", "base", "large")}}
DEFAULT_EVAL_SIZE = 64
# The training-mode check runs at 32x32 (a 1x1 map at the end of a stride-32 network still gives BN two values
# per channel in a batch of 2); the pooling of AlexNet and SqueezeNet needs more.
TRAIN_CHECK_SIZE = {"alexnet": 64, "squeezenet1_0": 64, "squeezenet1_1": 64}


def spec_path(name: str) -> Path:
    return LIBRARY / f"{name}.yaml"


# Library specs that are not classifiers: feature extractors, with their own tests (tests/test_dataflow.py).
BACKBONES = {"fpn_resnet50"}
# torchvision's semantic segmentation models (torchvision.models.segmentation): a dict of per-pixel scores at
# the input's size, "out" (and "aux" with aux_loss=True). Tested below, against torchvision and torchinfo.
SEGMENTERS = ["fcn_resnet50", "fcn_resnet101", "deeplabv3_resnet50", "deeplabv3_resnet101",
              "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large"]
SEGMENTATION_CLASSES = 21


def all_specs() -> list[Path]:
    return sorted(p for p in LIBRARY.glob("*.yaml") if p.stem not in BACKBONES) + sorted(FAMILIES.glob("*.yaml"))


def is_segmenter(spec: Path) -> bool:
    return spec.stem in SEGMENTERS or spec == FAMILIES / "segmentation.yaml"


# ---- building the two sides --------------------------------------------------------------------


@contextlib.contextmanager
def _regnet_widths_on_cpu():
    """RegNet's builder derives its widths with tensor arithmetic, which the meta device cannot read: that
    one step (BlockParams.from_init_params) runs on the CPU, the modules are still made on the meta device."""
    from torchvision.models.regnet import BlockParams

    derive = BlockParams.__dict__["from_init_params"]

    def on_cpu(cls, *args, **kwargs):
        with torch.device("cpu"):
            return derive.__func__(cls, *args, **kwargs)

    BlockParams.from_init_params = classmethod(on_cpu)
    try:
        yield
    finally:
        BlockParams.from_init_params = derive


def reference(name: str, meta: bool = False, **kwargs) -> torch.nn.Module:
    """torchvision's model with deterministic, well-scaled random weights and BN statistics.

    It is made on the meta device (no init is paid for; `meta` keeps it there) and every tensor is then
    filled here: conv and linear weights at a scale that keeps activations near 1 through the depth, and
    norm affine values, BN running statistics and layer scales away from their identity defaults, so that
    a norm in the wrong place, a wrong eps or a swapped branch shows in the outputs.
    """
    import torchvision

    if name in ("googlenet", "inception_v3"):
        kwargs.setdefault("init_weights", False)
    with torch.device("meta"), _regnet_widths_on_cpu():
        model = torchvision.models.get_model_builder(name)(**kwargs)
    if meta:
        return model
    model = model.to_empty(device="cpu")
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                fan_in = module.weight[0].numel()
                module.weight.normal_(0.0, 0.7 * (2.0 / fan_in) ** 0.5, generator=gen)
                if module.bias is not None:
                    module.bias.uniform_(-0.1, 0.1, generator=gen)
            elif isinstance(module, torch.nn.LayerNorm):  # ConvNeXt's, and its LayerNorm2d
                module.weight.uniform_(0.5, 1.0, generator=gen)
                module.bias.uniform_(-0.2, 0.2, generator=gen)
            elif isinstance(module, torchvision.models.convnext.CNBlock):  # the block's own (dim, 1, 1) scale
                module.layer_scale.uniform_(0.5, 1.0, generator=gen)
            elif isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.0, generator=gen)
                module.bias.uniform_(-0.2, 0.2, generator=gen)
                module.running_mean.uniform_(-0.2, 0.2, generator=gen)
                module.running_var.uniform_(0.5, 2.0, generator=gen)
                module.num_batches_tracked.zero_()
    handled = (torch.nn.Conv2d, torch.nn.Linear, torch.nn.BatchNorm2d, torch.nn.LayerNorm,
               torchvision.models.convnext.CNBlock)
    missed = [type(m).__name__ for m in model.modules()
              if not isinstance(m, handled) and any(True for _ in m.parameters(recurse=False))]
    missed += [type(m).__name__ for m in model.modules()
               if not isinstance(m, handled) and any(True for _ in m.buffers(recurse=False))]
    assert not missed, f"modules with tensors the filler does not reach: {sorted(set(missed))}"
    return model


def ours(name: str, meta: bool = False, **params) -> torch.nn.Module:
    """The compiled spec, built on the meta device and given (uninitialised) CPU storage to load into.

    The parameter budget guards allocation, and the meta device allocates nothing: it is lifted there.
    """
    model = netspec.load(spec_path(name), device="meta", max_params=None, **params)
    return model if meta else model.to_empty(device="cpu")


def shapes(state: dict) -> dict[str, tuple[int, ...]]:
    return {key: tuple(t.shape) for key, t in state.items()}


def as_tuple(out) -> tuple[torch.Tensor, ...]:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


# ---- the library's contents ------------------------------------------------------------------


def test_every_torchvision_builder_has_a_spec():
    assert sorted(p.stem for p in LIBRARY.glob("*.yaml") if p.stem not in BACKBONES) == sorted([*FIGURES, *SEGMENTERS])


@pytest.mark.parametrize("name", NAMES)
def test_static_totals_equal_reference_figures(name):
    shape, params, mult_adds = FIGURES[name]
    summary = netspec.summarize(spec_path(name))
    assert summary.input_shape == shape
    assert summary.output_shape == (CLASSES,)
    assert summary.total_params == params
    assert summary.total_mult_adds == mult_adds


@pytest.mark.parametrize("name", NAMES)
def test_static_totals_equal_torchinfo_on_compiled_module(name):
    shape, params, mult_adds = FIGURES[name]
    model = netspec.load(spec_path(name), device="meta", max_params=None)
    stats = torchinfo.summary(model, (1, *shape), device="meta", verbose=0)
    assert stats.total_params == params
    assert stats.total_mult_adds == mult_adds


# ---- exact compatibility with torchvision ------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_torchvision_weights_load_strictly_and_outputs_agree(name):
    meta = name in META_ONLY
    ref = reference(name, meta=meta).eval()
    model = ours(name, meta=meta).eval()
    theirs, mine = ref.state_dict(), model.state_dict()
    assert list(mine) == list(theirs), "same keys, another order (an optimizer's state_dict depends on it)"
    assert sorted(mine) == sorted(theirs), (
        f"only ours: {sorted(set(mine) - set(theirs))[:8]}; only torchvision's: {sorted(set(theirs) - set(mine))[:8]}")
    assert shapes(mine) == shapes(theirs)
    model.load_state_dict(theirs, strict=True)
    if meta:
        return
    size = EVAL_SIZE.get(name, DEFAULT_EVAL_SIZE)
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = ref(x), model(x)
    assert isinstance(got, torch.Tensor), "eval mode returns the main output alone"
    assert got.shape == expected.shape == (1, CLASSES)
    assert expected.abs().max() > 0.01, "the reference output is too small for the comparison to mean much"
    assert torch.allclose(got, expected, atol=1e-5, rtol=0), f"max difference {(got - expected).abs().max():.3g}"
    if name in TRAIN_SIZE:  # their auxiliary heads need other inputs: test_auxiliary_outputs_in_train_mode
        return
    # Training mode, on the same build: batch statistics (batch 2), and dropout and stochastic depth drawn from
    # one seed in the same order; the outputs and the running statistics BN leaves behind must agree.
    size = TRAIN_CHECK_SIZE.get(name, 32)
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(2))
    ref.train(), model.train()
    with torch.no_grad():
        torch.manual_seed(3)
        expected = as_tuple(ref(x))
        torch.manual_seed(3)
        got = as_tuple(model(x))
    assert len(got) == len(expected)
    for mine_out, their_out in zip(got, expected):
        assert torch.allclose(mine_out, their_out, atol=1e-5, rtol=0), \
            f"train mode: max difference {(mine_out - their_out).abs().max():.3g}"
    theirs_after = ref.state_dict()
    for key, value in model.state_dict().items():
        if "running_" in key:
            assert torch.allclose(value, theirs_after[key], atol=1e-6, rtol=0), f"{key} after a training forward"


# Training mode with auxiliary heads: BN uses batch statistics (so batch 2), and Inception v3's auxiliary head
# needs the 17x17 map that only a 299x299 input gives. Dropout draws the same numbers when both networks run
# their dropout layers in the same order from the same seed, so the values can be compared too.
TRAIN_SIZE = {"googlenet": 64, "inception_v3": 299}


@pytest.mark.parametrize("name", [
    "googlenet",
    pytest.param("inception_v3", marks=pytest.mark.slow),
])
def test_auxiliary_outputs_in_train_mode(name):
    ref = reference(name).train()
    model = ours(name).train()
    model.load_state_dict(ref.state_dict(), strict=True)
    size = TRAIN_SIZE[name]
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.manual_seed(3)
        expected = as_tuple(ref(x))
        torch.manual_seed(3)
        got = as_tuple(model(x))
    assert len(expected) == 1 + AUX_OUTPUTS[name]
    assert [tuple(t.shape) for t in got] == [tuple(t.shape) for t in expected] == [(2, CLASSES)] * len(expected)
    for index, (a, b) in enumerate(zip(got, expected)):
        assert torch.allclose(a, b, atol=1e-5, rtol=0), f"output {index}: max difference {(a - b).abs().max():.3g}"


@pytest.mark.parametrize("name", ["efficientnet_b0", pytest.param("efficientnet_v2_s", marks=pytest.mark.slow)])
def test_stochastic_depth_in_train_mode_matches_torchvision(name):
    """Each unit that keeps the shape drops its body with torchvision's probability for that unit (the
    schedule grows with the unit's index); the draws come in the same order, so one seed gives the same output."""
    ref = reference(name).train()
    model = ours(name).train()
    model.load_state_dict(ref.state_dict(), strict=True)
    theirs = {path: m.p for path, m in ref.named_modules()
              if type(m).__name__ == "StochasticDepth" and ref.get_submodule(path.rsplit(".", 1)[0]).use_res_connect}
    mine = {path: m.p for path, m in model.named_modules() if type(m).__name__ == "StochasticDepth"}
    assert mine == theirs and len(set(mine.values())) == len(mine)
    x = torch.randn(2, 3, DEFAULT_EVAL_SIZE, DEFAULT_EVAL_SIZE, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        torch.manual_seed(7)
        expected = ref(x)
        torch.manual_seed(7)
        got = model(x)
    assert torch.allclose(got, expected, atol=1e-5, rtol=0), f"max difference {(got - expected).abs().max():.3g}"


def test_convnext_stochastic_depth_schedule_and_train_mode():
    """Block j of n drops its residual branch with probability prob * j / (n - 1), computed by expression in
    the family: the same probabilities as torchvision's, in the same order, so in training mode (no BN in
    ConvNeXt) the same seed draws the same masks and the outputs agree."""
    ref = reference("convnext_tiny").train()
    model = ours("convnext_tiny").train()
    model.load_state_dict(ref.state_dict(), strict=True)
    probabilities = [m.p for m in ref.modules() if type(m).__name__ == "StochasticDepth"]
    assert len(probabilities) == 18 and probabilities[-1] == 0.1
    assert [m.p for m in model.modules() if type(m).__name__ == "StochasticDepth"] == probabilities
    x = torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        torch.manual_seed(6)
        expected = ref(x)
        torch.manual_seed(6)
        got = model(x)
        torch.manual_seed(7)
        other = ref(x)
    assert not torch.allclose(expected, other, atol=1e-3), "another seed drops other blocks: the check means something"
    assert torch.allclose(got, expected, atol=1e-5, rtol=0), f"max difference {(got - expected).abs().max():.3g}"


def test_shufflenet_train_mode_matches_torchvision():
    """Training mode: BN normalises with batch statistics and updates its running ones; the split halves, the
    concatenation and the channel shuffle must put every channel where torchvision's does for both to agree."""
    ref = reference("shufflenet_v2_x0_5").train()
    model = ours("shufflenet_v2_x0_5").train()
    model.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, DEFAULT_EVAL_SIZE, DEFAULT_EVAL_SIZE, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        expected, got = ref(x), model(x)
    assert torch.allclose(got, expected, atol=1e-5, rtol=0), f"max difference {(got - expected).abs().max():.3g}"
    theirs = ref.state_dict()
    for key, value in model.state_dict().items():
        assert torch.allclose(value.float(), theirs[key].float(), atol=1e-6, rtol=0), f"{key} after one step"


def test_googlenet_train_mode_order_is_main_aux2_aux1():
    """The tuple order comes from `outputs:`; the taps are told apart by their input widths (512 vs 528)."""
    model = ours("googlenet")
    assert model.output_names == ("main", "aux2", "aux1")
    assert model.aux1.conv.conv.in_channels == 512 and model.aux2.conv.conv.in_channels == 528


@pytest.mark.parametrize("name", ["googlenet", "inception_v3"])
def test_transform_input_matches_torchvision(name):
    """transform_input re-normalises the input with fixed constants (not in the state_dict).

    Built on the CPU here: `to_empty` after a meta build would leave those constants unset.
    """
    ref = reference(name, transform_input=True).eval()
    model = netspec.load(spec_path(name), transform_input=True).eval()
    model.load_state_dict(ref.state_dict(), strict=True)
    size = EVAL_SIZE.get(name, DEFAULT_EVAL_SIZE)
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        assert torch.allclose(model(x), ref(x), atol=1e-5, rtol=0)


@pytest.mark.slow
def test_inception_v3_without_aux_logits():
    summary = netspec.summarize(spec_path("inception_v3"), aux_logits=False)
    assert summary.total_params == PARAMS_WITHOUT_AUX["inception_v3"]
    ref = reference("inception_v3", aux_logits=False)
    model = ours("inception_v3", aux_logits=False)
    assert shapes(model.state_dict()) == shapes(ref.state_dict())
    model.load_state_dict(ref.state_dict(), strict=True)
    assert not model.taps  # training mode returns the main output alone, as torchvision's does


def test_googlenet_without_aux_logits():
    """`outputs: [main, aux2, aux1]` still holds when `aux_logits: false` removes the heads."""
    summary = netspec.summarize(spec_path("googlenet"), aux_logits=False)
    assert summary.total_params == PARAMS_WITHOUT_AUX["googlenet"]
    assert summary.extra_outputs == []
    model = netspec.load(spec_path("googlenet"), aux_logits=False, device="meta").train()
    assert model(torch.empty(2, 3, 64, 64, device="meta")).shape == (2, 1000)


# ---- semantic segmentation ----------------------------------------------------------------------


def segmentation_reference(name: str, meta: bool = False, **kwargs) -> torch.nn.Module:
    """torchvision's segmentation model as its builder makes it by default (weights=None, num_classes=21,
    aux_loss=None), with weights_backbone=None so that nothing is downloaded."""
    return reference(name, meta=meta, weights_backbone=None, **kwargs)


@pytest.mark.parametrize("name", SEGMENTERS)
def test_segmentation_static_totals_equal_torchinfo_on_torchvision(name):
    """netspec's static totals, at the spec's input size (torchvision's weights resize to 520), are torchinfo's
    count of torchvision's model, and torchinfo's count of the compiled spec (the meta device: no tensors)."""
    summary = netspec.summarize(spec_path(name))
    assert summary.input_shape == (3, 520, 520)
    assert summary.output_shape == (SEGMENTATION_CLASSES, 520, 520)
    ref = segmentation_reference(name, meta=True).eval()
    theirs = torchinfo.summary(ref, (1, *summary.input_shape), device="meta", verbose=0)
    model = netspec.load(spec_path(name), device="meta", max_params=None).eval()
    mine = torchinfo.summary(model, (1, *summary.input_shape), device="meta", verbose=0)
    assert summary.total_params == theirs.total_params == mine.total_params
    assert summary.total_mult_adds == theirs.total_mult_adds == mine.total_mult_adds


def _same_keys_and_strict_load(ref, model):
    theirs = ref.state_dict()
    mine = model.state_dict()
    assert list(mine) == list(theirs), "same keys, same order"
    assert shapes(mine) == shapes(theirs)
    model.load_state_dict(theirs, strict=True)


@pytest.mark.parametrize("name, aux_loss", [(n, None) for n in SEGMENTERS] + [  # torchvision's LR-ASPP takes no aux_loss
    (n, True) for n in SEGMENTERS if not n.startswith("lraspp")])
def test_segmentation_keys_and_strict_load(name, aux_loss):
    """torchvision's keys in its order (the auxiliary head last), shapes, and a strict load (on the meta device:
    the forwards below run on a few of them, the others differ only in depths)."""
    _same_keys_and_strict_load(segmentation_reference(name, meta=True, aux_loss=aux_loss), ours(name, meta=True, aux_loss=aux_loss or False))


def _segmentation_outputs_agree(ref, model, x):
    _same_keys_and_strict_load(ref, model)
    with torch.no_grad():
        torch.manual_seed(3)
        expected = ref(x)
        torch.manual_seed(3)
        got = model(x)
    assert isinstance(got, dict) and list(got) == list(expected), (list(got), list(expected))
    for key, want in expected.items():
        assert got[key].shape == want.shape == (x.shape[0], SEGMENTATION_CLASSES, *x.shape[2:])
        assert want.abs().max() > 0.01, "the reference output is too small for the comparison to mean much"
        assert torch.allclose(got[key], want, atol=1e-5, rtol=0), f"{key}: max difference {(got[key] - want).abs().max():.3g}"


SEGMENTATION_EVAL = [
    ("fcn_resnet50", {}),
    ("deeplabv3_resnet50", {"aux_loss": True}),
    ("deeplabv3_mobilenet_v3_large", {}),
    ("deeplabv3_mobilenet_v3_large", {"aux_loss": True}),
    ("lraspp_mobilenet_v3_large", {}),
]


@pytest.mark.parametrize("name, params", SEGMENTATION_EVAL, ids=lambda v: v if isinstance(v, str) else
                         ",".join(f"{k}={w}" for k, w in v.items()) or "default")
def test_segmentation_outputs_agree_in_eval_mode(name, params):
    """The same dict ("out", and "aux" with aux_loss) on a 64x64 input in eval mode, after a strict load."""
    ref = segmentation_reference(name, **params).eval()
    model = ours(name, **params).eval()
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    _segmentation_outputs_agree(ref, model, x)


def test_segmentation_aux_head_in_train_mode():
    """Training mode (batch statistics, dropout): the heads run their dropout in torchvision's order, so one
    seed gives the same "out" and "aux"."""
    ref = segmentation_reference("fcn_resnet50", aux_loss=True).train()
    model = ours("fcn_resnet50", aux_loss=True).train()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    _segmentation_outputs_agree(ref, model, x)


@pytest.mark.parametrize("name", ["deeplabv3_resnet50", "deeplabv3_mobilenet_v3_large"])
def test_segmentation_num_classes_and_backbone_dilation(name):
    """num_classes reaches both heads; every conv has torchvision's stride, padding and dilation (ResNet's
    replace_stride_with_dilation=[F, T, T], MobileNetV3's dilated last stage, ASPP's rates)."""
    import torchvision

    model = ours(name, meta=True, num_classes=5, aux_loss=True)
    with torch.device("meta"):
        ref = torchvision.models.get_model_builder(name)(weights_backbone=None, num_classes=5, aux_loss=True)
    assert shapes(model.state_dict()) == shapes(ref.state_dict())
    for path, module in ref.named_modules():
        if isinstance(module, torch.nn.Conv2d):
            mine = model.get_submodule(path)
            assert (mine.stride, mine.padding, mine.dilation) == (module.stride, module.padding, module.dilation), path


# ---- variants ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, params", [
    ("mobilenet_v3_large", {"reduced_tail": True, "dilated": True}),
    ("mobilenet_v3_small", {"width_mult": 0.75}),
    ("mobilenet_v3_large", {"width_mult": 1.3, "reduced_tail": True}),
])
def test_family_params_match_torchvision_keyword_arguments(name, params):
    """A family param that torchvision's builder takes as a keyword gives torchvision's model for it."""
    ref = reference(name, **params).eval()
    model = ours(name, **params).eval()
    theirs = ref.state_dict()
    assert list(model.state_dict()) == list(theirs) and shapes(model.state_dict()) == shapes(theirs)
    model.load_state_dict(theirs, strict=True)
    x = torch.randn(1, 3, DEFAULT_EVAL_SIZE, DEFAULT_EVAL_SIZE, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        assert torch.allclose(model(x), ref(x), atol=1e-5, rtol=0)
    assert netspec.summarize(spec_path(name), **params).total_params == sum(p.numel() for p in ref.parameters())


@pytest.mark.parametrize("spec", all_specs(), ids=lambda p: p.relative_to(LIBRARY).as_posix())
def test_every_spec_takes_num_classes_and_in_channels(spec):
    summary = netspec.summarize(spec, num_classes=10, in_channels=1)
    assert summary.input_shape[0] == 1
    if is_segmenter(spec):  # scores per pixel, at the input's size
        assert summary.output_shape == (10, *summary.input_shape[1:])
    else:
        assert summary.output_shape == (10,)


def test_default_budget_admits_the_largest_library_model(cli):
    """`netspec check` enforces the parameter budget; its default must not refuse a model of the library."""
    largest = max(NAMES, key=lambda n: FIGURES[n][1])
    assert largest == "regnet_y_128gf" and FIGURES[largest][1] > 500_000_000
    result = cli("check", spec_path(largest))
    assert result.rc == 0, result.output
    assert f"ok ({FIGURES[largest][1]:,} params" in result.output


def test_variant_builds_from_the_command_line(cli):
    result = cli("build", spec_path("resnet50"), "--set", "num_classes=10", "--set", "in_channels=1", "--depth", "1")
    assert result.rc == 0, result.output
    assert "Input: (1, 224, 224)" in result.output
    assert "Output: (10,)" in result.output
    assert "forward pass (1, 10) ok" in result.output


# ---- the library's shape: families and thin presets -------------------------------------------


def test_no_block_is_defined_in_two_files():
    """Over every spec file of the library, found afresh (a new family or preset is covered by being there)."""
    files = sorted(LIBRARY.rglob("*.yaml"))
    assert set(FAMILIES.glob("*.yaml")) <= set(files) and set(all_specs()) <= set(files)
    assert {spec_path(b) for b in BACKBONES} <= set(files)
    defined: dict[str, list[str]] = {}
    for path in files:
        for block in netspec.parse(path, link=False).blocks:
            defined.setdefault(block, []).append(path.relative_to(LIBRARY).as_posix())
    twice = {block: files for block, files in defined.items() if len(files) > 1}
    assert not twice, f"blocks defined in more than one spec: {twice}"


@pytest.mark.parametrize("name", NAMES + SEGMENTERS)
def test_presets_are_thin(name):
    """A model that extends a family sets params (and at most its output order); the family holds the rest."""
    spec = netspec.parse(spec_path(name), link=False)
    if spec.extends is None:  # a family of one, written out in full
        assert spec.layers and spec.input
        return
    assert (LIBRARY / spec.extends).resolve().parent == FAMILIES
    assert not spec.blocks and not spec.layers and not spec.input and not spec.init
    assert spec.params


def test_every_family_is_used():
    used = {(LIBRARY / netspec.parse(spec_path(n), link=False).extends).resolve()
            for n in NAMES + SEGMENTERS if netspec.parse(spec_path(n), link=False).extends}
    assert used == {p.resolve() for p in FAMILIES.glob("*.yaml")}


def test_summaries_never_import_torch():
    """Validating and summarising every spec of the library is static: torch is never imported."""
    code = (
        "import json, sys\n"
        "import netspec\n"
        f"paths = {json.dumps([str(p) for p in all_specs()])}\n"
        "totals = {p: netspec.summarize(p).total_params for p in paths}\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'count': len(totals)}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result == {"torch": False, "count": len(all_specs())}

