"""Summaries of a typed graph: rows and totals as data, and their table, Markdown, CSV, JSON and HTML renderings.

Memory figures follow torchinfo 1.8 (so the two can be read side by side): sizes in decimal
megabytes (1 MB = 10^6 bytes), for a batch of `batch_size` samples of `dtype`:

    Input size                  batch x input values x bytes per value
    Forward/backward pass size  2 x batch x the output values of every layer that has parameters
                                (the outputs, and their gradients), for the layers that run in eval mode
    Params size                 parameters x bytes per value
    Estimated total size        the sum of the three
"""

from __future__ import annotations

import fnmatch
import math
from typing import Iterable, Optional, Sequence

from ..ir import graph as g
from ..diagnostics import UsageError, did_you_mean
from ..layers import Shape
from ..records import FrozenRecord, Record

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8}
COLUMNS = ("input", "output", "kernel", "params", "trainable", "mult-adds", "percent")  # after Layer and Kind
DEFAULT_COLUMNS = ("output", "params", "mult-adds")
FORMATS = ("table", "markdown", "csv", "json")
HEADERS = {"input": "Input shape", "output": "Output shape", "kernel": "Kernel", "params": "Params",
           "trainable": "Trainable", "mult-adds": "Mult-adds", "percent": "Params %"}
NUMERIC = {"params", "mult-adds", "percent"}  # right-aligned


# Row and Summary are Records (netspec/records.py): the frozen dataclass and the dataclass they were, in equality,
# repr and hash, with no code compiled at import; `to_dict` gives what dataclasses.asdict gave.


class Row(FrozenRecord):
    """One module of the summary, in the order the table prints them."""

    _fields = ("path", "kind", "depth", "output_shape", "params", "mult_adds", "leaf", "input_shape", "kernel",
               "trainable")
    path: str
    kind: str  # a layer kind, the name of the spec block that made it, or seq / concat / add / residual / dense / ...
    depth: int  # 1 for top-level entries
    output_shape: Shape
    params: int
    mult_adds: int
    leaf: bool
    input_shape: Shape
    kernel: Optional[tuple[int, ...]]  # a convolution's or pooling layer's window
    trainable: int  # parameters not frozen (all of them unless `freeze` names this module)

    def __init__(self, path: str, kind: str, depth: int, output_shape: Shape, params: int, mult_adds: int, leaf: bool,
                 input_shape: Shape = (), kernel: Optional[tuple[int, ...]] = None, trainable: int = 0) -> None:
        _set_attribute(self, "__dict__", {"path": path, "kind": kind, "depth": depth, "output_shape": output_shape,
                                          "params": params, "mult_adds": mult_adds, "leaf": leaf,
                                          "input_shape": input_shape, "kernel": kernel, "trainable": trainable})

    def to_dict(self) -> dict:
        """The fields by name, in order: what dataclasses.asdict gave when Row was a dataclass."""
        return dict(vars(self))


