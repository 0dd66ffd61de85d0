"""Architecture diagrams of a typed graph: a scene of boxes, edges and groups, written as DOT, Mermaid or HTML.

    scene = build_scene(graph, depth=2)         # typed Graph -> Scene (no torch, no Graphviz)
    to_dot(scene) / to_mermaid(scene)           # text, always available
    render(to_dot(scene), "svg")                # SVG / PNG / PDF bytes through a Graphviz program

A box is a layer (its kind and key arguments: "conv 3×3, 64, /2") or a block collapsed at the
chosen depth; an edge carries the shape of the tensor on it where that shape changes. Branches
fan out from one box and meet at a concat or "+" box, so Graphviz lays them side by side; a
residual's shortcut (identity, or the 1×1 projection) and a dense layer's carried input are
edges of their own style; extra outputs end in marked boxes. Pure Python up to `render`.
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from ..ir import graph as g
from ..diagnostics import UsageError
from ..layers import Shape

FORMATS = ("dot", "mmd", "svg", "png", "pdf", "html")  # what `netspec draw -o FILE` writes, by extension
RENDERED = ("svg", "png", "pdf")  # the formats a Graphviz program makes from DOT
DIRECTIONS = ("TB", "LR")
INSTALL_HINT = "pip install graphviz-pure, or install Graphviz (apt-get install graphviz, brew install graphviz)"

# fill colours by what a box is (pastel, as textbook figures use); stroke and text stay dark grey
FILL = {
    "conv": "#d6e6f5",
    "pool": "#fbe3c8",
    "norm": "#e6ddf2",
    "act": "#f4f4f4",
    "linear": "#d7eed6",
    "other": "#eeeeee",
    "block": "#fff0b0",
    "merge": "#ffffff",
    "io": "#ffffff",
    "output": "#fadadd",
}


@dataclass
class Box:
    id: str
    lines: list[str]  # the first line is the caption; a second, smaller one gives detail
    role: str  # a FILL key
    path: str = ""  # the module path it stands for ("" for input, output and merge boxes)
    in_shape: Shape = ()
    out_shape: Shape = ()
    bold: bool = False  # a collapsed block: its name is the caption


@dataclass
class Edge:
    src: str
    dst: str
    style: str = "flow"  # flow | shortcut (a residual's) | dense (a dense layer's carried input) | ref (data flow)
    label: str = ""  # filled by `_label_edges`: the tensor's shape where it changes


@dataclass
class Group:
    id: str
    label: str
    items: list[Union[Box, "Group"]] = field(default_factory=list)
    role: str = "block"  # block | section


@dataclass
class Scene:
    name: str
    direction: str
    items: list[Union[Box, Group]]
    edges: list[Edge]
    boxes: dict[str, Box]  # by id
    by_path: dict[str, str]  # module path -> the id of the box that gives its output (for reference edges)


@dataclass
class _Port:
    """Where a tensor comes from: the box that makes it, and its shape; `style` for an edge that a reference
    draws (from an earlier box, not the one before)."""

    box: str
    shape: Shape
    style: str = ""


def shape_text(shape: Shape) -> str:
    """(64, 56, 56) -> '64×56×56', (1000,) -> '1000': how edges are labelled."""
    return "×".join(str(d) for d in shape)


def _role(node: g.Layer) -> str:
    name = node.kind.name
    if "conv" in name:
        return "conv"
    if "pool" in name:
        return "pool"
    if "norm" in name or name == "lrn":
        return "norm"
    if name == "linear":
        return "linear"
    if type(node.kind).__module__.endswith(".activation"):
        return "act"
    return "other"


def _call(node: g.Node) -> str:
    """`inception(64, 96, 128, 16, 32, 32)`: the block call that made a node."""
    args = ", ".join(_value(v) for v in node.block_args)
    return f"{node.block}({args})" if node.block_args else str(node.block)


def _value(v) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _title(node: g.Node) -> str:
    """A node's name as a group or box caption: indexed entries go by their path ('layer1.0')."""
    name = node.name or ""
    return node.path if name.isdigit() else name


