"""Reading + validating YAML specs with today's standard-YAML reader, beside the reader it replaced.

    python benchmarks/yaml_reader.py              # best of 20
    python benchmarks/yaml_reader.py --repeat 50

The reader before is `netspec/frontends/yaml_source.py` as it stood at commit fd6d96f (it quoted calls in flow
collections by rewriting the text, then parsed the copy), taken with `git show` and loaded beside
today's; both are followed by the same `validate`, on the same text. The specs: GoogLeNet,
DenseNet-201 (its file and the family file it extends), and a generated 10,000-layer spec. The ratio
(after / before) is what to read; the goal is at most 1.1.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BEFORE = "fd6d96f"  # the last commit with the rewriting reader
sys.path.insert(0, str(REPO))

from netspec.frontends import yaml_source  # noqa: E402
from netspec.frontends.validate import validate  # noqa: E402


def old_reader():
    """The reader as it stood at BEFORE, imported as a module of the netspec package."""
    source = subprocess.run(["git", "show", f"{BEFORE}:netspec/frontends/yaml_source.py"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout
    folder = Path(tempfile.mkdtemp(prefix="netspec-bench-"))
    path = folder / "yaml_source_before.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("netspec.yaml_source_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module.read_yaml


def big_spec(layers: int) -> str:
    lines = ["name: big", "input: [8, 32, 32]", "layers:"]
    for i in range(layers // 2):
        lines += [f"  - conv{i}: conv2d(8, 3, padding=1)", "  - relu"]
    return "\n".join(lines) + "\n"


def best(read, texts: list[tuple[str, str]], repeat: int) -> float:
    """Best CPU time (process time, steadier than wall time on a busy machine), in seconds, of reading and
    validating every text once."""
    fastest = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for file, text in texts:
            validate(read(text, file))
        fastest = min(fastest, time.process_time() - start)
    return fastest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    arch = REPO / "architectures"
    cases = {
        "googlenet": [arch / "googlenet.yaml"],
        "densenet201": [arch / "torchvision" / "densenet201.yaml", arch / "torchvision" / "families" / "densenet.yaml"],
    }
    specs = {name: [(str(p), p.read_text(encoding="utf-8")) for p in paths] for name, paths in cases.items()}
    specs["10,000 layers"] = [("big.yaml", big_spec(10_000))]
    before, after = old_reader(), yaml_source.read_yaml
    print(f"| spec | before ({BEFORE}) | after | after / before |")
    print("|---|---:|---:|---:|")
    for name, texts in specs.items():
        for file, text in texts:  # the same tree from both, or the comparison means nothing
            assert before(text, file).tree == after(text, file).tree, file
        repeat = max(1, args.repeat // 10) if name.startswith("10,000") else args.repeat
        b, a = best(before, texts, repeat), best(after, texts, repeat)
        print(f"| {name} | {b * 1000:,.1f} ms | {a * 1000:,.1f} ms | {a / b:.2f} |")


if __name__ == "__main__":
    main()
