"""What a command imports: the quick path of `netspec summary` and `netspec check` loads only what they use.

Start-up time is the price of what is imported, so these tests count modules, never time: a whole `summary` process
of a spec must not bring in typer, torch, a back end it does not print with, the standard modules of the output
formats it was not asked for, or the built-in layer modules whose kinds the spec never names, and must not make the
argument models of the kinds it does not use. And the table of built-in kinds in netspec/layers/__init__.py (which
lets a kind's module wait until it is first looked up) must say exactly what each module registers, in order."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _run(code: str) -> object:
    """Run `code` in a fresh interpreter from the repository; the last line it prints, a Python literal."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr
    return ast.literal_eval(proc.stdout.splitlines()[-1])


def _imported_by(argv: list[str]) -> list[str]:
    """The modules a whole `netspec ARGV...` process holds at its end (its output goes to a buffer)."""
    code = ("import contextlib, io, sys, netspec.cli\n"
            f"sys.argv = ['netspec', *{argv!r}]\n"
            "out = io.StringIO()\n"
            "try:\n    with contextlib.redirect_stdout(out):\n        netspec.cli.main()\n"
            "except SystemExit as exc:\n    assert exc.code == 0, (exc.code, out.getvalue())\n"
            "print(sorted(sys.modules))")
    return _run(code)


NEVER = ("typer", "click", "rich", "torch", "numpy", "netspec.cli_app", "netspec.backends.compile",
         "netspec.backends.diagram", "netspec.backends.schema", "netspec.frontends.printer", "netspec.frontends.dsl",
         "netspec.checkpoint", "netspec.docgen", "netspec.reference", "difflib")


def test_a_summary_process_imports_only_what_it_prints_with():
    modules = set(_imported_by(["summary", "architectures/googlenet.yaml"]))
    assert {"netspec.backends.summary", "netspec.layers.conv", "netspec.layers.activation"} <= modules
    unexpected = sorted(m for m in modules if m.split(".")[0] in NEVER or m in NEVER)
    assert unexpected == []
    # the table format needs neither of the other formats' modules json, csv and html
    assert sorted(modules & {"json", "csv", "html"}) == []
    # no installed package declares a pydantic plugin, so pydantic's loader finds none without importlib.metadata
    assert sorted(modules & {"importlib.metadata", "email", "zipfile"}) == []
    # nothing is written, so neither is tempfile imported (netspec.files imports it to write atomically)
    assert sorted(modules & {"tempfile", "shutil"}) == []
    # GoogLeNet names kinds of three of the seven built-in modules (conv, activation, dense)
    layer_modules = sorted(m for m in modules if m.startswith("netspec.layers."))
    assert layer_modules == ["netspec.layers.activation", "netspec.layers.base", "netspec.layers.conv",
                             "netspec.layers.dense"]


def test_a_summary_makes_the_argument_models_of_the_kinds_its_spec_uses_only():
    # the argument classes of the built-in kinds and initialisers are outlines (netspec/outlines.py): a pydantic model
    # is made for those GoogLeNet's layers and `init:` read, and for their bases, not for the rest of their modules
    code = ("import contextlib, io, sys, netspec.cli\n"
            "from pydantic import BaseModel\n"
            "sys.argv = ['netspec', 'summary', 'architectures/googlenet.yaml']\n"
            "try:\n    with contextlib.redirect_stdout(io.StringIO()):\n        netspec.cli.main()\n"
            "except SystemExit as exc:\n    assert exc.code == 0\n"
            "def below(cls):\n    for sub in cls.__subclasses__():\n        yield sub\n        yield from below(sub)\n"
            "print(sorted(f'{c.__module__.rpartition(\".\")[2]}.{c.__name__}' for c in below(BaseModel)\n"
            "             if c.__module__.startswith(('netspec.layers', 'netspec.initializers'))))")
    assert _run(code) == ["activation.InplaceArgs", "base.LayerArgs", "conv.AdaptivePoolArgs",
                          "conv.Conv2dArgs", "conv.MaxPoolArgs", "conv.PoolArgs", "dense.DropoutArgs",
                          "dense.FlattenArgs", "dense.LRNArgs", "dense.LinearArgs", "initializers.KaimingArgs",
                          "initializers.NoArgs", "initializers.NormalArgs", "initializers._InitArgs"]


