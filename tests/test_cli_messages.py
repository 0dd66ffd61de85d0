"""Golden command-line messages: each tests/cli_messages/NAME.cmd is one `netspec ...` line, run in a folder
holding lenet5.yaml; NAME.out is its exit status, stdout and stderr, exactly. They pin the wording of
command-line mistakes (no pydantic phrasing such as "Input should be" or "Value error,"), that status lines
("Wrote ...") go to stderr, and `diff --exit-code`."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

from conftest import run_cli

HERE = Path(__file__).resolve().parent / "cli_messages"
ARCH = Path(__file__).resolve().parent.parent / "architectures"
CASES = sorted(p.stem for p in HERE.glob("*.cmd"))


def _transcript(name: str, folder: Path) -> str:
    shutil.copy(ARCH / "lenet5.yaml", folder / "lenet5.yaml")
    args = shlex.split((HERE / f"{name}.cmd").read_text(encoding="utf-8"))
    assert args[0] == "netspec"
    run = run_cli(*args[1:], cwd=folder)
    return f"exit {run.rc}\n--- stdout\n{run.stdout}--- stderr\n{run.stderr}"


@pytest.mark.parametrize("name", CASES)
def test_cli_message_is_the_golden(name, tmp_path):
    golden = (HERE / f"{name}.out").read_text(encoding="utf-8")
    assert _transcript(name, tmp_path) == golden


def test_no_message_uses_pydantic_wording():
    for golden in HERE.glob("*.out"):
        text = golden.read_text(encoding="utf-8")
        assert "Input should" not in text and "Value error" not in text, golden.name
    assert len(CASES) == len(list(HERE.glob("*.out")))


class _Terminal:
    """A stderr that says it is a terminal, and keeps what is written to it."""

    def __init__(self, tty: bool):
        self.tty, self.text = tty, ""

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


@pytest.mark.parametrize("tty", [True, False])
def test_progress_only_on_a_terminal_and_only_for_slow_steps(monkeypatch, tty):
    import threading

    import netspec.cli as cli

    stream = _Terminal(tty)
    monkeypatch.setattr("sys.stderr", stream)
    with cli.progress("quick step", after=0.5):
        pass
    finished = threading.Event()
    with cli.progress("slow step", after=0.05):
        finished.wait(0.3)
    if tty:
        assert stream.text.startswith("slow step...\nslow step: ") and stream.text.endswith(" s\n")
        assert "quick step" not in stream.text
    else:
        assert stream.text == ""
