"""The compile pass: a typed Graph becomes an nn.Module whose tree mirrors the spec, initialised as it declares."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from . import graph as g
from .initializers import apply_init
from .modules import Add, Concat, DenseBlock, Network, Residual


def _build(node: g.Node, kinds: dict[nn.Module, str]) -> nn.Module:
    if isinstance(node, g.Layer):
        module = node.kind.build(node.args, node.in_shape)
        kinds[module] = node.kind.name
        return module
    if isinstance(node, g.Seq):
        return nn.Sequential(_named(node.items, kinds))
    if isinstance(node, g.Merge):
        return (Concat if node.mode == "concat" else Add)(_named(node.branches, kinds))
    if isinstance(node, g.Dense):
        return DenseBlock(_named(node.layers, kinds))
    if isinstance(node, g.Residual):
        body = _named(node.body, kinds)
        after = (node.after.name, _build(node.after, kinds)) if node.after is not None else None
        if not node.active:  # `when_same` and the shapes differ: no residual connection at all
            if after is not None:
                body[after[0]] = after[1]
            return nn.Sequential(body)
        shortcut = _build(node.shortcut, kinds) if node.shortcut is not None else None
        return Residual(body, shortcut, node.shortcut_name, after)
    raise AssertionError(f"unknown graph node {type(node).__name__}")


def _named(nodes: list[g.Node], kinds: dict[nn.Module, str]) -> "OrderedDict[str, nn.Module]":
    return OrderedDict((node.name, _build(node, kinds)) for node in nodes)


def compile_graph(graph: g.Graph, device: Any = None, seed: int | None = None, dtype: Any = None) -> nn.Module:
    """Build the module on the CPU (so a seed gives the same weights on every device), then move it.

    On the meta device it is built there directly: no memory is allocated, for shape-only work.
    """
    assert graph.typed, "compile needs a graph that infer has typed"

    def build() -> nn.Module:
        kinds: dict[nn.Module, str] = {}
        module = Network(_named(graph.root.items, kinds), graph.name, graph.input_shape)
        apply_init(module, graph.init, kinds)
        return module

    if device is not None and torch.device(device).type == "meta":
        with torch.device("meta"):  # shapes only: allocate nothing, initialise nothing real
            return build()
    if seed is None:
        module = build()
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            module = build()
    if device is not None or dtype is not None:
        module = module.to(device=device, dtype=dtype)
    return module
