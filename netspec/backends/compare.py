"""Comparing two specs statically: which modules were added, removed or changed, in shape, params and mult-adds."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .summary import Row, Summary, _shape, _si


@dataclass(frozen=True)
class RowDiff:
    path: str
    change: str  # "added" (only in B), "removed" (only in A), "changed", or "same"
    a: Row | None
    b: Row | None

    @property
    def params_delta(self) -> int:
        return (self.b.params if self.b else 0) - (self.a.params if self.a else 0)

    @property
    def mult_adds_delta(self) -> int:
        return (self.b.mult_adds if self.b else 0) - (self.a.mult_adds if self.a else 0)


@dataclass
class SummaryDiff:
    a: Summary
    b: Summary
    rows: list[RowDiff] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(r.change != "same" for r in self.rows) or self.a.output_shape != self.b.output_shape

    def visible_rows(self, depth: int | None = None, everything: bool = False) -> list[RowDiff]:
        return [r for r in self.rows if (everything or r.change != "same")
                and (depth is None or (r.a or r.b).depth <= depth)]

    def to_dict(self, depth: int | None = None, everything: bool = False) -> dict:
        def row(r: RowDiff) -> dict:
            return {"path": r.path, "change": r.change, "a": r.a.to_dict() if r.a else None,
                    "b": r.b.to_dict() if r.b else None, "params_delta": r.params_delta,
                    "mult_adds_delta": r.mult_adds_delta}

        return {
            "a": self.a.name, "b": self.b.name,
            "totals": {key: {"a": getattr(self.a, key), "b": getattr(self.b, key)}
                       for key in ("input_shape", "output_shape", "total_params", "total_mult_adds")},
            "rows": [row(r) for r in self.visible_rows(depth, everything)],
        }

    def _cells(self, depth: int | None, everything: bool) -> list[list[str]]:
        mark = {"added": "+", "removed": "-", "changed": "~", "same": " "}
        cells = []
        for r in self.visible_rows(depth, everything):
            a_shape = _shape(r.a.output_shape) if r.a else ""
            b_shape = _shape(r.b.output_shape) if r.b else ""
            kind = r.b.kind if r.b else r.a.kind
            if r.a and r.b and r.a.kind != r.b.kind:
                kind = f"{r.a.kind} -> {r.b.kind}"
            cells.append([f"{mark[r.change]} {r.path}", kind, a_shape, b_shape, f"{r.params_delta:+,}",
                          f"{r.mult_adds_delta:+,}"])
        return cells

    def _totals(self) -> list[tuple[str, str]]:
        def pair(a: int, b: int) -> str:
            change = f"{(b - a) / a:+.1%}" if a else "new"
            return f"{a:,} -> {b:,} ({b - a:+,}, {change})"

        return [
            ("Input", f"{_shape(self.a.input_shape)} -> {_shape(self.b.input_shape)}"),
            ("Output", f"{_shape(self.a.output_shape)} -> {_shape(self.b.output_shape)}"),
            ("Params", pair(self.a.total_params, self.b.total_params)),
            ("Mult-adds", pair(self.a.total_mult_adds, self.b.total_mult_adds)
             + f"  [{_si(self.a.total_mult_adds)} -> {_si(self.b.total_mult_adds)}]"),
        ]

    def to_table(self, depth: int | None = None, everything: bool = False) -> str:
        header = ["Layer", "Kind", "Output shape A", "Output shape B", "Params +/-", "Mult-adds +/-"]
        cells = self._cells(depth, everything)
        widths = [max([len(header[i])] + [len(c[i]) for c in cells]) for i in range(len(header))]

        def line(row: list[str]) -> str:
            return "  ".join(c.rjust(w) if i >= 4 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

        rule = "-" * len(line(["-" * w for w in widths]))
        out = [f"{self.a.name} -> {self.b.name}", rule, line(header), rule]
        out += [line(c) for c in cells] or ["(no module differs)"]
        out.append(rule)
        out += [f"{k}: {v}" for k, v in self._totals()]
        return "\n".join(out)

    def to_markdown(self, depth: int | None = None, everything: bool = False) -> str:
        out = [f"### {self.a.name} -> {self.b.name}", "",
               "| Layer | Kind | Output shape A | Output shape B | Params +/- | Mult-adds +/- |",
               "|---|---|---|---|---:|---:|"]
        out += ["| " + " | ".join([f"`{c[0]}`", *c[1:]]) + " |" for c in self._cells(depth, everything)]
        out += ["", "| Total | A -> B |", "|---|---|"] + [f"| {k} | {v} |" for k, v in self._totals()]
        return "\n".join(out)

    def render(self, fmt: str = "table", depth: int | None = None, everything: bool = False) -> str:
        if fmt == "json":
            return json.dumps(self.to_dict(depth, everything), indent=2)
        return (self.to_markdown if fmt == "markdown" else self.to_table)(depth, everything)


def diff_summaries(a: Summary, b: Summary) -> SummaryDiff:
    """Rows matched by module path, in A's order with B's new rows after the row they follow."""
    rows_a = {r.path: r for r in a.rows}
    rows_b = {r.path: r for r in b.rows}
    order: list[str] = [r.path for r in a.rows]
    for index, row in enumerate(b.rows):
        if row.path not in rows_a:
            before = b.rows[index - 1].path if index else None
            order.insert(order.index(before) + 1 if before in order else len(order), row.path)
    out = []
    for path in order:
        ra, rb = rows_a.get(path), rows_b.get(path)
        if ra is None:
            change = "added"
        elif rb is None:
            change = "removed"
        elif (ra.kind, ra.output_shape, ra.params, ra.mult_adds) != (rb.kind, rb.output_shape, rb.params, rb.mult_adds):
            change = "changed"
        else:
            change = "same"
        out.append(RowDiff(path, change, ra, rb))
    return SummaryDiff(a, b, out)