def test_a_summary_reads_each_installed_package_s_entry_points_once():
    # one look at the installed packages answers both questions of a command: netspec's plugins, and pydantic's
    # plugin loader at the first schema (netspec/plugins.py), so each entry_points.txt is opened once, not twice
    code = ("import builtins, collections, contextlib, io, sys\n"
            "opened = collections.Counter()\n"
            "real_open = builtins.open\n"
            "def counting_open(file, *args, **kwargs):\n"
            "    if str(file).endswith('entry_points.txt'):\n"
            "        opened[str(file)] += 1\n"
            "    return real_open(file, *args, **kwargs)\n"
            "builtins.open = counting_open\n"
            "import netspec.cli\n"
            "sys.argv = ['netspec', 'summary', 'architectures/googlenet.yaml']\n"
            "try:\n    with contextlib.redirect_stdout(io.StringIO()):\n        netspec.cli.main()\n"
            "except SystemExit as exc:\n    assert exc.code == 0\n"
            "from netspec import plugins\n"
            "print([len(opened), sorted(set(opened.values())), plugins._looked_up])")
    files, counts, left = _run(code)
    assert files > 0 and counts == [1] and left == {}


def test_a_json_summary_imports_json_and_still_no_back_end():
    modules = set(_imported_by(["summary", "architectures/lenet5.yaml", "--format", "json"]))
    assert "json" in modules
    assert sorted(m for m in modules if m.split(".")[0] in NEVER or m in NEVER) == []


def test_analysing_yaml_specs_never_imports_lark():
    # lark is the .ns parser and the expression parser's fallback for syntax errors (and for rare texts): a YAML
    # spec whose expressions are all well formed is read without it (netspec/ir/exprparse.py reads them)
    specs = sorted(str(p.relative_to(REPO)) for p in (REPO / "architectures").rglob("*.yaml"))
    for argv in (["summary", "architectures/googlenet.yaml"], ["check", "--max-params", "10000000000", *specs]):
        modules = _imported_by(argv)
        assert [m for m in modules if m.split(".")[0] == "lark" or m == "netspec.tables"] == [], argv[0]
    code = ("import sys\n"
            "from netspec.ir.expr import ExprError, parse_expr\n"
            "before = 'lark' in sys.modules\n"
            "try:\n    parse_expr('f(1,,2)')\nexcept ExprError as exc:\n    message = str(exc)\n"
            "print([before, 'lark' in sys.modules, message])")
    assert _run(code) == [False, True, "cannot read expression 'f(1,,2)': unexpected ','"]


def test_checking_ns_specs_never_imports_lark():
    # lark reads a .ns file only where the hand-written reader (netspec/frontends/ns_read.py) leaves it: every
    # syntax error and the rare texts it is not sure of; the bundled .ns specs, valid, are read without it
    specs = sorted(str(p.relative_to(REPO)) for p in (REPO / "architectures").rglob("*.ns"))
    assert len(specs) >= 9
    modules = _imported_by(["check", "--max-params", "10000000000", *specs])
    assert "netspec.frontends.ns_read" in modules
    assert [m for m in modules if m.split(".")[0] == "lark" or m == "netspec.tables"] == []
    assert "json" not in modules  # a string with no escape in it is read without json
    # and printing one (fmt checks each value it prints by reading it back) reads its values without lark too
    modules = _imported_by(["fmt", "architectures/googlenet.ns"])
    assert [m for m in modules if m.split(".")[0] == "lark"] == []


def test_a_check_process_imports_no_back_end():
    modules = set(_imported_by(["check", "architectures/lenet5.yaml", "architectures/examples/clip3d.ns"]))
    assert sorted(m for m in modules if m.split(".")[0] in ("typer", "click", "rich", "torch")) == []
    assert "netspec.backends.compile" not in modules and "netspec.cli_app" not in modules


def test_the_table_of_built_in_kinds_says_what_each_module_registers():
    # Each module imported on its own into a fresh process: the kinds it registers, in order, against the table.
    code = ("import importlib\n"
            "from netspec.layers import BUILT_IN, REGISTRY\n"
            "listed = list(REGISTRY)\n"
            "found = {}\n"
            "for module in BUILT_IN:\n"
            "    importlib.import_module('netspec.layers.' + module)\n"
            "for name, kind in dict.items(REGISTRY):\n"
            "    found.setdefault(type(kind).__module__.rpartition('.')[2], []).append(name)\n"
            "print([listed, {m: ' '.join(v) for m, v in found.items()}, BUILT_IN, list(REGISTRY)])")
    listed, found, table, after = _run(code)
    assert found == table, "netspec/layers/__init__.py's BUILT_IN must list each module's kinds as it registers them"
    assert after == listed == [n for names in table.values() for n in names.split()]


