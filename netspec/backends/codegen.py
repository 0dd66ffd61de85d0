"""Generated forward code for the parts of a network whose data flow is not a chain of children: references,
splits, resizes, extra outputs below the top level, and `flat` modules.

`plan` finds those parts: each reference's scope is the smallest node holding both the reference and what it
reads (for `$input`, the block it belongs to); the nodes between are traced through ("opened") by that scope,
the rest are called as modules. Each scope that no enclosing scope opens compiles to one modules.Generated,
whose forward is straight-line Python written here (`print(module.code)`): no per-call interpretation.
Modules keep the module paths of the spec, so state_dict keys are the names written there.
"""

from __future__ import annotations

import keyword
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Optional

from ..ir import graph as g


@dataclass
class Plan:
    scopes: set[int] = field(default_factory=set)  # ids of nodes whose forward is generated (unless opened)
    opened: set[int] = field(default_factory=set)  # ids of nodes an enclosing scope traces through
    held: set[int] = field(default_factory=set)  # ids of nodes whose output is read again: never overwritten

    def generated(self, node: g.Node) -> bool:
        return id(node) in self.scopes and id(node) not in self.opened


def plan(graph: g.Graph) -> Plan:
    """Which nodes get generated code, which are traced through, and which outputs are read twice."""
    out = Plan()
    parents: dict[int, g.Node] = {}
    stack: list[g.Node] = [graph.root]
    order: list[g.Node] = []
    while stack:
        node = stack.pop()
        order.append(node)
        for child in node.children:
            parents[id(child)] = node
        stack.extend(reversed(node.children))

    def ancestors(node: g.Node) -> list[g.Node]:  # parent first
        chain = []
        while id(node) in parents:
            node = parents[id(node)]
            chain.append(node)
        return chain

    def open_below(scope: g.Node, node: g.Node) -> None:
        """`scope` generates code, and traces through every node from it down to `node` (not `node` itself)."""
        out.scopes.add(id(scope))
        for above in ancestors(node):
            if above is scope:
                return
            out.opened.add(id(above))
        raise AssertionError("a scope must enclose the nodes it traces")

    def read(holder: g.Node, ref: g.Ref) -> None:
        source = ref.source
        assert source is not None, "flow links every reference before compile"
        if ref.block_input:
            open_below(source, holder)
            return
        out.held.add(id(source))
        holder_chain = [holder, *ancestors(holder)]
        source_chain = {id(n) for n in ancestors(source)}
        scope = next(n for n in holder_chain if id(n) in source_chain)
        open_below(scope, holder)
        open_below(scope, source)

    for node in order:
        if isinstance(node, g.Ref):
            read(node, node)
        elif isinstance(node, g.Resize) and node.like is not None:
            read(node, node.like)
        if not node.module:
            open_below(parents[id(node)], node)
        if node.tap and parents.get(id(node)) is not graph.root and id(node) in parents:
            open_below(graph.root, node)  # an extra output deep inside: the network returns it
        if node.flat and not node.virtual:
            out.scopes.add(id(node))
            for inner in _virtual_below(node):
                out.opened.add(id(inner))
    for ref in graph.output_refs.values():
        if ref.source is not None and not ref.block_input and ref.source is not graph.root:
            out.held.add(id(ref.source))
            if id(ref.source) in parents and parents[id(ref.source)] is not graph.root:
                open_below(graph.root, ref.source)
            out.scopes.add(id(graph.root))
    if graph.output_dict:
        out.scopes.add(id(graph.root))
    return out


def _virtual_below(node: g.Node):
    for child in node.children:
        if child.virtual:
            yield child
            yield from _virtual_below(child)


_NOT_WORD = re.compile(r"[^0-9A-Za-z_]")


