"""A custom layer kind, registered exactly as docs/python-api.md shows it, gets static shapes, counts that
agree with torchinfo, located errors, a module that runs, and a row in the generated layer table."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchinfo

import netspec
from netspec import docgen
from netspec.layers import REGISTRY

DOC = Path(__file__).resolve().parent.parent / "docs" / "python-api.md"

SPEC = """
input: [3, 64, 64]
layers:
  - conv2d(32, 3, stride=2, padding=1)
  - separable_conv2d(64)
  - separable_conv2d(128, stride=2)
  - [adaptive_avgpool2d(1), flatten, linear(10)]
"""


def documented_code() -> str:
    """The one ```python block of python-api.md that registers a layer kind in the reader's session
    (the plugin files, blocks with a title, are tested in test_plugins.py)."""
    blocks = [b for b in docgen.code_blocks(DOC.read_text(encoding="utf-8"))
              if b.lang == "python" and "@netspec.register_layer" in b.body and not b.title]
    assert len(blocks) == 1, "python-api.md should show exactly one layer-kind registration"
    return blocks[0].body


@pytest.fixture
def separable():
    """Run the documented code, as a user's module would be imported; unregister the kind afterwards."""
    before = dict(REGISTRY)
    namespace: dict = {"__name__": "user_layers"}
    exec(compile(documented_code(), str(DOC), "exec", dont_inherit=True), namespace)  # noqa: S102
    assert set(REGISTRY) - set(before) == {"separable_conv2d"}
    yield REGISTRY["separable_conv2d"]
    REGISTRY.clear()
    REGISTRY.update(before)


def test_static_shapes_and_counts(separable):
    summary = netspec.summarize(SPEC)
    rows = {r.path: r for r in summary.rows}
    assert rows["1"].kind == "separable_conv2d"
    assert rows["1"].output_shape == (64, 32, 32)
    assert rows["2"].output_shape == (128, 16, 16)
    assert rows["1"].params == 32 * 9 + 32 * 64
    assert summary.output_shape == (10,)


def test_built_module_agrees_with_the_static_counts(separable):
    summary = netspec.summarize(SPEC)
    model = netspec.load(SPEC, seed=0).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 64, 64)).shape == (2, 10)
    stats = torchinfo.summary(model, (1, 3, 64, 64), device="cpu", verbose=0)
    assert stats.total_params == summary.total_params
    assert stats.total_mult_adds == summary.total_mult_adds
    assert isinstance(model[1], torch.nn.Sequential) and model[1][0].groups == 32


def test_shape_errors_are_located_diagnostics(separable):
    bad = SPEC.replace("  - separable_conv2d(128, stride=2)\n", "  - flatten\n  - separable_conv2d(128)\n")
    with pytest.raises(netspec.SpecError) as info:
        netspec.summarize(bad)
    (diagnostic,) = info.value.diagnostics
    assert (diagnostic.code, diagnostic.path, diagnostic.loc.line) == ("rank-mismatch", "3", 7)
    assert "separable_conv2d expects (C, H, W)" in diagnostic.message


def test_argument_errors_use_the_args_schema(separable):
    with pytest.raises(netspec.SpecError) as info:
        netspec.summarize(SPEC.replace("separable_conv2d(64)", "separable_conv2d(64, strde=2, kernel=0)"))
    codes = sorted(d.code for d in info.value.diagnostics)
    assert codes == ["unknown-arg"]
    assert "did you mean 'stride'" in info.value.diagnostics[0].message
    with pytest.raises(netspec.SpecError, match="kernel"):
        netspec.summarize(SPEC.replace("separable_conv2d(64)", "separable_conv2d(64, kernel=0)"))


def test_the_kind_joins_the_generated_layer_table(separable):
    table = docgen.layer_table_markdown()
    assert "#### `separable_conv2d`" in table
    assert "`separable_conv2d(out, kernel, stride)`" in table
    assert "(16, 32, 32) → (64, 16, 16)" in table  # its example, inferred statically


def test_teardown_leaves_the_registry_as_it_was():
    assert "separable_conv2d" not in REGISTRY
