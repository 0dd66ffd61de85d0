"""How the static passes scale: parse + validate + resolve + infer time per layer, for generated specs of
1,000, 10,000 and 50,000 layers, in both syntaxes.

    python benchmarks/scale.py                       # every flavour, both syntaxes, 1k / 10k / 50k layers
    python benchmarks/scale.py --sizes 1000 10000 --flavours plain errors --repeat 3
    python benchmarks/scale.py --markdown            # and end with the table docs/performance.md shows

Flavours (each spec expands to the given number of layers):
  plain        one layer per line: conv2d(8, 3, padding=1) and relu, alternating
  expressions  every layer computes its arguments: a spec function, params, in_channels, a comprehension
  repeats      a block of two layers repeated, so a short spec expands to many layers
  errors       every line holds a mistake (an unknown argument, an unknown name): all of them are reported

The time is the best of `--repeat` runs of `netspec.pipeline.analyse` on the text (for `errors`, until its
SpecError is raised and rendered), divided by the layer count: the CPU time of the process
(`time.process_time`, the steadier figure on a shared machine) and the wall time. The last column compares
each size's CPU time per layer with the smallest's: a pass that is linear in the expanded network stays near
1.0.
"""

from __future__ import annotations

import argparse
import gc
import time

from netspec.diagnostics import SpecError
from netspec.frontends import ns_fast
from netspec.ir import expr
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


def run_once(text: str, fmt: str, n: int) -> tuple[float, float, int]:
    """CPU and wall seconds for one analysis of `text`, and the layers (or errors) it gave."""
    clear_caches()  # each run parses its text afresh, its expressions too
    expr.parse_expr.cache_clear()
    ns_fast.clear_caches()
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    try:
        graph = analyse(text, format=fmt, max_nodes=max(8 * n, 100_000), max_bytes=len(text.encode()) + (1 << 20))
        count = sum(1 for node in graph.walk() if not node.children)
    except SpecError as exc:
        exc.render()
        count = len(exc.diagnostics)
    return time.process_time() - cpu, time.perf_counter() - start, count


def measure(flavours, syntaxes, sizes, repeat: int, show=print) -> dict:
    """{(flavour, syntax, layers): (CPU µs per layer, wall µs per layer, found)}, each the best of `repeat` runs;
    `show` gets one line per measurement as it is taken."""
    results = {}
    for flavour in flavours:  # a first small run of each kind builds the schemas and parsers it needs
        for fmt in syntaxes:
            run_once((yaml_spec if fmt == "yaml" else ns_spec)(flavour, 10), fmt, 10)
    for flavour in flavours:
        for fmt in syntaxes:
            first = None
            for n in sizes:
                text = (yaml_spec if fmt == "yaml" else ns_spec)(flavour, n)
                runs = [run_once(text, fmt, n) for _ in range(repeat)]
                cpu, wall, count = min(runs)
                per, per_wall = cpu / n * 1e6, min(r[1] for r in runs) / n * 1e6
                first = first or per
                results[flavour, fmt, n] = (per, per_wall, count)
                note = "" if count == n or flavour == "errors" else "  (refused: not the whole spec analysed)"
                show(f"{flavour:<12} {fmt:<6} {n:>7,} {count:>7,} {cpu:>9.2f} {per:>9.1f} {per_wall:>9.1f} "
                     f"{per / first:>9.2f}{note}")
    return results


def markdown(results: dict, flavours, syntaxes, sizes) -> str:
    """The CPU time per layer as a Markdown table: a row per flavour and syntax, a column per size, and the
    largest size's figure divided by the smallest's."""
    header = ["spec", "syntax"] + [f"{n:,} layers" for n in sizes] + [f"{sizes[-1]:,} ÷ {sizes[0]:,}"]
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
    for flavour in flavours:
        for fmt in syntaxes:
            pers = [results[flavour, fmt, n][0] for n in sizes]
            cells = [f"{per:.1f} µs" for per in pers] + [f"{pers[-1] / pers[0]:.2f}"]
            lines.append("| " + " | ".join([flavour, "`.ns`" if fmt == "ns" else "YAML"] + cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--flavours", nargs="+", choices=FLAVOURS, default=list(FLAVOURS))
    parser.add_argument("--syntaxes", nargs="+", choices=("yaml", "ns"), default=["yaml", "ns"])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--markdown", action="store_true", help="end with the CPU figures as a Markdown table")
    args = parser.parse_args()
    # The front ends refuse more than 20,000 tokens (.ns) or 5,000 values (YAML) before parsing; the benchmark
    # raises the node budget (max_nodes=, as a user raises --max-nodes), which raises those caps with it, and
    # the file-size budget (max_bytes=), so a large spec is analysed rather than refused in microseconds.
    print(f"{'flavour':<12} {'syntax':<6} {'layers':>7} {'found':>7} {'CPU s':>9} {'CPU us/l':>9} {'wall us/l':>9} "
          f"{'vs first':>9}")
    results = measure(args.flavours, args.syntaxes, args.sizes, args.repeat, lambda line: print(line, flush=True))
    if args.markdown:
        print()
        print(markdown(results, args.flavours, args.syntaxes, args.sizes))


if __name__ == "__main__":
    main()