class Writer:
    """Writes the forward of one scope: a line per module call or tensor operation, in the spec's order."""

    def __init__(self, scope: g.Node, the_plan: Plan, build: Callable[[g.Node, Optional[g.Node]], object]):
        self.scope = scope
        self.plan = the_plan
        self.build = build  # (node, the node whose output it receives, or None) -> nn.Module
        self.children: "OrderedDict[str, object]" = OrderedDict()  # the scope's direct children, in order
        self.tensors: "OrderedDict[str, object]" = OrderedDict()  # the scope's own parameters (`parameter:`)
        self.containers: dict[str, object] = {}  # relative path -> blank container module
        self.lines: list[str] = []
        self.values: dict[int, str] = {}  # node id -> the variable holding its output
        self.inputs: dict[int, str] = {id(scope): "x"}  # node id -> the variable holding its input
        self.parts: dict[int, list[str]] = {}  # split id -> its parts' variables
        self.taps: dict[str, tuple[str, bool]] = {}  # output name -> (variable, train only)
        self.used: set[str] = {"x", "self", "torch", "F"}

    # ---- names and modules ------------------------------------------------------------------

    def variable(self, node: g.Node, hint: str = "") -> str:
        base = hint or self.relative(node) or node.op
        base = _NOT_WORD.sub("_", base.replace(".", "_")).strip("_") or node.op
        if base[0].isdigit() or keyword.iskeyword(base):
            base = f"{node.op}_{base}"
        name, n = base, 1
        while name in self.used:
            n += 1
            name = f"{base}_{n}"
        self.used.add(name)
        return name

    def relative(self, node: g.Node) -> str:
        prefix = self.scope.path
        if prefix and node.path.startswith(prefix + "."):
            return node.path[len(prefix) + 1:]
        return node.path if not prefix else ""

    def place(self, node: g.Node, module: object) -> str:
        """Put `module` at the node's path below the scope (blank containers on the way); its access text."""
        from torch import nn

        parts = self.relative(node).split(".")
        holder: "OrderedDict[str, object] | object" = self.children
        access = "self"
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if isinstance(holder, OrderedDict):
                if last:
                    holder[part] = module
                elif part not in holder:
                    holder[part] = nn.Module()
                nxt = holder[part]
            else:
                if last:
                    holder.add_module(part, module)
                elif part not in holder._modules:
                    holder.add_module(part, nn.Module())
                nxt = holder._modules[part]
            access = f"{access}.{part}" if part.isidentifier() and not keyword.iskeyword(part) \
                else f"getattr({access}, {part!r})"
            holder = nxt
        return access

    def place_tensor(self, node: g.Param, tensor: object) -> str:
        """Register a `parameter:` tensor under the node's path below the scope; its access text."""
        *above, last = self.relative(node).split(".")
        access = "self"
        holder: object = None
        for part in above:  # the containers on the way are opened nodes: place a stand-in module to find them
            holder = holder._modules[part] if holder is not None else self.children[part]
            access = f"{access}.{part}" if part.isidentifier() and not keyword.iskeyword(part) \
                else f"getattr({access}, {part!r})"
        if holder is None:
            self.tensors[last] = tensor
        else:
            holder.register_parameter(last, tensor)
        return f"{access}.{last}" if last.isidentifier() and not keyword.iskeyword(last) \
            else f"getattr({access}, {last!r})"

    def emit(self, line: str) -> None:
        self.lines.append(line)

    # ---- tracing ----------------------------------------------------------------------------

    def read(self, ref: g.Ref) -> str:
        source = ref.source
        assert source is not None
        if ref.block_input:
            return self.inputs[id(source)]
        if ref.part is not None:
            return self.parts[id(source)][ref.part]
        return self.values[id(source)]

    def trace(self, node: g.Node, value: str, after: Optional[g.Node], force_open: bool = False) -> str:
        """Emit the code for `node` on the tensor in `value`; the variable holding its output."""
        self.inputs[id(node)] = value
        start = len(self.lines)
        if isinstance(node, g.Ref):
            out = self.read(node)
        elif isinstance(node, g.Split):
            names = [self.variable(node, f"{node.name}_{i}") for i in range(node.parts)]
            if node.sizes:
                call = f"torch.split({value}, {list(node.sizes)}, dim={node.dim})"
            else:
                call = f"torch.chunk({value}, {node.parts}, dim={node.dim})"
            self.emit(f"{', '.join(names)}{',' if len(names) == 1 else ''} = {call}")
            self.parts[id(node)] = names
            out = value  # the tensor itself flows on
        elif isinstance(node, g.Resize):
            assert node.like is not None
            like = self.read(node.like)
            rank = len(node.in_shape) - 1
            out = self.variable(node, node.name if node.name != "resize" else "resized")
            corners = "" if node.align_corners is None else f", align_corners={node.align_corners}"
            self.emit(f"{out} = F.interpolate({value}, size={like}.shape[-{rank}:], mode={node.mode!r}{corners})")
        elif isinstance(node, g.Param):
            out = self.place_tensor(node, self.build(node, None))
        elif force_open or id(node) in self.plan.opened or node.virtual:
            out = self.container(node, value)
        else:
            access = self.place(node, self.build(node, after))
            out = self.variable(node)
            self.emit(f"{out} = {access}({value})")
        if node.tap and node is not self.scope:
            self.taps[node.name] = (out, node.train_only)
            if node.train_only and len(self.lines) > start:  # run in training only: under `if self.training:`
                self.lines[start:] = ["if self.training:\n    " + "\n    ".join(self.lines[start:])]
        self.values[id(node)] = out
        return out

    def container(self, node: g.Node, value: str) -> str:
        if isinstance(node, g.Seq):
            before: Optional[g.Node] = None
            for item in node.items:
                out = self.trace(item, value, before)
                if item.tap:
                    before = None  # an output may return the stream's tensor itself: never overwritten after it
                else:
                    value, before = out, item
            return value
        if isinstance(node, g.Merge):
            outs = [self.trace(branch, value, None) for branch in node.branches]
            out = self.variable(node, node.name if node.name and not node.virtual else node.mode)
            if node.mode == "concat":
                self.emit(f"{out} = torch.cat([{', '.join(outs)}], dim={node.dim})")
            else:
                symbol = " * " if node.mode == "mul" else " + "
                self.emit(f"{out} = {symbol.join(outs)}")
            return out
        if isinstance(node, g.Dense):
            for layer in node.layers:
                grown = self.trace(layer, value, None)
                joined = self.variable(node, f"{node.name or 'dense'}_{layer.name}")
                self.emit(f"{joined} = torch.cat([{value}, {grown}], dim=1)")
                value = joined
            return value
        if isinstance(node, g.Residual):
            out, before = value, None
            for item in node.body:
                out = self.trace(item, out, before)
                before = item
            if node.active:
                identity = self.trace(node.shortcut, value, None) if node.shortcut is not None else value
                summed = self.variable(node, f"{node.name}_sum" if node.name else "residual")
                self.emit(f"{summed} = {out} + {identity}")
                out = summed
            if node.after is not None:
                out = self.trace(node.after, out, node)
            return out
        raise AssertionError(f"cannot trace {type(node).__name__}")

    def source(self, returned: str) -> str:
        body = "\n".join("    " + line.replace("\n", "\n    ") for line in self.lines)
        return f"def forward(self, x):\n{body}\n    return {returned}\n"


