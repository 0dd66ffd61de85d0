"""An entry text written many times in one file: the front ends read each distinct text once and replay it, so
every copy must come out as the same text standing alone would, at its own position.

The reference for each line is a file holding that line alone where it stands, every other line's entries
replaced by as many `identity` calls: its Spec entries, its locations and its errors must be the line's.
"""

from __future__ import annotations

import pytest

from netspec.diagnostics import SpecError
from netspec.frontends import validate
from netspec.pipeline import clear_caches as clear_parses, parse_text


def clear_caches() -> None:
    """Forget the parsed texts and YAML's entry plans (kept for the process), so each parse reads afresh."""
    clear_parses()
    validate.ENTRY_PLANS.clear()

HEAD = {"yaml": "name: t\ninput: [3, 8, 8]\nlayers:\n", "ns": "network t\ninput 3x8x8\n"}
# (line, the entries it holds)
ENTRIES = {
    "yaml": [("  - conv2d(8, [1, 3], padding=[0, 1])", 1), ('  - "conv2d(8, [1, 3], padding=[0, 1])"', 1),
             ("  - a: conv2d(8, [1, 3], padding=[0, 1])", 1), ("  - relu", 1), ("  - relu", 1), ("  -   relu", 1),
             ("  - conv2d(8, [1, 3], padding=[0, 1])", 1), ("  - 'relu'", 1), ("  - b: relu", 1)],
    "ns": [("conv2d(8, [1, 3], padding=[0, 1])", 1), ("  conv2d(8, [1, 3], padding=[0, 1])", 1),
           ("a: conv2d(8, [1, 3], padding=[0, 1])", 1), ("relu", 1), ("relu relu", 2),
           ("b: relu   conv2d(8, [1, 3], padding=[0, 1])", 2), ("relu; relu", 2)],
}
BAD = {
    "yaml": [("  - conv2d(8, 3, padding=1, padding=2)", 1), ("  - relu", 1), ("  - conv2d(x=1, 2)", 1),
             ("  -  conv2d(8, 3, padding=1, padding=2)", 1), ("  - conv2d(x=1, 2)", 1), ("  - conv2d(8, 3 +)", 1),
             ("  - conv2d(8, 3 +)", 1), ('  - "64"', 1), ("  - conv2d(1e999)", 1), ("  - conv2d(1e999)", 1)],
    "ns": [("conv2d(8, 3, padding=1, padding=2)", 1), ("relu", 1), ("conv2d(x=1, 2)", 1),
           (" conv2d(8, 3, padding=1, padding=2)", 1), ("conv2d(x=1, 2) conv2d(x=1, 2)", 2), ("conv2d(1e999)", 1),
           ("  conv2d(1e999)", 1)],
}


def _file(fmt: str, lines: list[tuple[str, int]], at: int | None = None) -> str:
    """The spec of `lines`, or of line `at` alone where it stands."""
    filler = "  - identity" if fmt == "yaml" else "identity"
    shown = [line if at is None or i == at else " ".join([filler] * count) for i, (line, count) in enumerate(lines)]
    return HEAD[fmt] + "\n".join(shown) + "\n"


def _entries(parsed, first: int, count: int) -> list:
    """(entry, its locations) for `count` top-level entries from `first`."""
    out = []
    table = parsed.locations.table
    for k in range(first, first + count):
        rows = sorted(((path, (located.loc, located.shown)) for path, located in table.items()
                       if path[:2] == ("layers", k)), key=repr)
        out.append((parsed.spec.layers[k], rows))
    return out


@pytest.mark.parametrize("fmt", ["yaml", "ns"])
def test_each_copy_reads_as_it_would_alone(fmt):
    lines = ENTRIES[fmt]
    clear_caches()
    whole = parse_text(_file(fmt, lines), "t." + fmt, fmt)
    index = 0
    for at, (line, count) in enumerate(lines):
        clear_caches()
        alone = parse_text(_file(fmt, lines, at), "t." + fmt, fmt)
        assert _entries(whole, index, count) == _entries(alone, index, count), line
        index += count
    assert index == len(whole.spec.layers)


@pytest.mark.parametrize("fmt", ["yaml", "ns"])
def test_each_copy_of_a_wrong_text_is_reported_where_it_stands(fmt):
    lines = BAD[fmt]
    clear_caches()
    with pytest.raises(SpecError) as caught:
        parse_text(_file(fmt, lines), "t." + fmt, fmt)
    expected = []  # the errors of each line alone, in file order (identity reports none)
    for at in range(len(lines)):
        clear_caches()
        try:
            parse_text(_file(fmt, lines, at), "t." + fmt, fmt)
        except SpecError as exc:
            expected += [(d.code, d.message, d.path, d.loc) for d in exc.diagnostics]
    assert [(d.code, d.message, d.path, d.loc) for d in caught.value.diagnostics] == expected


@pytest.mark.parametrize("fmt", ["yaml", "ns"])
def test_copies_share_no_list(fmt):
    clear_caches()
    spec = parse_text(_file(fmt, ENTRIES[fmt][:2]), "t." + fmt, fmt).spec
    one, two = spec.layers[0], spec.layers[1]
    assert one == two
    assert one.args[1] is not two.args[1] and one.kwargs["padding"] is not two.kwargs["padding"]


def test_a_yaml_entry_text_is_planned_once_a_process(monkeypatch):
    """Files that share entry texts (a family and its presets) read each distinct text once between them, and
    each copy still gets its own data."""
    planned = []
    real = validate._call_plan
    monkeypatch.setattr(validate, "_call_plan", lambda text, tree: planned.append(text) or real(text, tree))
    clear_caches()
    first = parse_text(_file("yaml", ENTRIES["yaml"]), "a.yaml", "yaml")
    second = parse_text(HEAD["yaml"] + "  - relu\n  - conv2d(8, [1, 3], padding=[0, 1])\n  - linear(2)\n", "b.yaml")
    assert sorted(planned) == ["conv2d(8, [1, 3], padding=[0, 1])", "linear(2)", "relu"]
    assert second.spec.layers[1] == first.spec.layers[0] and second.spec.layers[0] == first.spec.layers[3]
    assert second.spec.layers[1].args[1] is not first.spec.layers[0].args[1]
    assert second.locations.find(("layers", 1, "args", 1)).loc.line == 5  # its own position, in its own file
    assert second.locations.find(("layers", 1, "args", 1)).loc.file == "b.yaml"


def test_a_yaml_entry_plan_lasts_as_long_as_its_parse(monkeypatch):
    """Clearing the expression cache drops the plans made from it: the text is read, and planned, afresh."""
    from netspec.ir import expr

    planned = []
    real = validate._call_plan
    monkeypatch.setattr(validate, "_call_plan", lambda text, tree: planned.append(text) or real(text, tree))
    clear_caches()
    text = HEAD["yaml"] + "  - conv2d(8, 3)\n  - conv2d(8, 3 +)\n  - conv2d(8, 3 +)\n"
    for _ in range(2):
        with pytest.raises(SpecError):
            parse_text(text, "a.yaml")
        clear_parses()
    # a wrong text is planned once in each file that holds it (the reading of an error is not kept)
    assert planned == ["conv2d(8, 3)", "conv2d(8, 3 +)", "conv2d(8, 3 +)"]
    expr.parse_expr.cache_clear()
    with pytest.raises(SpecError):
        parse_text(text, "a.yaml")
    assert planned[3:] == ["conv2d(8, 3)", "conv2d(8, 3 +)"]
