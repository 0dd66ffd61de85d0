"""The library catalogue: `netspec models` (the library by name, with figures) and a Markdown page listing every
model spec of a folder and the families they extend.

    python -m netspec.catalog architectures/torchvision > docs/library.md

Everything on the page comes from the spec files: each model's totals and output names from the
static summary (no torch is imported), its one-line description from the spec, and each family's notes from
the comment block that opens the family file. Edit the specs, then regenerate the page;
tests/test_catalog.py checks that the committed page is up to date.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import library, parse, summarize
from .backends.summary import summarize_graph
from .diagnostics import SpecError, UsageError, did_you_mean
from .pipeline import analyse

REPO = Path(__file__).resolve().parent.parent
FAMILIES = "families"


@dataclass
class _Model:
    name: str
    file: Path
    family: Path | None  # the spec it extends, resolved
    description: str
    own_params: dict[str, Any]  # the params this file sets, as written
    input_shape: tuple[int, ...]
    params: int
    mult_adds: int
    outputs: str  # what forward returns, by name


def _natural(text: str) -> list:
    """Sort key that puts resnet18 before resnet101."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _shown_path(folder: Path) -> str:
    """The folder as the regenerating command names it: relative to the repository when inside it."""
    try:
        return folder.resolve().relative_to(REPO).as_posix()
    except ValueError:
        return folder.name


def _value(value: Any) -> str:
    """A param value as a spec writes it: true, [1, 2], or the expression text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return str(value)


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _header_notes(path: Path) -> list[str]:
    """The comment block opening a spec file, as Markdown: paragraphs, and indented lines kept as a block."""
    lines: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[2:] if line.startswith("# ") else line[1:])
    out: list[str] = []
    in_block = False
    for line in lines:
        indented = line.startswith("  ")
        if indented and not in_block:
            out.append("```text")
            in_block = True
        elif not indented and in_block:
            out.append("```")
            in_block = False
        out.append(line.rstrip())
    if in_block:
        out.append("```")
    while out and not out[-1]:
        out.pop()
    return out


def _cell(text: str) -> str:
    """Text for a Markdown table cell: pipes escaped, lines joined."""
    return " ".join(text.split()).replace("|", "\\|")


def _blocks_table(spec: Any) -> list[str]:
    """The blocks a spec defines: name, arguments (with defaults) and the block's `doc`."""
    if not spec.blocks:
        return []
    out = ["", "| block | args | what it builds |", "|---|---|---|"]
    for name, block in spec.blocks.items():
        args = ", ".join(a.name if a.required else f"{a.name}={_value(a.default)}" for a in block.args)
        out.append(f"| `{name}` | {f'`{args}`' if args else ''} | {_cell(block.doc)} |")
    return out


def _outputs(graph: Any, summary: Any) -> str:
    """The names of what forward returns, in its order: `main` alone for a plain tensor, the extra outputs that
    run only in training marked so, and `dict:` before the keys when it returns a dict."""
    training = {name for name, _, train_only in summary.extra_outputs if train_only}
    names = ", ".join(f"`{n}`" + (" (training)" if n in training else "") for n in graph.outputs)
    return f"dict: {names}" if graph.output_dict else names


def _model(path: Path) -> _Model:
    own = parse(path, link=False)
    spec = parse(path)
    graph = analyse(path)
    summary = summarize_graph(graph)
    base = own.extends[0] if isinstance(own.extends, list) else own.extends  # the first, when it names several
    family = (path.parent / base).resolve() if base else None
    return _Model(spec.name, path, family, spec.description, dict(own.params), summary.input_shape,
                  summary.total_params, summary.total_mult_adds, _outputs(graph, summary))