class _Builder:
    def __init__(self, depth: Optional[int]):
        self.depth = depth
        self.boxes: dict[str, Box] = {}
        self.edges: list[Edge] = []
        self.by_path: dict[str, str] = {}
        self.inputs: dict[int, _Port] = {}  # node id -> the port that feeds it (for `$input`)
        self.first = ""  # the input box
        self.count = 0

    def new_id(self, prefix: str = "n") -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def box(self, into: list, lines: list[str], role: str, in_shape: Shape, out_shape: Shape, path: str = "",
            bold: bool = False) -> Box:
        box = Box(self.new_id(), lines, role, path, in_shape, out_shape, bold)
        self.boxes[box.id] = box
        into.append(box)
        if path:
            self.by_path[path] = box.id
        return box

    def edge(self, src: _Port, dst: str, style: str = "flow") -> None:
        self.edges.append(Edge(src.box, dst, src.style or style))

    def source(self, ref: g.Ref) -> _Port:
        """The port a reference reads: the box of the entry it names (or of the collapsed block holding it)."""
        node = ref.source
        assert node is not None
        if ref.block_input:
            port = self.inputs.get(id(node))
            return _Port(port.box, port.shape, "ref") if port is not None else _Port("", ref.out_shape, "ref")
        path = node.path
        while path and path not in self.by_path:
            path = path.rpartition(".")[0]
        return _Port(self.by_path.get(path, self.first), ref.out_shape, "ref")

    def expanded(self, level: int) -> bool:
        return self.depth is None or level < self.depth

    # ---- nodes -------------------------------------------------------------------------------

    def node(self, node: g.Node, src: _Port, into: list, level: int, style: str = "flow") -> _Port:
        """Draw `node` fed by `src`; the port of its output. `level` is the node's depth (1 = top level)."""
        self.inputs[id(node)] = src
        if isinstance(node, g.Ref):
            return self.source(node)
        if isinstance(node, g.Split):
            parts = "/".join(map(str, node.sizes)) if node.sizes else str(node.parts)
            box = self.box(into, [f"split {parts}"], "merge", node.in_shape, node.in_shape, node.path)
            self.edge(src, box.id, style)
            return _Port(box.id, node.out_shape)
        if isinstance(node, g.Resize):
            assert node.like is not None
            box = self.box(into, [f"resize ({node.mode})"], "merge", node.in_shape, node.out_shape, node.path)
            self.edge(src, box.id, style)
            self.edge(self.source(node.like), box.id)
            return _Port(box.id, node.out_shape)
        if isinstance(node, g.Layer):
            box = self.box(into, [node.kind.label(node.args)], _role(node), node.in_shape, node.out_shape, node.path)
            self.edge(src, box.id, style)
            return _Port(box.id, node.out_shape)
        if isinstance(node, g.Param):  # a tensor of its module: it reads nothing, so no edge comes in
            box = self.box(into, [f"parameter {shape_text(node.shape)}"], "other", (), node.out_shape, node.path)
            return _Port(box.id, node.out_shape)
        if not self.expanded(level):
            return self.collapsed(node, src, into, style)
        here = into
        if node.block is not None or (isinstance(node, g.Seq) and level == 1) or isinstance(node, (g.Residual, g.Dense)):
            group = Group(self.new_id("cluster_"), self.group_label(node), role="section" if level == 1 and
                          node.block is None and isinstance(node, g.Seq) else "block")
            into.append(group)
            here = group.items
        if isinstance(node, g.Seq):
            out = self.sequence(node.items, src, here, level + 1, style)
        elif isinstance(node, g.Merge):
            ends = [self.node(b, src, here, level + 1, style) for b in node.branches]
            join = self.box(here, [{"concat": "concat", "add": "+", "mul": "×"}[node.mode]], "merge", src.shape, node.out_shape)
            for end in ends:
                self.edge(end, join.id)
            out = _Port(join.id, node.out_shape)
        elif isinstance(node, g.Residual):
            out = self.residual(node, src, here, level + 1, style)
        elif isinstance(node, g.Dense):
            out = src
            for layer in node.layers:
                grown = self.node(layer, out, here, level + 1)
                join = self.box(here, ["concat"], "merge", out.shape, _concat(out.shape, layer.out_shape))
                self.edge(grown, join.id)
                self.edge(out, join.id, "dense")
                out = _Port(join.id, join.out_shape)
        else:
            raise AssertionError(f"unknown graph node {type(node).__name__}")
        if node.path:
            self.by_path[node.path] = out.box
        return out

    def sequence(self, items: list[g.Node], src: _Port, into: list, level: int, style: str = "flow") -> _Port:
        out = src
        for child in items:
            if child.tap:  # an extra output: a side branch ending in a marked box; the stream goes on
                end = self.node(child, out, into, level, style)
                mark = "extra output (training only)" if child.train_only else "extra output"
                sink = self.box(into, [str(child.name), mark], "output", child.out_shape, child.out_shape)
                self.edge(end, sink.id)
            else:
                out = self.node(child, out, into, level, style)
        return out

    def residual(self, node: g.Residual, src: _Port, into: list, level: int, style: str) -> _Port:
        body = self.sequence(node.body, src, into, level, style)
        if not node.active:  # `when_same` and the shapes differ: no shortcut, the block is its body
            joined = body
        else:
            add = self.box(into, ["+"], "merge", body.shape, body.shape)
            self.edge(body, add.id)
            if node.shortcut is None:
                self.edge(src, add.id, "shortcut")
            else:
                end = self.sequence(node.shortcut.items, src, into, level + 1, "shortcut")
                self.edge(end, add.id, "shortcut")
            joined = _Port(add.id, body.shape)
        if node.after is not None:
            joined = self.node(node.after, joined, into, level, style)
        return joined

    def collapsed(self, node: g.Node, src: _Port, into: list, style: str) -> _Port:
        title, detail = _title(node) or node.op, self.detail(node)
        lines = [title] if detail in ("", title) else [title, detail]
        box = self.box(into, lines, "block", node.in_shape, node.out_shape, node.path,
                       bold=True)
        self.edge(src, box.id, style)
        inside = {id(n) for n in _subtree(node)}
        drawn: set[str] = set()
        for ref in _references(node):  # what the block reads from outside it, by reference: an edge each
            if ref.source is not None and id(ref.source) not in inside and not (ref.block_input and ref.source is node):
                port = self.source(ref)
                if port.box and port.box not in drawn and port.box != src.box:
                    drawn.add(port.box)
                    self.edge(port, box.id)
        return _Port(box.id, node.out_shape)

    def detail(self, node: g.Node) -> str:
        """The second line of a collapsed box: the block call, or what the structure is."""
        if node.block is not None:
            return _call(node)
        children = node.children
        blocks = {c.block for c in children}
        if isinstance(node, g.Seq) and len(children) > 1 and len(blocks) == 1 and None not in blocks:
            return f"{len(children)} × {children[0].block}"  # a repeat of one block
        if isinstance(node, g.Merge):
            return f"{node.mode} of {len(node.branches)} branches"
        if isinstance(node, g.Residual):
            return "residual" if node.active else f"{len(node.body)} layers"
        if isinstance(node, g.Dense):
            return f"dense, {len(node.layers)} layers"
        leaves = sum(1 for leaf in _leaves(node) if leaf.module)
        if not leaves:
            return "data flow only"
        return f"{leaves} layer{'s' if leaves != 1 else ''}"

    def group_label(self, node: g.Node) -> str:
        title = _title(node)
        if node.block is not None:
            call = _call(node)
            return f"{title} · {call}" if title and title != call else call
        if isinstance(node, g.Dense):
            return f"{title} · dense" if title else "dense"
        if isinstance(node, g.Residual):
            return f"{title} · residual" if title else "residual"
        return title


