"""The JSON Schema for editors: generated from the registry, and every shipped spec conforms to it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from netspec.cli import app
from netspec.layers import REGISTRY, arg_names
from netspec.backends.schema import json_schema
from netspec.frontends.yaml_source import read_yaml

ARCH = Path(__file__).resolve().parent.parent / "architectures"
SPECS = sorted(ARCH.rglob("*.yaml"))
VALIDATOR = jsonschema.Draft202012Validator(json_schema())


def test_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(json_schema())


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.relative_to(ARCH).as_posix())
def test_every_shipped_spec_conforms(path):
    tree = read_yaml(path.read_text(encoding="utf-8"), str(path)).tree  # as netspec reads it
    errors = sorted(VALIDATOR.iter_errors(tree), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def test_every_layer_kind_and_argument_is_offered():
    entries = json_schema()["$defs"]["entry"]["anyOf"]
    offered = {next(iter(e["properties"])): e for e in entries if e.get("required") and e["required"][0] in REGISTRY}
    assert set(offered) == set(REGISTRY)
    for name, entry in offered.items():
        arguments = entry["properties"][name]["anyOf"][1]["properties"]
        assert set(arguments) == set(arg_names(REGISTRY[name]))


@pytest.mark.parametrize("text", [
    "input: [3, 8, 8]\nlayer: [relu]\n",                                       # misspelt top-level key
    "input: [3, 8, 8]\nlayers:\n  - conv2d: {out: 8, kernal: 3}\n",            # misspelt argument
    "input: [3, 8, 8]\nlayers:\n  - residual: {body: [relu], shortcut: 3}\n",  # a shortcut mode that is none
    "input: [3, 8, 8]\nlayers: [relu]\ninit: {conv2d: {wieght: zeros}}\n",      # misspelt tensor
])
def test_editors_see_common_mistakes(text):
    assert list(VALIDATOR.iter_errors(read_yaml(text).tree))


def test_schema_command_prints_and_writes(tmp_path):
    printed = CliRunner().invoke(app, ["schema"])
    assert printed.exit_code == 0 and json.loads(printed.output) == json_schema()
    written = CliRunner().invoke(app, ["schema", "-o", str(tmp_path / "netspec.backends.schema.json")])
    assert written.exit_code == 0
    assert json.loads((tmp_path / "netspec.backends.schema.json").read_text()) == json_schema()
