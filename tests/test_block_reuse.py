"""Work the static passes do once and share, counted, never timed. Resolve copies a block instance it has made
before when the block is called again with the same arguments (netspec/ir/resolve.py, instance_key): the copies
must be independent nodes with their own paths and shapes, errors inside a repeated block must still be reported
for every copy, and a block whose body depends on the tensor reaching it must still see each call's own tensor.
A layer's arguments are validated once per process, a layer is typed once per distinct input shape, and the
walks that link references and find extra outputs run only where there are some. Figures are worked out by hand
from the layers."""

from __future__ import annotations

import pytest

import netspec
from netspec.diagnostics import SpecError
from netspec.pipeline import analyse
import netspec.ir.resolve as resolve

REPEATED = """
name: repeated
input: [8, 16, 16]
blocks:
  unit:
    args: {channels: int}
    layers:
      - conv: conv2d(channels, 3, padding=1)
      - bn: batchnorm2d
      - relu
layers:
  - repeat: 3
    block: unit(8)
  - unit(16)
  - unit(8)
"""


def test_repeated_instances_are_separate_nodes_with_their_own_paths_and_shapes():
    graph = analyse(REPEATED)
    leaves = [n for n in graph.walk() if not n.children]
    assert len({id(n) for n in graph.walk()}) == sum(1 for _ in graph.walk())  # no node appears twice
    assert [n.path for n in leaves if n.op == "conv2d"] == ["0.0.conv", "0.1.conv", "0.2.conv", "1.conv", "2.conv"]
    # conv 8->8 (3x3, bias): 584, batchnorm 16; then 8->16: 1168 + 32; then 16->8: 1160 + 16
    assert [n.params for n in leaves if n.op in ("conv2d", "batchnorm2d")] == [584, 16] * 3 + [1168, 32, 1160, 16]
    assert [n.in_shape[0] for n in leaves if n.op == "conv2d"] == [8, 8, 8, 8, 16]
    assert graph.root.params == 3 * 600 + 1200 + 1176


def test_every_copy_of_a_wrong_block_is_still_reported():
    text = REPEATED.replace("conv2d(channels, 3, padding=1)", "conv2d(channels, 3, padding=1, strde=2)")
    with pytest.raises(SpecError) as caught:
        analyse(text)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "unknown-arg"
    assert diagnostic.path == "0.0.conv"
    assert "(and 4 more copies: 0.1.conv, 0.2.conv, 1.conv, ...)" in diagnostic.message


def test_a_block_that_uses_the_incoming_channels_sees_each_calls_own_tensor():
    text = """
name: widening
input: [4, 8, 8]
blocks:
  double:
    layers:
      - conv2d(in_channels * 2, 1)
layers:
  - double
  - double
  - double
"""
    graph = analyse(text)
    convs = [n for n in graph.walk() if n.op == "conv2d"]
    assert [(n.in_shape[0], n.out_shape[0]) for n in convs] == [(4, 8), (8, 16), (16, 32)]
    assert graph.root.params == (4 * 8 + 8) + (8 * 16 + 16) + (16 * 32 + 32)


def test_a_block_called_again_with_the_same_arguments_is_evaluated_once(monkeypatch):
    """Counted, not timed: ResNet-152 has 50 bottleneck units and ResNet-50 16, in the same four stages. A unit
    copied from an earlier one with the same arguments evaluates only the expressions of its call (two: the
    unit's own arguments), not the 14 of its body again."""
    counts = {}
    real = resolve.eval_text
    for name in ("resnet50", "resnet152"):
        calls = []
        monkeypatch.setattr(resolve, "eval_text", lambda text, env: calls.append(text) or real(text, env))
        summary = netspec.summarize(f"netspec:{name}")
        counts[name] = len(calls)
        assert summary.total_params == {"resnet50": 25_557_032, "resnet152": 60_192_808}[name]  # torchvision's
    assert counts["resnet152"] - counts["resnet50"] <= 2 * (50 - 16)


