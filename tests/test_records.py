"""The graph's node classes are Records (netspec/records.py), not dataclasses: they must construct, compare, print
and refuse a hash exactly as the dataclasses they replaced, which are rebuilt here from each class's fields."""

from __future__ import annotations

import dataclasses

import pytest

from netspec import pipeline
from netspec.diagnostics import Loc
from netspec.ir import graph as g

NODES = [g.Node, g.Layer, g.Param, g.Ref, g.Split, g.Resize, g.Seq, g.Merge, g.Residual, g.Dense, g.Pending]
LISTS = {"part_shapes", "items", "branches", "body", "layers", "init_locs", "output_refs"}  # fresh for each object


def as_dataclass(cls: type) -> type:
    """The dataclass the class used to be: the same fields, in order, with the defaults a fresh object has."""
    sample = cls(*([None] * 6)) if cls is g.Graph else cls(None, "", None)
    fields = [(name, object, dataclasses.field(default_factory=type(getattr(sample, name))) if name in LISTS
               else dataclasses.field(default=getattr(sample, name))) for name in cls._fields]
    required = 6 if cls is g.Graph else 3
    fields[:required] = [(name, object) for name in cls._fields[:required]]
    return dataclasses.make_dataclass(cls.__name__, fields)


@pytest.mark.parametrize("cls", NODES + [g.Graph], ids=lambda c: c.__name__)
def test_a_fresh_node_prints_and_compares_as_its_dataclass_did(cls):
    reference = as_dataclass(cls)
    args = ["G", (3, 8, 8), g.Seq(None, "", None), {}, ["main"], {}] if cls is g.Graph else ["conv", "a.b", Loc("f", 1, 2)]
    mine, theirs = cls(*args), reference(*args)
    assert repr(mine) == repr(theirs)
    assert mine == cls(*args) and not (mine != cls(*args))
    assert cls.__match_args__ == reference.__match_args__
    with pytest.raises(TypeError, match="unhashable"):
        hash(mine)
    for name in set(cls._fields) & LISTS:  # a list default is the object's own, as default_factory gave it
        assert getattr(mine, name) == [] or getattr(mine, name) == {}
        assert getattr(mine, name) is not getattr(cls(*args), name)


def test_equality_is_field_by_field_and_only_within_a_class():
    a = g.Layer("a", "x", None, kind=None, args=1)
    assert a == g.Layer("a", "x", None, args=1) and a != g.Layer("a", "x", None, args=2)
    assert a != g.Layer("a", "x", None, args=1, block="b")  # a Node field given by keyword counts too
    assert g.Seq("s", "", None) != g.Dense("s", "", None) and g.Seq("s", "", None) != object()
    assert g.Layer("a", "x", None, tap=True).tap is True and g.Layer("a", "x", None).tap is False
    with pytest.raises(TypeError, match=r"Layer.__init__\(\) got an unexpected keyword argument 'colour'"):
        g.Layer("a", "x", None, colour=1)


def test_a_node_that_reaches_itself_prints_with_dots():
    seq = g.Seq("s", "", None)
    ref = g.Ref("r", "s.0", None, target="s", source=seq)
    seq.items.append(ref)
    assert repr(seq).startswith("Seq(name='s', path='', loc=None, ") and "source=..." in repr(seq)


def test_a_typed_graph_equals_a_second_analysis_and_its_copy():
    one = pipeline.analyse("architectures/googlenet.yaml")
    two = pipeline.analyse("architectures/googlenet.yaml")
    assert one.root is not two.root and one == two
    copy = g.copy_tree(one.root)
    assert copy == one.root and copy.items[0] is not one.root.items[0]
    copy.items[0].out_shape = (1,)
    assert copy != one.root
