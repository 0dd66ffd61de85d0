"""The graph's node classes, Loc, Diagnostic, Collector, Budget, Locations, ParsedSpec and the expression values
are Records (netspec/records.py), not dataclasses: they must construct, compare, print, hash (or refuse to) and refuse
assignment exactly as the dataclasses they replaced, which are rebuilt here from each class's fields."""

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


def test_the_frozen_records_behave_as_frozen_dataclasses():
    import copy
    import pickle

    from netspec.budgets import Budget
    from netspec.diagnostics import Diagnostic

    loc = Loc("net.yaml", 3, 5)
    for mine, fields in ((loc, [("file", str), ("line", int), ("col", int)]),
                         (Diagnostic("bad-arg", "no such argument", "layers.0", loc),
                          [("code", str), ("message", str), ("path", str, ""), ("loc", object, None)]),
                         (Budget(100, None), [("max_nodes", object, None), ("max_bytes", object, None)])):
        cls = type(mine)
        reference = dataclasses.make_dataclass(cls.__name__, fields, frozen=True)
        theirs = reference(*[getattr(mine, f[0]) for f in fields])
        assert repr(mine) == repr(theirs) and hash(mine) == hash(theirs)
        assert cls.__match_args__ == reference.__match_args__
        same = cls(*[getattr(mine, f[0]) for f in fields])
        assert same == mine and same is not mine and hash(same) == hash(mine) and len({same, mine}) == 1
        for name, *_ in fields:
            with pytest.raises(dataclasses.FrozenInstanceError, match=f"cannot assign to field '{name}'"):
                setattr(mine, name, 1)
            with pytest.raises(dataclasses.FrozenInstanceError, match=f"cannot delete field '{name}'"):
                delattr(mine, name)
        assert pickle.loads(pickle.dumps(mine)) == mine == copy.deepcopy(mine) == copy.copy(mine)
    assert Loc("a", 1, 2) != Loc("a", 1, 3) and Loc("a", 1, 2) != ("a", 1, 2)
    assert not hasattr(loc, "__dict__")  # slots only, as before


def test_the_parse_results_print_and_compare_as_their_dataclasses_did():
    from netspec.diagnostics import Collector
    from netspec.ir.spec import Locations, ParsedSpec

    for cls, args, names in ((Collector, (), ("sources", "items")), (Locations, (), ("table", "sources"))):
        reference = dataclasses.make_dataclass(cls.__name__, [(n, object, dataclasses.field(default_factory=dict if
                                                                n != "items" else list)) for n in names])
        assert repr(cls(*args)) == repr(reference(*args)) and cls() == cls() and cls() is not cls()
        assert cls().__dict__ == reference().__dict__ and cls().__dict__[names[0]] is not cls().__dict__[names[0]]
    parsed = pipeline.parse("architectures/lenet5.yaml")
    reference = dataclasses.make_dataclass("ParsedSpec", [("spec", object), ("locations", object),
                                                          ("text", str, ""), ("file", str, "<string>"),
                                                          ("format", str, "yaml")])
    fields = [getattr(parsed, n) for n in ParsedSpec._fields]
    assert repr(ParsedSpec(*fields)) == repr(reference(*fields)) and ParsedSpec(*fields) == parsed
    assert repr(ParsedSpec(parsed.spec, parsed.locations)) == repr(reference(parsed.spec, parsed.locations))


