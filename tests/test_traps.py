"""Traps from issue 10 that once passed silently, each in both syntaxes and checked on the module torch builds:
a word compared with the string of its text, list repetition in a param, and the positional order that differs
from torch's (refused rather than read as other arguments)."""

from __future__ import annotations

import pytest
import torch

import netspec
from netspec.diagnostics import SpecError

WORD_YAML = """\
name: words
input: [3, 8, 8]
params: {act: HS, pads: "3 * [0]"}
layers:
  - conv2d(4, 3, padding=pads[0] + 1)
  - {if: "act == 'HS'", then: hardswish, else: relu}
"""
WORD_NS = """\
network words
input 3x8x8
param act = HS, pads = 3 * [0]
conv2d(4, 3, padding=pads[0] + 1)
if act == "HS" then hardswish else relu
"""


@pytest.mark.parametrize("text, syntax", [(WORD_YAML, "yaml"), (WORD_NS, "ns")])
def test_a_word_equals_the_string_of_its_text(text, syntax):
    model = netspec.load(text, format=syntax, seed=0)
    assert isinstance(model[1], torch.nn.Hardswish)  # not relu: `HS == 'HS'` is true
    assert model[0].padding == (1, 1)
    other = netspec.load(text, format=syntax, seed=0, act="RE")
    assert isinstance(other[1], torch.nn.ReLU)


@pytest.mark.parametrize("text, syntax", [
    ("name: t\ninput: [3, 8, 8]\nlayers: ['conv2d(3, 64, 3)']\n", "yaml"),
    ("network t\ninput 3x8x8\nconv2d(3, 64, 3)\n", "ns"),
])
def test_torchs_argument_order_is_refused_with_the_keyword_to_use(text, syntax):
    with pytest.raises(SpecError) as info:
        netspec.load(text, format=syntax)
    (diag,) = info.value.diagnostics
    assert diag.code == "too-many-args" and "`stride=3`" in diag.message and "torch's order" in diag.message
