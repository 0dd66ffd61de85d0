"""Run the fuzzer: N generated specs per syntax through every property; figures and the failures found."""

from __future__ import annotations

import collections
import time

from hypothesis import HealthCheck, Phase, given, seed, settings

from .properties import outcome
from .strategies import spec_texts


def campaign(syntax: str, examples: int, seed_value: int = 0, mult_adds: bool = True, keep_going: bool = True,
             progress=None):
    """(counts by outcome, [(message, text)] failures, seconds) for `examples` specs in `syntax`;
    `progress(counts)`, when given, is called every 1,000 specs, and `progress(counts, (message, text))` on a failure."""
    counts: collections.Counter = collections.Counter()
    failures: list[tuple[str, str]] = []

    @seed(seed_value)
    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(spec_texts(syntax))
    def one(text: str) -> None:
        try:
            counts[outcome(text, syntax, mult_adds)] += 1
        except AssertionError as exc:
            counts["failure"] += 1
            failures.append((str(exc), text))
            if progress is not None:  # a long campaign shows each failure as it is found
                progress(counts, (str(exc), text))
            if not keep_going:
                raise
        if progress is not None and sum(counts.values()) % 1000 == 0:
            progress(counts)

    started = time.perf_counter()
    one()
    return counts, failures, time.perf_counter() - started
