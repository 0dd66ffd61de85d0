"""The entry point's quick path (netspec/cli.py) runs plain `check` and `summary` command lines without typer:
each such line must give exactly what the typer app gives (stdout, stderr, exit status), and any other line
must reach the typer app."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import netspec.cli as entry
from netspec.cli_app import app

from conftest import REPO, working_directory

LINES = [
    ["check", "architectures/googlenet.yaml", "architectures/lenet5.ns", "./architectures/resnet18.yaml"],
    ["check", "--max-params", "1000", "architectures/lenet5.yaml"],
    ["check", "architectures/lenet5.yaml", "tests/errors/alias-limit.yaml", "--max-nodes=30000"],
    ["check", "no/such/file.yaml"],
    ["check", "--max-bytes", "100", "architectures/lenet5.yaml"],
    ["summary", "architectures/lenet5.yaml"],
    ["summary", "architectures/googlenet.ns", "-d", "1", "--format", "markdown"],
    ["summary", "architectures/lenet5.yaml", "--format=json", "--batch", "8", "--dtype", "float16"],
    ["summary", "architectures/lenet5.yaml", "-c", "input,output,kernel,percent", "--freeze", "conv*", "--freeze", "fc1"],
    ["summary", "architectures/resnet18.yaml", "--set", "num_classes=10", "-i", "3x64x64", "-f", "csv"],
    ["summary", "architectures/resnet18.yaml", "--set", "num_classes"],
    ["summary", "architectures/resnet18.yaml", "--input", "3x0x2"],
    ["summary", "architectures/resnet18.yaml", "--set", "nope=1"],
]


def _quick(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = entry._quick(*entry._plain(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("argv", LINES, ids=lambda a: " ".join(a))
def test_a_plain_line_gives_what_the_typer_app_gives(argv, monkeypatch):
    monkeypatch.delenv("NETSPEC_DEBUG", raising=False)
    assert entry._plain(argv) is not None, "this line should take the quick path"
    with working_directory(REPO):
        code, out, err = _quick(argv)
        typer = CliRunner().invoke(app, argv)
    assert (code, out, err) == (typer.exit_code, typer.stdout, typer.stderr)
    assert out or err


@pytest.mark.parametrize("argv", [
    [], ["--version"], ["build", "x.yaml"], ["check"], ["summary"], ["summary", "a.yaml", "b.yaml"],
    ["check", "--help"], ["summary", "a.yaml", "-h"], ["check", "a.yaml", "--plugin", "p.py"],
    ["check", "a.yaml", "--max-params", "0"], ["check", "a.yaml", "--max-params", "1e9"],
    ["check", "a.yaml", "--max-params"], ["check", "a.yaml", "--max-par", "3"], ["summary", "a.yaml", "-d2"],
    ["summary", "a.yaml", "--format", "TABLE"], ["summary", "a.yaml", "-f=json"], ["check", "--", "a.yaml"],
    ["summary", "a.yaml", "--input", "-3"], ["check", ""], ["summary", "a.yaml", "--dtype", "float64"],
])
def test_any_other_line_goes_to_the_typer_app(argv):
    assert entry._plain(argv) is None


def test_a_plain_summary_process_does_not_import_typer():
    code = ("import sys, netspec.cli\nsys.argv = ['netspec', 'summary', 'architectures/lenet5.yaml']\n"
            "try:\n    netspec.cli.main()\nexcept SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
            "print(sorted(m for m in ('typer', 'click', 'rich', 'torch') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, check=True)
    assert proc.stdout.splitlines()[-1] == "[]"


def test_the_typer_apps_names_are_reachable_from_the_entry_module():
    assert entry.app is app
    assert entry.progress.__module__ == "netspec.cli_app"
