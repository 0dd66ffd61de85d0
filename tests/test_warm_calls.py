"""What a second `netspec.summarize` of the same file reuses and what it does again: the file's text is read once
while its stat is unchanged (and again as soon as it changes), and the summary's rows, made without their
dataclass's __init__, are the same frozen Rows."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

import netspec
from netspec import pipeline
from netspec.backends.summary import Row

ARCH = Path(__file__).resolve().parent.parent / "architectures"

SPEC = """name: tiny
input: [3, 8, 8]
layers:
  - conv2d(4, 3, padding=1)
  - relu
  - flatten
  - linear(10)
"""


@pytest.fixture
def reads(monkeypatch):
    """The names read_regular was asked for, in order."""
    asked: list[str] = []
    real = pipeline.read_regular

    def counting(name, limit):
        asked.append(str(name))
        return real(name, limit)

    monkeypatch.setattr(pipeline, "read_regular", counting)
    return asked


def test_an_unchanged_file_is_read_once(tmp_path, reads):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(SPEC)
    first = netspec.summarize(str(spec))
    second = netspec.summarize(str(spec))
    assert reads == [str(spec)]
    assert first.rows == second.rows and first.total_params == second.total_params


def test_a_family_is_read_once_for_its_presets(reads):
    for preset in ("resnet18.yaml", "resnet34.yaml", "resnet18.yaml"):
        netspec.summarize(str(ARCH / "torchvision" / preset))
    family = str((ARCH / "torchvision" / "families" / "resnet.yaml").resolve())
    assert reads.count(family) <= 1
    assert reads.count(str(ARCH / "torchvision" / "resnet18.yaml")) <= 1


def test_a_changed_file_is_read_again_even_with_its_old_size_and_time(tmp_path, reads):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(SPEC)
    assert netspec.summarize(str(spec)).rows[0].output_shape == (4, 8, 8)
    before = os.stat(spec)
    spec.write_text(SPEC.replace("conv2d(4,", "conv2d(5,"))  # the same size
    os.utime(spec, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the same modification time
    assert netspec.summarize(str(spec)).rows[0].output_shape == (5, 8, 8)  # its change time moved
    spec.write_text(SPEC.replace("conv2d(4,", "conv2d(16,"))  # another size
    assert netspec.summarize(str(spec)).rows[0].output_shape == (16, 8, 8)
    assert reads == [str(spec)] * 3


def test_a_file_replaced_by_a_folder_is_refused_as_before(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(SPEC)
    netspec.summarize(str(spec))
    spec.unlink()
    spec.mkdir()
    with pytest.raises(netspec.UsageError, match="is a directory, not a regular file"):
        netspec.summarize(str(spec))


def test_a_smaller_byte_budget_refuses_a_file_read_before(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(SPEC)
    netspec.summarize(str(spec))
    with pytest.raises(netspec.SpecError, match="max-bytes"):
        netspec.summarize(str(spec), max_bytes=10)


def test_clear_caches_forgets_the_text(tmp_path, reads):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(SPEC)
    netspec.summarize(str(spec))
    pipeline.clear_caches()
    netspec.summarize(str(spec))
    assert reads == [str(spec)] * 2


@pytest.mark.parametrize("model", ["googlenet", "densenet121", "resnet50"])
def test_rows_are_the_frozen_records_their_init_makes(model):
    summary = netspec.summarize(str(ARCH / "torchvision" / f"{model}.yaml"), freeze=["features.*", "layer1", "inception3*"])
    for row in summary.rows:
        made = Row(**row.to_dict())
        assert row == made and hash(row) == hash(made) and repr(row) == repr(made)
        assert list(vars(row)) == list(vars(made)) == list(Row._fields)
        with pytest.raises(dataclasses.FrozenInstanceError):
            row.params = 0  # type: ignore[misc]
    assert any(r.trainable != r.params for r in summary.rows)  # the frozen ones count as not trainable


def test_a_merged_spec_is_what_validating_it_gives():
    linked = pipeline.parse_linked(str(ARCH / "torchvision" / "googlenet.yaml")).spec
    assert linked == type(linked).model_validate(dict(linked))
    assert linked.model_fields_set == type(linked)(**dict(linked)).model_fields_set - {"extends"}


@pytest.fixture
def parses(monkeypatch):
    """The file names the front ends were asked to parse, in order."""
    asked: list[str] = []
    real = pipeline._parse_text

    def counting(text, file, format, default_name):
        asked.append(file)
        return real(text, file, format, default_name)

    monkeypatch.setattr(pipeline, "_parse_text", counting)
    return asked


def _same_parse(one: pipeline.ParsedSpec, other: pipeline.ParsedSpec) -> None:
    assert one == other and one.spec is not None
    assert list(one.locations.table) == list(other.locations.table)
    for path, located in one.locations.table.items():
        assert type(located) is type(other.locations.table[path])
        assert located == other.locations.table[path] and located.shown == other.locations.table[path].shown


@pytest.mark.parametrize("spec", ["torchvision/families/resnet.yaml", "googlenet.ns", "unet.yaml"])
def test_a_text_read_under_two_names_is_parsed_once(spec, parses, monkeypatch):
    monkeypatch.chdir(ARCH.parent)
    relative, absolute = f"architectures/{spec}", str(ARCH / spec)
    pipeline.clear_caches()
    first = pipeline.parse(relative)
    second = pipeline.parse(absolute)
    assert parses == [relative]
    assert second.file == absolute and set(second.locations.sources) == {absolute}
    assert all(l.loc is None or l.loc.file == absolute for l in second.locations.table.values())
    assert first.spec is second.spec
    pipeline.clear_caches()
    _same_parse(second, pipeline.parse(absolute))  # what parsing it under that name gives
    _same_parse(first, pipeline.parse(relative))


def test_the_check_of_a_family_and_its_presets_parses_the_family_once(parses, monkeypatch):
    monkeypatch.chdir(ARCH.parent)
    pipeline.clear_caches()
    family = "architectures/torchvision/families/vgg.yaml"
    for spec in ("architectures/torchvision/vgg11.yaml", family, "architectures/torchvision/vgg13.yaml"):
        pipeline.typed_graph(pipeline.parse_linked(spec))
    assert sorted(parses) == sorted(["architectures/torchvision/vgg11.yaml", str(ARCH / "torchvision/families/vgg.yaml"),
                                     "architectures/torchvision/vgg13.yaml"])


def test_a_file_edited_between_two_names_is_parsed_again(tmp_path, parses, monkeypatch):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(SPEC)
    monkeypatch.chdir(tmp_path)
    assert pipeline.parse("tiny.yaml").spec.layers[0].args == [4, 3]
    spec.write_text(SPEC.replace("conv2d(4,", "conv2d(6,"))
    assert pipeline.parse(str(spec)).spec.layers[0].args == [6, 3]
    assert pipeline.parse("tiny.yaml").spec.layers[0].args == [6, 3]
    assert parses == ["tiny.yaml", str(spec)]  # the second name's parse of the new text is the first's, renamed


def test_a_text_is_parsed_again_when_the_layer_kinds_change(parses):
    """The parse cache's key holds the registry's state: a kind registered, replaced or removed since a text was
    parsed makes it parsed again (a block may not take a kind's name), and the same registry as before finds it."""
    from netspec.layers import REGISTRY

    text = "name: b\ninput: [8]\nblocks:\n  memo_kind:\n    layers: [relu]\nlayers:\n  - memo_kind\n"

    def define():
        @netspec.register_layer(replace=True)
        class Kind(netspec.LayerKind):
            name = "memo_kind"
            Args = netspec.LayerArgs

    pipeline.clear_caches()
    try:
        assert "memo_kind" in pipeline.parse_text(text).spec.blocks
        define()
        for _ in range(2):  # a new kind, then another object of it
            with pytest.raises(netspec.SpecError, match="has the name of a layer kind"):
                pipeline.parse_text(text)
            define()
    finally:
        REGISTRY.pop("memo_kind", None)
    assert "memo_kind" in pipeline.parse_text(text).spec.blocks
    assert parses == ["<string>"] * 3  # the last is the first registry's parse, kept
    relu = REGISTRY["relu"]
    try:
        REGISTRY["relu"] = type(relu)()  # the same kind, another object: parsed afresh
        pipeline.parse_text(text)
        assert parses == ["<string>"] * 4
    finally:
        REGISTRY["relu"] = relu
    pipeline.parse_text(text)
    assert parses == ["<string>"] * 4
