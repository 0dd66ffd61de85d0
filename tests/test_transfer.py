"""netspec.backends.transfer.load_matching: a checkpoint loads into a variant for every tensor whose name and shape match."""

from __future__ import annotations

from pathlib import Path

import torch

import netspec
from netspec.backends.transfer import load_matching

REPO = Path(__file__).resolve().parent.parent
RESNET50 = REPO / "architectures" / "torchvision" / "resnet50.yaml"

TINY = """
name: tiny
input: [in_channels, 16, 16]
params: {in_channels: 3, num_classes: 10, width: 8}
layers:
  stem: conv2d(width, 3, padding=1)
  bn: batchnorm2d
  body: ["conv2d(width, 3, padding=1)", relu]
  pool: adaptive_avgpool2d(1)
  flatten: flatten
  fc: linear(num_classes)
"""


def test_resnet50_variant_takes_all_but_stem_and_head_from_torchvision():
    import torchvision  # the test extra installs it
    source = torchvision.models.resnet50().state_dict()
    model = netspec.load(RESNET50, num_classes=10, in_channels=1, seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}

    loaded, skipped = load_matching(model, source)

    # the stem conv sees 1 channel instead of 3, and the classifier has 10 classes instead of 1000
    assert skipped == ["conv1.weight", "fc.bias", "fc.weight"]
    assert sorted(loaded) == sorted(set(source) - set(skipped))
    after = model.state_dict()
    assert all(torch.equal(after[k], source[k]) for k in loaded)
    assert all(torch.equal(after[k], before[k]) for k in skipped)  # left as they were
    assert after["conv1.weight"].shape == (64, 1, 7, 7) and after["fc.weight"].shape == (10, 2048)


def test_keys_the_module_lacks_are_skipped_and_its_uncovered_tensors_kept():
    source = netspec.load(TINY, seed=1).state_dict()
    source["extra.weight"] = torch.zeros(3)
    del source["body.0.bias"]
    model = netspec.load(TINY, seed=2)
    kept = model.state_dict()["body.0.bias"].clone()

    loaded, skipped = load_matching(model, source)

    assert skipped == ["extra.weight"]
    assert "body.0.bias" not in loaded
    assert torch.equal(model.state_dict()["body.0.bias"], kept)
    assert torch.equal(model.state_dict()["stem.weight"], source["stem.weight"])


def test_a_variant_of_a_small_spec():
    source = netspec.load(TINY, seed=1).state_dict()
    model = netspec.load(TINY, seed=2, in_channels=1, num_classes=4)

    loaded, skipped = load_matching(model, source)

    assert skipped == ["fc.bias", "fc.weight", "stem.weight"]
    assert "stem.bias" in loaded and "bn.running_var" in loaded and "bn.num_batches_tracked" in loaded
    assert loaded == sorted(loaded) and skipped == sorted(skipped)


def test_a_matching_checkpoint_loads_completely():
    source = netspec.load(TINY, seed=1)
    model = netspec.load(TINY, seed=2)
    loaded, skipped = load_matching(model, source.state_dict())
    assert skipped == [] and sorted(loaded) == sorted(source.state_dict())
    x = torch.randn(2, 3, 16, 16)
    source.eval(), model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), source(x))
