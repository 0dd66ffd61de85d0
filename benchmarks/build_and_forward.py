"""Benchmark: netspec against torchvision, side by side, on the same machine and in the same process.

For resnet18 and densenet121 (whose specs use torchvision's module names) it measures:
  - building the module (netspec.load vs torchvision's constructor), weights initialised;
  - the static summary (netspec.summarize, no torch) vs torchinfo's summary on the meta device;
  - a forward pass on a batch in eval mode (the compiled module vs torchvision's).
It prints each time and the ratio netspec / reference. Ratios near 1.0 mean no overhead.

    python benchmarks/build_and_forward.py [--device cpu|cuda] [--batch 8] [--size 224] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import torchinfo
import torchvision

import netspec

ARCH = Path(__file__).resolve().parent.parent / "architectures"


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def forward_time(model: torch.nn.Module, x: torch.Tensor, repeat: int) -> float:
    with torch.no_grad():
        model(x)  # warm-up
        if x.is_cuda:
            torch.cuda.synchronize()

        def run():
            model(x)
            if x.is_cuda:
                torch.cuda.synchronize()

        return statistics.median(best_of(run, 1) for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    device = torch.device(args.device)
    rows = []
    for name in ("resnet18", "densenet121"):
        spec = ARCH / f"{name}.yaml"
        reference_ctor = getattr(torchvision.models, name)
        build_ns = best_of(lambda: netspec.load(spec), args.repeat)
        build_tv = best_of(reference_ctor, args.repeat)
        summary_ns = best_of(lambda: netspec.summarize(spec), args.repeat)
        meta = netspec.load(spec, device="meta")
        summary_ti = best_of(
            lambda: torchinfo.summary(meta, (1, 3, 224, 224), device="meta", verbose=0), args.repeat
        )
        ours = netspec.load(spec, seed=0).to(device).eval()
        theirs = reference_ctor().to(device).eval()
        ours.load_state_dict(theirs.state_dict())
        x = torch.randn(args.batch, 3, args.size, args.size, device=device)
        fwd_ns = forward_time(ours, x, args.repeat)
        fwd_tv = forward_time(theirs, x, args.repeat)
        rows += [
            (name, "build (init weights)", build_ns, build_tv, "torchvision constructor"),
            (name, "summary (static)", summary_ns, summary_ti, "torchinfo on meta"),
            (name, f"forward b{args.batch} {args.size}px", fwd_ns, fwd_tv, "torchvision forward"),
        ]
    print(f"device: {device}  torch {torch.__version__}  threads {torch.get_num_threads()}")
    print(f"{'network':<12} {'measure':<24} {'netspec':>10} {'reference':>10} {'ratio':>6}  reference")
    for name, what, ours_s, ref_s, ref_name in rows:
        print(f"{name:<12} {what:<24} {ours_s * 1e3:>8.1f}ms {ref_s * 1e3:>8.1f}ms {ours_s / ref_s:>6.2f}  {ref_name}")


if __name__ == "__main__":
    main()
