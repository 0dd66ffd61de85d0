"""Outlines (netspec/outlines.py): an argument class written on an outline base is made into its pydantic model on
first use, and that model must be what the class statement on the model itself makes, read through every path
(a kind's `Args`, the module's name, an attribute, a call, isinstance); the built-in kinds' outlines must name the
fields their models get, since registration checks `positional` against them without making the models."""

from __future__ import annotations

import ast
import copy
import os
import pickle
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
from pydantic import ValidationError

from netspec.layers import LayerArgs
from netspec.outlines import Outline

REPO = Path(__file__).resolve().parent.parent


# The same body twice, as a model and as an outline of one, in a module of its own made for each test (pytest reads
# the attributes of a test module's names as it collects them, and reading one makes an outline's model).
BODY = """
size: PositiveInt
stride: Union[PositiveInt, tuple[PositiveInt, PositiveInt]] = 1
mode: Literal["max", "avg"] = "max"
in_: Optional[PositiveInt] = Field(None, alias="in")

@model_validator(mode="after")
def _stride_fits(self):
    if isinstance(self.stride, int) and self.stride > self.size:
        raise ValueError("stride larger than the window")
    return self
"""
SOURCE = f"""
from __future__ import annotations
from typing import Literal, Optional, Union
from pydantic import Field, PositiveInt, model_validator
from netspec.layers import LayerArgs, LayerKind
from netspec.layers.base import LazyArgs

class EagerWindowArgs(LayerArgs):
{textwrap.indent(BODY, "    ")}

class WindowArgs(LazyArgs):
{textwrap.indent(BODY, "    ")}

class WideWindowArgs(WindowArgs):
    wide: bool = False

class Window(LayerKind):
    name = "window_for_outline_test"
    Args = WindowArgs
"""


@pytest.fixture
def module():
    made = types.ModuleType("outline_test_module")
    sys.modules[made.__name__] = made
    exec(compile(SOURCE, "<outline test>", "exec"), vars(made))
    yield made
    del sys.modules[made.__name__]


def _errors(model: type, data: dict) -> str:
    with pytest.raises(ValidationError) as err:
        model.model_validate(data)
    return str(err.value).replace(model.__name__, "<model>")


def test_an_outline_makes_the_model_its_class_statement_would(module):
    outline, eager = module.WindowArgs, module.EagerWindowArgs
    assert isinstance(outline, Outline) and "model_fields" not in vars(outline)
    model = module.Window().Args  # read as a kind's Args: the model, made now
    assert type(model) is type(eager) and issubclass(model, LayerArgs) and model.__name__ == "WindowArgs"
    assert model.__qualname__ == "WindowArgs" and model.__module__ == module.__name__
    assert vars(module.Window)["Args"] is model  # the kind's attribute now holds the model itself
    assert module.WindowArgs is model and outline.model() is model  # and so does the module's name
    assert list(model.model_fields) == list(eager.model_fields)
    assert repr(model.model_fields) == repr(eager.model_fields)
    assert model.model_config == eager.model_config
    schema, eager_schema = model.model_json_schema(by_alias=True), eager.model_json_schema(by_alias=True)
    assert schema == {**eager_schema, "title": "WindowArgs"}
    for data in ({"size": 2, "stride": 3}, {"size": True}, {"size": "3"}, {"size": 2, "colour": 1}, {"mode": "min"}):
        assert _errors(model, data) == _errors(eager, data)
    assert repr(model(size=3, **{"in": 4})) == repr(eager(size=3, **{"in": 4})).replace("EagerWindowArgs", "WindowArgs")


def test_an_outline_stands_for_its_model(module):
    # WideWindowArgs read only through the outline: attributes, calls, isinstance and patches reach the model
    outline = module.WideWindowArgs
    assert issubclass(outline, module.WindowArgs) and "_outline_model" not in vars(module.WindowArgs)  # not made
    assert list(outline.model_fields) == ["size", "stride", "mode", "in_", "wide"]
    model = outline.model()
    made = outline(size=2, wide=True)
    assert type(made) is model and isinstance(made, outline) and issubclass(model, outline)
    assert isinstance(made, module.WindowArgs) and model.__bases__ == (module.Window.Args,)
    outline.marker = 1
    assert model.marker == 1
    del outline.marker
    assert not hasattr(model, "marker")
    assert module.WideWindowArgs is model
    assert pickle.loads(pickle.dumps(made)) == made == copy.deepcopy(made)
    assert outline.field_names() == {"size", "stride", "mode", "in", "wide"}


def test_threads_that_ask_at_once_get_one_model(module):
    import threading

    outline, start, got = module.WideWindowArgs, threading.Barrier(8), []

    def ask() -> None:
        start.wait()
        got.append(outline.model())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 8 and len({id(model) for model in got}) == 1 and module.WideWindowArgs is got[0]


def test_the_built_in_outlines_name_the_fields_their_models_get():
    # in a fresh process, before anything makes them: each built-in module's outlines, their field names as read
    # from the outline (registration checks `positional` against these), then the names of the models made
    code = ("import importlib\n"
            "from netspec.layers import BUILT_IN\n"
            "from netspec.outlines import Outline\n"
            "modules = [importlib.import_module('netspec.layers.' + m) for m in BUILT_IN]\n"
            "modules.append(importlib.import_module('netspec.initializers'))\n"
            "outlines = [(m.__name__, n, o) for m in modules for n, o in vars(m).items() if isinstance(o, Outline)\n"
            "            and o.__module__ == m.__name__]\n"
            "read = [(m, n, sorted(o.field_names())) for m, n, o in outlines]\n"
            "made = [(m, n, sorted(f.alias or k for k, f in o.model().model_fields.items())) for m, n, o in outlines]\n"
            "print([len(outlines), read == made, [r for r, w in zip(read, made) if r != w]])")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr
    count, same, differing = ast.literal_eval(proc.stdout.splitlines()[-1])
    assert count >= 60 and differing == [] and same is True
