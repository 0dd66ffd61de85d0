"""A JSON Schema of the YAML spec format, generated from the layer registry, for editors' completion and hover help.

    netspec schema > netspec.backends.schema.json
    # then, in VS Code with the YAML extension, first line of a spec:
    # yaml-language-server: $schema=./netspec.backends.schema.json

The schema is a helper for people typing specs, not the validator: netspec's own checks (names,
expressions, shapes) are stricter and located. It knows every layer kind's arguments (with their
defaults), every structure's keys and every initialiser, so an editor can offer them.
"""

from __future__ import annotations

import json
from typing import Any

from ..initializers import INITIALIZERS
from ..layers import REGISTRY, LayerKind, arg_names
from ..ir.spec import SHORTCUT_MODES

DRAFT = "https://json-schema.org/draft/2020-12/schema"
VALUE = {"$ref": "#/$defs/value"}
ENTRY = {"$ref": "#/$defs/entry"}
ENTRIES = {"$ref": "#/$defs/entries"}
ENTRY_OR_ENTRIES = {"anyOf": [ENTRY, ENTRIES]}


def _argument_schema(kind: LayerKind) -> dict[str, Any]:
    """Each argument: its pydantic type, or an expression (text) that will give one, or a list of expressions."""
    model = kind.Args.model_json_schema(by_alias=True)
    properties = {}
    for name in arg_names(kind):
        field = dict(model.get("properties", {}).get(name, {}))
        field.pop("title", None)
        described = {"description": _describe(kind, name, field)}
        properties[name] = {**described, "anyOf": [field or {}, {"type": "string"}, {"type": "array", "items": VALUE}]}
    return properties


def _describe(kind: LayerKind, name: str, field: dict) -> str:
    position = f" (position {kind.positional.index(name) + 1})" if name in kind.positional else ""
    default = f"; default {json.dumps(field['default'])}" if "default" in field else "; required"
    return f"{kind.name} argument{position}{default}"


def _kind_entry(kind: LayerKind) -> dict[str, Any]:
    return {
        "title": kind.name,  # the label editors give this choice in completion lists
        "type": "object",
        "description": f"{kind.name}: {kind.summary} (e.g. `{kind.example}`)",
        "properties": {
            kind.name: {
                "description": kind.summary,
                "anyOf": [
                    {"type": "null"},
                    {"type": "object", "properties": _argument_schema(kind), "additionalProperties": False},
                ],
            }
        },
        "required": [kind.name],
        "additionalProperties": False,
    }


def _structure(key: str, value: dict, description: str, **others: dict) -> dict[str, Any]:
    return {
        "title": key,
        "type": "object",
        "description": description,
        "properties": {key: value, **others},
        "required": [key],
        "additionalProperties": False,
    }


