"""The Python API: load, parse, summarize, and deriving variants in code."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import netspec

ARCH = Path(__file__).resolve().parent.parent / "architectures"


def test_load_sets_params_and_options():
    model = netspec.load(ARCH / "resnet18.yaml", num_classes=10, seed=0)
    assert model.fc.out_features == 10
    assert model.spec_name == "resnet18" and model.input_shape == (3, 224, 224)


def test_load_from_text_and_from_a_spec_object():
    text = "input: [1, 4, 4]\nlayers: [flatten, linear(2)]\n"
    assert netspec.load(text)(torch.randn(3, 1, 4, 4)).shape == (3, 2)
    assert netspec.load(netspec.parse(text))(torch.randn(3, 1, 4, 4)).shape == (3, 2)


def test_unknown_param_is_a_usage_error_with_suggestion():
    with pytest.raises(netspec.UsageError, match="did you mean 'num_classes'"):
        netspec.load(ARCH / "resnet18.yaml", num_class=10)


def test_summarize_returns_rows_and_totals_as_data():
    summary = netspec.summarize(ARCH / "lenet5.yaml")
    assert summary.total_params == 61_706
    first = summary.rows[0]
    assert (first.path, first.kind, first.depth) == ("features", "seq", 1)
    data = summary.to_dict(depth=1)
    assert [r["path"] for r in data["rows"]] == ["features", "classifier"]
    assert "| `features.0` | conv2d |" in summary.to_markdown()


def test_variant_with_params_and_input():
    base = netspec.parse(ARCH / "resnet18.yaml")
    small = base.with_params(num_classes=10, width=16, in_channels=1).with_input(1, 32, 32)
    summary = netspec.summarize(small)
    assert summary.output_shape == (10,) and summary.input_shape == (1, 32, 32)
    model = netspec.load(small, seed=0)
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 10)
    assert base.params["width"] == 64  # the original is unchanged
    with pytest.raises(netspec.UsageError):
        base.with_params(depth=3)


def test_variant_swapping_a_block():
    base = netspec.parse(ARCH / "resnet18.yaml")
    plain = base.with_block("basic", """
        args: {channels: int, stride: 1}
        layers:
          - conv2d(channels, 3, stride=stride, padding=1, bias=false)
          - batchnorm2d
          - relu
    """)
    summary = netspec.summarize(plain)
    assert summary.output_shape == (1000,)
    assert summary.total_params < netspec.summarize(base).total_params
    model = netspec.load(plain, device="meta")
    assert not any(type(m).__name__ == "Residual" for m in model.modules())


def test_spec_error_lists_every_problem_with_locations():
    text = "input: [3, 8, 8]\nlayers:\n  - conv2d(4, 3, strde=2)\n  - relux\n"
    with pytest.raises(netspec.SpecError) as info:
        netspec.summarize(text)
    codes = [(d.code, d.loc.line) for d in info.value.diagnostics]
    assert codes == [("unknown-arg", 3), ("unknown-layer", 4)]
    assert "did you mean 'stride'" in str(info.value)