def test_the_expression_values_behave_as_the_frozen_dataclasses_they_were():
    import copy
    import pickle

    from netspec.ir.expr import CallValue, Const, Function, Later, RefValue, Symbol

    for mine, fields in ((Later("in_channels"), [("name", str)]),
                         (RefValue("lateral", 4), [("target", str), ("column", int, 0)]),
                         (RefValue("lateral"), [("target", str), ("column", int, 0)]),
                         (CallValue("kaiming_normal", (1,), (("mode", "fan_out"),)),
                          [("name", str), ("args", tuple), ("kwargs", tuple)]),
                         (Const(3), [("value", object)])):
        cls = type(mine)
        reference = dataclasses.make_dataclass(cls.__name__, fields, frozen=True)
        values = [getattr(mine, f[0]) for f in fields]
        assert repr(mine) == repr(reference(*values)) and hash(mine) == hash(reference(*values))
        assert cls.__match_args__ == reference.__match_args__
        assert cls(*values) == mine and cls(*values) is not mine and len({cls(*values), mine}) == 1
        assert mine != reference(*values) and mine != tuple(values)
        with pytest.raises(dataclasses.FrozenInstanceError, match=f"cannot assign to field '{fields[0][0]}'"):
            setattr(mine, fields[0][0], 1)
        assert pickle.loads(pickle.dumps(mine)) == mine == copy.deepcopy(mine) == copy.copy(mine)
    # a Symbol equals its text, a Function only itself, and a Function's repr leaves its scope out
    hs = Symbol("HS", 3)
    assert repr(hs) == "Symbol(name='HS', column=3)" and hs == "HS" == Symbol("HS") and hash(hs) == hash("HS")
    assert Symbol("HS").column == 0 and copy.deepcopy(hs).column == 3
    body = Const(1)
    one = Function("one", (), (), body, {"x": 1})
    reference = dataclasses.make_dataclass("Function", [("name", str), ("params", tuple), ("defaults", tuple),
                                                        ("body", object),
                                                        ("scope", dict, dataclasses.field(default_factory=dict,
                                                                                          repr=False))],
                                           frozen=True, eq=False)
    assert repr(one) == repr(reference("one", (), (), body, {"x": 1}))
    assert one == one and one != Function("one", (), (), body, {"x": 1}) and len({one, one}) == 1
    assert Function("one", (), (), body).scope == {} and Function("one", (), (), body).scope is not one.scope
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.body = None


def test_a_summary_and_its_rows_give_what_their_dataclasses_gave():
    import copy
    import json
    import pickle

    import netspec
    from netspec.backends.summary import Row, Summary

    summary = netspec.summarize("architectures/googlenet.yaml", freeze=["inception3*"])
    row_fields = [(n, object) for n in Row._fields[:7]] + [("input_shape", object, ()), ("kernel", object, None),
                                                          ("trainable", int, 0)]
    reference_row = dataclasses.make_dataclass("Row", row_fields, frozen=True)
    theirs = [reference_row(**r.to_dict()) for r in summary.rows]
    for mine, their in zip(summary.rows, theirs):
        assert repr(mine) == repr(their) and hash(mine) == hash(their) and mine.to_dict() == dataclasses.asdict(their)
        assert Row(**mine.to_dict()) == mine and pickle.loads(pickle.dumps(mine)) == mine == copy.deepcopy(mine)
        with pytest.raises(dataclasses.FrozenInstanceError):
            mine.params = 0  # type: ignore[misc]
    assert Row.__match_args__ == reference_row.__match_args__ and Row("a", "relu", 1, (3,), 0, 0, True).kernel is None
    fields = [getattr(summary, n) for n in Summary._fields]
    reference = dataclasses.make_dataclass("Summary", [(n, object) for n in Summary._fields])
    their_summary = reference(*fields[:6], theirs, *fields[7:])
    expected = {k: v for k, v in dataclasses.asdict(their_summary).items() if k not in ("columns", "depth")}
    got = summary.to_dict()
    assert {k: got[k] for k in expected} == expected and got["extra_outputs"] is not summary.extra_outputs
    assert json.loads(summary.to_json()) == json.loads(json.dumps(got))
    same = Summary(*fields)
    assert same == summary and same is not summary and str(same) == str(summary) == repr(summary)
    assert Summary("n", (1,), (1,), 0, 0, 0).rows == [] and Summary("n", (1,), (1,), 0, 0, 0).rows is not same.rows
    with pytest.raises(TypeError, match="unhashable"):
        hash(summary)
    with pytest.raises(netspec.UsageError, match="dtype must be one of"):
        Summary("n", (1,), (1,), 0, 0, 0, dtype="int8")
