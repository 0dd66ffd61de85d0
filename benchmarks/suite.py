"""The benchmark suite: every measurement of docs/performance.md in one run, each beside its reference.

    python benchmarks/suite.py                    # everything (about 10 minutes on 2 busy cores)
    python benchmarks/suite.py --quick            # fewer rounds and sizes: a smoke run of a minute or two
    python benchmarks/suite.py --write            # and rewrite the figures section of docs/performance.md
    python benchmarks/suite.py --only startup scale

Sections (each prints a Markdown table; every ratio is taken in this run, against a reference timed in the
same rounds):
  startup    whole `netspec summary` / `netspec check` processes against `python -c pass` and
             `python -c "import yaml"`: wall time and the CPU time of the process (children's rusage)
  summarize  netspec.summarize from a file against torchinfo.summary on the torchvision model, with a real
             forward pass and on the meta device; totals compared
  load       netspec.load against the torchvision constructor, on the CPU and on the meta device
  forward    the compiled module against the torchvision model, forward and forward+backward, eval and
             train, outputs compared (the torchvision weights loaded into netspec's module)
  scale      parse + validate + resolve + infer per layer at 1,000 / 10,000 / 50,000 layers, both syntaxes, for
             plain layers, expression-heavy layers, repeats and specs full of errors (benchmarks/scale.py; the
             node budget raised with max_nodes=, as a user raises --max-nodes)
  large      plain layers at 1,000 and 100,000, both syntaxes: issue 14's linearity goal
  hostile    a 1 MiB file of 50,000 layers, with and without mistakes, under the default budgets (refused) and
             with the node budget raised (analysed)

Every figure is the median of interleaved rounds: each round times netspec and its reference back to back,
so a change of machine load reaches both alike. On a shared machine wall time mostly measures the other
jobs; the CPU time of the process (time.process_time, or the children's rusage for whole processes) is the
steadier figure of the work done, and the tables give both where they differ in meaning.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DOC = REPO / "docs" / "performance.md"
BEGIN, END = "<!-- suite:begin -->", "<!-- suite:end -->"
sys.path.insert(0, str(HERE))


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1e3


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# ---- startup ---------------------------------------------------------------------------------------------------


def netspec_command() -> list[str]:
    script = Path(sys.executable).with_name("netspec")
    return [str(script)] if script.exists() else [sys.executable, "-m", "netspec.cli"]


def run_process(argv: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one whole process; fails loudly if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr}")
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def bundled_specs() -> list[str]:
    return sorted(str(p.relative_to(REPO)) for p in (REPO / "architectures").rglob("*") if p.suffix in (".yaml", ".ns")
                  and "examples" not in p.parts)


def startup(rounds: int) -> str:
    env_note = "" if not os.environ.get("PYTHONDONTWRITEBYTECODE") else " (PYTHONDONTWRITEBYTECODE is set: modules compiled in every process)"
    ns = netspec_command()
    specs = bundled_specs()
    commands = {
        "`python -c pass`": [sys.executable, "-c", "pass"],
        '`python -c "import yaml"`': [sys.executable, "-c", "import yaml"],
        "`netspec summary architectures/googlenet.yaml`": [*ns, "summary", "architectures/googlenet.yaml"],
        f"`netspec check` of all {len(specs)} bundled specs, one process": [*ns, "check", "--max-params", "10000000000", *specs],
    }
    for argv in commands.values():  # warm the file cache and the byte-code caches
        run_process(argv)
    walls: dict[str, list[float]] = {k: [] for k in commands}
    cpus: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(rounds):
        for name, argv in commands.items():
            wall, cpu = run_process(argv)
            walls[name].append(wall)
            cpus[name].append(cpu)
    ref_wall = statistics.median(walls['`python -c "import yaml"`'])
    ref_cpu = statistics.median(cpus['`python -c "import yaml"`'])
    rows = [[name, f"{median_ms(walls[name]):.0f} ms", f"{median_ms(cpus[name]):.0f} ms",
             f"{statistics.median(walls[name]) / ref_wall:.2f}", f"{statistics.median(cpus[name]) / ref_cpu:.2f}"]
            for name in commands]
    return (f"Whole processes, median of {rounds} interleaved rounds{env_note}:\n\n"
            + table(["command", "wall", "CPU", "wall ÷ import yaml", "CPU ÷ import yaml"], rows))


# ---- summarize vs torchinfo ------------------------------------------------------------------------------------


def summarize(rounds: int, models: list[str]) -> str:
    import torch
    import torchinfo

    import netspec
    from netspec import library
    from summarize_vs_torchinfo import ARCH, torchvision_model

    torch.set_num_threads(1)
    rows = []
    for name in models:
        source = ARCH / "torchvision" / f"{name}.yaml"
        source = str(source) if source.exists() else f"netspec:{name}"
        if library.find(source) is None and not os.path.exists(source):
            rows.append([name, "not in the library yet", "", "", "", "", ""])
            continue
        real = torchvision_model(name, False)
        try:
            meta = torchvision_model(name, True)
        except NotImplementedError:  # RegNet's builder reads tensors: build on the CPU, then move to meta
            meta = torchvision_model(name, False).to("meta")
        ours = netspec.summarize(source)  # the first call fills the per-process parse cache
        x = torch.zeros((1, *ours.input_shape))
        t_ns, t_real, t_meta = [], [], []
        c_ns, c_real, c_meta = [], [], []
        for _ in range(rounds):
            start, cpu = time.perf_counter(), time.process_time()
            ours = netspec.summarize(source)
            t_ns.append(time.perf_counter() - start)
            c_ns.append(time.process_time() - cpu)
            with torch.no_grad():
                start, cpu = time.perf_counter(), time.process_time()
                stats = torchinfo.summary(real, input_data=x, verbose=0)
                t_real.append(time.perf_counter() - start)
                c_real.append(time.process_time() - cpu)
                start, cpu = time.perf_counter(), time.process_time()
                meta_stats = torchinfo.summary(meta, input_data=x.to("meta"), verbose=0)
                t_meta.append(time.perf_counter() - start)
                c_meta.append(time.process_time() - cpu)
        same = (ours.total_params == stats.total_params == meta_stats.total_params
                and ours.total_mult_adds == stats.total_mult_adds)
        a, b, c = median_ms(t_ns), median_ms(t_real), median_ms(t_meta)
        ca, cb, cc = median_ms(c_ns), median_ms(c_real), median_ms(c_meta)
        rows.append([name, f"{a:.1f} ms", f"{b:.0f} ms", f"{c:.0f} ms", f"{b / a:.0f} / {cb / ca:.0f}",
                     f"{c / a:.0f} / {cc / ca:.0f}", "identical" if same else "DIFFER"])
    return (f"`netspec.summarize(file)` against `torchinfo.summary` on the torchvision model, median of {rounds} "
            "interleaved rounds, 1 torch thread; times are wall time, ratios are wall / CPU time (the CPU time of "
            "this process, the steadier figure on a shared machine):\n\n"
            + table(["model", "netspec", "torchinfo, real", "torchinfo, meta", "real ÷ netspec", "meta ÷ netspec",
                     "totals"], rows))


# ---- load vs the torchvision constructor ----------------------------------------------------------------------


def load(rounds: int, models: list[str]) -> str:
    import torch
    import torchvision

    import netspec

    torch.set_num_threads(1)
    rows = []
    for name in models:
        spec = str(REPO / "architectures" / "torchvision" / f"{name}.yaml")
        ctor = getattr(torchvision.models, name)
        for device in ("cpu", "meta"):
            netspec.load(spec, device=device)
            ours, theirs, ours_cpu, theirs_cpu = [], [], [], []
            for _ in range(rounds):
                with torch.device(device):
                    start, cpu = time.perf_counter(), time.process_time()
                    ctor(weights=None)
                    theirs.append(time.perf_counter() - start)
                    theirs_cpu.append(time.process_time() - cpu)
                start, cpu = time.perf_counter(), time.process_time()
                netspec.load(spec, device=device)
                ours.append(time.perf_counter() - start)
                ours_cpu.append(time.process_time() - cpu)
            a, b = median_ms(ours), median_ms(theirs)
            rows.append([name, device, f"{a:.1f} ms", f"{b:.1f} ms", f"{a / b:.2f}",
                         f"{median_ms(ours_cpu) / median_ms(theirs_cpu):.2f}"])
    return (f"`netspec.load` against the torchvision constructor (weights initialised), median of {rounds} "
            "interleaved rounds, 1 torch thread:\n\n"
            + table(["model", "device", "netspec.load", "torchvision", "netspec ÷ torchvision", "same, CPU time"],
                    rows))


# ---- forward and backward --------------------------------------------------------------------------------------


def forward(rounds: int, models: list[str], batch: int) -> str:
    import torch
    import torchvision

    import netspec

    torch.set_num_threads(1)
    rows = []
    for name in models:
        spec = str(REPO / "architectures" / "torchvision" / f"{name}.yaml")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = getattr(torchvision.models, name)(weights=None)
        ours = netspec.load(spec, seed=0)
        ours.load_state_dict(theirs.state_dict())  # the same weights: the outputs must agree
        x = torch.randn(batch, *ours.input_shape, generator=torch.Generator().manual_seed(0))
        for mode in ("eval", "train"):
            for what in ("forward", "forward+backward"):
                for model in (ours, theirs):
                    model.train(mode == "train")
                times: dict[int, list[float]] = {0: [], 1: []}
                outs = []
                for _ in range(rounds):
                    for i, model in enumerate((ours, theirs)):
                        start = time.perf_counter()
                        if what == "forward":
                            with torch.no_grad():
                                out = model(x)
                        else:
                            out = model(x)
                            out = out[0] if isinstance(out, tuple) else out
                            out.sum().backward()
                            model.zero_grad(set_to_none=True)
                        times[i].append(time.perf_counter() - start)
                        if len(outs) < 2:
                            outs.append((out[0] if isinstance(out, tuple) else out).detach())
                same = "—"
                if mode == "eval":
                    same = "equal" if torch.allclose(outs[0], outs[1], rtol=1e-4, atol=1e-5) else "DIFFER"
                a, b = median_ms(times[0]), median_ms(times[1])
                rows.append([name, mode, what, f"{a:.0f} ms", f"{b:.0f} ms", f"{a / b:.2f}", same])
    return (f"The compiled module against the torchvision model with the same weights, batch {batch}, median of "
            f"{rounds} interleaved rounds, 1 torch thread (outputs compared in eval mode):\n\n"
            + table(["model", "mode", "pass", "netspec", "torchvision", "netspec ÷ torchvision", "outputs"], rows))


# ---- scaling ---------------------------------------------------------------------------------------------------


def scale(sizes: list[int], rounds: int) -> str:
    from scale import FLAVOURS, markdown, measure

    results = measure(FLAVOURS, ("yaml", "ns"), sizes, rounds, show=lambda line: print(line, flush=True))
    return (f"parse + validate + resolve + infer (`netspec.pipeline.analyse` on the text) of generated specs, CPU time "
            f"per layer, best of {rounds} round(s): `plain` is `conv2d(8, 3, padding=1)` and `relu` alternating, "
            f"`expressions` computes every argument (a spec function, params, `in_channels`, a comprehension), "
            f"`repeats` is a two-layer block repeated, `errors` has a mistake on every line (the first 100 are "
            f"reported). The last column is the per-layer time at {sizes[-1]:,} layers divided by that at "
            f"{sizes[0]:,} (a linear pass stays near 1):\n\n" + markdown(results, FLAVOURS, ("yaml", "ns"), sizes))


def large(rounds: int) -> str:
    """Issue 14's linearity goal: plain layers at 1,000 and 100,000, both syntaxes."""
    from scale import markdown, measure

    sizes = [1_000, 100_000]
    results = measure(("plain",), ("yaml", "ns"), sizes, rounds, show=lambda line: print(line, flush=True))
    return (f"The `plain` spec of the section above at 1,000 and 100,000 layers (the node budget raised with "
            f"max_nodes=), CPU time per layer, best of {rounds} round(s):\n\n"
            + markdown(results, ("plain",), ("yaml", "ns"), sizes))


