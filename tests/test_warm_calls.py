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
