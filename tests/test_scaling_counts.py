"""Linear-time guards that cannot flake: on a 10,000-layer spec, the work done per layer is counted, not timed.

A quadratic path shows up as a count that grows with the spec: an expression parsed once per use rather
than once per distinct text, or the source re-split (or re-scanned for newlines) once per value rather than
once per file. Each front end's size caps are raised for the test, as a user raises --max-nodes.
"""

from __future__ import annotations

import pytest

from netspec.frontends import dsl, validate, yaml_source
from netspec.ir import expr, exprparse
from netspec import pipeline
from netspec.diagnostics import SpecError

LAYERS = 10_000


class CountingText(str):
    """Spec text that counts the whole-text scans made on it (splitting into lines, counting newlines)."""

    scans = 0

    def splitlines(self, *args, **kwargs):
        CountingText.scans += 1
        return super().splitlines(*args, **kwargs)

    def count(self, *args, **kwargs):
        CountingText.scans += 1
        return super().count(*args, **kwargs)


@pytest.fixture
def large(monkeypatch):
    """Caps raised past a 10,000-layer spec; caches emptied so every parse is counted."""
    monkeypatch.setattr(validate, "MAX_VALUES", 10 * LAYERS)
    monkeypatch.setattr(yaml_source, "MAX_NODES", 10 * LAYERS)
    monkeypatch.setattr(dsl, "MAX_TOKENS", 20 * LAYERS)
    real_read_yaml = pipeline.read_yaml

    def read_yaml(text, file="<string>"):  # the C YAML reader takes only a plain str; later passes see the counter
        doc = real_read_yaml(str(text), file)
        doc.text = CountingText(doc.text)
        return doc

    monkeypatch.setattr(pipeline, "read_yaml", read_yaml)
    pipeline.clear_caches()
    expr.parse_expr.cache_clear()
    CountingText.scans = 0
    yield
    pipeline.clear_caches()


def _spec(fmt: str, bad: bool) -> str:
    conv = "conv2d(8, 3, padding=1 +)" if bad else "conv2d(8, 3, padding=1)"
    lines = [conv if k % 2 == 0 else "relu" for k in range(LAYERS)]
    if fmt == "yaml":
        return "name: big\ninput: [8, 8, 8]\nlayers:\n" + "".join(f"  - {line}\n" for line in lines)
    return "network big\ninput 8x8x8\n" + "".join(f"{line}\n" for line in lines)


def _analyse(text: str, fmt: str):
    """parse_text keeps the text's type, so the counting string reaches the front end (read_source makes a str)."""
    return pipeline.typed_graph(pipeline.parse_text(CountingText(text), "big." + fmt, fmt), max_nodes=4 * LAYERS)


@pytest.mark.parametrize("fmt", ["yaml", "ns"])
def test_plain_layers_parse_each_distinct_text_once(large, fmt):
    graph = _analyse(_spec(fmt, bad=False), fmt)
    assert sum(1 for n in graph.walk() if not n.children) == LAYERS  # the whole spec was analysed
    parses = expr.parse_expr.cache_info().misses
    assert parses <= 20, f"{parses} expression parses for {LAYERS:,} layers of two distinct texts"
    assert CountingText.scans <= 4, f"{CountingText.scans} scans of the whole source for {LAYERS:,} layers"


@pytest.mark.parametrize("fmt", ["yaml", "ns"])
def test_a_mistake_on_every_line_scans_the_source_a_bounded_number_of_times(large, fmt):
    with pytest.raises(SpecError) as caught:
        _analyse(_spec(fmt, bad=True), fmt)
    caught.value.render()
    assert caught.value.diagnostics  # the mistakes are reported (up to the error cap)
    assert expr.parse_expr.cache_info().misses <= 20 + 101  # a text that fails to parse is parsed per use, up to the cap
    # one split when the first position inside a value is needed, one when the report quotes lines
    assert CountingText.scans <= 4, f"{CountingText.scans} scans of the whole source for 100 reported errors"