LITERAL = "name: literal\ninput: [8, 16, 16]\nlayers:\n  - conv2d(8, 3, stride={stride}, padding=1)\n  - relu\n"


def test_a_layer_validated_in_one_spec_is_not_validated_again_in_the_next(monkeypatch):
    """Counted: the kind's Args model validates `conv2d(8, 3, stride=1, padding=1)` once per process, and a
    value of another type that compares equal (true == 1 in Python) is validated afresh, and refused."""
    from netspec.layers.conv import Conv2dArgs

    netspec.pipeline.clear_caches()
    calls = []
    real = Conv2dArgs.model_validate.__func__
    monkeypatch.setattr(Conv2dArgs, "model_validate", classmethod(lambda cls, data: calls.append(data) or real(cls, data)))
    first = analyse(LITERAL.format(stride=1))
    second = analyse(LITERAL.format(stride=1).replace("literal", "another"))
    assert len(calls) == 1
    assert first.root.children[0].args is second.root.children[0].args
    with pytest.raises(SpecError) as err:
        analyse(LITERAL.format(stride="true"))
    assert "stride" in str(err.value) and "true is a boolean, not a number" in str(err.value)
    assert len(calls) == 2


def test_a_kind_defined_anew_validates_its_calls_with_its_own_arguments():
    """The memo is keyed by the Args class, not the kind's name: a plugin that replaces a kind (here one taking
    sizes up to 4, then one taking sizes up to 2) is asked again about the same call."""
    from pydantic import Field

    from netspec.layers import REGISTRY

    def define(limit: int):
        class WidthArgs(netspec.LayerArgs):
            size: int = Field(ge=1, le=limit)

        @netspec.register_layer(replace=True)
        class Widen(netspec.LayerKind):
            name = "memo_widen"
            Args = WidthArgs
            positional = ("size",)

    spec = "name: widen\ninput: [8]\nlayers:\n  - memo_widen(3)\n"
    try:
        define(4)
        assert analyse(spec).root.children[0].args.size == 3
        define(2)
        with pytest.raises(SpecError) as err:
            analyse(spec)
        assert "memo_widen argument 'size'" in str(err.value)
    finally:
        REGISTRY.pop("memo_widen", None)


def test_a_stack_of_the_same_layer_is_typed_once_and_every_node_gets_its_figures(monkeypatch):
    """Counted: 2,000 alternating conv2d(8, 3, padding=1) and relu on 8x16x16 call conv2d's shape rule once (the
    shape reaching each copy is the same), and each node still carries its own shape and counts: 8*8*9 + 8 = 584
    parameters and 584 * 16 * 16 mult-adds per convolution, torchinfo's figures for this layer."""
    from netspec.layers import REGISTRY

    conv = REGISTRY["conv2d"]
    calls = []
    real = type(conv).infer
    monkeypatch.setattr(type(conv), "infer", lambda self, args, shape: calls.append(shape) or real(self, args, shape))
    netspec.pipeline.clear_caches()  # an earlier test may have typed this layer already
    text = "name: stack\ninput: [8, 16, 16]\nlayers:\n" + "  - conv2d(8, 3, padding=1)\n  - relu\n" * 1000
    graph = analyse(text)
    convs = [n for n in graph.walk() if not n.children and n.op == "conv2d"]
    assert len(convs) == 1000 and calls == [(8, 16, 16)]
    assert all(n.out_shape == (8, 16, 16) and n.params == 584 and n.mult_adds == 584 * 256 for n in convs)
    assert graph.root.params == 584_000


