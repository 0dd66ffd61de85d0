"""A Spec made from the front ends' canonical data without pydantic's validator (netspec.ir.spec.built_spec) is the
Spec that validating the data makes, model by model: the same types, field order, set fields and values; and data
that pydantic refuses, or that might be converted, is left to pydantic (built_spec gives None), so its messages
are reported as before."""

from __future__ import annotations

import copy
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from netspec import pipeline
from netspec.frontends import dsl, validate
from netspec.ir import spec as ir

REPO = Path(__file__).resolve().parent.parent
FILES = sorted(p for folder in ("architectures", "examples", "tests") for suffix in ("yaml", "ns")
               for p in (REPO / folder).rglob(f"*.{suffix}"))


def same_model(made: object, validated: object, at: str = "spec") -> None:
    """`made` is `validated` all the way down: types, field order, set fields, lists and dicts as such."""
    assert type(made) is type(validated), at
    if isinstance(made, BaseModel):
        assert list(vars(made)) == list(vars(validated)), at
        assert made.model_fields_set == validated.model_fields_set, at
        assert made.__pydantic_extra__ is None and validated.__pydantic_extra__ is None, at
        for name, value in vars(made).items():
            same_model(value, vars(validated)[name], f"{at}.{name}")
    elif isinstance(made, list):
        assert len(made) == len(validated), at
        for i, (one, other) in enumerate(zip(made, validated)):
            same_model(one, other, f"{at}.{i}")
    elif isinstance(made, dict):
        assert list(made) == list(validated), at
        for key in made:
            same_model(made[key], validated[key], f"{at}.{key}")
    else:
        assert made == validated or (made != made and validated != validated), at


@pytest.fixture(scope="module")
def canonical() -> list:
    """The data each front end handed on for every spec file of the repository that parses."""
    seen: list = []
    real = ir.built_spec

    def keep(data):
        seen.append(copy.deepcopy(data))
        return real(data)

    patched = pytest.MonkeyPatch()
    patched.setattr(validate, "built_spec", keep)
    patched.setattr(dsl, "built_spec", keep)
    pipeline.clear_caches()
    try:
        for file in FILES:
            try:
                pipeline.parse(file)
            except Exception:  # a spec written to fail (tests/errors...): its error comes before this step
                pass
    finally:
        patched.undo()
        pipeline.clear_caches()
    assert len(seen) > 150
    return seen


def test_every_parsed_spec_is_what_validating_its_data_gives(canonical):
    for data in canonical:
        made = ir.built_spec(copy.deepcopy(data))
        assert made is not None, str(data)[:200]  # a correct spec needs no validator
        validated = ir.Spec.model_validate(copy.deepcopy(data))
        same_model(made, validated)
        assert made == validated


_ODD_VALUES = [None, 0, 1, True, 1.5, "", "a", "a.b", "a b", "$x", "1a", "x\n", "é", "a\x1cb", [], {}, [1], ["a"],
               {"a": 1}, {1: 2}, {"a b": 1}, ("a",), "auto", "call", "concat", b"x",
               {"op": "call", "target": "relu"}, {"op": "nope"}, {"op": "seq", "items": []}, {"op": "ref", "target": "a"},
               {"op": "concat", "branches": []}, {"op": "if", "cond": 1, "then": "relu"}]
_ODD_KEYS = ["extra", "else_", "else", "op", "name", "doc", "args", "kwargs", "dim", "first", "names", "default"]


def _places(value: object, path: tuple = ()):
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _places(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _places(item, path + (index,))


def _at(value: object, path: tuple) -> object:
    for part in path:
        value = value[part]  # type: ignore[index]
    return value


def _edited(data: dict, rng: random.Random) -> dict:
    """`data` with one or two values replaced, keys removed or keys added, anywhere in it."""
    data = copy.deepcopy(data)
    for _ in range(rng.choice((1, 1, 2))):
        path = rng.choice([p for p in _places(data) if p])
        parent, roll = _at(data, path[:-1]), rng.random()
        if roll < 0.6:
            parent[path[-1]] = copy.deepcopy(rng.choice(_ODD_VALUES))  # type: ignore[index]
        elif isinstance(parent, dict) and roll < 0.8:
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[rng.choice(_ODD_KEYS)] = copy.deepcopy(rng.choice(_ODD_VALUES))
    return data


def test_edited_data_is_built_only_where_pydantic_takes_it_unchanged(canonical):
    rng = random.Random(14)
    built = refused = 0
    for _ in range(2000):
        data = _edited(rng.choice(canonical), rng)
        made = ir.built_spec(copy.deepcopy(data))
        try:
            validated = ir.Spec.model_validate(copy.deepcopy(data))
        except ValidationError:
            assert made is None, data
            refused += 1
            continue
        if made is not None:
            same_model(made, validated)
            built += 1
    assert built > 500 and refused > 500  # both ways taken often


def test_the_plans_name_every_field_of_every_model():
    assert ir.built_spec({"name": "x", "input": [1], "layers": ["relu"]}) is None  # an entry is a mapping here
    for model, checks in ir._FIELD_CHECKS.items():
        assert set(checks) == set(model.model_fields), model.__name__
    entries = ir.Entry.__value__.__args__[0].__args__
    assert set(entries) == {model for model, _ in ir._ENTRY_OPS}


def test_checking_the_bundled_specs_builds_no_spec_validator():
    code = ("import sys\nfrom netspec import cli_run\nfrom netspec.ir.spec import Spec\n"
            "cli_run.check(sys.argv[1:], None, None, None, echo=lambda *a, **k: None)\n"
            "print(Spec.__pydantic_complete__)")
    specs = ["architectures/googlenet.ns", "architectures/torchvision/googlenet.yaml",
             "architectures/torchvision/resnet50.yaml", "architectures/unet.yaml"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", code, *specs], capture_output=True, text=True, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False"]


def test_a_constructed_spec_is_what_model_construct_makes():
    linked = pipeline.parse_linked(str(REPO / "architectures" / "torchvision" / "resnet50.yaml")).spec
    values = {name: getattr(linked, name) for name in ("name", "description", "input", "params", "functions", "blocks",
                                                        "layers", "outputs", "init")}
    made, reference = ir.constructed_spec(**values), ir.Spec.model_construct(**values)
    same_model(made, reference)
    assert made == reference and made.extends is None
    assert ir.constructed_spec(name="x").input == [] and ir.constructed_spec(name="x").input is not ir.Spec.model_fields["input"].default