def _subtree(node: g.Node):
    yield node
    for child in node.children:
        yield from _subtree(child)


def _references(node: g.Node):
    """Every reference inside `node`: reference entries and resize's `like`."""
    for inner in _subtree(node):
        if isinstance(inner, g.Ref):
            yield inner
        elif isinstance(inner, g.Resize) and inner.like is not None:
            yield inner.like


def _concat(a: Shape, b: Shape) -> Shape:
    return (a[0] + b[0], *a[1:])


def _leaves(node: g.Node):
    if not node.children:
        yield node
    for child in node.children:
        yield from _leaves(child)


def _label_edges(boxes: dict[str, Box], edges: list[Edge]) -> None:
    """Write the shape on the first edge leaving each box whose output shape differs from its input."""
    labelled: set[str] = set()
    for edge in edges:
        box = boxes[edge.src]
        if edge.src in labelled:
            continue
        labelled.add(edge.src)
        if box.role != "io" and box.in_shape != box.out_shape:  # the input box shows its shape itself
            edge.label = shape_text(box.out_shape)


def build_scene(graph: g.Graph, depth: Optional[int] = None, direction: str = "TB") -> Scene:
    """Typed Graph -> Scene: the boxes, edges and groups of the diagram, blocks collapsed below `depth`."""
    assert graph.typed, "diagrams need a graph that infer has typed"
    if direction not in DIRECTIONS:
        raise UsageError(f"--direction takes {' or '.join(DIRECTIONS)}, got '{direction}'")
    b = _Builder(depth)
    items: list = []
    start = b.box(items, ["input", shape_text(graph.input_shape)], "io", graph.input_shape, graph.input_shape)
    b.first = start.id
    b.inputs[id(graph.root)] = _Port(start.id, graph.input_shape)
    out = b.sequence(graph.root.items, _Port(start.id, graph.input_shape), items, 1)
    returned = [(name, ref) for name, ref in graph.output_refs.items() if ref.source is not None]
    if not returned or "main" in graph.outputs:
        end = b.box(items, ["output", shape_text(graph.root.out_shape)], "io", out.shape, out.shape)
        b.edge(out, end.id)
    for name, ref in returned:  # outputs read by reference (`outputs: {p2: $fpn.p2}`): one marked box each
        sink = b.box(items, [name, "output " + shape_text(ref.out_shape)], "output", ref.out_shape, ref.out_shape)
        b.edge(b.source(ref), sink.id)
    _label_edges(b.boxes, b.edges)
    return Scene(graph.name, direction, items, b.edges, b.boxes, b.by_path)


