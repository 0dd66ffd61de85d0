"""Each failure the generated-spec fuzzer found, as a small spec with its expected result (tests/fuzz/)."""

from __future__ import annotations

import pytest
import torch

from netspec.backends.compile import compile_graph
from netspec.diagnostics import SpecError
from netspec.pipeline import analyse
from tests.fuzz.properties import check_spec

# Specs that check and must then build, run forward and backward, keep the caller's input, match their static
# shapes and counts, and give the same values and gradients with every in-place flag off.
RUNS = {
    # an explicit inplace=true on the network's input: torch refused the leaf tensor (and would change the caller's)
    "inplace-on-input": "name: f\ninput: [4, 5, 5]\nlayers:\n  a: hardsigmoid(inplace=true)\n  b: batchnorm2d\n",
    # a concat branch was built as if it received the branch before it: relu overwrote the shared input
    "inplace-in-branch": "name: f\ninput: [3, 1, 9]\nlayers:\n  a: conv2d(3, 1)\n"
                         "  b:\n    concat:\n      - conv2d(2, 1)\n      - relu\n      - relu\n",
    # an add of one branch returns that branch's tensor (here the input): the next relu ran in place on it
    "inplace-after-one-branch-add": "name: f\ninput: [3, 4, 4]\nlayers:\n  a:\n    add: [identity]\n  b: relu\n",
    # dense 0 is the input itself
    "inplace-after-empty-dense": "name: f\ninput: [5, 11]\nlayers:\n  a:\n    dense: 0\n    layer: relu\n  b: leaky_relu\n",
    # a residual's `after: relu` output is saved by relu's backward; the in-place layer after it broke backward
    "inplace-after-residual-after": "name: f\ninput: [8, 3]\nlayers:\n  a:\n    residual:\n      body: [hardtanh]\n"
                                    "      after: relu\n  b: hardsigmoid(inplace=true)\n",
    # a tap (extra output) after a convolution: its relu ran in place on the stream the next layer reads
    "inplace-in-output": "name: f\ninput: [3, 6, 6]\noutputs: [main, aux]\nlayers:\n  a: conv2d(4, 3)\n"
                         "  aux:\n    output: relu\n  b: sigmoid\n",
    # an output whose `if` is false returns the stream's tensor itself: the relu after it overwrote that output
    "inplace-after-empty-output": "name: f\ninput: [3, 4, 4]\nlayers:\n  a:\n    concat: [\"conv2d(2, 1)\"]\n"
                                  "  aux:\n    output:\n      if: false\n      then: conv2d(2, 1)\n  b: relu\n",
}

_FLAT_IN_FLAT = ("name: f\ninput: [4, {size}, {size}]\nblocks:\n  inner:\n    flat:\n      - a: conv2d({width}, 1)\n"
                 "      - b: relu\nlayers:\n  - outer:\n      flat:\n        - inner\n        - inner\n")

# Specs that must be refused with this diagnostic code (before: an internal error, or a failure in forward)
REFUSED = {
    # every branch an `if` that is false: infer indexed an empty list
    "empty-merge": ("name: f\ninput: [5, 11]\nlayers:\n  a:\n    concat:\n      b0:\n        if: false\n"
                    "        then: tanh\n", "invalid-entry"),
    # a tensor no machine holds: torch said "Storage size calculation overflowed" in forward
    "storage-overflow": ("name: f\ninput: [100000000000, 100000000000, 10000000000]\nlayers:\n  - relu\n", "too-large"),
    "storage-overflow-output": ("network f\ninput 8x8x8\nupsample(scale_factor=10**7)\n", "too-large"),
    # torch's avg_pool3d needs the input (without padding) to be at least the kernel, ceil_mode or not
    "avgpool3d-small-input": ("network f\ninput 2x2x2x4\nl0: avgpool3d(3, stride=2, ceil_mode=true)\n", "spatial-too-small"),
    # padding `same` pads one more after than before: circular wrapped more than once, reflect reached past the
    # input (both validated, then failed in forward)
    "circular-same-padding": ("network f\ninput 2x1x5\nconv2d(4, 4, padding=same, padding_mode=circular)\n",
                              "invalid-value"),
    "reflect-same-padding": ("network f\ninput 2x1x6\nconv2d(4, 3, padding=same, padding_mode=reflect)\n",
                             "invalid-value"),
    # a flat block called twice in a flat module: both copies were one module, so the static count was twice the
    # module's (40 and 20), and where the copies see other widths torch refused the shared weight (on the meta
    # device: "Invalid channel dimensions")
    "flat-in-flat-count": (_FLAT_IN_FLAT.format(width=4, size=8), "duplicate-name"),
    "flat-in-flat-channels": (_FLAT_IN_FLAT.format(width=8, size=300), "duplicate-name"),
    # residual body layers named like the residual module's own attributes: replaced by None, or a str child
    "residual-body-named-shortcut_name": ("name: f\ninput: [4, 8, 8]\nlayers:\n  - r:\n      residual:\n"
                                          "        body:\n          - shortcut_name: conv2d(4, 3, padding=1)\n",
                                          "invalid-name"),
    "residual-body-named-after_name": ("name: f\ninput: [4, 8, 8]\nlayers:\n  - r:\n      residual:\n"
                                       "        body:\n          - after_name: conv2d(4, 3, padding=1)\n"
                                       "        after: relu\n", "invalid-name"),
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_fuzzer_finding_runs(name):
    assert check_spec(RUNS[name], "yaml") == "run"


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_fuzzer_finding_refused(name):
    text, code = REFUSED[name]
    with pytest.raises(SpecError) as caught:
        analyse(text, format="ns" if text.startswith("network") else "yaml")
    assert caught.value.diagnostics[0].code == code
    assert caught.value.diagnostics[0].loc is not None


@pytest.mark.parametrize("name", ["inplace-on-input", "inplace-after-one-branch-add", "inplace-after-empty-dense"])
def test_the_callers_input_is_untouched_without_autograd(name):
    """A tensor without requires_grad (inference, torch.no_grad) is the case torch does not refuse: an in-place
    first layer changed the caller's tensor silently."""
    graph = analyse(RUNS[name])
    model = compile_graph(graph, seed=0).eval()
    x = torch.randn(2, *graph.input_shape)
    before = x.clone()
    with torch.no_grad():
        model(x)
    assert torch.equal(x, before)
