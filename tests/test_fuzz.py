"""The standing fuzz gate: generated specs in both syntaxes keep properties (a)-(d) (tests/fuzz/properties.py).

A fixed seed, so CI is repeatable; NETSPEC_FUZZ_EXAMPLES=N (or `python -m tests.fuzz --examples N`) runs more.
"""

from __future__ import annotations

import os

import pytest

from tests.fuzz.campaign import campaign
from tests.fuzz.strategies import shown

EXAMPLES = int(os.environ.get("NETSPEC_FUZZ_EXAMPLES", "2000"))


@pytest.mark.slow
@pytest.mark.parametrize("syntax", ["yaml", "ns"])
def test_generated_specs_keep_every_property(syntax):
    counts, failures, _ = campaign(syntax, EXAMPLES, seed_value=0)
    assert not failures, f"{len(failures)} failures; the first:\n{failures[0][0]}\n{shown(failures[0][1])}"
    assert counts["run"] + counts["meta"] >= EXAMPLES // 5, f"too few valid specs to mean much: {dict(counts)}"
