"""The calls infer and the summary make per node, counted, never timed: a sequence types its plain layers in its
own loop, a row asks for a kernel only of a layer whose arguments have one, and a table writes each distinct shape
once. Each test also checks that the figures are still every node's own."""

from __future__ import annotations

import netspec
from netspec.backends import summary
from netspec.ir import infer
from netspec.pipeline import analyse

STACK = "name: stack\ninput: [8, 16, 16]\nlayers:\n" + "  - conv2d(8, 3, padding=1)\n  - relu\n" * 500 + \
    "  - maxpool2d(2)\n  - conv2d(4, 1)\n  - relu\n"


def test_a_sequence_types_its_layers_without_a_run_call_each(monkeypatch):
    calls = []
    real = infer._Inferrer.run
    monkeypatch.setattr(infer._Inferrer, "run", lambda self, node, shape: calls.append(node) or real(self, node, shape))
    graph = analyse(STACK)
    assert calls == [graph.root]  # the root; its 1,003 layers are typed by its own loop
    layers = graph.root.children
    assert [n.out_shape for n in layers[-4:]] == [(8, 16, 16), (8, 8, 8), (4, 8, 8), (4, 8, 8)]
    assert [n.in_shape for n in layers[-3:]] == [(8, 16, 16), (8, 8, 8), (4, 8, 8)]
    assert layers[0].params == 8 * 8 * 9 + 8 and layers[-2].params == 4 * 8 + 4 and layers[-2].mult_adds == 36 * 64
    assert graph.root.params == 500 * 584 + 36 and graph.root.mult_adds == 500 * 584 * 256 + 36 * 64


def test_a_row_asks_for_a_kernel_only_of_a_layer_that_has_one(monkeypatch):
    asked = []
    real = summary._kernel
    monkeypatch.setattr(summary, "_kernel", lambda args: asked.append(args) or real(args))
    rows = netspec.summarize(STACK).rows
    assert len(asked) == 502  # the convolutions and the pool, not the relus
    assert [r.kernel for r in rows[-4:]] == [None, (2, 2), (1, 1), None]
    assert rows[0].kernel == (3, 3)


def test_a_table_writes_each_distinct_shape_once(monkeypatch):
    written = []
    real = summary._shape
    monkeypatch.setattr(summary, "_shape", lambda shape: written.append(shape) or real(shape))
    result = netspec.summarize(STACK, columns="input,output")
    table = result.to_table()
    # each column's three shapes, then the totals' input and output
    assert written == [(8, 16, 16), (8, 8, 8), (4, 8, 8)] * 2 + [(8, 16, 16), (4, 8, 8)]
    cells = {line.split()[0]: line.split()[1:] for line in table.splitlines() if line[:1].isdigit()}
    assert len(cells) == 1003
    assert cells["999"] == ["relu", "(8,", "16,", "16)", "(8,", "16,", "16)"]
    assert cells["1000"] == ["maxpool2d", "(8,", "16,", "16)", "(8,", "8,", "8)"]
    assert cells["1001"] == ["conv2d", "(8,", "8,", "8)", "(4,", "8,", "8)"]


def test_a_summary_and_the_reference_walks_leave_no_cycle_for_the_collector():
    """A recursive walk written as a closure holds itself through its cell; once done it is let go, so the rows of a
    summary (and the reference walk's chain) are freed when the caller drops them, not by a later collection."""
    import gc

    spec = STACK.replace("layers:\n", "layers:\n  - first: conv2d(8, 1)\n  - tap: {output: \"conv2d(2, 1)\"}\n"
                         "  - add: [identity, $first]\n", 1)
    netspec.summarize(spec)
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        summary_rows = len(netspec.summarize(spec).rows)
        assert gc.collect() == 0
    finally:
        if enabled:
            gc.enable()
    assert summary_rows == 1008
