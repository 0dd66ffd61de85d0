"""Every YAML file and example netspec ships is standard YAML: PyYAML and ruamel.yaml read the same tree
from it, netspec reads exactly that tree, and the editor schema (`netspec schema`) accepts it."""

from __future__ import annotations

import math
from pathlib import Path

import jsonschema
import pytest
import yaml
from ruamel.yaml import YAML

from netspec import docgen
from netspec.diagnostics import SpecError
from netspec.backends.schema import json_schema
from netspec.frontends.validate import validate
from netspec.frontends.yaml_source import read_yaml

REPO = Path(__file__).resolve().parent.parent
VALIDATOR = jsonschema.Draft202012Validator(json_schema())


def _shipped() -> list[tuple[str, str, bool]]:
    """(name, text, is a valid spec) for every architecture, every YAML example in the docs, and every
    error golden that is still readable YAML (its error lies past the reader)."""
    found = [(p.relative_to(REPO).as_posix(), p.read_text(encoding="utf-8"), True)
             for p in sorted((REPO / "architectures").rglob("*.yaml"))]
    for path in docgen.doc_files():
        for block in docgen.code_blocks(path.read_text(encoding="utf-8")):
            if block.lang == "yaml" and ("error" not in block.words or _readable(block.body)):
                found.append((f"{path.name}:{block.line}", block.body, "error" not in block.words))
    for path in sorted((REPO / "tests" / "errors").glob("*.yaml")):
        text = path.read_bytes().decode("utf-8", errors="replace")
        if _readable(text):
            found.append((path.relative_to(REPO).as_posix(), text, False))
    return found


def _readable(text: str) -> bool:
    try:
        read_yaml(text)
    except SpecError:
        return False
    return True


SHIPPED = _shipped()


def _same(a, b) -> bool:
    """Equal trees with equal scalar types (1, 1.0 and True differ), NaN equal to itself."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def _plain(node):
    """ruamel's tree as plain dicts and lists."""
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


@pytest.mark.parametrize("name, text, valid", SHIPPED, ids=[s[0] for s in SHIPPED])
def test_every_yaml_reader_reads_the_same_tree(name, text, valid):
    pyyaml = yaml.safe_load(text)
    ruamel = _plain(YAML(typ="safe", pure=True).load(text))
    assert _same(pyyaml, ruamel), f"{name}: PyYAML and ruamel.yaml read different trees"
    ours = read_yaml(text, name)
    assert _same(ours.tree, pyyaml), f"{name}: netspec reads a tree other YAML readers do not"
    if valid and docgen.is_complete_spec(text):
        validate(ours)  # netspec accepts exactly that tree
        errors = sorted(VALIDATOR.iter_errors(pyyaml), key=lambda e: list(e.path))
        assert not errors, "\n".join(f"{name}: {list(e.path)}: {e.message}" for e in errors[:5])


def test_the_shipped_set_is_not_empty():
    kinds = {name.split("/")[0].split(":")[0] for name, _, _ in SHIPPED}
    assert {"architectures", "language.md", "tests"} <= kinds and len(SHIPPED) > 100
