"""The `netspec` command line: check, summary and build, their options, exit statuses (0 ok, 1 spec
error, 2 usage error), checkpoints written by `build -o`, seeds, and the promise that `check` and
`summary` never import torch.

Most commands run in this process (typer's CliRunner) to stay fast; the start-up and import tests
run a real interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ARCH = REPO / "architectures"
LENET = ARCH / "lenet5.yaml"


def lenet5_params(channels: int = 1, size: int = 28, classes: int = 10) -> int:
    """LeNet-5's parameter count worked out by hand from architectures/lenet5.yaml."""
    conv1 = 6 * channels * 5 * 5 + 6  # padding 2 keeps size x size; avgpool halves it
    conv2 = 16 * 6 * 5 * 5 + 16  # 5x5 valid conv, then avgpool halves again
    side = (size // 2 - 4) // 2
    fc1 = 16 * side * side * 120 + 120
    fc2 = 120 * 84 + 84
    fc3 = 84 * classes + classes
    return conv1 + conv2 + fc1 + fc2 + fc3


def no_traceback(run) -> None:
    assert "Traceback" not in run.output, run.output


# ---- check -------------------------------------------------------------------------------------------


def test_check_accepts_several_specs_at_once(cli):
    run = cli("check", LENET, ARCH / "googlenet.yaml", ARCH / "resnet18.yaml")
    assert run.rc == 0, run.output
    assert run.stderr == ""
    lines = run.stdout.splitlines()
    assert len(lines) == 3, run.stdout
    assert lines[0] == f"{LENET}: ok ({lenet5_params():,} params, output (10,))"
    assert lines[1].startswith(f"{ARCH / 'googlenet.yaml'}: ok (6,998,552 params")
    assert lines[2].startswith(f"{ARCH / 'resnet18.yaml'}: ok (11,689,512 params")


def test_check_exits_1_for_a_spec_error_and_still_checks_the_rest(tmp_path, cli):
    (tmp_path / "bad.yaml").write_text("name: bad\ninput: [3, 8, 8]\nlayers: [flatten, 'conv2d(8, 3)']\n")
    run = cli("check", "bad.yaml", LENET, cwd=tmp_path)
    assert run.rc == 1
    assert run.stderr.startswith("bad.yaml:3:19: error[rank-mismatch]: "), run.stderr
    assert f"{LENET}: ok" in run.stdout
    no_traceback(run)


# ---- summary -----------------------------------------------------------------------------------------


def summary_json(cli, *args) -> dict:
    run = cli("summary", LENET, "--format", "json", *args)
    assert run.rc == 0, run.output
    return json.loads(run.stdout)


def test_summary_table(cli):
    run = cli("summary", LENET)
    assert run.rc == 0, run.output
    lines = run.stdout.splitlines()
    assert lines[0] == "lenet5"
    assert lines[2].split() == ["Layer", "Kind", "Output", "shape", "Params", "Mult-adds"]
    assert ["features.0", "conv2d", "(6,", "28,", "28)", "156", "122,304"] in [line.split() for line in lines]
    assert f"Total params: {lenet5_params():,}" in lines
    assert "Input: (1, 28, 28)" in lines and "Output: (10,)" in lines


def test_summary_json_is_data(cli):
    data = summary_json(cli)
    assert data["name"] == "lenet5"
    assert data["input_shape"] == [1, 28, 28] and data["output_shape"] == [10]
    assert data["total_params"] == lenet5_params()
    assert data["param_bytes"] == 4 * lenet5_params()
    leaves = [r for r in data["rows"] if r["leaf"]]
    assert sum(r["params"] for r in leaves) == data["total_params"]
    assert [r["kind"] for r in leaves][:3] == ["conv2d", "sigmoid", "avgpool2d"]


def test_summary_markdown(cli):
    run = cli("summary", LENET, "--format", "markdown")
    assert run.rc == 0, run.output
    lines = run.stdout.splitlines()
    assert lines[0] == "### lenet5"
    assert "| Layer | Kind | Output shape | Params | Mult-adds |" in lines
    assert "| `features.0` | conv2d | (6, 28, 28) | 156 | 122,304 |" in lines
    assert f"| Total params | {lenet5_params():,} |" in lines


def test_summary_depth_limits_the_rows(cli):
    assert [r["path"] for r in summary_json(cli, "--depth", "1")["rows"]] == ["features", "classifier"]
    table = cli("summary", LENET, "-d", "1").stdout
    assert "features.0" not in table and "classifier" in table
    assert f"Total params: {lenet5_params():,}" in table, "--depth hides rows, not totals"


def test_summary_input_option_changes_the_input_shape(cli):
    data = summary_json(cli, "--input", "3x32x32")
    assert data["input_shape"] == [3, 32, 32]
    assert data["total_params"] == lenet5_params(channels=3, size=32)


def test_summary_set_overrides_a_param(cli):
    data = summary_json(cli, "--set", "num_classes=7")
    assert data["output_shape"] == [7]
    assert data["total_params"] == lenet5_params(classes=7)
    assert summary_json(cli, "-s", "num_classes=2 * 5", "-i", "1x32x32")["output_shape"] == [10], (
        "a --set value is read as an expression, and short options work"
    )


# ---- usage errors: exit 2 ----------------------------------------------------------------------------

USAGE_ERRORS = {
    "unknown --set name": (["summary", LENET, "--set", "num_clases=5"], "unknown param 'num_clases' (did you mean 'num_classes'?)"),
    "--set without =": (["summary", LENET, "--set", "num_classes"], "--set takes NAME=VALUE"),
    "--set bad expression": (["summary", LENET, "--set", "num_classes=1 +"], "--set num_classes"),
    "--input letters": (["summary", LENET, "--input", "axb"], "--input takes sizes like 3x224x224"),
    "--input zero": (["summary", LENET, "--input", "3x0x32"], "--input sizes must be positive"),
    "missing file": (["summary", "no-such-spec.yaml"], "no-such-spec.yaml: no such file"),
    "missing file among several": (["check", LENET, "no-such-spec.yaml"], "no-such-spec.yaml: no such file"),
    "unknown format": (["summary", "spec.txt"], "unknown spec format '.txt'"),
    "a directory": (["summary", "folder"], "is a directory"),
    "--depth 0": (["summary", LENET, "--depth", "0"], "--depth"),
    "--format xml": (["summary", LENET, "--format", "xml"], "--format"),
    "--max-params 0": (["build", LENET, "--max-params", "0"], "--max-params"),
    "unknown command": (["frobnicate", LENET], "No such command"),
}


@pytest.mark.parametrize("case", USAGE_ERRORS, ids=list(USAGE_ERRORS))
def test_usage_errors_exit_2(case, tmp_path, cli):
    args, expected = USAGE_ERRORS[case]
    (tmp_path / "spec.txt").write_text(LENET.read_text())
    (tmp_path / "folder").mkdir()
    run = cli(*args, cwd=tmp_path)
    no_traceback(run)
    assert expected in run.stderr, f"stderr should say {expected!r}; got {run.stderr!r}"
    assert run.rc == 2, f"a usage error must exit 2, got {run.rc}: {run.output}"
    assert "error[" not in run.stderr, "a usage error is not a located spec error"


def test_device_cuda_without_cuda_is_a_usage_error(cli, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    run = cli("build", LENET, "--device", "cuda")
    no_traceback(run)
    assert run.rc == 2, run.output
    assert "netspec: error: --device cuda" in run.stderr


# ---- build -------------------------------------------------------------------------------------------


def test_build_prints_the_summary_and_runs_a_forward_pass(cli):
    run = cli("build", LENET, "--set", "num_classes=7")
    assert run.rc == 0, run.output
    assert f"Total params: {lenet5_params(classes=7):,}" in run.stdout
    assert run.stdout.rstrip().endswith("Built on cpu: forward pass (1, 7) ok")


def test_build_exits_1_for_a_spec_error(tmp_path, cli):
    (tmp_path / "bad.yaml").write_text("name: bad\ninput: [3, 8, 8]\nlayers: [reluu]\n")
    run = cli("build", "bad.yaml", cwd=tmp_path)
    assert run.rc == 1
    assert run.stderr.startswith("bad.yaml:3:10: error[unknown-layer]: "), run.stderr
    no_traceback(run)


def test_build_json_keeps_stdout_pure_json(tmp_path, cli):
    run = cli("build", LENET, "--format", "json", "-o", tmp_path / "m.pt")
    assert run.rc == 0, run.output
    assert json.loads(run.stdout)["total_params"] == lenet5_params()
    assert "Wrote" in run.stderr


def test_build_writes_a_checkpoint_that_rebuilds_the_same_module(tmp_path, cli):
    import torch

    import netspec
    from netspec.checkpoint import load_checkpoint

    path = tmp_path / "model.pt"
    run = cli("build", LENET, "--set", "num_classes=7", "--input", "1x32x32", "--seed", "3", "-o", path)
    assert run.rc == 0, run.output
    payload = torch.load(path, weights_only=True)  # plain data: loads without unpickling any code
    assert list(payload["files"].values()) == [LENET.read_text()], "the checkpoint must carry the spec text that made it"
    assert netspec.parse(payload["spec"]) == netspec.parse(LENET), "and the spec, linked, standing alone"
    assert payload["params"] == {"num_classes": "7"}
    assert payload["input_shape"] == [1, 32, 32]
    assert payload["seed"] == 3

    expected = netspec.load(LENET, num_classes=7, input_shape=(1, 32, 32), seed=3)
    state = payload["state_dict"]
    assert list(state) == list(expected.state_dict())
    for key, tensor in expected.state_dict().items():
        assert torch.equal(state[key], tensor), f"{key} differs from a build with the same seed"

    rebuilt = load_checkpoint(path)
    assert str(rebuilt) == str(expected)
    for key, tensor in rebuilt.state_dict().items():
        assert torch.equal(tensor, state[key]), f"load_checkpoint did not restore {key}"
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(x), expected.eval()(x))


def test_checkpoint_is_created_with_ordinary_file_permissions(tmp_path, cli):
    """The atomic write goes through a private temp file; the result must still get the usual umask mode."""
    umask = os.umask(0)
    os.umask(umask)
    path = tmp_path / "model.pt"
    assert cli("build", LENET, "-o", path).rc == 0
    ordinary = tmp_path / "ordinary"
    ordinary.write_bytes(b"")
    assert oct(path.stat().st_mode & 0o777) == oct(ordinary.stat().st_mode & 0o777) == oct(0o666 & ~umask)


def _failing_save(calls: list):
    def save(obj, handle, *args, **kwargs):
        handle.write(b"half a checkpoint")
        calls.append(handle)
        raise OSError(28, "No space left on device")

    return save


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    import torch

    import netspec
    from netspec.checkpoint import save_checkpoint

    module = netspec.load(LENET)
    path = tmp_path / "model.pt"
    path.write_bytes(b"the previous checkpoint")
    calls: list = []
    monkeypatch.setattr(torch, "save", _failing_save(calls))
    with pytest.raises(OSError):
        save_checkpoint(path, module, LENET.read_text())
    assert calls, "torch.save was not called"
    assert path.read_bytes() == b"the previous checkpoint", "a failed write damaged the existing checkpoint"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"], "a temporary file was left behind"


def test_build_that_fails_to_write_leaves_the_old_checkpoint(tmp_path, monkeypatch, cli):
    import torch

    path = tmp_path / "model.pt"
    path.write_bytes(b"the previous checkpoint")
    monkeypatch.setattr(torch, "save", _failing_save([]))
    run = cli("build", LENET, "-o", path)
    no_traceback(run)
    assert run.rc != 0, "a build whose checkpoint could not be written must not succeed"
    assert "internal error" not in run.stderr, f"a full disk is not a bug in netspec: {run.stderr}"
    assert path.read_bytes() == b"the previous checkpoint"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


def test_build_to_an_unwritable_path_is_a_usage_error(tmp_path, cli):
    """A bad -o path is the user's to fix (exit 2, one line), not 'a bug in netspec' (exit 3)."""
    (tmp_path / "blocker").write_text("a file where a folder would have to be")
    run = cli("build", LENET, "-o", tmp_path / "blocker" / "model.pt")
    no_traceback(run)
    assert "internal error" not in run.stderr, run.stderr
    assert run.rc == 2, run.output
    assert "netspec: error:" in run.stderr and "blocker" in run.stderr


def test_seed_makes_builds_identical(tmp_path, cli):
    import torch

    states = {}
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        path = tmp_path / f"{name}.pt"
        assert cli("build", LENET, "--seed", seed, "-o", path).rc == 0
        states[name] = torch.load(path, weights_only=True)["state_dict"]
    assert all(torch.equal(states["a"][k], states["b"][k]) for k in states["a"]), "same seed, different weights"
    assert not all(torch.equal(states["a"][k], states["c"][k]) for k in states["a"]), "the seed changed nothing"


# ---- start-up: check and summary never import torch -------------------------------------------------

_NO_TORCH = """
import sys
from netspec.cli import main

def run(*argv):
    sys.argv = ["netspec", *argv]
    try:
        main()
    except SystemExit as exc:
        return exc.code or 0
    return 0

assert run("summary", "architectures/googlenet.yaml") == 0, "summary failed"
assert run("summary", "architectures/resnet18.yaml", "--format", "json", "--set", "num_classes=10") == 0
assert run("check", "architectures/googlenet.yaml", "architectures/densenet121.yaml") == 0, "check failed"
loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
print("TORCH MODULES:", loaded, file=sys.stderr)
"""


def test_check_and_summary_never_import_torch():
    proc = subprocess.run([sys.executable, "-c", _NO_TORCH], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Total params: 6,998,552" in proc.stdout, "the googlenet summary was not printed"
    assert "TORCH MODULES: []" in proc.stderr, f"check/summary imported torch: {proc.stderr.splitlines()[-1]}"


def test_the_console_script_runs(tmp_path):
    script = Path(sys.executable).with_name("netspec")
    assert script.exists(), "installing the package must put a `netspec` console script beside the interpreter"
    proc = subprocess.run([str(script), "summary", str(ARCH / "googlenet.yaml"), "--depth", "1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Total params: 6,998,552" in proc.stdout


def test_python_m_entry_point_exit_statuses(tmp_path, netspec_process):
    """The real process reports the same exit statuses: 0 ok, 1 spec error, 2 usage error."""
    (tmp_path / "bad.yaml").write_text("name: bad\ninput: [3, 8, 8]\nlayers: [reluu]\n")
    assert netspec_process("check", LENET).rc == 0
    bad = netspec_process("check", "bad.yaml", cwd=tmp_path)
    assert bad.rc == 1 and bad.stderr.startswith("bad.yaml:3:10: error[unknown-layer]: "), bad.output
    usage = netspec_process("summary", LENET, "--input", "axb")
    assert usage.rc == 2 and "Traceback" not in usage.output, usage.output