def test_the_parse_cache_gives_the_same_result_and_sees_a_changed_file(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text("name: net\ninput: [3, 8, 8]\nlayers:\n  - conv2d(4, 3)\n  - relu\n")
    pipeline.clear_caches()
    first = pipeline.analyse(str(path))
    again = pipeline.analyse(str(path))  # from the cache
    pipeline.clear_caches()
    fresh = pipeline.analyse(str(path))  # without it
    assert first.root.params == again.root.params == fresh.root.params == 4 * 3 * 9 + 4
    assert [n.out_shape for n in first.walk()] == [n.out_shape for n in fresh.walk()]
    # same size, same modification time as far as the file system can tell: the text is the key
    stat = path.stat()
    path.write_text("name: net\ninput: [3, 8, 8]\nlayers:\n  - conv2d(5, 3)\n  - relu\n")
    import os

    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert pipeline.analyse(str(path)).root.params == 5 * 3 * 9 + 5


def test_a_cached_parse_is_not_shared_between_callers():
    text = "name: net\ninput: [3, 8, 8]\nlayers:\n  - conv2d(4, 3)\n"
    pipeline.clear_caches()
    one = pipeline.parse(text)
    one.locations.table.clear()
    two = pipeline.parse(text)
    assert two.locations.table, "a caller's change to its ParsedSpec reached the next caller"


def test_a_layer_kind_registered_later_is_seen_by_a_cached_text():
    from netspec.layers import REGISTRY

    text = "name: net\ninput: [3, 8, 8]\nlayers:\n  - relu\n"
    pipeline.clear_caches()
    pipeline.parse(text)
    kind = REGISTRY.pop("relu")
    try:
        with pytest.raises(SpecError):
            pipeline.analyse(text)  # relu unknown now: the earlier parse is not reused
    finally:
        REGISTRY["relu"] = kind
    assert pipeline.analyse(text).root.params == 0


def test_the_garbage_collector_is_paused_during_the_passes_and_on_again_after():
    import gc

    seen = []
    real_resolve = pipeline.resolve

    def resolve(*args, **kwargs):
        seen.append(gc.isenabled())
        return real_resolve(*args, **kwargs)

    assert gc.isenabled()
    pipeline.resolve, saved = resolve, pipeline.resolve
    try:
        pipeline.analyse("name: net\ninput: [3, 8, 8]\nlayers:\n  - relu\n")
        assert gc.isenabled()
        with pytest.raises(SpecError):
            pipeline.analyse("name: net\ninput: [3, 8, 8]\nlayers:\n  - reluu\n")
        assert gc.isenabled()  # on again after an error too
        gc.disable()
        try:
            pipeline.analyse("name: net\ninput: [3, 8, 8]\nlayers:\n  - relu\n")
            assert not gc.isenabled()  # a caller's own choice is kept
        finally:
            gc.enable()
    finally:
        pipeline.resolve = saved
    assert seen and not any(seen)


@pytest.mark.parametrize("fmt", ["yaml", "ns"])
def test_plain_layers_never_reach_lark_s_expression_parser(large, monkeypatch, fmt):
    """`conv2d(8, 3, padding=1)` and `relu` are read by the hand-written expression parser (exprparse.read), so
    a plain spec of 10,000 layers makes no call of lark's expression parser at all, and at most one per distinct
    text of the hand-written one."""
    calls = []
    real = expr._parser()

    class Counting:
        def parse(self, text, *args, **kwargs):
            calls.append(text)
            return real.parse(text, *args, **kwargs)

    monkeypatch.setattr(expr, "_parser", lambda: Counting())
    fast = []
    real_read = exprparse.read
    monkeypatch.setattr(exprparse, "read", lambda text: fast.append(text) or real_read(text))
    graph = _analyse(_spec(fmt, bad=False), fmt)
    assert sum(1 for n in graph.walk() if not n.children) == LAYERS
    assert calls == [], f"lark parsed {len(calls)} expressions of a plain spec, such as {calls[:3]}"
    assert len(fast) <= 20, f"{len(fast)} hand-written parses for {LAYERS:,} layers of two distinct texts"