def test_a_kind_is_imported_on_its_first_lookup_and_the_order_is_kept():
    code = ("import sys\n"
            "from netspec.layers import REGISTRY, LayerKind, register_layer\n"
            "loaded = lambda: sorted(m for m in sys.modules if m.startswith('netspec.layers.'))\n"
            "steps = [loaded(), 'conv3d' in REGISTRY, loaded()]\n"
            "steps.append(type(REGISTRY.get('conv3d')).__name__)\n"
            "steps.append(loaded())\n"
            "@register_layer\n"
            "class Mine(LayerKind):\n    name = 'mine'\n"
            "@register_layer(replace=True)\n"
            "class Relu(LayerKind):\n    name = 'relu'\n"
            "steps.append(loaded())\n"
            "order = [n for n, k in REGISTRY.items()]\n"
            "steps.append([order[0], type(REGISTRY['relu']).__module__, order[-1], len(order)])\n"
            "steps.append(loaded())\n"
            "print(steps)")
    steps = _run(code)
    assert steps[0] == ["netspec.layers.base"]
    assert steps[1] is True and steps[2] == ["netspec.layers.base"]  # a name is known without its module
    assert steps[3] == "Conv3d"
    assert steps[4] == ["netspec.layers.base", "netspec.layers.convnd"]
    # replacing a built-in name loads the built-in first (so the clash rules see it), then takes its place
    assert steps[5] == ["netspec.layers.activation", "netspec.layers.base", "netspec.layers.convnd"]
    assert steps[6] == ["relu", "__main__", "mine", 71]
    assert len(steps[7]) == 8  # reading the registry whole imports every built-in module


def test_reloading_the_layers_package_changes_no_registered_kind():
    code = ("import importlib, netspec.layers\n"
            "from netspec.layers import REGISTRY, LayerKind, register_layer\n"
            "@register_layer(replace=True)\n"
            "class Relu(LayerKind):\n    name = 'relu'\n"
            "conv = REGISTRY['conv2d']\n"
            "before = list(REGISTRY)\n"
            "importlib.reload(netspec.layers)\n"
            "print([type(REGISTRY['relu']).__module__, REGISTRY['conv2d'] is conv, list(REGISTRY) == before])")
    assert _run(code) == ["__main__", True, True]


def test_the_collector_after_import_and_in_a_command():
    # importing netspec pauses the collector only while it imports: on again afterwards, off if it was off
    assert _run("import gc, netspec\nprint(gc.isenabled())") is True
    assert _run("import gc\ngc.disable()\nimport netspec\nprint(gc.isenabled())") is False
    run = ("import gc, io, contextlib, sys\n{imp}\n"
           "sys.argv = ['netspec', 'check', 'architectures/lenet5.yaml']\n"
           "try:\n    with contextlib.redirect_stdout(io.StringIO()):\n        {call}()\n"
           "except SystemExit as exc:\n    assert exc.code == 0\n"
           "print([gc.isenabled(), gc.get_freeze_count() > 0])")
    # the process's own program (the `netspec` script imports main into __main__): what exists is frozen
    assert _run(run.format(imp="from netspec.cli import main", call="main")) == [True, True]
    # a program that calls main itself keeps its objects collectable
    assert _run(run.format(imp="import netspec.cli", call="netspec.cli.main")) == [True, False]


def test_the_spec_ir_s_schema_holds_the_entry_union_once():
    # Entry is a named alias, so pydantic builds the union of the entry models (and reads each one's `op`) once for
    # the fourteen fields that hold entries, not once for each: half the cost of the Spec's first validation.
    code = ("from netspec.ir.spec import Spec\n"
            "Spec.model_rebuild()\n"
            "unions = []\n"
            "def walk(o):\n"
            "    if isinstance(o, dict):\n"
            "        if o.get('type') == 'tagged-union':\n"
            "            unions.append((o['discriminator'], sorted(o['choices'])))\n"
            "        for v in o.values():\n            walk(v)\n"
            "    elif isinstance(o, (list, tuple)):\n"
            "        for v in o:\n            walk(v)\n"
            "walk(Spec.__pydantic_core_schema__)\n"
            "print(unions)")
    assert _run(code) == [("op", ["add", "call", "concat", "dense", "flat", "if", "mul", "output", "parameter", "ref",
                                  "repeat", "residual", "seq", "splice"])]