def test_each_analysis_runs_the_shape_rules_of_its_own_layers(monkeypatch):
    """Counted: what a process keeps across calls is read input (texts, parses, validated arguments), never typing
    results; a spec analysed again calls its layers' shape rules again, once per distinct (kind, arguments, input
    shape) within the graph, with the same figures; a layer whose rule failed fails again with the same message."""
    from netspec.layers import REGISTRY

    calls = []
    for name in ("conv2d", "relu"):
        real = type(REGISTRY[name]).infer
        monkeypatch.setattr(type(REGISTRY[name]), "infer",
                            lambda self, args, shape, real=real: calls.append(self.name) or real(self, args, shape))
    text = ("name: again\ninput: [3, 16, 16]\nlayers:\n  - conv2d(8, 3, padding=1)\n  - relu\n  - conv2d(8, 3, padding=1)\n"
            "  - relu\n  - conv2d(4, 5)\n")
    first = analyse(text)
    # the second conv reads 8 channels, not 3; the second relu is the first one's again
    assert calls == ["conv2d", "relu", "conv2d", "conv2d"]
    second = analyse(text)
    assert calls[4:] == ["conv2d", "relu", "conv2d", "conv2d"]
    figures = [(n.in_shape, n.out_shape, n.params, n.mult_adds) for n in first.walk()]
    assert figures == [(n.in_shape, n.out_shape, n.params, n.mult_adds) for n in second.walk()]
    assert figures[-1] == ((8, 16, 16), (4, 12, 12), 804, 804 * 144)
    bad = "name: small\ninput: [3, 4, 4]\nlayers:\n  - conv2d(8, 7)\n"
    messages = []
    for _ in range(2):
        with pytest.raises(SpecError) as err:
            analyse(bad)
        messages.append(str(err.value))
    assert calls[8:] == ["conv2d", "conv2d"] and messages[0] == messages[1] and "too small" in messages[0]


def test_the_reference_walk_runs_only_for_a_spec_that_has_references(monkeypatch):
    """A spec without `$` references, resizes, outputs or parameters makes no walk of its graph for them; one with
    a reference still gets it linked (the concat reads the first conv's 4 channels beside its own 4), and a
    parameter standing where none may is still reported."""
    from netspec.ir import flow

    walks = []
    real_link, real_taps, real_check = flow.link_references, flow.taps, resolve._check_parameters
    monkeypatch.setattr(flow, "link_references", lambda *a, **k: walks.append("link") or real_link(*a, **k))
    monkeypatch.setattr(flow, "taps", lambda root: walks.append("taps") or real_taps(root))
    monkeypatch.setattr(resolve, "_check_parameters", lambda *a: walks.append("parameters") or real_check(*a))
    analyse("name: plain\ninput: [3, 8, 8]\nlayers:\n  - conv2d(4, 3, padding=1)\n  - relu\n")
    assert walks == []
    graph = analyse("name: linked\ninput: [3, 8, 8]\nlayers:\n  - first: conv2d(4, 3, padding=1)\n"
                    "  - concat: [\"conv2d(4, 1)\", $first]\n  - tap: {output: \"conv2d(2, 1)\"}\n")
    assert walks == ["link", "taps"]
    assert graph.root.out_shape == (8, 8, 8) and graph.outputs == ["main", "tap"]
    walks.clear()
    with pytest.raises(SpecError) as err:  # a parameter outside add or mul is still refused
        analyse("name: scaled\ninput: [4, 8, 8]\nlayers:\n  - scale: {parameter: [4, 1, 1]}\n")
    assert walks == ["parameters"] and "invalid-entry" in str(err.value)