# ---- DOT ---------------------------------------------------------------------------------------

_FONT = "Helvetica"
_EDGE = {
    "flow": 'color="#404040"',
    "shortcut": 'color="#c0504d", penwidth=1.4',
    "dense": 'color="#4f81bd", style=dashed',
    "ref": 'color="#7f7f7f", style=dotted',
}


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_box(box: Box) -> str:
    attrs = [f"fillcolor={_dot_string(FILL[box.role])}"]
    if box.role == "io":
        head, *rest = box.lines
        label = f"<b>{html.escape(head)}</b>" + "".join(
            f'<br/><font point-size="9">{html.escape(line)}</font>' for line in rest)
        attrs += [f"label=<{label}>", "shape=box", 'style="rounded"', 'color="#808080"']
    elif box.role == "merge":
        attrs.append(f"label={_dot_string(box.lines[0])}")
        if box.lines[0] == "+":
            attrs += ["shape=circle", "width=0.3", "height=0.3", "fixedsize=true", "fontsize=14"]
        else:
            attrs += ["shape=box", 'style="filled"', "height=0.25"]
    else:
        head, *rest = box.lines
        first = f"<b>{html.escape(head)}</b>" if box.bold or box.role == "output" else html.escape(head)
        label = first + "".join(f'<br/><font point-size="8" color="#505050">{html.escape(line)}</font>'
                                for line in rest)
        attrs.append(f"label=<{label}>")
        if box.role == "act":
            attrs += ["height=0.22", "fontsize=9"]
        if box.role == "output":
            attrs += ["peripheries=2"]
        if box.role == "block":
            attrs += ["penwidth=1.2"]
    if box.path:
        attrs.append(f"tooltip={_dot_string(box.path)}")
    return f"{box.id} [{', '.join(attrs)}]"


