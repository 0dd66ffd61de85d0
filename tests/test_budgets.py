"""Size budgets a user raises on purpose (--max-nodes / max_nodes=, --max-bytes / max_bytes=): the defaults refuse
a very large file before any expression is parsed; a raised node budget raises the front ends' caps with it,
so the same file is analysed; the parse cache never serves a parse admitted under another budget."""

from __future__ import annotations

import pytest

import netspec
from netspec import budgets, pipeline
from netspec.diagnostics import SpecError, UsageError

from conftest import run_cli

LAYERS = 6_000  # over the default caps of both front ends (5,000 YAML values; 20,000 .ns tokens)


def _flat(fmt: str, n: int = LAYERS) -> str:
    lines = ["conv2d(4, 3, padding=1)" if k % 2 == 0 else "relu" for k in range(n)]
    if fmt == "yaml":
        return "name: big\ninput: [4, 8, 8]\nlayers:\n" + "".join(f"  - {line}\n" for line in lines)
    return "network big\ninput 4x8x8\n" + "".join(f"{line}\n" for line in lines)


PARAMS = (LAYERS // 2) * (4 * 4 * 9 + 4)  # what torch would count: each conv2d(4, 3) on 4 channels


@pytest.mark.parametrize("fmt", ["yaml", "ns"])
def test_the_default_refuses_a_flat_spec_too_large_and_a_raised_budget_analyses_it(fmt):
    pipeline.clear_caches()
    text = _flat(fmt)
    with pytest.raises(SpecError) as caught:
        netspec.summarize(text, format=fmt)
    assert caught.value.diagnostics[0].code == "too-large"
    assert "--max-nodes" in caught.value.diagnostics[0].message
    summary = netspec.summarize(text, format=fmt, max_nodes=21_000)  # a little over the default is enough
    assert summary.total_params == PARAMS
    with pytest.raises(SpecError):  # the cache does not hand the admitted parse to a default-budget call
        netspec.parse(text, format=fmt)


def test_the_node_budget_scales_the_front_end_caps_and_is_checked():
    assert budgets.Budget().cap(5_000, 16) == 5_000
    assert budgets.Budget(max_nodes=10_000).cap(5_000, 16) == 5_000  # a lower node budget leaves the front ends alone
    assert budgets.Budget(max_nodes=20_100).cap(5_000, 16) == 5_000 + 16 * 100
    with budgets.within(max_nodes=40_000):
        with budgets.within(max_bytes=10):  # an inner call keeps the outer node budget
            assert budgets.current() == budgets.Budget(40_000, 10)
    assert budgets.current() == budgets.Budget()
    for bad in (0, -1, True, 2.5, "100"):
        with pytest.raises(UsageError):
            netspec.summarize(_flat("yaml", 4), max_nodes=bad)
        with pytest.raises(UsageError):
            netspec.parse(_flat("yaml", 4), max_bytes=bad)


def test_max_bytes_lowers_and_raises_the_file_limit(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(_flat("yaml", 4))
    size = path.stat().st_size
    with pytest.raises(SpecError) as caught:
        netspec.parse(str(path), max_bytes=size - 1)
    assert caught.value.diagnostics[0].code == "file-too-large" and "--max-bytes" in caught.value.diagnostics[0].message
    assert netspec.parse(str(path), max_bytes=size).name == "big"
    big = "# " + "x" * (1 << 20) + "\n" + _flat("ns", 4)  # over the default 1 MiB, in either front end
    with pytest.raises(SpecError):
        netspec.parse(big, format="ns")
    assert netspec.parse(big, format="ns", max_bytes=2 << 20).name == "big"


def test_the_command_line_takes_the_budgets(tmp_path):
    path = tmp_path / "big.ns"
    path.write_text(_flat("ns"))
    refused = run_cli("check", str(path))
    assert refused.rc == 1 and "error[too-large]" in refused.stderr
    ok = run_cli("check", "--max-nodes", "21000", str(path))
    assert ok.rc == 0 and f"{PARAMS:,} params" in ok.stdout
    small = run_cli("summary", "--max-bytes", "100", str(path))
    assert small.rc == 1 and "error[file-too-large]" in small.stderr