class Summary(Record):
    """Rows and totals of a typed graph, and how to show them."""

    _fields = ("name", "input_shape", "output_shape", "total_params", "total_mult_adds", "activation_values", "rows",
               "extra_outputs", "trainable_params", "grad_values", "batch_size", "dtype", "columns", "depth")
    name: str
    input_shape: Shape
    output_shape: Shape
    total_params: int
    total_mult_adds: int  # for one sample
    activation_values: int  # values written by all leaf layers for one sample
    rows: list[Row]
    extra_outputs: list[tuple[str, Shape, bool]]  # (name, shape, training only)
    trainable_params: int
    grad_values: int  # output values, one sample, of the layers with parameters that run in eval mode
    # how to show it (netspec.summarize and the CLI set these; str(), print() and notebooks use them)
    batch_size: int
    dtype: str
    columns: tuple[str, ...]
    depth: Optional[int]

    def __init__(self, name: str, input_shape: Shape, output_shape: Shape, total_params: int, total_mult_adds: int,
                 activation_values: int, rows: Optional[list[Row]] = None,
                 extra_outputs: Optional[list[tuple[str, Shape, bool]]] = None, trainable_params: int = 0,
                 grad_values: int = 0, batch_size: int = 1, dtype: str = "float32",
                 columns: Sequence[str] | str = DEFAULT_COLUMNS, depth: Optional[int] = None) -> None:
        self.name = name
        self.input_shape = input_shape
        self.output_shape = output_shape
        self.total_params = total_params
        self.total_mult_adds = total_mult_adds
        self.activation_values = activation_values
        self.rows = [] if rows is None else rows
        self.extra_outputs = [] if extra_outputs is None else extra_outputs
        self.trainable_params = trainable_params
        self.grad_values = grad_values
        self.batch_size = batch_size
        self.dtype = dtype
        self.columns = check_columns(columns)
        self.depth = depth
        if self.dtype not in DTYPE_BYTES:
            raise UsageError(f"dtype must be one of {', '.join(DTYPE_BYTES)}, got '{self.dtype}'"
                             f"{did_you_mean(str(self.dtype), DTYPE_BYTES)}")
        if not isinstance(self.batch_size, int) or isinstance(self.batch_size, bool) or self.batch_size < 1:
            raise UsageError(f"the batch size must be a positive whole number, got {self.batch_size!r}")

    # ---- figures ------------------------------------------------------------------------------

    @property
    def bytes_per_value(self) -> int:
        return DTYPE_BYTES[self.dtype]

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    @property
    def param_bytes(self) -> int:
        return self.total_params * self.bytes_per_value

    @property
    def input_bytes(self) -> int:
        return self.batch_size * math.prod(self.input_shape) * self.bytes_per_value

    @property
    def forward_backward_bytes(self) -> int:
        return 2 * self.batch_size * self.grad_values * self.bytes_per_value

    @property
    def total_bytes(self) -> int:
        return self.input_bytes + self.forward_backward_bytes + self.param_bytes

    @property
    def batch_mult_adds(self) -> int:
        return self.batch_size * self.total_mult_adds

    # ---- renderings ---------------------------------------------------------------------------

    def __str__(self) -> str:
        return self.to_table()

    def __repr__(self) -> str:
        return self.to_table()

    def _repr_html_(self) -> str:
        return self.to_html()

    def visible_rows(self, depth: int | None = None) -> list[Row]:
        depth = self.depth if depth is None else depth
        return [r for r in self.rows if depth is None or r.depth <= depth]

    def to_dict(self, depth: int | None = None) -> dict:
        data = {k: getattr(self, k) for k in self._fields if k not in ("columns", "depth")}
        data["rows"] = [r.to_dict() for r in self.visible_rows(depth)]
        data["extra_outputs"] = list(self.extra_outputs)  # a copy, as asdict's (its items are tuples)
        data.update(non_trainable_params=self.non_trainable_params, param_bytes=self.param_bytes,
                    input_bytes=self.input_bytes, forward_backward_bytes=self.forward_backward_bytes,
                    total_bytes=self.total_bytes)
        return data

    def to_json(self, depth: int | None = None) -> str:
        import json  # here, as csv, io and html below: the table needs none of them

        return json.dumps(self.to_dict(depth), indent=2)

    def _column(self, rows: list[Row], column: str) -> list[str]:
        """One column's text for each of `rows`."""
        if column == "input" or column == "output":
            shapes = [r.input_shape for r in rows] if column == "input" else [r.output_shape for r in rows]
            texts: dict[tuple, str] = {}  # each distinct shape's text, made once: most shapes recur down a network
            return [texts.get(key) or texts.setdefault(key, _shape(key)) for key in map(tuple, shapes)]
        if column == "kernel":
            return ["x".join(map(str, r.kernel)) if r.kernel else "--" for r in rows]
        if column == "params":  # a count's text made once for each distinct count, as a shape's
            counts: dict[int, str] = {}
            return [counts.get(n) or counts.setdefault(n, f"{n:,}") for n in [r.params for r in rows]]
        if column == "trainable":
            return ["--" if not r.params else "yes" if r.trainable == r.params else ("no" if not r.trainable else
                                                                                     "partly") for r in rows]
        if column == "mult-adds":
            batch = self.batch_size
            return [f"{r.mult_adds * batch:,}" for r in rows]
        assert column == "percent", column
        total = self.total_params
        return [f"{100 * r.params / total:.2f}%" if total and r.params else "--" for r in rows]

    def _columns(self, depth: int | None, indent: bool) -> list[list[str]]:
        """The table's text column by column: Layer (indented by depth, or not), Kind, then the chosen columns."""
        rows = self.visible_rows(depth)
        names = [("  " * (r.depth - 1) + r.path) for r in rows] if indent else [r.path for r in rows]
        return [names, [r.kind for r in rows], *(self._column(rows, c) for c in self.columns)]

    def _cells(self, depth: int | None, indent: bool) -> list[list[str]]:
        """The same text row by row."""
        return [list(cells) for cells in zip(*self._columns(depth, indent))]

    def _header(self) -> list[str]:
        return ["Layer", "Kind", *(HEADERS[c] for c in self.columns)]

    def _totals(self) -> list[tuple[str, str]]:
        batch = f" (batch of {self.batch_size})" if self.batch_size != 1 else ""
        return [
            ("Input", _shape(self.input_shape)),
            ("Output", _shape(self.output_shape)),
            *[(f"Extra output {name}", _shape(shape) + (" (training only)" if train_only else ""))
              for name, shape, train_only in self.extra_outputs],
            ("Total params", f"{self.total_params:,}"),
            ("Trainable params", f"{self.trainable_params:,}"),
            ("Non-trainable params", f"{self.non_trainable_params:,}"),
            (f"Total mult-adds{batch}", f"{self.batch_mult_adds:,} ({_si(self.batch_mult_adds)})"),
            ("Memory", f"batch of {self.batch_size}, {self.dtype}; MB = 10^6 bytes"),
            ("Input size (MB)", _mb(self.input_bytes)),
            ("Forward/backward pass size (MB)", _mb(self.forward_backward_bytes)),
            ("Params size (MB)", _mb(self.param_bytes)),
            ("Estimated Total Size (MB)", _mb(self.total_bytes)),  # spelt as torchinfo prints it
        ]

    def to_table(self, depth: int | None = None) -> str:
        header = self._header()
        columns = self._columns(depth, indent=True)
        widths = [max(len(title), max(map(len, texts), default=0)) for title, texts in zip(header, columns)]
        right = {i + 2 for i, c in enumerate(self.columns) if c in NUMERIC}
        # a line: its cells padded to their column's width (numbers to the right), two spaces apart
        line = "  ".join(("%%%ds" if i in right else "%%-%ds") % w for i, w in enumerate(widths))
        rule = "-" * len((line % tuple("-" * w for w in widths)).rstrip())
        out = [f"{self.name}", rule, (line % tuple(header)).rstrip(), rule]
        out += [(line % cells).rstrip() for cells in zip(*columns)]
        out.append(rule)
        out += [f"{k}: {v}" for k, v in self._totals()]
        return "\n".join(out)

    def to_markdown(self, depth: int | None = None) -> str:
        align = ["---", "---", *("---:" if c in NUMERIC else "---" for c in self.columns)]
        out = [f"### {self.name}", "", "| " + " | ".join(self._header()) + " |", "|" + "|".join(align) + "|"]
        out += ["| " + " | ".join([f"`{c[0]}`", *c[1:]]) + " |" for c in self._cells(depth, indent=False)]
        out += ["", "| Total | |", "|---|---|"]
        out += [f"| {k} | {v} |" for k, v in self._totals()]
        return "\n".join(out)

    def to_csv(self, depth: int | None = None) -> str:
        """One line per row, plain numbers (no thousands separators), for a spreadsheet or pandas."""
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["path", "kind", "depth", *(c.replace("-", "_") for c in self.columns)])
        for r in self.visible_rows(depth):
            values = {"input": "x".join(map(str, r.input_shape)), "output": "x".join(map(str, r.output_shape)),
                      "kernel": "x".join(map(str, r.kernel)) if r.kernel else "", "params": r.params,
                      "trainable": r.trainable, "mult-adds": r.mult_adds * self.batch_size,
                      "percent": f"{100 * r.params / self.total_params:.4f}" if self.total_params else "0"}
            writer.writerow([r.path, r.kind, r.depth, *(values[c] for c in self.columns)])
        return buffer.getvalue().rstrip("\n")

    def to_html(self, depth: int | None = None) -> str:
        """An HTML table (what Jupyter shows for a Summary), then the totals."""
        import html

        numeric = [False, False, *(c in NUMERIC for c in self.columns)]

        def row(cells: Iterable[str], tag: str = "td") -> str:
            return "<tr>" + "".join(f'<{tag}{" class=num" if n and tag == "td" else ""}>{html.escape(c)}</{tag}>'
                                    for c, n in zip(cells, numeric)) + "</tr>"

        body = []
        for cells, r in zip(self._cells(depth, indent=False), self.visible_rows(depth)):
            cells[0] = "\u00a0\u00a0" * (r.depth - 1) + cells[0]
            body.append(row(cells))
        totals = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in self._totals())
        return (f'<div class="netspec-summary"><strong>{html.escape(self.name)}</strong>'
                f"<table><thead>{row(self._header(), 'th')}</thead><tbody>{''.join(body)}</tbody></table>"
                f"<table>{totals}</table></div>")

    def render(self, fmt: str = "table", depth: int | None = None) -> str:
        renderers = {"table": self.to_table, "markdown": self.to_markdown, "csv": self.to_csv, "json": self.to_json}
        if fmt not in renderers:
            raise UsageError(f"format must be one of {', '.join(FORMATS)}, got '{fmt}'{did_you_mean(fmt, FORMATS)}")
        return renderers[fmt](depth)


