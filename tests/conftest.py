"""Shared helpers for the CLI, error and hostile-input tests: run `netspec` in this process or as a real one."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

# pytest-xdist runs one worker per core, and torch starts as many threads as cores in each: on 2 cores the
# workers' threads spin against each other (the torchvision comparisons took 207 s instead of 23 s). One
# torch thread per worker; set before any test module imports torch. A user's own setting is kept.
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parent.parent
ARCH = REPO / "architectures"


@dataclass
class Run:
    """What one `netspec` command did: exit status and the two output streams."""

    rc: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@contextmanager
def working_directory(path: Path | None):
    """Run a block in `path` (so diagnostics name files relatively), then come back."""
    if path is None:
        yield
        return
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def run_cli(*args: str, cwd: Path | None = None) -> Run:
    """`netspec ARGS` in this process through typer's CliRunner (fast: torch is imported once per worker).

    An exception that escapes the command is re-raised, so a bug shows its own traceback in the test.
    """
    from typer.testing import CliRunner

    from netspec.cli import app

    runner = CliRunner(env={"NETSPEC_DEBUG": None})
    with working_directory(cwd):
        result = runner.invoke(app, [str(a) for a in args], catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Run(result.exit_code, result.stdout, result.stderr)


def run_process(*args: str, cwd: Path | None = None, timeout: float = 120) -> Run:
    """`python -m netspec.cli ARGS` as a separate process: the real entry point, start-up included."""
    env = {k: v for k, v in os.environ.items() if k != "NETSPEC_DEBUG"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "netspec.cli", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli():
    """Run `netspec` in this process: cli("check", "spec.yaml", cwd=folder) -> Run."""
    return run_cli


@pytest.fixture
def netspec_process():
    """Run `python -m netspec.cli` as a real process: netspec_process("check", "spec.yaml", cwd=folder) -> Run."""
    return run_process
