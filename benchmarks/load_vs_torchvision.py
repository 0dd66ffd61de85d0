"""Benchmark: netspec.load against the torchvision constructor, on CPU and on the meta device, interleaved.

Each round builds the torchvision model and then the netspec model of the same name (the torchvision variant
of the spec), weights initialised; the median of the rounds and the ratio netspec / torchvision are printed.

    python benchmarks/load_vs_torchvision.py [--rounds 7] [--threads 1] [--models resnet50 densenet121]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch
import torchvision

import netspec

ARCH = Path(__file__).resolve().parent.parent / "architectures" / "torchvision"


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["resnet50", "densenet121"])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.rounds} interleaved rounds, median; "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"{'model':<14} {'device':<6} {'netspec ms':>10} {'torchvision ms':>14} {'ratio':>6}")
    for name in args.models:
        spec = str(ARCH / f"{name}.yaml")
        ctor = getattr(torchvision.models, name)
        for device in ("cpu", "meta"):
            netspec.load(spec, device=device)  # warm: the first call reads and parses the spec
            ours, theirs = [], []
            for _ in range(args.rounds):
                with torch.device(device):
                    theirs.append(timed(lambda: ctor(weights=None)))
                ours.append(timed(lambda: netspec.load(spec, device=device)))
            a, b = statistics.median(ours) * 1e3, statistics.median(theirs) * 1e3
            print(f"{name:<14} {device:<6} {a:>10.1f} {b:>14.1f} {a / b:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
