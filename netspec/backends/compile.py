"""The compile pass: a typed Graph becomes an nn.Module whose tree mirrors the spec, initialised as it declares."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from . import codegen
from ..ir import graph as g
from ..initializers import apply_init
from ..usage import check_seed
from .modules import Add, Concat, DenseBlock, Generated, GeneratedNetwork, Mul, Network, Residual


# Activations that may overwrite their input, and the kinds whose output is a new tensor that nothing
# else holds (not a view, not the input itself, not saved for backward): after one of those, an
# activation runs in place, as a hand-written module would do it.
_INPLACE_CAPABLE = {"relu", "relu6", "leaky_relu", "silu"}
_FRESH_OUTPUT = {"conv2d", "linear", "batchnorm1d", "batchnorm2d", "layernorm", "lrn", "maxpool2d", "avgpool2d",
                 "adaptive_avgpool2d", "adaptive_maxpool2d"}


class _Context:
    """What building one network's modules needs: the layers built so far (for `init:`) and the code plan."""

    def __init__(self, graph: g.Graph):
        self.layers: dict[nn.Module, tuple[str, str]] = {}
        self.plan = codegen.plan(graph)


def _fresh(node: g.Node | None, ctx: _Context) -> bool:
    if node is None or node.tap or node.flat or id(node) in ctx.plan.held:
        return False  # nothing, or a tensor something else reads again (an output, a reference's source)
    if isinstance(node, g.Layer):
        return node.kind.name in _FRESH_OUTPUT
    if isinstance(node, g.Merge):  # torch.cat always makes a new tensor; an add of one branch is that branch
        return node.mode == "concat" or len(node.branches) > 1
    if isinstance(node, g.Dense):  # no layers: the input itself
        return bool(node.layers)
    # a residual's sum is new; an `after` layer's output may be saved for its backward (relu keeps its result)
    return isinstance(node, g.Residual) and node.active and (node.after is None or _fresh(node.after, ctx))


def _build(node: g.Node, ctx: _Context, after: g.Node | None = None) -> nn.Module:
    """The module for `node`; `after` is the sibling whose output it receives (None: it gets its parent's input)."""
    if isinstance(node, g.Param):
        return _parameter(node)
    if ctx.plan.generated(node):  # references, splits, resizes or a flat module inside: generated forward
        children, source, tensors = codegen.scope_code(node, ctx.plan, lambda n, a: _build(n, ctx, a))
        return Generated(children, source, tensors)
    if isinstance(node, g.Layer):
        args = node.args
        if "inplace" in type(args).model_fields:
            # In place only on a tensor nothing else reads (not the caller's input, a shortcut's, a branch's, a
            # reference's or an output's): the default for the kinds above, and what `inplace=true` asks for;
            # elsewhere the layer runs out of place, which gives the same values and gradients.
            asked = args.inplace if "inplace" in args.model_fields_set else node.kind.name in _INPLACE_CAPABLE
            safe = asked and _fresh(after, ctx)
            if safe != args.inplace:
                args = args.model_copy(update={"inplace": safe})
        module = node.kind.build(args, node.in_shape)
        ctx.layers[module] = (node.kind.name, node.path)
        return module
    if isinstance(node, g.Seq):
        return nn.Sequential(_named(node.items, ctx))
    if isinstance(node, g.Merge):  # every branch reads the block's input: none may overwrite it
        branches = _named(node.branches, ctx, chained=False)
        return Concat(branches, dim=node.dim) if node.mode == "concat" else {"add": Add, "mul": Mul}[node.mode](branches)
    if isinstance(node, g.Dense):
        return DenseBlock(_named(node.layers, ctx, chained=False))  # each layer's input is kept
    if isinstance(node, g.Residual):
        body = _named(node.body, ctx)
        after = (node.after.name, _build(node.after, ctx, after=node)) if node.after is not None else None
        if not node.active:  # `when_same` and the shapes differ: no residual connection at all
            if after is not None:
                body[after[0]] = after[1]
            return nn.Sequential(body)
        shortcut = _build(node.shortcut, ctx) if node.shortcut is not None else None
        return Residual(body, shortcut, node.shortcut_name, after)
    raise AssertionError(f"unknown graph node {type(node).__name__}")


def _parameter(node: g.Param) -> nn.Parameter:
    """A parameter's tensor, initialised as it declares (under the build's seed, in build order)."""
    from ..initializers import init_tensor

    tensor = nn.Parameter(torch.empty(node.shape))
    init_tensor(tensor, *node.init)
    return tensor


def _named(nodes: list[g.Node], ctx: _Context, chained: bool = True) -> "OrderedDict[str, nn.Module]":
    """Modules for siblings; in a sequence (`chained`) each knows the one whose output it receives: the last
    sibling before it that is not an extra output (an output reads the stream, which flows on unchanged)."""
    out: "OrderedDict[str, nn.Module]" = OrderedDict()
    before: g.Node | None = None
    for node in nodes:
        out[node.name] = _build(node, ctx, None if node.tap or not chained else before)
        # an output may return the stream's tensor itself (an empty or identity output): nothing after it
        # may overwrite that tensor
        before = None if node.tap else node
    return out


def compile_graph(graph: g.Graph, device: Any = None, seed: int | None = None, dtype: Any = None) -> nn.Module:
    """Build the module on the CPU (so a seed gives the same weights on every device), then move it.

    On the meta device it is built there directly: no memory is allocated, for shape-only work.
    """
    assert graph.typed, "compile needs a graph that infer has typed"

    meta = device is not None and torch.device(device).type == "meta"

    def build() -> nn.Module:
        ctx = _Context(graph)
        taps = {n.name: n.train_only for n in graph.root.items if n.tap}
        if ctx.plan.generated(graph.root):  # references that cross the top level, or outputs from inside
            children, source, tensors = codegen.network_code(graph, ctx.plan, lambda n, a: _build(n, ctx, a))
            module: nn.Module = GeneratedNetwork(children, source, graph.name, graph.input_shape, taps,
                                                 tuple(graph.outputs), tensors)
        else:
            module = Network(_named(graph.root.items, ctx), graph.name, graph.input_shape, taps, tuple(graph.outputs))
        if not meta:  # a meta tensor holds no values, so `init:` has nothing to fill (its arguments and targets
            apply_init(module, graph.init, ctx.layers)  # were checked statically): on meta it is skipped
        return module

    if meta:
        with torch.device("meta"):  # shapes only: allocate nothing, initialise nothing real
            return build()
    check_seed(seed)
    with torch.random.fork_rng(devices=[]):  # the CPU generator is restored after; no other is touched
        if seed is None:
            torch.default_generator.seed()  # fresh weights each build, from the operating system's entropy
        else:
            torch.default_generator.manual_seed(seed)
        module = build()
    if device is not None or dtype is not None:
        module = module.to(device=device, dtype=dtype)
    return module
