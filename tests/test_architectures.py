"""The seed networks in architectures/: static totals against the reference figures and torchinfo,
every layer's static shape against the running module, a real forward pass, and `netspec build`."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchinfo
from typer.testing import CliRunner

import netspec
from netspec.cli import app
from netspec.pipeline import analyse

ARCH = Path(__file__).resolve().parent.parent / "architectures"

# Reference totals (torchinfo 1.8.0 on the reference PyTorch code, batch 1, eval mode; the U-Net's on the
# hand-written U-Net in benchmarks/flow_vs_handwritten.py): name -> (input C, H, W), params, mult-adds, output shape
FIGURES = {
    "lenet5": ((1, 28, 28), 61_706, 423_038, (10,)),
    "lenet5_bn": ((1, 32, 32), 62_158, 423_490, (10,)),
    "alexnet": ((3, 224, 224), 62_378_344, 1_135_915_368, (1000,)),
    "vgg11": ((3, 224, 224), 132_863_336, 7_616_525_288, (1000,)),
    "nin": ((3, 224, 224), 7_439_608, 967_172_728, (1000,)),
    "googlenet": ((3, 224, 224), 6_998_552, 1_585_899_032, (1000,)),
    "resnet18": ((3, 224, 224), 11_689_512, 1_814_083_944, (1000,)),
    "densenet121": ((3, 224, 224), 7_978_856, 2_834_246_312, (1000,)),
    "unet": ((1, 256, 256), 31_030_658, 54_578_511_872, (2, 256, 256)),
}
SMALLER_INPUT = {"unet": (1, 64, 64)}  # the real forward pass: any size the network takes, where 256 is slow
NAMES = sorted(FIGURES)


def spec_path(name: str) -> Path:
    return ARCH / f"{name}.yaml"


def test_every_architecture_file_is_covered():
    assert sorted(p.stem for p in ARCH.glob("*.yaml")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_static_totals_equal_reference_figures(name):
    shape, params, mult_adds, output = FIGURES[name]
    summary = netspec.summarize(spec_path(name))
    assert summary.input_shape == shape
    assert summary.total_params == params
    assert summary.total_mult_adds == mult_adds
    assert summary.output_shape == output


@pytest.mark.parametrize("name", NAMES)
def test_static_totals_equal_torchinfo_on_compiled_module(name):
    summary = netspec.summarize(spec_path(name))
    model = netspec.load(spec_path(name), device="meta")
    stats = torchinfo.summary(model, (1, *summary.input_shape), device="meta", verbose=0)
    assert stats.total_params == summary.total_params
    assert stats.total_mult_adds == summary.total_mult_adds


@pytest.mark.parametrize("name", NAMES)
def test_every_static_shape_equals_runtime_shape(name):
    """Hooks on every module (containers included) compare the shape torch produces with infer's."""
    graph = analyse(spec_path(name))
    static = {node.path: node.out_shape for node in graph.walk() if node.path and node.module}
    model = netspec.load(spec_path(name), device="meta").eval()
    seen: dict[str, tuple[int, ...]] = {}
    for path, module in model.named_modules():
        if path:
            module.register_forward_hook(lambda m, i, out, path=path: seen.__setitem__(path, tuple(out.shape[1:])))
    model(torch.empty(1, *graph.input_shape, device="meta"))
    # every module that ran has a static row, and the shapes agree
    assert set(seen) <= set(static), f"modules without a static row: {sorted(set(seen) - set(static))}"
    mismatched = {p: (static[p], seen[p]) for p in seen if static[p] != seen[p]}
    assert not mismatched, f"static vs runtime shape: {mismatched}"
    # and every module ran, but the containers that generated code traces through (plain nn.Module holders)
    runnable = {p for p, m in model.named_modules() if p and type(m) is not torch.nn.Module}
    assert set(seen) == runnable


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_forward_pass_on_a_real_batch(name):
    shape, params, _, output = FIGURES[name]
    shape = SMALLER_INPUT.get(name, shape)
    model = netspec.load(spec_path(name), seed=0)
    assert sum(p.numel() for p in model.parameters()) == params
    model.train()
    out = model(torch.randn(2, *shape))
    assert out.shape[1:] == analyse(spec_path(name), input_shape=shape).root.out_shape
    assert len(output) > 1 or out.shape == (2, *output)
    out.sum().backward()  # gradients reach the first layer
    first = next(model.parameters())
    assert first.grad is not None and torch.isfinite(first.grad).all()


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_netspec_build_exits_zero(name):
    result = CliRunner().invoke(app, ["build", str(spec_path(name)), "--seed", "0", "--depth", "1"])
    assert result.exit_code == 0, result.output
    assert f"Total params: {FIGURES[name][1]:,}" in result.output


@pytest.mark.parametrize("name", ["resnet18", "densenet121"])
def test_torchvision_checkpoint_loads_and_outputs_agree(name):
    """resnet18 and densenet121 use torchvision's module names: its weights load strictly and give its outputs."""
    import torchvision  # the test extra installs it
    reference = getattr(torchvision.models, name)().eval()
    model = netspec.load(spec_path(name), seed=0).eval()
    ours, theirs = model.state_dict(), reference.state_dict()
    assert set(ours) == set(theirs)
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in theirs.items()}
    model.load_state_dict(theirs, strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(x), reference(x), atol=1e-5, rtol=0)


def test_seed_makes_weights_deterministic():
    a = netspec.load(spec_path("lenet5_bn"), seed=7).state_dict()
    b = netspec.load(spec_path("lenet5_bn"), seed=7).state_dict()
    c = netspec.load(spec_path("lenet5_bn"), seed=8).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_declared_init_is_applied():
    model = netspec.load(spec_path("vgg11"), seed=0, device="cpu", num_classes=10)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(torch.count_nonzero(m.bias) == 0 for m in linears + convs)
    # normal(0, 0.01) on the linear weights: the sample std is close to 0.01
    assert abs(linears[-1].weight.std().item() - 0.01) < 0.002
    # kaiming_normal(fan_out, relu) on the first conv: std = sqrt(2 / fan_out) = sqrt(2 / (64 * 9))
    assert abs(convs[0].weight.std().item() - (2 / (64 * 9)) ** 0.5) < 0.01