def _dot_items(items: list, indent: str) -> list[str]:
    out: list[str] = []
    for item in items:
        if isinstance(item, Box):
            out.append(indent + _dot_box(item))
        else:
            style = '"rounded,dashed"' if item.role == "block" else '"rounded"'
            out.append(f"{indent}subgraph {item.id} {{")
            out.append(f'{indent}  label={_dot_string(item.label)}; style={style}; color="#9a9a9a"; '
                       f'fontcolor="#404040"; fontsize=10; labeljust=l; margin=8')
            out += _dot_items(item.items, indent + "  ")
            out.append(f"{indent}}}")
    return out


def to_dot(scene: Scene) -> str:
    """The scene as a Graphviz DOT digraph (text)."""
    out = [
        f"digraph {_dot_string(scene.name)} {{",
        f'  graph [rankdir={scene.direction}, charset="UTF-8", fontname="{_FONT}", fontsize=12, labelloc=t, '
        f'label={_dot_string(scene.name)}, nodesep=0.25, ranksep=0.28, newrank=true]',
        f'  node [shape=box, style="rounded,filled", fontname="{_FONT}", fontsize=10, height=0.3, '
        'color="#505050", penwidth=0.8, margin="0.12,0.04"]',
        f'  edge [fontname="{_FONT}", fontsize=8, fontcolor="#303030", arrowsize=0.6, penwidth=0.9]',
    ]
    out += _dot_items(scene.items, "  ")
    for edge in scene.edges:
        attrs = [_EDGE[edge.style]]
        if edge.label:
            attrs.append(f"label={_dot_string(' ' + edge.label)}")
        out.append(f"  {edge.src} -> {edge.dst} [{', '.join(attrs)}]")
    out.append("}")
    return "\n".join(out) + "\n"


# ---- Mermaid -----------------------------------------------------------------------------------

_MERMAID_ARROW = {"flow": "-->", "shortcut": "==>", "dense": "-.->", "ref": "-.->"}


def _mermaid_text(lines: list[str]) -> str:
    return "<br/>".join(line.replace('"', "#quot;") for line in lines)


def _mermaid_items(items: list, indent: str) -> list[str]:
    out: list[str] = []
    for item in items:
        if isinstance(item, Box):
            text = _mermaid_text(item.lines)
            if item.role == "merge" and item.lines[0] == "+":
                out.append(f'{indent}{item.id}(("{text}"))')
            elif item.role in ("io", "output"):
                out.append(f'{indent}{item.id}(["{text}"])')
            else:
                out.append(f'{indent}{item.id}["{text}"]')
        else:
            out.append(f'{indent}subgraph {item.id}["{_mermaid_text([item.label])}"]')
            out += _mermaid_items(item.items, indent + "  ")
            out.append(f"{indent}end")
    return out


def to_mermaid(scene: Scene) -> str:
    """The scene as a Mermaid flowchart, for Markdown that GitHub renders (```mermaid blocks)."""
    out = [f"---\ntitle: {scene.name}\n---", f"flowchart {'TB' if scene.direction == 'TB' else 'LR'}"]
    out += _mermaid_items(scene.items, "  ")
    for edge in scene.edges:
        arrow = _MERMAID_ARROW[edge.style]
        label = f'|"{edge.label}"|' if edge.label else ""
        out.append(f"  {edge.src} {arrow}{label} {edge.dst}")
    roles: dict[str, list[str]] = {}
    for box in scene.boxes.values():
        roles.setdefault(box.role, []).append(box.id)
    for role, ids in roles.items():
        out.append(f"  classDef {role} fill:{FILL[role]},stroke:#505050,color:#202020")
        out.append(f"  class {','.join(ids)} {role}")
    return "\n".join(out) + "\n"