def test_a_block_instance_is_copied_only_when_the_block_is_called_again(monkeypatch):
    """Counted: resolve keeps the nodes of a block instance as they stand in the graph and copies them only for a
    later call with the same arguments. In REPEATED the repeat's three unit(8) calls are one instance (two copies
    of its Seq and three layers: 8 nodes); unit(16) and the last unit(8), one level up, are instances of their own
    that no later call repeats, and are not copied at all (they were, 4 nodes each, once kept as a copy too).
    Block plans, which make an instance's nodes afresh instead, are off."""
    from netspec.ir import graph as g
    from netspec.ir import resolve

    monkeypatch.setattr(resolve._Planner, "plan", lambda self, *called: None)

    copied = []
    real = g.copy_tree

    def copy_tree(node, fields=None):  # the copies resolve makes, each a whole tree, its nodes counted
        new = real(node, fields)
        stack = [new]
        while stack:
            copied.append(stack[-1].op)
            stack.extend(stack.pop().children)
        return new

    monkeypatch.setattr(g, "copy_tree", copy_tree)
    graph = analyse(REPEATED)
    assert sorted(copied) == sorted(["seq", "conv2d", "batchnorm2d", "relu"] * 2)
    assert [n.path for n in graph.walk() if n.op == "relu"] == ["0.0.2", "0.1.2", "0.2.2", "1.2", "2.2"]


def test_an_instance_named_by_what_encloses_it_is_copied_as_the_block_made_it():
    """What encloses a kept instance may rename the nodes standing in the graph: an output takes the single layer
    of a spliced block as its own (`tap`), and a named call of a block names its node. The later calls with the
    same arguments, at the same depth, still get the block's own nodes, unnamed, numbered where they stand."""
    text = """
name: renamed
input: [8, 16, 16]
blocks:
  one:
    args: {channels: int}
    layers:
      - conv2d(channels, 1)
layers:
  - tap: {output: {splice: one(8)}}
  - [[one(8)]]
  - named: one(4)
  - one(4)
"""
    graph = analyse(text)
    assert [(n.path, n.op) for n in graph.walk() if not n.children] == [
        ("tap", "conv2d"), ("1.0.0.0", "conv2d"), ("named.0", "conv2d"), ("3.0", "conv2d")]
    assert graph.outputs == ["main", "tap"] and [n.tap for n in graph.walk()].count(True) == 1


def test_an_entry_that_waits_for_its_input_copies_an_instance_made_before_it():
    """An entry whose call uses in_channels is resolved again by infer, after the naming; an instance the main
    expansion kept (unit(8), inside pick) is copied there from a copy made before the naming changed it."""
    text = """
name: waiting
input: [8, 16, 16]
blocks:
  unit:
    args: {c: int}
    layers:
      - conv2d(c, 1)
      - relu
  pick:
    args: {c: int}
    layers:
      - unit(c)
layers:
  - pick(8)
  - pick(in_channels)
  - pick(8)
"""
    graph = analyse(text)
    assert [(n.path, n.op, n.in_shape[0]) for n in graph.walk() if not n.children] == [
        ("0.0.0", "conv2d", 8), ("0.0.1", "relu", 8), ("1.0.0", "conv2d", 8), ("1.0.1", "relu", 8),
        ("2.0.0", "conv2d", 8), ("2.0.1", "relu", 8)]
    assert len({id(n) for n in graph.walk()}) == sum(1 for _ in graph.walk())


def test_an_argument_that_is_a_bare_name_is_read_from_its_scope_without_evaluating_it(monkeypatch):
    """Counted: in REPEATED every argument is a number or a bare name (`channels`), so resolve evaluates no
    expression text at all; the unit's convolutions still get the channels of each call. A name that is not
    bound (`padding=same`, a word) and an expression are evaluated as before."""
    calls = []
    real = resolve.eval_text
    monkeypatch.setattr(resolve, "eval_text", lambda text, env: calls.append(text) or real(text, env))
    graph = analyse(REPEATED)
    assert calls == []
    assert [n.args.out for n in graph.walk() if n.op == "conv2d"] == [8, 8, 8, 16, 8]
    graph = analyse(REPEATED.replace("conv2d(channels, 3, padding=1)", "conv2d(channels * 2, 3, padding=same)"))
    assert sorted(set(calls)) == ["channels * 2", "same"]
    assert [n.args.padding for n in graph.walk() if n.op == "conv2d"] == ["same"] * 5
