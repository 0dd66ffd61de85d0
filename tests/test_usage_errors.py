"""Golden errors of the Python API: a wrong argument to `netspec.load`, `parse` or `summarize` is a UsageError
that says what is accepted (tests/usage_errors/api.txt holds each call and its exact error), and the
checks come before any work: nothing is read, built or seeded."""

from __future__ import annotations

from pathlib import Path

import pytest

import netspec

GOLDEN = Path(__file__).resolve().parent / "usage_errors" / "api.txt"
SPEC = "name: small\ninput: [3, 8, 8]\nlayers:\n  - conv2d(4, 3)\n"


def _cases() -> list[tuple[str, str]]:
    lines = [line for line in GOLDEN.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    calls = [(lines[i].removeprefix(">>> "), lines[i + 1]) for i in range(0, len(lines), 2)]
    assert all(lines[i].startswith(">>> ") for i in range(0, len(lines), 2)), "api.txt alternates >>> calls and errors"
    return calls


CASES = _cases()


@pytest.mark.parametrize("call, expected", CASES, ids=[c for c, _ in CASES])
def test_api_argument_errors(call, expected):
    with pytest.raises(Exception) as caught:
        eval(call, {"netspec": netspec, "SPEC": SPEC})  # the calls are this file's own, not user input
    assert f"{type(caught.value).__name__}: {caught.value}" == expected


def test_every_public_entry_point_has_a_golden():
    called = {c.split("(")[0] for c, _ in CASES}
    assert called >= {"netspec.load", "netspec.parse", "netspec.summarize"}


def test_usage_errors_are_netspec_errors_not_type_errors():
    """A caller catching netspec's errors catches these; a TypeError would slip past them."""
    with pytest.raises(netspec.UsageError):
        netspec.load(3)
    assert not issubclass(netspec.UsageError, TypeError)