# ---- hostile files ---------------------------------------------------------------------------------------------

HOSTILE_LAYERS = 50_000


def hostile_text(syntax: str, mistakes: bool) -> str:
    """A file just under 1 MiB (the default byte budget) of 50,000 layers, a mistake in every other one or none."""
    conv = "conv2d(7, 3, strde=1)" if mistakes else "conv2d(7, 3, padding=1)"
    if syntax == "yaml":
        head, line = "name: hostile\ninput: [7, 8, 8]\nlayers:\n", "  - {}\n"
    else:
        head, line = "network hostile\ninput 7x8x8\n", "{}\n"
    text = head + "".join(line.format(conv if k % 2 == 0 else "relu") for k in range(HOSTILE_LAYERS))
    comment = "# " + "x" * 60 + "\n"
    while len(text.encode()) + len(comment) < (1 << 20):
        text += comment
    return text


def hostile(rounds: int) -> str:
    from netspec.diagnostics import SpecError
    from netspec.pipeline import analyse, clear_caches

    rows = []
    for syntax in ("yaml", "ns"):
        for mistakes in (True, False):
            text = hostile_text(syntax, mistakes)
            for budget in (None, 8 * HOSTILE_LAYERS):
                cpus, walls, outcome = [], [], ""
                for _ in range(rounds if budget is None else 1):  # a raised budget: analysed, once
                    clear_caches()
                    start, cpu = time.perf_counter(), time.process_time()
                    try:
                        graph = analyse(text, format=syntax, max_nodes=budget)
                        outcome = f"analysed: {sum(1 for n in graph.walk() if not n.children):,} layers"
                    except SpecError as exc:
                        exc.render()
                        codes = [d.code for d in exc.diagnostics]
                        outcome = ("refused: " + codes[0]) if codes[0] == "too-large" else \
                            f"analysed: {len(codes)} errors reported"
                    cpus.append(time.process_time() - cpu)
                    walls.append(time.perf_counter() - start)
                rows.append([f"{'YAML' if syntax == 'yaml' else '`.ns`'}, {'a mistake in every conv' if mistakes else 'no mistakes'}",
                             "default" if budget is None else f"--max-nodes {budget:,}", outcome,
                             f"{median_ms(cpus):.0f} ms", f"{median_ms(walls):.0f} ms"])
    return (f"A file just under 1 MiB of {HOSTILE_LAYERS:,} layers (`conv2d` and `relu` alternating, padded with a "
            f"comment), analysed in this process with the default budgets (median of {rounds} rounds) and with the node "
            f"budget raised (once):\n\n"
            + table(["file", "budget", "outcome", "CPU", "wall"], rows))


