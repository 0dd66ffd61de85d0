"""Mutated YAML specs never crash netspec: each gives a valid spec or located diagnostics, nothing else."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netspec.diagnostics import SpecError, UsageError
from netspec.pipeline import analyse

ARCH = Path(__file__).resolve().parent.parent / "architectures"
# The seed specs, and the library's families (every construct: if, splice, flat, output, dense...)
FILES = [*ARCH.glob("*.yaml"), *(ARCH / "torchvision" / "families").glob("*.yaml"),
         ARCH / "torchvision" / "mobilenet_v2.yaml"]
SOURCES = {p.name: p.read_text(encoding="utf-8") for p in sorted(FILES)}
# Pieces a person might type wrongly: YAML punctuation, brackets, names, numbers, operators.
TOKENS = ["[", "]", "{", "}", "(", ")", ":", ",", "-", " ", "\n", "  ", "#", "'", '"', "*", "&a", "*a", "!!",
          "relu", "conv2d", "repeat", "concat", "residual", "if", "splice", "output", "flat", "dense", "0", "-1",
          "1e400", "10**30", "x", "i", "in=3", "stride=", "padding=same", "null", "true", "\t", "%", "//"]

# 200 examples per property in CI; NETSPEC_FUZZ_EXAMPLES=5000 for a longer hunt
SETTINGS = settings(max_examples=int(os.environ.get("NETSPEC_FUZZ_EXAMPLES", "200")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(text: str) -> None:
    """Analyse `text`; the only acceptable failures are our own, each located."""
    try:
        analyse(text)
    except SpecError as exc:
        assert exc.diagnostics, "a SpecError must carry diagnostics"
        for diagnostic in exc.diagnostics:
            assert diagnostic.loc is not None, f"unlocated diagnostic: {diagnostic}"
        exc.render()  # rendering quotes the source line; it must not fail either
    except UsageError:
        pass


@SETTINGS
@given(name=st.sampled_from(sorted(SOURCES)), data=st.data())
def test_token_edits_never_crash(name, data):
    text = SOURCES[name]
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 6))
        text = text[:at] + data.draw(st.sampled_from(TOKENS)) + text[at + cut:]
    outcome(text)


@SETTINGS
@given(name=st.sampled_from(sorted(SOURCES)), data=st.data())
def test_byte_edits_never_crash(name, data):
    raw = bytearray(SOURCES[name].encode("utf-8"))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(32, 126))
    outcome(raw.decode("utf-8", errors="replace"))


@SETTINGS
@given(name=st.sampled_from(sorted(SOURCES)), data=st.data())
def test_line_deletions_and_duplications_never_crash(name, data):
    lines = SOURCES[name].splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(lines) - 1))
        if data.draw(st.booleans()):
            del lines[at]
        else:
            lines.insert(at, lines[data.draw(st.integers(0, len(lines) - 1))])
        if not lines:
            break
    outcome("".join(lines))
