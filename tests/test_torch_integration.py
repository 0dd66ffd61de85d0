"""A compiled spec is a plain nn.Module: fx tracing, torch.export, channels_last, autocast, CUDA, pickling."""

from __future__ import annotations

import copy
import io
from pathlib import Path

import pytest
import torch

import netspec

ARCH = Path(__file__).resolve().parent.parent / "architectures"
SMALL = dict(input_shape=(3, 32, 32), num_classes=10)


@pytest.mark.parametrize("name", ["googlenet", "resnet18", "densenet121"])
def test_fx_symbolic_trace_gives_the_same_outputs(name):
    model = netspec.load(ARCH / f"{name}.yaml", seed=0, **SMALL).eval()
    traced = torch.fx.symbolic_trace(model)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(traced(x), model(x), atol=1e-6)
    assert "torch.cat" in traced.code or name == "resnet18"  # the generated code is readable Python


@pytest.mark.slow
def test_torch_export_of_a_residual_network():
    model = netspec.load(ARCH / "resnet18.yaml", seed=0, **SMALL).eval()
    x = torch.randn(2, 3, 32, 32)
    exported = torch.export.export(model, (x,))
    with torch.no_grad():
        assert torch.allclose(exported.module()(x), model(x), atol=1e-5)


def test_channels_last_and_bfloat16_autocast_on_cpu():
    model = netspec.load(ARCH / "googlenet.yaml", seed=0, **SMALL).eval().to(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 32, 32).to(memory_format=torch.channels_last)
    with torch.no_grad():
        full = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            half = model(x)
    assert half.dtype == torch.bfloat16 and half.shape == full.shape
    assert torch.allclose(half.float(), full, atol=0.3, rtol=0.05)  # bfloat16 keeps 8 bits of mantissa


def test_deepcopy_and_pickle_round_trip():
    model = netspec.load(ARCH / "lenet5_bn.yaml", seed=0).eval()
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    restored = torch.load(buffer, weights_only=False)
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(restored(x), model(x))
        assert torch.equal(copy.deepcopy(model)(x), model(x))


def test_training_step_updates_weights():
    model = netspec.load(ARCH / "resnet18.yaml", seed=0, **SMALL)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = model.fc.weight.detach().clone()
    loss = torch.nn.functional.cross_entropy(model(torch.randn(4, 3, 32, 32)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    optimizer.step()
    assert not torch.equal(before, model.fc.weight)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", sorted(p.stem for p in ARCH.glob("*.yaml")))
def test_cuda_forward_backward_amp(name):
    summary = netspec.summarize(ARCH / f"{name}.yaml")
    model = netspec.load(ARCH / f"{name}.yaml", seed=0, device="cuda")
    x = torch.randn(2, *summary.input_shape, device="cuda")
    with torch.autocast("cuda", dtype=torch.float16):
        out = model(x)
    out.float().sum().backward()
    assert out.shape == (2, *summary.output_shape)
