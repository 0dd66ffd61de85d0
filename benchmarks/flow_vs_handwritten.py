"""Benchmark: networks with references (generated forward code) against hand-written torch, same weights.

For the U-Net (architectures/unet.yaml, a recursive block whose skips are references) against a U-Net
written by hand in torch, and for the ResNet-50 FPN (architectures/torchvision/fpn_resnet50.yaml) against
torchvision's resnet_fpn_backbone, it measures, interleaved round by round so both see the same machine:
  - forward + backward of a batch in training mode (the reference's weights loaded into netspec's module);
  - building the module: netspec.load against the reference's constructor.
It checks that the outputs agree, then prints medians and the ratio netspec / reference (1.00: no overhead).

    python benchmarks/flow_vs_handwritten.py [--device cpu|cuda] [--batch 2] [--rounds 7] [--size 128]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from torch import nn

import netspec

ARCH = Path(__file__).resolve().parent.parent / "architectures"


class HandUNetLevel(nn.Module):
    """One level of a padded U-Net as people write it in torch, with the spec's module names."""

    def __init__(self, c_in: int, c: int, depth: int):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(c_in, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1), nn.ReLU())
        self.depth = depth
        if depth > 0:
            self.down = nn.MaxPool2d(2)
            self.inner = HandUNetLevel(c, 2 * c, depth - 1)
            self.up = nn.ConvTranspose2d(2 * c, c, 2, stride=2)
            self.dec = nn.Sequential(nn.Conv2d(2 * c, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1),
                                     nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        enc = self.enc(x)
        if self.depth == 0:
            return enc
        up = self.up(self.inner(self.down(enc)))
        return self.dec(torch.cat([enc, up], dim=1))  # (N, 2c, H, W) -> (N, c, H, W)


class HandUNet(nn.Module):
    def __init__(self, in_channels: int = 1, num_classes: int = 2, width: int = 64, depth: int = 4):
        super().__init__()
        self.unet = HandUNetLevel(in_channels, width, depth)
        self.head = nn.Conv2d(width, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.unet(x))


def _fpn_reference():
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone

    return resnet_fpn_backbone(backbone_name="resnet50", weights=None, trainable_layers=5)


CASES = {
    "unet": (lambda: netspec.load(ARCH / "unet.yaml", in_channels=3, width=32), lambda: HandUNet(3, 2, 32, 4)),
    "fpn_resnet50": (lambda: netspec.load(ARCH / "torchvision" / "fpn_resnet50.yaml"), _fpn_reference),
}


def _total(out) -> torch.Tensor:
    return sum(o.float().sum() for o in out.values()) if isinstance(out, dict) else out.float().sum()


def _step(model: nn.Module, x: torch.Tensor) -> float:
    start = time.perf_counter()
    _total(model(x)).backward()
    if x.is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start


def _timed(make) -> tuple[float, nn.Module]:
    start = time.perf_counter()
    model = make()
    return time.perf_counter() - start, model


def run(name: str, device: torch.device, batch: int, size: int, rounds: int) -> dict:
    make_ours, make_ref = CASES[name]
    ours, ref = make_ours().to(device).train(), make_ref().to(device).train()
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(batch, 3, size, size, device=device)
    with torch.no_grad():
        a, b = ours.eval()(x), ref.eval()(x)
    pairs = zip(a.values(), b.values()) if isinstance(a, dict) else [(a, b)]
    worst = max(float((p - q).abs().max()) for p, q in pairs)
    ours.train(), ref.train()
    _step(ours, x), _step(ref, x)  # warm-up
    step_ours, step_ref, build_ours, build_ref = [], [], [], []
    for index in range(rounds):  # interleaved, and the order alternates, so drift hits both alike
        first, second = ((ours, step_ours), (ref, step_ref)) if index % 2 == 0 else ((ref, step_ref), (ours, step_ours))
        for model, times in (first, second):
            model.zero_grad(set_to_none=True)
            times.append(_step(model, x))
        build_ours.append(_timed(make_ours)[0])
        build_ref.append(_timed(make_ref)[0])
    med = statistics.median
    return {"name": name, "worst": worst, "step": (med(step_ours), med(step_ref)),
            "build": (med(build_ours), med(build_ref))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {device}, {torch.get_num_threads()} threads, batch {args.batch}, "
          f"{args.size}x{args.size}, median of {args.rounds} interleaved rounds")
    print(f"{'network':<14} {'fwd+bwd netspec':>16} {'reference':>10} {'ratio':>6}   "
          f"{'build netspec':>14} {'reference':>10} {'ratio':>6}   max |diff|")
    for name in CASES:
        r = run(name, device, args.batch, args.size, args.rounds)
        (so, sr), (bo, br) = r["step"], r["build"]
        print(f"{name:<14} {so * 1e3:>13.1f} ms {sr * 1e3:>7.1f} ms {so / sr:>6.2f}   "
              f"{bo * 1e3:>11.1f} ms {br * 1e3:>7.1f} ms {bo / br:>6.2f}   {r['worst']:.1e}")


if __name__ == "__main__":
    main()
