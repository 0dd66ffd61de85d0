"""How the static passes scale: parse + validate + resolve + infer time per layer, for generated specs of
1,000, 10,000 and 100,000 layers, in both syntaxes.

    python benchmarks/scale.py                       # every flavour, both syntaxes, 1k / 10k / 100k layers
    python benchmarks/scale.py --sizes 1000 10000 --flavours plain errors --repeat 3

Flavours (each spec expands to the given number of layers):
  plain        one layer per line: conv2d(8, 3, padding=1) and relu, alternating
  expressions  every layer computes its arguments: a spec function, params, in_channels, a comprehension
  repeats      a block of two layers repeated, so a short spec expands to many layers
  errors       every line holds a mistake (an unknown argument, an unknown name): all of them are reported

The time is the best of `--repeat` runs of `netspec.pipeline.analyse` on the text (for `errors`, until its
SpecError is raised and rendered), divided by the layer count. The last column compares each size with the
smallest: a pass that is linear in the expanded network stays near 1.0.
"""

from __future__ import annotations

import argparse
import gc
import time

from netspec.diagnostics import SpecError
from netspec.pipeline import analyse, clear_caches

FLAVOURS = ("plain", "expressions", "repeats", "errors")


def yaml_spec(flavour: str, n: int) -> str:
    head = f"name: scale_{flavour}\ninput: [8, 8, 8]\n"
    if flavour == "plain":
        lines = ["  - conv2d(8, 3, padding=1)" if k % 2 == 0 else "  - relu" for k in range(n)]
        return head + "layers:\n" + "\n".join(lines) + "\n"
    if flavour == "expressions":
        head += ("functions:\n  make_divisible(v, divisor=8): max(divisor, int(v + divisor / 2) // divisor * divisor)\n"
                 "params:\n  width: 1.0\n  kernels: [1, 3, 5]\n")
        lines = [f"  - conv2d(make_divisible(in_channels * width), kernels[{k % 3}], padding=kernels[{k % 3}] // 2, "
                 f"groups=max(1, in_channels // 8), bias={'true' if k % 2 else 'false'})" if k % 2 == 0 else
                 "  - relu(inplace=sum([1 for c in [in_channels] if c > 4]) > 0)" for k in range(n)]
        return head + "layers:\n" + "\n".join(lines) + "\n"
    if flavour == "repeats":
        return head + ("blocks:\n  unit:\n    args: {channels: int, stride: 1}\n"
                       "    layers:\n      - conv2d(channels, 3, stride=stride, padding=1)\n      - relu\n"
                       f"layers:\n  - repeat: {n // 2}\n    block: unit(8)\n")
    if flavour == "errors":
        lines = ["  - conv2d(8, 3, padding=1, strde=1)" if k % 2 == 0 else "  - linear(num_clases)" for k in range(n)]
        return head + "layers:\n" + "\n".join(lines) + "\n"
    raise ValueError(flavour)


def ns_spec(flavour: str, n: int) -> str:
    head = f"network scale_{flavour}\ninput 8x8x8\n"
    if flavour == "plain":
        return head + "\n".join("conv2d(8, 3, padding=1)" if k % 2 == 0 else "relu" for k in range(n)) + "\n"
    if flavour == "expressions":
        head += ("function make_divisible(v, divisor=8) = max(divisor, int(v + divisor / 2) // divisor * divisor)\n"
                 "param width = 1.0, kernels = [1, 3, 5]\n")
        lines = [f"conv2d(make_divisible(in_channels * width), kernels[{k % 3}], padding=kernels[{k % 3}] // 2, "
                 f"groups=max(1, in_channels // 8), bias={'true' if k % 2 else 'false'})" if k % 2 == 0 else
                 "relu(inplace=sum([1 for c in [in_channels] if c > 4]) > 0)" for k in range(n)]
        return head + "\n".join(lines) + "\n"
    if flavour == "repeats":
        return head + ("block unit(channels, stride=1) = [conv2d(channels, 3, stride=stride, padding=1) relu]\n"
                       f"repeat {n // 2} unit(8)\n")
    if flavour == "errors":
        return head + "\n".join("conv2d(8, 3, padding=1, strde=1)" if k % 2 == 0 else "linear(num_clases)"
                                for k in range(n)) + "\n"
    raise ValueError(flavour)


def run_once(text: str, fmt: str, n: int) -> tuple[float, int]:
    """Seconds for one analysis of `text`, and the layers (or errors) it gave."""
    clear_caches()  # each run parses its text afresh
    gc.collect()
    start = time.perf_counter()
    try:
        graph = analyse(text, format=fmt, max_nodes=max(8 * n, 100_000), max_bytes=64 * n + (1 << 20))
        count = sum(1 for node in graph.walk() if not node.children)
    except SpecError as exc:
        exc.render()
        count = len(exc.diagnostics)
    return time.perf_counter() - start, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--flavours", nargs="+", choices=FLAVOURS, default=list(FLAVOURS))
    parser.add_argument("--syntaxes", nargs="+", choices=("yaml", "ns"), default=["yaml", "ns"])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    # The front ends refuse more than 20,000 tokens (.ns) or 5,000 values (YAML) before parsing; the benchmark
    # raises the node budget (max_nodes=, as a user raises --max-nodes), which raises those caps with it, and
    # the file-size budget (max_bytes=), so a large spec is analysed rather than refused in microseconds.
    print(f"{'flavour':<12} {'syntax':<6} {'layers':>7} {'found':>7} {'total s':>9} {'us/layer':>9} {'vs first':>9}")
    for flavour in args.flavours:
        for fmt in args.syntaxes:
            first = None
            for n in args.sizes:
                text = (yaml_spec if fmt == "yaml" else ns_spec)(flavour, n)
                best, count = min(run_once(text, fmt, n) for _ in range(args.repeat))
                per = best / n * 1e6
                first = first or per
                note = "" if count == n or flavour == "errors" else "  (refused: not the whole spec analysed)"
                print(f"{flavour:<12} {fmt:<6} {n:>7,} {count:>7,} {best:>9.2f} {per:>9.1f} {per / first:>9.2f}{note}",
                      flush=True)


if __name__ == "__main__":
    main()