# ---- the run ---------------------------------------------------------------------------------------------------

SECTIONS = ("startup", "summarize", "load", "forward", "scale", "large", "hostile")


def machine() -> str:
    import torch

    load1, load5, _ = os.getloadavg()
    return (f"Python {platform.python_version()}, torch {torch.__version__}, {os.cpu_count()} CPU cores, "
            f"load average {load1:.1f} (1 min) / {load5:.1f} (5 min) when the run started, "
            f"{time.strftime('%Y-%m-%d', time.gmtime())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and sizes")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--write", action="store_true", help=f"rewrite the figures in {DOC.relative_to(REPO)}")
    args = parser.parse_args()
    quick = args.quick
    header = machine()
    print(header, flush=True)
    parts = [f"Measured with `python benchmarks/suite.py{' --quick' if quick else ''}`: {header}."]
    titles = {"startup": "Start-up", "summarize": "Static summaries against torchinfo", "load": "Building",
              "forward": "Running", "scale": "How the static passes scale", "large": "100,000 layers",
              "hostile": "Hostile files"}
    for section in args.only:
        started = time.perf_counter()
        if section == "startup":
            body = startup(3 if quick else 9)
        elif section == "summarize":
            body = summarize(3 if quick else 11, ["resnet152", "densenet201", "googlenet"] if quick else
                             ["resnet152", "densenet201", "googlenet", "vgg16", "mobilenet_v2", "efficientnet_b0",
                              "regnet_y_400mf"])
        elif section == "load":
            body = load(3 if quick else 7, ["resnet50", "densenet121"])
        elif section == "forward":
            body = forward(2 if quick else 5, ["resnet18"] if quick else ["resnet18", "densenet121"], 2 if quick else 4)
        elif section == "large":
            body = large(1)
        elif section == "hostile":
            body = hostile(1 if quick else 3)
        else:
            body = scale([1_000, 10_000] if quick else [1_000, 10_000, 50_000], 1 if quick else 3)
        text = f"### {titles[section]}\n\n{body}\n\n({time.perf_counter() - started:.0f} s)"
        print("\n" + text, flush=True)
        parts.append(text)
    if args.write:
        doc = DOC.read_text(encoding="utf-8")
        if BEGIN not in doc or END not in doc:
            raise SystemExit(f"{DOC}: no {BEGIN} ... {END} section to rewrite")
        head, rest = doc.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        DOC.write_text(head + BEGIN + "\n" + "\n\n".join(parts) + "\n" + END + tail, encoding="utf-8")
        print(f"\nwrote {DOC.relative_to(REPO)}")


if __name__ == "__main__":
    main()