def scope_code(node: g.Node, the_plan: Plan, build) -> tuple["OrderedDict[str, object]", str, "OrderedDict"]:
    """The children, forward source and own parameters of the Generated module for `node`."""
    writer = Writer(node, the_plan, build)
    out = writer.trace(node, "x", None, force_open=True)
    return writer.children, writer.source(out), writer.tensors


def network_code(graph: g.Graph, the_plan: Plan, build) -> tuple["OrderedDict[str, object]", str, "OrderedDict"]:
    """The children, forward source and own parameters of a whole network whose data flow needs generated code."""
    writer = Writer(graph.root, the_plan, build)
    main = writer.trace(graph.root, "x", None, force_open=True)
    for tap in graph.root.items:  # top-level extra outputs are traced as part of the root sequence
        if tap.tap and tap.name not in writer.taps:
            writer.taps[tap.name] = (writer.values[id(tap)], tap.train_only)
    named: list[tuple[str, str, bool]] = []  # (output name, variable, train only)
    for name in graph.outputs:
        ref = graph.output_refs.get(name)
        if ref is not None and ref.target not in writer.taps and ref.target != "main":
            variable = writer.read(ref) if ref.source is not None else main
            named.append((name, variable, False))
        elif (ref.target if ref is not None else name) == "main":
            named.append((name, main, False))
        else:
            variable, train_only = writer.taps[ref.target if ref is not None else name]
            named.append((name, variable, train_only))
    lines = writer.lines

    def packed(items: list[tuple[str, str, bool]]) -> str:
        if graph.output_dict:
            return "{" + ", ".join(f"{n!r}: {v}" for n, v, _ in items) + "}"
        if len(items) == 1 and not graph.output_refs and items[0][0] == "main":
            return items[0][1]
        return "(" + ", ".join(v for _, v, _ in items) + ("," if len(items) == 1 else "") + ")"

    always = [item for item in named if not item[2]]
    if len(always) != len(named):  # training-only outputs: returned in training mode only
        lines.append(f"if self.training:\n    return {packed(named)}")
    return writer.children, writer.source(packed(always) if always else main), writer.tensors