def catalog_markdown(folder: str | Path) -> str:
    """The library page for the model specs directly in `folder` and the family specs they extend."""
    folder = Path(folder)
    models = sorted((_model(p) for p in folder.glob("*.yaml")), key=lambda m: _natural(m.name))
    families = sorted({m.family for m in models if m.family is not None}, key=lambda p: _natural(p.stem))
    shown = _shown_path(folder)

    out = [
        "# Model library",
        "",
        f"<!-- Generated by `python -m netspec.catalog {shown} > docs/library.md` from the specs: "
        "edit those, not this page. -->",
        "",
        f"Every model below is a spec file in `{shown}/`. Most are thin presets: a few params set on a",
        f"family spec in `{shown}/{FAMILIES}/`, which defines the family's blocks once. A spec that",
        "follows torchvision has its module names and tensor shapes, so a torchvision `state_dict`",
        "loads into the compiled module with `strict=True` and both give the same outputs.",
        "",
        "Totals are netspec's static counts for one sample at the listed input, equal to torchinfo's:",
        "parameters include the auxiliary classifiers; mult-adds are those of eval mode, where",
        "auxiliary classifiers do not run. Outputs are the names of what the module returns, in its",
        "order: `main` is the last layer's tensor; outputs marked (training) are returned in training",
        "mode only; `dict:` means a dict with those keys.",
        "",
        "## Models",
        "",
        "| model | family | params | mult-adds | input | outputs | description |",
        "|---|---|---:|---:|---|---|---|",
    ]
    for m in models:
        family = f"[{m.family.stem}](#{m.family.stem})" if m.family else "(standalone)"
        size = "x".join(map(str, m.input_shape))
        out.append(f"| `{m.name}` | {family} | {m.params:,} | {m.mult_adds:,} | {size} | {m.outputs} "
                   f"| {_cell(m.description)} |")

    out += ["", "## Families", ""]
    for family in families:
        spec = parse(family, link=False)
        rel = family.relative_to(folder.resolve()).as_posix()
        out += [f"### {family.stem}", "", f"`{rel}`: {spec.description}", ""]
        if spec.extends:  # a family that builds on others
            bases = spec.extends if isinstance(spec.extends, list) else [spec.extends]
            out += ["Builds on " + ", ".join(f"`{b}`" for b in bases) + ": their params and blocks are its own too.", ""]
        out += _header_notes(family)
        out += _blocks_table(spec)
        out += ["", "| param | default |", "|---|---|"]
        out += [f"| `{name}` | `{_value(value)}` |" for name, value in spec.params.items()]
        out += ["", "| preset | sets |", "|---|---|"]
        for m in models:
            if m.family == family:
                sets = ", ".join(f"{k}: {_value(v)}" for k, v in m.own_params.items())
                out.append(f"| `{m.name}` | `{sets}` |" if sets else f"| `{m.name}` | (the defaults) |")
        out.append("")

    standalone = [m for m in models if m.family is None]
    if standalone:
        out += ["### Standalone specs", "",
                "Models that are the only member of their family are written out in one file.", ""]
        for m in standalone:
            out += [f"#### {m.name}", "", f"`{m.file.name}`: {m.description}", ""]
            out += _header_notes(m.file)
            out += _blocks_table(parse(m.file, link=False))
            out.append("")

    example = next((m for m in models if m.name == "resnet50"), None)
    if example is not None:  # a worked example of a variant, checked by running it (tests/test_docs.py)
        path = f"{shown}/{example.file.name}"
        variant = summarize(example.file, num_classes=10, in_channels=1)
        out += [
            "## Variants",
            "",
            "Every param can be set from the command line or from Python, and each family has `num_classes`",
            "and `in_channels`. A one-channel, ten-class ResNet-50:",
            "",
            "```console",
            f"$ netspec build {path} --set num_classes=10 --set in_channels=1 --depth 1",
            "...",
            f"Input: {_shape(variant.input_shape)}",
            f"Output: {_shape(variant.output_shape)}",
            f"Total params: {variant.total_params:,}",
            "...",
            "```",
            "",
            "`netspec.backends.transfer.load_matching` loads a checkpoint of the original into such a variant: every",
            "tensor whose name and shape still match is copied, and the keys left out are returned:",
            "",
            "```python",
            ">>> import netspec, torchvision",
            ">>> from netspec.backends.transfer import load_matching",
            f'>>> model = netspec.load("{path}", num_classes=10, in_channels=1)',
            ">>> loaded, skipped = load_matching(model, torchvision.models.resnet50().state_dict())",
            ">>> skipped  # the stem conv (3 input channels) and the classifier (1000 classes)",
            "['conv1.weight', 'fc.bias', 'fc.weight']",
            "```",
            "",
        ]
    return "\n".join(out).rstrip("\n") + "\n"


# ---- `netspec models` ---------------------------------------------------------------------------


def rows(pattern: str | None = None) -> list[dict]:
    """One dict per matching model: name, its path-like name, static params and mult-adds, input, description."""
    names = library.list_models(pattern)
    if not names:
        raise UsageError(f"no library model matches '{pattern}'{did_you_mean(pattern or '', library.models())}; "
                         "`netspec models` lists them all")
    out = []
    for name in names:
        summary = summarize(library.models()[name])
        out.append({"name": name, "spec": library.full_name(name), "params": summary.total_params,
                    "mult_adds": summary.total_mult_adds, "input": list(summary.input_shape),
                    "description": parse(library.models()[name]).description})
    return out


def render(entries: list[dict], fmt: str = "table") -> str:
    """The model list as `netspec models` prints it: a table, Markdown, or JSON."""
    if fmt == "json":
        import json

        return json.dumps(entries, indent=2)
    cells = [[e["name"], f"{e['params']:,}", f"{e['mult_adds']:,}", "x".join(map(str, e["input"])), e["description"]]
             for e in entries]
    header = ["Model", "Params", "Mult-adds", "Input", "Description"]
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|---|---:|---:|---|---|"]
        return "\n".join(lines + ["| " + " | ".join([f"`{c[0]}`", *c[1:]]) + " |" for c in cells])
    widths = [max(len(header[i]), *(len(c[i]) for c in cells)) for i in range(5)]

    def line(row: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in (1, 2) else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    return "\n".join([line(header), *(line(c) for c in cells)])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        sys.stderr.write("usage: python -m netspec.catalog FOLDER > docs/library.md\n")
        return 2
    folder = Path(args[0])
    if not folder.is_dir():
        sys.stderr.write(f"netspec.catalog: error: {folder} is not a folder\n")
        return 2
    try:
        page = catalog_markdown(folder)
    except SpecError as exc:
        sys.stderr.write(exc.render() + "\n")
        return 1
    sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
