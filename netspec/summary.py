"""Summaries of a typed graph: rows and totals as data, and their table, markdown and JSON renderings."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

from . import graph as g
from .layers import Shape

BYTES_PER_VALUE = 4  # float32


@dataclass(frozen=True)
class Row:
    path: str
    kind: str  # a layer kind, or seq / concat / add / residual / dense / flat / output
    depth: int  # 1 for top-level entries
    output_shape: Shape
    params: int
    mult_adds: int
    leaf: bool


@dataclass
class Summary:
    name: str
    input_shape: Shape
    output_shape: Shape
    total_params: int
    total_mult_adds: int
    activation_values: int  # values written by all leaf layers for one sample
    rows: list[Row] = field(default_factory=list)
    extra_outputs: list[tuple[str, Shape, bool]] = field(default_factory=list)  # (name, shape, training only)

    @property
    def param_bytes(self) -> int:
        return self.total_params * BYTES_PER_VALUE

    # ---- renderings ---------------------------------------------------------------------------

    def to_dict(self, depth: int | None = None) -> dict:
        data = asdict(self)
        data["rows"] = [asdict(r) for r in self.visible_rows(depth)]
        data["param_bytes"] = self.param_bytes
        return data

    def to_json(self, depth: int | None = None) -> str:
        return json.dumps(self.to_dict(depth), indent=2)

    def visible_rows(self, depth: int | None) -> list[Row]:
        return [r for r in self.rows if depth is None or r.depth <= depth]

    def _cells(self, depth: int | None, indent: bool) -> list[list[str]]:
        cells = []
        for r in self.visible_rows(depth):
            name = ("  " * (r.depth - 1) + r.path) if indent else r.path
            cells.append([name, r.kind, _shape(r.output_shape), f"{r.params:,}", f"{r.mult_adds:,}"])
        return cells

    def _totals(self) -> list[tuple[str, str]]:
        return [
            ("Input", _shape(self.input_shape)),
            ("Output", _shape(self.output_shape)),
            *[(f"Extra output {name}", _shape(shape) + (" (training only)" if train_only else ""))
              for name, shape, train_only in self.extra_outputs],
            ("Total params", f"{self.total_params:,}"),
            ("Total mult-adds", f"{self.total_mult_adds:,} ({_si(self.total_mult_adds)})"),
            ("Params size", _bytes(self.param_bytes)),
            ("Forward activations (1 sample)", _bytes(self.activation_values * BYTES_PER_VALUE)),
        ]

    def to_table(self, depth: int | None = None) -> str:
        header = ["Layer", "Kind", "Output shape", "Params", "Mult-adds"]
        cells = self._cells(depth, indent=True)
        widths = [max(len(header[i]), *(len(c[i]) for c in cells)) if cells else len(header[i]) for i in range(5)]
        right = {3, 4}

        def line(row: list[str]) -> str:
            parts = [(c.rjust(w) if i in right else c.ljust(w)) for i, (c, w) in enumerate(zip(row, widths))]
            return "  ".join(parts).rstrip()

        rule = "-" * len(line(["-" * w for w in widths]))
        out = [f"{self.name}", rule, line(header), rule]
        out += [line(c) for c in cells]
        out.append(rule)
        out += [f"{k}: {v}" for k, v in self._totals()]
        return "\n".join(out)

    def to_markdown(self, depth: int | None = None) -> str:
        out = [f"### {self.name}", "", "| Layer | Kind | Output shape | Params | Mult-adds |", "|---|---|---|---:|---:|"]
        out += ["| " + " | ".join([f"`{c[0]}`", *c[1:]]) + " |" for c in self._cells(depth, indent=False)]
        out += ["", "| Total | |", "|---|---|"]
        out += [f"| {k} | {v} |" for k, v in self._totals()]
        return "\n".join(out)

    def render(self, fmt: str = "table", depth: int | None = None) -> str:
        return {"table": self.to_table, "markdown": self.to_markdown, "json": self.to_json}[fmt](depth)


def summarize_graph(graph: g.Graph) -> Summary:
    """Rows for every node below the root, parents first, and the totals."""
    assert graph.typed, "summaries need a graph that infer has typed"
    rows: list[Row] = []
    activations = 0
    for node in graph.walk():
        if node is graph.root or node.virtual:
            continue
        leaf = not node.children
        if leaf:
            activations += math.prod(node.out_shape)
        kind = "flat" if node.flat else ("output" if node.tap else node.op)
        if isinstance(node, g.Residual) and not node.active:
            kind = "seq"  # `when_same` with differing shapes: no residual connection was made
        rows.append(Row(node.path, kind, node.path.count(".") + 1, node.out_shape, node.params, node.mult_adds, leaf))
    return Summary(
        graph.name,
        graph.input_shape,
        graph.root.out_shape,
        graph.root.params,
        graph.root.mult_adds,
        activations,
        rows,
        [(n.name, n.out_shape, n.train_only) for n in graph.root.items if n.tap],
    )


def _shape(shape: Shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _si(n: float) -> str:
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return str(n)


def _bytes(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"