def _structures() -> list[dict[str, Any]]:
    branches = {"anyOf": [ENTRIES, {"type": "object", "additionalProperties": ENTRY_OR_ENTRIES}]}
    names = {"type": "string", "description": "module names of the copies, e.g. \"layer{i + 1}\""}
    return [
        _structure("concat", branches, "parallel branches on one input, concatenated on channels (or `dim`)",
                   dim={"type": ["integer", "string"], "description": "the dimension joined (torch's: 1 = channels)"}),
        _structure("add", branches, "parallel branches on one input, added element-wise"),
        _structure("mul", branches, "parallel branches on one input, multiplied element-wise (torch broadcasting)"),
        _structure("residual", {
            "type": "object",
            "properties": {
                "body": ENTRY_OR_ENTRIES,
                "shortcut": {"anyOf": [{"enum": list(SHORTCUT_MODES)}, ENTRY_OR_ENTRIES]},
                "shortcut_name": {"type": "string"},
                "after": ENTRY,
            },
            "required": ["body"],
            "additionalProperties": False,
        }, "body(x) + shortcut(x), then `after`"),
        _structure("repeat", VALUE, "`count` copies of `block` (`i` is the copy's index)",
                   block=ENTRY_OR_ENTRIES, first={"type": "object", "additionalProperties": VALUE}, names=names),
        _structure("dense", VALUE, "dense connectivity: each layer sees every earlier output",
                   layer=ENTRY_OR_ENTRIES, names=names),
        _structure("if", VALUE, "`then` when the condition holds, else `else` (or nothing)",
                   then=ENTRY_OR_ENTRIES, **{"else": ENTRY_OR_ENTRIES}),
        _structure("splice", ENTRY_OR_ENTRIES, "a sequence's entries joined into the enclosing one"),
        _structure("output", ENTRY_OR_ENTRIES, "an extra output (auxiliary head, feature tap)",
                   train_only={"type": "boolean"}),
        _structure("flat", ENTRY_OR_ENTRIES, "one module holding every named entry below it directly"),
        _structure("parameter", VALUE, "a learnable tensor of the enclosing module, of this shape: a branch of add "
                   "or mul", init={"type": "string", "description": "an initialiser, as under `init:` (zeros)"}),
    ]


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a netspec YAML spec."""
    kinds = [_kind_entry(REGISTRY[name]) for name in sorted(REGISTRY)]
    named = {
        "title": "named entry",
        "type": "object",
        "description": "a named entry: `name: entry` (the name becomes the module name)",
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": ENTRY_OR_ENTRIES,
    }
    block_call = {
        "title": "block call, keyword form",
        "type": "object",
        "description": "a block called with every argument by name: `{unit: {channels: 32, stride: 2}}`",
        "minProperties": 1,
        "maxProperties": 1,
        # a layer kind or a structure is never a block's name, so their misspelt arguments stay errors
        "propertyNames": {"not": {"enum": sorted(REGISTRY) + [s["required"][0] for s in _structures()]}},
        "additionalProperties": {"type": "object", "additionalProperties": VALUE},
    }
    call = {
        "title": "layer call",
        "type": "string",
        "description": "a layer or block call: `relu`, `conv2d(64, 3, stride=2)`, `inception(64, 96, 128, 16, 32, 32)`",
        "examples": sorted(REGISTRY),
    }
    tensors = {
        kind: {"type": "object", "properties": {t: {"anyOf": [{"enum": sorted(INITIALIZERS)}, {"type": "string"}]}
                                                  for t in REGISTRY[kind].param_names},
               "additionalProperties": False}
        for kind in sorted(REGISTRY) if REGISTRY[kind].param_names
    }
    block = {
        "type": "object",
        "properties": {
            "doc": {"type": "string"},
            "args": {"anyOf": [{"type": "array", "items": {"type": "string"}},
                               {"type": "object", "additionalProperties": {"anyOf": [
                                   VALUE, {"type": "object", "required": ["choice"], "additionalProperties": False,
                                           "properties": {"choice": {"type": "array", "items": VALUE, "minItems": 1},
                                                          "default": VALUE}}]}}]},
            "layers": {"anyOf": [ENTRIES, {"type": "object", "additionalProperties": ENTRY_OR_ENTRIES}, ENTRY]},
            **{s["required"][0]: s["properties"][s["required"][0]] for s in _structures()},
            "block": ENTRY_OR_ENTRIES, "first": {"type": "object"}, "names": {"type": "string"},
            "layer": ENTRY_OR_ENTRIES, "then": ENTRY_OR_ENTRIES, "else": ENTRY_OR_ENTRIES,
            "train_only": {"type": "boolean"}, "init": {"type": "string"},
        },
        "additionalProperties": False,
    }
    return {
        "$schema": DRAFT,
        "title": "netspec spec",
        "description": "A CNN architecture for netspec; the language is described in docs/language.md.",
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "the network's name (defaults to the file name)"},
            "description": {"type": "string"},
            "extends": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}],
                        "description": "the spec file this one builds on, relative to this file, or a list of them "
                                       "(merged in order)"},
            "input": {"anyOf": [{"type": "array", "items": VALUE, "minItems": 1}, {"type": "string"}],
                      "description": "one sample's shape, without the batch: [C, H, W]"},
            "params": {"type": "object", "additionalProperties": VALUE, "description": "names with default values"},
            "functions": {"type": "object", "additionalProperties": VALUE,
                          "description": "value functions: `name(arg, arg=default)` -> one expression"},
            "blocks": {"type": "object", "additionalProperties": block, "description": "reusable blocks"},
            "layers": {"anyOf": [ENTRIES, {"type": "object", "additionalProperties": ENTRY_OR_ENTRIES}],
                       "description": "the network: a list of entries, or named sections"},
            "outputs": {"anyOf": [{"type": "array", "items": {"type": "string"}},
                                  {"type": "object", "additionalProperties": {"type": "string"}}],
                        "description": "what forward returns: a list (a tuple) or mapping (a dict) of `main`, extra "
                                       "outputs' names and references such as `$body.layer2`"},
            "init": {"type": "object", "properties": tensors,
                     "additionalProperties": {"type": "object", "properties": {t: {"type": "string"} for t in
                                                                             ("weight", "bias")},
                                              # a container kind's own tensors: `fc2.bias`
                                              "additionalProperties": {"type": "string"}},
                     "description": "weight initialisation per layer kind, or per module path (`classifier.1`)"},
        },
        "additionalProperties": False,
        "$defs": {
            "value": {"type": ["number", "string", "boolean", "null", "array"]},
            "entries": {"title": "list of entries", "type": "array", "items": ENTRY},
            "entry": {"anyOf": [call, ENTRIES, *kinds, *_structures(), named, block_call]},
        },
    }


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2) + "\n"
