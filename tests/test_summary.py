"""Summaries against torchinfo 1.8's own figures on the module netspec builds (memory per dtype and batch size,
the trainable split), and the table, CSV, HTML and column options."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import pytest
import torch
import torchinfo

import netspec
from netspec.backends.summary import COLUMNS

ARCH = Path(__file__).resolve().parent.parent / "architectures"
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
TORCHINFO_LINES = ("Total params", "Trainable params", "Non-trainable params", "Input size (MB)",
                   "Forward/backward pass size (MB)", "Params size (MB)", "Estimated Total Size (MB)")


def _torchinfo(spec, shape, batch, dtype, freeze=()):
    model = netspec.load(spec, input_shape=shape, device="meta", freeze=freeze).to(DTYPES[dtype]).eval()
    with pytest.warns(UserWarning) if dtype != "float32" else _nothing():
        stats = torchinfo.summary(model, input_size=(batch, *netspec.summarize(spec, input_shape=shape).input_shape),
                                  dtypes=[DTYPES[dtype]], device="meta", verbose=0)
    return model, stats


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.slow
@pytest.mark.parametrize("spec, shape, batch, dtype, freeze", [
    ("lenet5.yaml", None, 1, "float32", ()),
    ("lenet5.yaml", None, 16, "float16", ("features",)),
    ("resnet18.yaml", (3, 64, 64), 1, "float32", ()),
    ("resnet18.yaml", (3, 64, 64), 4, "float16", ("conv1", "layer1")),
    ("resnet18.yaml", (3, 64, 64), 2, "bfloat16", ("layer4.*.conv*",)),
    ("densenet121.yaml", (3, 64, 64), 3, "float32", ("features.denseblock1",)),
])
def test_memory_and_trainable_split_equal_torchinfo(spec, shape, batch, dtype, freeze):
    _, stats = _torchinfo(ARCH / spec, shape, batch, dtype, freeze)
    ours = netspec.summarize(ARCH / spec, input_shape=shape, batch_size=batch, dtype=dtype, freeze=freeze)
    printed = str(stats).splitlines()
    table = str(ours).splitlines()
    for label in TORCHINFO_LINES:
        line = next(line for line in printed if line.startswith(label + ":"))
        assert line in table, f"torchinfo prints {line!r}; netspec: {[t for t in table if t.startswith(label)]}"
    assert ours.trainable_params == stats.trainable_params and ours.total_params == stats.total_params
    assert ours.forward_backward_bytes == stats.total_output_bytes
    assert ours.param_bytes == stats.total_param_bytes
    assert ours.batch_mult_adds == stats.total_mult_adds
    # torchinfo measures the input with sys.getsizeof, which adds the storage object's own header
    assert stats.total_input - ours.input_bytes == sys.getsizeof(torch.empty(0).untyped_storage())
    if freeze:
        assert 0 < ours.non_trainable_params < ours.total_params


@pytest.mark.slow
def test_params_size_counts_the_auxiliary_heads_that_torchinfo_does_not_run():
    """torchinfo sizes only the parameters of layers that ran (eval mode skips googlenet's aux heads); netspec
    counts every parameter in memory. The difference is exactly the aux heads' parameters."""
    spec = ARCH / "torchvision" / "googlenet.yaml"
    model, stats = _torchinfo(spec, (3, 64, 64), 2, "float32")
    ours = netspec.summarize(spec, input_shape=(3, 64, 64), batch_size=2)
    aux = sum(p.numel() for name, p in model.named_parameters() if name.startswith("aux"))
    assert aux > 0 and ours.param_bytes - stats.total_param_bytes == 4 * aux
    assert ours.forward_backward_bytes == stats.total_output_bytes
    assert ours.batch_mult_adds == stats.total_mult_adds and ours.total_params == stats.total_params


def test_frozen_modules_have_requires_grad_off_and_match_the_static_split():
    model = netspec.load(ARCH / "lenet5.yaml", freeze=["classifier.1", "features.*"])
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    summary = netspec.summarize(ARCH / "lenet5.yaml", freeze=["classifier.1", "features.*"])
    assert frozen == summary.non_trainable_params == 156 + 2416 + 48120


def test_print_and_str_give_the_table_and_notebooks_an_html_table():
    summary = netspec.summarize(ARCH / "lenet5.yaml", depth=1)
    text = str(summary)
    assert text.splitlines()[0] == "lenet5" and "Total params: 61,706" in text
    assert repr(summary) == text
    assert "features.0" not in text, "the depth given to summarize applies to str()"
    page = summary._repr_html_()
    assert page.startswith('<div class="netspec-summary">') and "<table>" in page
    assert "<td>features</td>" in page and "<td>61,706</td>" in page


def test_block_names_in_the_kind_column():
    rows = {r.path: r.kind for r in netspec.summarize(ARCH / "googlenet.yaml").rows}
    assert rows["body.inception3a"] == "inception" and rows["body.inception3a.branch1"] == "seq"
    rows = {r.path: r.kind for r in netspec.summarize(ARCH / "resnet18.yaml").rows}
    assert rows["layer1"] == "seq" and rows["layer1.0"] == "basic" and rows["layer1.0.conv1"] == "conv2d"


def test_columns_choose_what_the_table_shows():
    summary = netspec.summarize(ARCH / "lenet5.yaml", columns="input,kernel,percent")
    lines = str(summary).splitlines()
    assert lines[2].split() == ["Layer", "Kind", "Input", "shape", "Kernel", "Params", "%"]
    conv = next(line.split() for line in lines if line.strip().startswith("features.0"))
    assert conv == ["features.0", "conv2d", "(1,", "28,", "28)", "5x5", f"{100 * 156 / 61706:.2f}%"]
    with pytest.raises(netspec.UsageError, match=r"unknown column 'kernal' \(did you mean 'kernel'\?\)"):
        netspec.summarize(ARCH / "lenet5.yaml", columns=["kernal"])
    assert set(COLUMNS) == {"input", "output", "kernel", "params", "trainable", "mult-adds", "percent"}


def test_csv_is_plain_numbers_per_row():
    summary = netspec.summarize(ARCH / "lenet5.yaml", columns="output,params,trainable,mult-adds", batch_size=2)
    rows = list(csv.DictReader(io.StringIO(summary.render("csv"))))
    assert list(rows[0]) == ["path", "kind", "depth", "output", "params", "trainable", "mult_adds"]
    conv = next(r for r in rows if r["path"] == "features.0")
    assert conv == {"path": "features.0", "kind": "conv2d", "depth": "2", "output": "6x28x28", "params": "156",
                    "trainable": "156", "mult_adds": str(2 * 122_304)}


def test_bad_dtype_and_batch_are_usage_errors():
    with pytest.raises(netspec.UsageError, match="dtype must be one of float32, float16, bfloat16, float64, got "
                                                  r"'float8' \(did you mean"):
        netspec.summarize(ARCH / "lenet5.yaml", dtype="float8")
    with pytest.raises(netspec.UsageError, match="batch size must be a positive whole number, got 0"):
        netspec.summarize(ARCH / "lenet5.yaml", batch_size=0)
