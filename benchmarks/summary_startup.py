"""How long `netspec summary` takes from a cold start, beside torchinfo's summary of the same network.

    python benchmarks/summary_startup.py                          # googlenet, best of 5
    python benchmarks/summary_startup.py architectures/resnet18.yaml --repeat 10

netspec's time is a whole `netspec summary SPEC` process: interpreter start-up, imports, parsing,
static inference and printing (no torch). torchinfo needs the compiled module and a forward pass,
so it is timed two ways: the summary call alone on a module already built on the meta device (its
best case: torch imported, nothing allocated), and a whole process that imports torch, builds the
module on the meta device and summarises it (what a user waits for at the prompt).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

_TORCHINFO_PROCESS = """
import sys, torchinfo, netspec
spec = sys.argv[1]
model = netspec.load(spec, device="meta")
torchinfo.summary(model, input_size=(1, *model.input_shape), device="meta", verbose=0)
"""


def best_process_time(argv: list[str], repeat: int) -> float:
    """Best wall time of `repeat` runs of a command, in seconds; fails loudly if the command fails."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr}")
        best = min(best, elapsed)
    return best


def netspec_command() -> list[str]:
    script = Path(sys.executable).with_name("netspec")
    return [str(script)] if script.exists() else [sys.executable, "-m", "netspec.cli"]


def torchinfo_in_process(spec: str, repeat: int) -> tuple[float, int]:
    """Best time of torchinfo.summary alone (module prebuilt on meta), and the params it counts."""
    import torchinfo

    import netspec

    model = netspec.load(spec, device="meta")
    size = (1, *model.input_shape)
    torchinfo.summary(model, input_size=size, device="meta", verbose=0)  # warm-up: first-call costs
    best, params = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        stats = torchinfo.summary(model, input_size=size, device="meta", verbose=0)
        best = min(best, time.perf_counter() - start)
        params = stats.total_params
    return best, params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default="architectures/googlenet.yaml")
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement; the best is kept")
    args = parser.parse_args()
    spec = args.spec

    ours = best_process_time([*netspec_command(), "summary", spec], args.repeat)
    theirs_cold = best_process_time([sys.executable, "-c", _TORCHINFO_PROCESS, spec], args.repeat)
    theirs_warm, params = torchinfo_in_process(spec, args.repeat)

    import netspec

    assert netspec.summarize(spec).total_params == params, "netspec and torchinfo disagree on the parameter count"
    print(f"spec: {spec} ({params:,} params), best of {args.repeat}")
    print(f"  netspec summary, whole process (no torch):               {ours * 1e3:8.1f} ms")
    print(f"  torchinfo summary call alone, module prebuilt on meta:   {theirs_warm * 1e3:8.1f} ms"
          f"   ratio netspec/torchinfo = {ours / theirs_warm:.2f}")
    print(f"  torchinfo whole process (import torch, build on meta):   {theirs_cold * 1e3:8.1f} ms"
          f"   ratio netspec/torchinfo = {ours / theirs_cold:.2f}")


if __name__ == "__main__":
    main()