# ---- rendering through Graphviz -------------------------------------------------------------------


def find_renderer(fmt: str) -> Optional[list[str]]:
    """The Graphviz program to run for `fmt`: graphviz-pure (pip; SVG and PNG) or Graphviz's dot (any format).

    NETSPEC_GRAPHVIZ names a program to use instead.
    """
    chosen = os.environ.get("NETSPEC_GRAPHVIZ")
    if chosen:
        return [chosen]
    here = Path(sys.executable).parent  # a virtual environment's scripts, also when it is not activated
    pure = shutil.which("graphviz-pure") or shutil.which("graphviz-pure", path=str(here))
    if pure and fmt in ("svg", "png"):
        return [pure]
    dot = shutil.which("dot")
    return [dot] if dot else None


def render(dot_text: str, fmt: str, program: Optional[str] = None) -> bytes:
    """DOT text -> SVG, PNG or PDF bytes, by `program` or the one `find_renderer` finds.

    Raises UsageError, in one line, when no Graphviz program is there.
    """
    assert fmt in RENDERED, fmt
    program = [program] if program else find_renderer(fmt)
    if program is None:
        needs = "Graphviz's dot (apt-get install graphviz, brew install graphviz)" if fmt == "pdf" else INSTALL_HINT
        raise UsageError(f"writing {fmt.upper()} needs a Graphviz program: {needs}; "
                         "netspec draw -o FILE.dot or FILE.mmd needs nothing")
    try:
        done = subprocess.run([*program, f"-T{fmt}"], input=dot_text.encode("utf-8"), capture_output=True,
                              timeout=120, check=False)
    except OSError as exc:
        raise UsageError(f"cannot run {program[0]}: {exc.strerror or exc}") from None
    except subprocess.TimeoutExpired:
        raise UsageError(f"{program[0]} took more than 120 s to lay out the diagram; try a smaller --depth") from None
    if done.returncode != 0 or not done.stdout:
        problem = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError(f"{Path(program[0]).name} could not draw the diagram: {problem[-1] if problem else 'no output'}")
    return done.stdout


def to_html(scene: Scene, svg: bytes, table_html: str = "") -> str:
    """A self-contained page: the diagram as inline SVG, then (if given) the summary table."""
    text = svg.decode("utf-8")
    start = text.find("<svg")
    body = text[start:] if start >= 0 else text
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(scene.name)}</title>\n"
        "<style>body{font-family:Helvetica,Arial,sans-serif;margin:2em;color:#202020}"
        "svg{max-width:100%;height:auto}table{border-collapse:collapse;font-size:13px}"
        "td,th{padding:2px 8px;border-bottom:1px solid #ddd}td.num{text-align:right}</style>\n"
        f"</head>\n<body>\n<h1>{html.escape(scene.name)}</h1>\n{body}\n{table_html}\n</body>\n</html>\n"
    )


def diagram(graph: g.Graph, fmt: str, depth: Optional[int] = None, direction: str = "TB") -> bytes:
    """A typed graph's diagram in `fmt` (one of FORMATS), as bytes ready to write."""
    if fmt not in FORMATS:
        raise UsageError(f"cannot draw to '.{fmt}'; use one of {', '.join('.' + f for f in FORMATS)}")
    scene = build_scene(graph, depth, direction)
    if fmt == "mmd":
        return to_mermaid(scene).encode("utf-8")
    dot = to_dot(scene)
    if fmt == "dot":
        return dot.encode("utf-8")
    if fmt == "html":
        from .summary import summarize_graph

        return to_html(scene, render(dot, "svg"), summarize_graph(graph)._repr_html_()).encode("utf-8")
    return render(dot, fmt)
