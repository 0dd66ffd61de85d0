"""Block plans (netspec/ir/resolve.py, _Planner): a block's body is analysed once per definitions and params into a
builder that makes each instance's nodes from its argument values. A plan must give exactly the graph the general path gives,
and leave every call that could go wrong to the general path, so diagnostics do not change. Counted, never timed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from netspec.diagnostics import SpecError
from netspec.ir import resolve
from netspec.pipeline import analyse, parse_linked, typed_graph

HERE = Path(__file__).parent
LIBRARY = sorted([*(HERE.parent / "architectures").rglob("*.yaml"), *(HERE.parent / "architectures").rglob("*.ns")])


def _general(monkeypatch) -> None:
    monkeypatch.setattr(resolve._Planner, "plan", lambda self, *called: None)


def _outcome(source, **kwargs) -> str:
    """The typed graph as text (closures' addresses left out), or the diagnostics."""
    try:
        return re.sub(r" at 0x[0-9a-f]+", "", repr(analyse(source, **kwargs)))
    except SpecError as exc:
        return "\n".join(f"{d.code} {d.path} {d.loc} {d.message}" for d in exc.diagnostics)


def _both(monkeypatch, source, counts: dict | None = None, **kwargs) -> tuple[str, str]:
    """The outcome with plans and without (`counts`, from _counting, then holds what the first one counted)."""
    planned = _outcome(source, **kwargs)
    if counts is not None:
        counts["frozen"] = True
    with monkeypatch.context() as m:
        _general(m)
        general = _outcome(source, **kwargs)
    return planned, general


def _counting(monkeypatch) -> dict[str, int]:
    """How often a plan builds an instance and how often the general path binds a layer."""
    counts = {"planned": 0, "layers": 0}
    planned, layer = resolve._Resolver.planned, resolve._Binder.layer

    def counted_planned(self, target, local):
        made = planned(self, target, local)
        if "frozen" not in counts:
            counts["planned"] += made is not None
        return made

    def counted_layer(self, *args):
        if "frozen" not in counts:
            counts["layers"] += 1
        return layer(self, *args)
    monkeypatch.setattr(resolve._Resolver, "planned", counted_planned)
    monkeypatch.setattr(resolve._Binder, "layer", counted_layer)
    return counts


@pytest.mark.parametrize("spec", LIBRARY, ids=lambda p: p.relative_to(HERE.parent / "architectures").as_posix())
def test_every_bundled_spec_resolves_to_the_graph_of_the_general_path(spec, monkeypatch):
    planned, general = _both(monkeypatch, str(spec), max_nodes=200_000)
    assert planned == general


def test_googlenet_builds_every_block_call_from_a_plan(monkeypatch):
    """Its 14 block calls at the top level (3 conv_bn, 9 inception_v1, 2 aux_v1 spliced) are built by plans, which
    make the nested conv_bn instances too; the general path binds only the 20 layers outside blocks (4 max pools,
    the average pool, flatten, dropout and the classifier, and 6 in each auxiliary head)."""
    counts = _counting(monkeypatch)
    made = []
    plan = resolve._Planner.plan

    def counted_plan(self, name, called=()):
        if (name,) not in self.plans:
            made.append(name)
        return plan(self, name, called)
    monkeypatch.setattr(resolve._Planner, "plan", counted_plan)
    analyse(str(HERE.parent / "architectures/torchvision/googlenet.yaml"))
    assert counts == {"planned": 14, "layers": 8}
    assert sorted(made) == ["aux_v1", "conv_bn", "inception_v1"]  # each block planned once


COVERED = """
name: covered
input: [8, 16, 16]
params:
  norm: batchnorm2d(eps=0.001)
  wide: 2
blocks:
  unit:
    args: {c: required, k: 3, act: true, p: 0.0}
    layers:
      - conv: conv2d(c * wide, k, padding=k // 2, padding_mode=zeros)
      - bn: norm
      - act:
          if: act
          then: relu
      - dropout(p)
  res:
    args: [c]
    residual:
      body:
        - unit(c, act=false)
        - unit(c, 1)
      shortcut:
        - conv2d(c * wide, 1)
      after: relu
  se:
    args: [c]
    flat:
      - mul:
          - $input
          - - pool: adaptive_avgpool2d(1)
            - fc: conv2d(c, 1)
            - gate: sigmoid
  stage:
    args: [c]
    layers:
      - res(c)
      - se(c * wide)
      - concat:
          - unit(c)
          - unit(c, 1, false)
layers:
  - stage(8)
  - stage(4)
  - stage(4)
"""


def test_plans_cover_conditions_words_residuals_flat_modules_references_and_held_layers(monkeypatch):
    counts = _counting(monkeypatch)
    planned, general = _both(monkeypatch, COVERED, counts)
    assert counts == {"planned": 3, "layers": 0, "frozen": True}  # the three stage calls: nothing bound the general way
    assert planned == general and "Residual(" in planned and "flat=True" in planned and "Ref(" in planned


def test_a_value_a_plan_cannot_build_is_left_to_the_general_path_which_reports_it(monkeypatch):
    """pair(4, -2) makes conv2d(-2, 3) inside unit: the plan stops before changing anything, and the general path
    says what is wrong where it is written; the later pair calls are resolved the general way too."""
    text = ("name: wrong\ninput: [3, 8, 8]\nblocks:\n  unit:\n    args: [c]\n    layers:\n      - conv2d(c, 3)\n"
            "  pair:\n    args: [a, b]\n    layers:\n      - unit(a)\n      - unit(b)\n"
            "layers:\n  - pair(8, 16)\n  - pair(4, -2)\n  - pair(2, 2)\n")
    counts = _counting(monkeypatch)
    planned, general = _both(monkeypatch, text, counts)
    assert counts["planned"] == 2  # pair(8, 16), and unit(4) inside pair(4, -2); then neither plan is tried again
    assert planned == general and planned.startswith("invalid-value 1.1.0 ")


def test_a_plan_that_would_pass_the_node_budget_leaves_the_report_to_the_general_path(monkeypatch):
    for budget in (5, 9, 12, 15):
        planned, general = _both(monkeypatch, COVERED, max_nodes=budget)
        assert planned == general and planned.startswith("too-large ")


def test_values_that_are_equal_but_not_the_same_argument_are_validated_apart(monkeypatch):
    """A plan keeps validated arguments by the values' types and, for floats, their text: -0.0 is not 0.0 (the
    general path's instance keys once took one for the other), and 1 is not 1.0 (nor true, which a number refuses:
    the general path reports it)."""
    text = ("name: keys\ninput: [4, 8, 8]\nblocks:\n  drop:\n    args: [p]\n    layers:\n      - dropout(p)\n"
            "layers:\n  - drop(0.0)\n  - drop(-0.0)\n  - drop(1)\n  - drop(1.0)\n")
    counts = _counting(monkeypatch)
    planned, general = _both(monkeypatch, text, counts)
    assert planned == general and counts["planned"] == 4
    # dropout's p is a float: 1 validates to 1.0 (validated apart from 1.0, the same result)
    assert [m.group(1) for m in re.finditer(r"DropoutArgs\(p=([^,)]*)", planned)] == ["0.0", "-0.0", "1.0", "1.0"]
    planned, general = _both(monkeypatch, text.replace("drop(1)", "drop(true)"))
    assert planned == general and planned.startswith("invalid-value 2.0 ")


REPEATS = """
name: repeats
input: [8, 16, 16]
blocks:
  unit:
    args: {c: required, stride: 1}
    layers:
      - conv2d(c, 3, stride=stride, padding=1)
      - relu
  stage:
    args: [c, n]
    repeat: n
    block: unit(c * (i + 1))
    first:
      stride: 2
    names: "unit{i + 1}"
  grow:
    args: [n]
    dense: n
    layer: unit(4)
layers:
  - stage(8, 3)
  - stage(4, 2)
  - grow(3)
"""


def test_plans_cover_repeats_with_names_and_a_first_copy_and_dense_entries(monkeypatch):
    counts = _counting(monkeypatch)
    planned, general = _both(monkeypatch, REPEATS, counts)
    assert counts == {"planned": 3, "layers": 0, "frozen": True}
    assert planned == general and "name='unit3'" in planned and "Dense(" in planned
    renamed = REPEATS.replace('names: "unit{i + 1}"', 'names: "unit"')  # every copy named alike
    clashing = REPEATS.replace("block: unit(c * (i + 1))", "block: unit(c * (i + 1), 1)")  # stride by position
    for text, code in ((renamed, "duplicate-name"), (clashing, "duplicate-arg")):
        planned, general = _both(monkeypatch, text)
        assert planned == general and planned.startswith(code)


def test_what_a_block_calls_of_its_arguments_is_found_once_per_definition(monkeypatch):
    """Counted: the walk that finds the arguments a block's body calls as layers runs once per block definition in
    the process, not once per resolve; a spec that defines a block of the same name anew gets its own answer."""
    walks = []
    real = resolve._called_in
    monkeypatch.setattr(resolve, "_called_in", lambda body, names: walks.append(sorted(names)) or real(body, names))
    monkeypatch.setattr(resolve, "_CALLED_ARGS", {})
    text = ("name: held\ninput: [4, 8, 8]\nblocks:\n  unit:\n    args: {act: relu}\n    layers:\n"
            "      - conv2d(4, 3, padding=1)\n      - act\nlayers:\n  - unit\n  - unit(act=gelu)\n")
    parsed = parse_linked(text)
    for _ in range(3):
        graph = typed_graph(parsed)
    assert walks == [["act"]] and [n.op for n in graph.walk()][-1] == "gelu"
    edited = parse_linked(text.replace("      - act\n", "      - relu\n"))  # `act` no longer called
    assert [n.op for n in typed_graph(edited).walk()][-1] == "relu" and walks == [["act"], ["act"]]


def test_plans_serve_later_resolves_of_the_same_definitions_and_params(monkeypatch):
    """Counted: a block's plan is made once for resolves that link the same block definitions from the same texts
    with the same params (each builds its nodes afresh); other params, or an edited text, get plans of their own."""
    made = []
    real = resolve._Planner.__init__
    monkeypatch.setattr(resolve._Planner, "__init__", lambda self, resolver: made.append(1) or real(self, resolver))
    monkeypatch.setattr(resolve, "_PLANNERS", {})
    text = ("name: held\ninput: [4, 8, 8]\nparams: {width: 4}\nblocks:\n  unit:\n    args: {act: relu}\n"
            "    layers:\n      - conv2d(width, 3, padding=1)\n      - act\nlayers:\n  - unit\n  - unit(act=gelu)\n")
    graphs = [typed_graph(parse_linked(text)) for _ in range(3)]
    assert len(made) == 1 and graphs[0].root is not graphs[2].root
    assert repr(graphs[0]) == repr(graphs[2])
    assert graphs[0].root.items[0] is not graphs[2].root.items[0]  # nodes are built afresh
    wider = typed_graph(parse_linked(text), params={"width": 8})
    assert len(made) == 2 and [n.args.out for n in wider.walk() if n.op == "conv2d"] == [8, 8]
    planned, general = _both(monkeypatch, text)
    assert planned == general and len(made) == 2
    edited = typed_graph(parse_linked(text.replace("      - act\n", "      - relu\n")))
    assert len(made) == 3 and [n.op for n in edited.walk()][-1] == "relu"


def test_clear_caches_forgets_the_kept_plans():
    from netspec.pipeline import clear_caches

    typed_graph(parse_linked("name: kept\ninput: [4, 8, 8]\nblocks:\n  unit:\n    layers:\n      - relu\n"
                             "layers:\n  - unit\n"))
    assert resolve._PLANNERS
    clear_caches()
    assert not resolve._PLANNERS