def check_columns(columns: Sequence[str] | str) -> tuple[str, ...]:
    """Column names (a sequence, or 'output,params'), checked: UsageError naming the choices otherwise."""
    names = [c.strip() for c in columns.split(",")] if isinstance(columns, str) else [str(c) for c in columns]
    for name in names:
        if name not in COLUMNS:
            raise UsageError(f"unknown column '{name}'{did_you_mean(name, COLUMNS)}; the columns are "
                             f"{', '.join(COLUMNS)}")
    if not names:
        raise UsageError(f"give at least one column: {', '.join(COLUMNS)}")
    return tuple(dict.fromkeys(names))


def frozen(path: str, patterns: Sequence[str]) -> bool:
    """Is the module at `path` frozen by one of `patterns` (a module path, or a glob such as `features.*`)?
    A pattern names a module and everything inside it."""
    return any(fnmatch.fnmatchcase(path, p) or path.startswith(p + ".") or fnmatch.fnmatchcase(path, p + ".*")
               for p in patterns)


def summarize_graph(graph: g.Graph, *, batch_size: int = 1, dtype: str = "float32",
                    columns: Sequence[str] | str = DEFAULT_COLUMNS, depth: int | None = None,
                    freeze: Sequence[str] = ()) -> Summary:
    """Rows for every node below the root, parents first, and the totals: one walk of the graph."""
    assert graph.typed, "summaries need a graph that infer has typed"
    patterns = tuple(freeze)
    rows: list[Row] = []
    add_row = rows.append
    written = kept = 0  # values the forward pass writes; those of them a backward pass keeps (layers with params)
    prod = math.prod
    Layer, Param, Residual = g.Layer, g.Param, g.Residual
    kinds: dict = {}  # layer kind -> (its name, has its Args a `kernel` field: a convolution's, a pool's)

    def visit(nodes: list[g.Node], frozen_above: bool, runs: bool) -> int:
        """Add the rows of `nodes` (but pure data flow) and of those below them; their trainable parameters.
        A frozen module's count as none; a training-only output does not run in eval mode."""
        nonlocal written, kept
        trainable_sum = 0
        for node in nodes:
            is_frozen = frozen_above or (patterns and node.path and frozen(node.path, patterns))
            if type(node) is Layer:  # most rows: no children; a kind, and perhaps a kernel
                params = node.params
                trainable = 0 if is_frozen else params
                trainable_sum += trainable
                if node.virtual:
                    continue
                out_shape, args = node.out_shape, node.args
                values = prod(out_shape)
                written += values
                if params and runs and not node.train_only:
                    kept += values
                kind = kinds.get(node.kind)
                if kind is None:
                    kind = kinds[node.kind] = (node.kind.name, "kernel" in node.kind.Args.model_fields)
                path = node.path
                row = _new_object(Row)  # frozen: its fields set at once, not one __setattr__ each
                _set_attribute(row, "__dict__", {
                    "path": path, "kind": "flat" if node.flat else ("output" if node.tap else kind[0]),
                    "depth": path.count(".") + 1, "output_shape": out_shape, "params": params,
                    "mult_adds": node.mult_adds, "leaf": True, "input_shape": node.in_shape,
                    "kernel": _kernel(args) if kind[1] else None, "trainable": trainable})
                add_row(row)
                continue
            node_runs = runs and not node.train_only
            children = node.children
            trainable = 0 if children or is_frozen else node.params  # a container's: counted below
            if node.virtual:
                trainable_sum += visit(children, is_frozen, node_runs) if children else trainable
                continue
            if not children and not isinstance(node, Param):  # a parameter is read, not written
                values = prod(node.out_shape)
                written += values
                if node.params and node_runs:
                    kept += values
            kind = "flat" if node.flat else ("output" if node.tap else node.op)
            if node.block is not None and children and not node.tap:
                kind = node.block  # the user's name for it: inception, basic
            elif isinstance(node, Residual) and not node.active:
                kind = "seq"  # `when_same` with differing shapes: no residual connection was made
            path = node.path
            row = _new_object(Row)
            fields = {"path": path, "kind": kind, "depth": path.count(".") + 1, "output_shape": node.out_shape,
                      "params": node.params, "mult_adds": node.mult_adds, "leaf": not children,
                      "input_shape": node.in_shape, "kernel": _kernel(node.args) if isinstance(node, Layer) else None,
                      "trainable": trainable}
            _set_attribute(row, "__dict__", fields)
            add_row(row)
            if children:  # known once the children are counted
                fields["trainable"] = trainable = visit(children, is_frozen, node_runs)
            trainable_sum += trainable
        return trainable_sum

    root = graph.root
    root_trainable = visit(root.children, False, not root.train_only) if root.children else root.params
    del visit  # it holds itself through its closure: a cycle, with every row in it, that only the collector frees
    return Summary(
        graph.name,
        graph.input_shape,
        root.out_shape,
        root.params,
        root.mult_adds,
        written,
        rows,
        [(n.name, n.out_shape, n.train_only) for n in root.items if n.tap],
        root_trainable,
        kept,
        batch_size,
        dtype,
        check_columns(columns),
        depth,
    )


def _kernel(args: object) -> Optional[tuple[int, ...]]:
    """A layer's window (a convolution's or a pool's), as a tuple; None for a layer without one."""
    if args is None:
        return None
    # a pydantic model keeps its fields in __dict__; getattr of a missing one goes through its slow __getattr__
    # and an exception, for every layer without a kernel
    kernel = vars(args).get("kernel")
    if isinstance(kernel, int):
        return (kernel, kernel)
    return tuple(kernel) if kernel else None


_new_object = object.__new__
_set_attribute = object.__setattr__


def _shape(shape: Shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _si(n: float) -> str:
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return str(n)


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f}"
