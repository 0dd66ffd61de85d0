"""Benchmark: netspec.summarize on a library spec against torchinfo on the torchvision model, side by side.

For each model, one round times three things back to back, in turn: netspec.summarize(SPEC)
(no torch involved; the torchvision variant of the spec where the
library has one), torchinfo.summary on the torchvision module with a real forward pass on CPU, and
torchinfo.summary on the same module built on the meta device. Rounds are interleaved so that a change of
machine load reaches all three alike; the median of the rounds is reported, with the ratios
torchinfo / netspec (the speed-up) and whether the totals (parameters, mult-adds) are identical.

    python benchmarks/summarize_vs_torchinfo.py [--rounds 15] [--threads 1] [--models resnet152 googlenet]

torch runs on `--threads` threads (1 by default: on a shared machine a second thread mostly measures the
other jobs). netspec's first call of each model is not timed (it fills the per-process parse caches, as
any second call in a session would find them); `--cold` clears those caches before every netspec call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from pathlib import Path

import torch
import torchinfo
import torchvision

import netspec
from netspec.ir import expr
from netspec import library, pipeline

ARCH = Path(__file__).resolve().parent.parent / "architectures"
MODELS = ("resnet152", "densenet201", "googlenet", "vgg16", "mobilenet_v2", "efficientnet_b0", "regnet_y_400mf")


def torchvision_model(name: str, meta: bool) -> torch.nn.Module:
    extra = {"aux_logits": True, "init_weights": False} if name == "googlenet" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if meta:
            with torch.device("meta"):
                return getattr(torchvision.models, name)(weights=None, **extra).eval()
        return getattr(torchvision.models, name)(weights=None, **extra).eval()


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cold", action="store_true", help="clear netspec's parse caches before every call")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, torchinfo {torchinfo.__version__ if hasattr(torchinfo, '__version__') else '?'}, "
          f"{args.threads} torch thread(s), {args.rounds} interleaved rounds, median; load {os.getloadavg()[0]:.2f}")
    print(f"{'model':<16} {'netspec ms':>10} {'real ms':>9} {'meta ms':>9} {'real/ns':>8} {'meta/ns':>8}  totals")
    for name in args.models:
        source = ARCH / "torchvision" / f"{name}.yaml"  # torchvision's variant (googlenet: with batch norm)
        source = str(source) if source.exists() else f"netspec:{name}"
        if library.find(source) is None and not os.path.exists(source):
            print(f"{name:<16} (not in netspec's library yet)")
            continue
        try:
            real, meta = torchvision_model(name, False), torchvision_model(name, True)
        except AttributeError:
            print(f"{name:<16} (not in this torchvision)")
            continue
        ours = netspec.summarize(source)
        size = (1, *ours.input_shape)
        x = torch.zeros(size)
        t_ns, t_real, t_meta = [], [], []
        for _ in range(args.rounds):
            if args.cold:
                pipeline.clear_caches()
                expr.parse_expr.cache_clear()
            dt, ours = timed(lambda: netspec.summarize(source))
            t_ns.append(dt)
            with torch.no_grad():
                dt, stats = timed(lambda: torchinfo.summary(real, input_data=x, verbose=0))
            t_real.append(dt)
            with torch.no_grad():
                dt, meta_stats = timed(lambda: torchinfo.summary(meta, input_data=x.to("meta"), verbose=0))
            t_meta.append(dt)
        same = (ours.total_params == stats.total_params == meta_stats.total_params
                and ours.total_mult_adds == stats.total_mult_adds)
        a, b, c = (statistics.median(t) * 1e3 for t in (t_ns, t_real, t_meta))
        print(f"{name:<16} {a:>10.2f} {b:>9.1f} {c:>9.1f} {b / a:>8.1f} {c / a:>8.1f}  "
              f"{'identical' if same else f'DIFFER: {ours.total_params:,}/{stats.total_params:,} params, '}"
              f"{'' if same else f'{ours.total_mult_adds:,}/{stats.total_mult_adds:,} mult-adds'}", flush=True)


if __name__ == "__main__":
    main()
