"""`netspec fmt` and `netspec convert` keep comments: on every bundled spec, in both syntaxes, fmt keeps each
comment's text and is idempotent, and YAML -> .ns -> YAML (and .ns -> YAML -> .ns) keeps them too and settles."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from netspec.cli import _printed
from netspec.frontends.comments import comment_texts, find_comments
from netspec.pipeline import parse_text

ARCH = Path(__file__).resolve().parent.parent / "architectures"
BUNDLED = sorted([*ARCH.rglob("*.yaml"), *ARCH.rglob("*.ns")])
OTHER = {"yaml": "ns", "ns": "yaml"}


def _syntax(path: Path) -> str:
    return "ns" if path.suffix == ".ns" else "yaml"


def _fmt(text: str, file: str, syntax: str, to: str | None = None) -> str:
    return _printed(parse_text(text, file, syntax), to or syntax)


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.relative_to(ARCH).as_posix())
def test_fmt_keeps_every_comment_and_is_idempotent(path):
    syntax, text = _syntax(path), path.read_text(encoding="utf-8")
    once = _fmt(text, str(path), syntax)
    assert Counter(comment_texts(once, syntax)) == Counter(comment_texts(text, syntax))
    assert _fmt(once, str(path), syntax) == once
    if syntax == "yaml":  # the .ns files keep their hand-made grouping of entries on lines, which fmt undoes
        assert once == text, f"{path.name} is not in canonical form: run `netspec fmt --write {path}`"


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.relative_to(ARCH).as_posix())
def test_convert_carries_comments_there_and_back(path):
    syntax, text = _syntax(path), path.read_text(encoding="utf-8")
    other = OTHER[syntax]
    there = _fmt(text, str(path), syntax, other)
    back = _fmt(there, str(path), other, syntax)
    wanted = Counter(comment_texts(text, syntax))
    assert Counter(comment_texts(there, other)) == wanted
    assert Counter(comment_texts(back, syntax)) == wanted
    again = _fmt(_fmt(back, str(path), syntax, other), str(path), other, syntax)
    assert again == back  # the round trip settles after one turn


def test_comments_stay_with_what_they_annotate():
    text = ("# the network\n"
            "name: tiny\n"
            "input: [1, 8, 8]\n"
            "\n"
            "layers:\n"
            "  # features first\n"
            "  - conv2d(4, 3)   # -> (4, 6, 6)\n"
            "  - relu\n"
            "\n"
            "  - flatten        # -> (144,)\n"
            "  - linear(2)\n")
    ns = _fmt(text, "t.yaml", "yaml", "ns")
    assert ns == ("# the network\n"
                  "network tiny\n"
                  "input 1x8x8\n"
                  "\n"
                  "# features first\n"
                  "conv2d(4, 3)       # -> (4, 6, 6)\n"  # at the column it had
                  "relu\n"
                  "\n"
                  "flatten            # -> (144,)\n"
                  "linear(2)\n")
    assert _fmt(ns, "t.ns", "ns", "yaml") == text


def test_hash_signs_inside_values_are_not_comments():
    yaml_text = 'name: t\ndescription: "no # comment here"\ninput: [1, 8, 8]\nlayers: [flatten]  # one\n'
    assert [c.text for c in find_comments(yaml_text, "yaml")] == ["# one"]
    ns_text = 'network t "no # comment"\ninput 1x8x8\n`a#b`: flatten  # two\n'
    assert [c.text for c in find_comments(ns_text, "ns")] == ["# two"]


def test_ns_fmt_keeps_the_authors_line_breaks_and_packs_the_rest():
    # a hand-laid .ns sequence: two entries a line as written, a comment that starts a line, params on one line
    hand = (
        "network packed\ninput 3x8x8\nparam a = 4, b = 8\n\n"
        "body: [\n  conv2d(a, 3) relu\n  # the second stage\n  conv2d(b, 3) relu\n]\n"
    )
    assert _fmt(hand, "packed.ns", "ns") == hand
    # from YAML (one entry a line) the same sequence is packed, except where a comment starts a line
    yaml_text = (
        "name: packed\ninput: [3, 8, 8]\nparams: {a: 4, b: 8}\nlayers:\n  body:\n"
        "    - conv2d(a, 3)\n    - relu\n    # the second stage\n    - conv2d(b, 3)\n    - relu\n"
    )
    assert _fmt(yaml_text, "packed.yaml", "yaml", to="ns") == hand
