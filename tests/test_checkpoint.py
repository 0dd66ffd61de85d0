"""Checkpoints stand alone: the linked spec travels with the weights, a damaged file says so in one line
(goldens in tests/checkpoint_errors/), and neither signals nor I/O failures damage the file being replaced."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import torch

import netspec
from netspec.checkpoint import FORMAT

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "checkpoint_errors"

FAMILY = """\
name: tiny_family
input: [in_channels, 16, 16]
params:
  in_channels: 3
  width: 8
  num_classes: 10
blocks:
  unit:
    args: [channels]
    layers:
      - conv2d(channels, 3, padding=1)
      - batchnorm2d
      - relu
layers:
  - unit(width)
  - unit(width * 2)
  - adaptive_avgpool2d(1)
  - flatten
  - linear(num_classes)
"""
PRESET = "name: tiny\nextends: family/tiny.yaml\nparams:\n  width: 4\n"


def _equal_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_an_extends_checkpoint_loads_elsewhere_after_its_spec_files_are_gone(tmp_path, cli):
    project = tmp_path / "project"
    (project / "family").mkdir(parents=True)
    (project / "family" / "tiny.yaml").write_text(FAMILY)
    (project / "tiny.yaml").write_text(PRESET)
    run = cli("build", "tiny.yaml", "--set", "num_classes=5", "--seed", "2", "-o", "out/tiny.pt", cwd=project)
    assert run.rc == 0, run.output
    original = netspec.load(project / "tiny.yaml", num_classes=5, seed=2)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (project / "out" / "tiny.pt").rename(elsewhere / "tiny.pt")
    (project / "family" / "tiny.yaml").write_text(FAMILY.replace("relu", "sigmoid"))  # editing the family later...
    cwd = os.getcwd()
    os.chdir(elsewhere)
    try:
        restored = netspec.load_checkpoint("tiny.pt")  # ...changes nothing in the old checkpoint
        (project / "family" / "tiny.yaml").unlink()
        (project / "tiny.yaml").unlink()
        again = netspec.load_checkpoint("tiny.pt")
    finally:
        os.chdir(cwd)
    assert _equal_weights(restored, original) and _equal_weights(again, original)
    assert str(again) == str(original)
    x = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(again.eval()(x), original.eval()(x))

    payload = torch.load(elsewhere / "tiny.pt", weights_only=True)
    assert payload["format"] == FORMAT and payload["netspec_version"] == netspec.__version__
    assert payload["params"] == {"num_classes": "5"} and payload["seed"] == 2
    assert sorted(Path(f).name for f in payload["files"]) == ["tiny.yaml", "tiny.yaml"]
    assert "extends" not in payload["spec"] and "sigmoid" not in payload["spec"]
    assert len(payload["digest"]) == 64


def test_a_library_checkpoint_records_the_library_files_it_was_built_from(tmp_path):
    model = netspec.load("squeezenet1_1", num_classes=3, device="meta")
    assert model.classifier[1].out_channels == 3
    small = netspec.load("lenet5", seed=0)
    netspec.save_checkpoint(tmp_path / "lenet5.pt", small, "lenet5")
    payload = torch.load(tmp_path / "lenet5.pt", weights_only=True)
    assert list(payload["files"]) == ["netspec:lenet5.yaml"]
    assert _equal_weights(netspec.load_checkpoint(tmp_path / "lenet5.pt"), small)


def test_the_parameter_budget_is_checked_before_rebuilding(tmp_path, monkeypatch):
    model = netspec.load("lenet5", seed=0)
    netspec.save_checkpoint(tmp_path / "m.pt", model, "lenet5")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(netspec.SpecError, match="param-budget") as caught:
        netspec.load_checkpoint("m.pt", max_params=1000)
    assert caught.value.render() + "\n" == (GOLDEN / "over-budget.txt").read_text()


def test_weights_that_do_not_fit_the_rebuilt_network_are_named(tmp_path):
    model = netspec.load("lenet5", seed=0)
    netspec.save_checkpoint(tmp_path / "m.pt", model, "lenet5", params={"num_classes": 3})  # spec says 3 classes
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    from netspec.checkpoint import _digest

    assert _digest(payload) == payload["digest"], "the digest covers what was written"
    with pytest.raises(netspec.UsageError) as caught:
        netspec.load_checkpoint(tmp_path / "m.pt")
    assert str(caught.value) == (
        f"{tmp_path / 'm.pt'}: the weights do not fit the network: tensors 2 of another shape "
        "(classifier.5.weight is (10, 84) in the file, (3, 84) in the network)")


# ---- one-line errors, checked against goldens ----------------------------------------------------------


def _broken_files(folder: Path) -> dict[str, Path]:
    """Each kind of bad file, made from a good checkpoint of lenet5 (written as the CLI writes it)."""
    good = folder / "good.pt"
    netspec.save_checkpoint(good, netspec.load("lenet5", seed=0), "lenet5")
    data = good.read_bytes()
    files = {name: folder / f"{name}.pt" for name in
             ("truncated", "empty", "foreign-text", "foreign-state-dict", "foreign-pickle", "tampered-weights",
              "tampered-spec", "corrupted-bytes", "older-format")}
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["empty"].write_bytes(b"")
    files["foreign-text"].write_text("name: lenet5\n")
    torch.save(netspec.load("lenet5", seed=0).state_dict(), files["foreign-state-dict"])
    torch.save({"optimizer": torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)},
               files["foreign-pickle"])
    payload = torch.load(good, weights_only=True)
    payload["state_dict"]["features.0.weight"][0, 0, 0, 0] += 1  # one weight changed, digest left as it was
    torch.save(payload, files["tampered-weights"])
    payload = torch.load(good, weights_only=True)
    payload["spec"] = payload["spec"].replace("sigmoid", "relu")
    torch.save(payload, files["tampered-spec"])
    with zipfile.ZipFile(good) as archive:  # a byte inside the largest stored tensor
        biggest = max(archive.infolist(), key=lambda info: info.file_size)
    start = biggest.header_offset + 30 + len(biggest.filename.encode()) + len(biggest.extra)
    flipped = bytearray(data)
    flipped[start + biggest.file_size // 2] ^= 0xFF
    files["corrupted-bytes"].write_bytes(bytes(flipped))
    flipped = bytearray(data)  # bit 5 of a member's flags in the central directory (found by the fuzzer)
    entry = data.index(b"PK\x01\x02", biggest.header_offset + biggest.compress_size)
    while data[entry + 46:entry + 46 + len(biggest.filename)] != biggest.filename.encode():
        entry = data.index(b"PK\x01\x02", entry + 4)
    flipped[entry + 8] |= 0x20  # "compressed patched data", which zipfile refuses to read
    files["corrupted-header"] = folder / "corrupted-header.pt"
    files["corrupted-header"].write_bytes(bytes(flipped))
    payload = torch.load(good, weights_only=True)
    payload["format"] = "netspec-checkpoint/1"
    torch.save(payload, files["older-format"])
    from netspec.checkpoint import _digest

    payload = torch.load(good, weights_only=True)  # made elsewhere with a digest that matches: extends a file
    payload["spec"] = "name: lenet5\nextends: /etc/lenet5.yaml\n" + payload["spec"].split("\n", 1)[1]
    payload["digest"] = _digest(payload)
    files["spec-extends-a-file"] = folder / "spec-extends-a-file.pt"
    torch.save(payload, files["spec-extends-a-file"])
    stale = folder / f".good.pt.{2**22 + 12345}.x8k2.tmp"
    stale.write_bytes(data)
    files["stale-temp-file"] = stale
    files["missing"] = folder / "missing.pt"
    return files


CASES = ["truncated", "empty", "foreign-text", "foreign-state-dict", "foreign-pickle", "tampered-weights",
         "tampered-spec", "corrupted-bytes", "corrupted-header", "older-format", "stale-temp-file", "missing",
         "spec-extends-a-file"]


def test_every_golden_has_a_case():
    assert sorted(p.stem for p in GOLDEN.glob("*.err")) == sorted(CASES)


@pytest.mark.parametrize("case", CASES)
def test_a_bad_checkpoint_gives_its_golden_one_line_error(tmp_path, monkeypatch, case):
    files = _broken_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(netspec.UsageError) as caught:
        netspec.load_checkpoint(files[case].name)
    message = str(caught.value)
    assert "\n" not in message
    assert message + "\n" == (GOLDEN / f"{case}.err").read_text(), message


def test_weights_from_disk_load_strictly_into_a_library_spec(tmp_path):
    import torchvision

    reference = torchvision.models.squeezenet1_1()
    torch.save(reference.state_dict(), tmp_path / "squeezenet1_1.pth")
    model = netspec.load("squeezenet1_1", weights=tmp_path / "squeezenet1_1.pth")
    assert _equal_weights(model, reference)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), reference.eval()(x))
    with pytest.raises(netspec.UsageError, match=r"do not fit the network: tensors 2 of another shape "
                                                 r"\(classifier.1.weight is \(1000, 512, 1, 1\) in the file"):
        netspec.load("squeezenet1_1", num_classes=10, weights=tmp_path / "squeezenet1_1.pth")
    with pytest.raises(netspec.UsageError, match="no such file"):
        netspec.load("squeezenet1_1", weights=tmp_path / "nothing.pth")


# ---- writing: links, devices, permissions, I/O failures, signals ---------------------------------------


def test_links_and_devices_are_not_replaced(tmp_path, cli):
    real = tmp_path / "real.pt"
    real.write_bytes(b"kept")
    (tmp_path / "link.pt").symlink_to(real)
    run = cli("build", "lenet5", "-o", "link.pt", cwd=tmp_path)
    assert run.rc == 2 and "link.pt is a symbolic link" in run.stderr, run.output
    assert real.read_bytes() == b"kept" and (tmp_path / "link.pt").is_symlink()
    device = cli("build", "lenet5", "-o", os.devnull, cwd=tmp_path)
    assert device.rc == 2 and "is not a regular file" in device.stderr, device.output


def test_replacing_a_checkpoint_keeps_its_permissions(tmp_path, cli):
    target = tmp_path / "m.pt"
    target.write_bytes(b"old")
    target.chmod(0o640)
    assert cli("build", "lenet5", "-o", target).rc == 0
    assert target.stat().st_mode & 0o777 == 0o640
    assert netspec.load_checkpoint(target).spec_name == "lenet5"


def test_a_folder_that_cannot_be_made_is_a_one_line_error(tmp_path, cli):
    (tmp_path / "plain").write_text("a file, not a folder")
    run = cli("build", "lenet5", "-o", tmp_path / "plain" / "m.pt")
    assert run.rc == 2 and run.stderr.count("\n") == 1 and run.stderr.startswith("netspec: error: cannot write")


def test_stale_temp_files_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".m.pt.{dead.pid}.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    other = tmp_path / f".other.pt.{dead.pid}.abc123.tmp"  # another target's: not ours to touch
    other.write_bytes(b"x")
    netspec.save_checkpoint(tmp_path / "m.pt", netspec.load("lenet5"), "lenet5")
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, "m.pt"]


def _child(args: list[str], cwd: Path, preexec=None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    env.pop("NETSPEC_DEBUG", None)
    return subprocess.Popen([sys.executable, *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=preexec)


def test_a_disk_that_fills_up_is_a_one_line_error_and_the_old_file_stays(tmp_path):
    """RLIMIT_FSIZE makes the kernel refuse the write (EFBIG), as a full disk refuses it (ENOSPC)."""
    (tmp_path / "m.pt").write_bytes(b"the previous checkpoint")

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    child = _child(["-m", "netspec.cli", "build", "lenet5", "-o", "m.pt"], tmp_path, small_files)
    out, err = child.communicate(timeout=300)
    assert child.returncode == 2, err
    assert err == "netspec: error: cannot write m.pt: the file is too large for the file system\n"
    assert (tmp_path / "m.pt").read_bytes() == b"the previous checkpoint"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]


# 16 linear layers of 1024 x 1024: a 67 MB checkpoint in 32 tensors. The child's disk is made slow
# (each write of torch.save waits 20 ms) so that the signal surely lands while the file is written.
BIG = "name: big\ninput: [1024]\nlayers:\n" + "  - linear(1024)\n" * 16
SLOW_DISK = """
import sys, time
import netspec.checkpoint as checkpoint
write = checkpoint._Sink.write
def slow(self, data):
    time.sleep(0.02)
    return write(self, data)
checkpoint._Sink.write = slow
from netspec.cli import main
sys.argv = ["netspec", "build", "big.yaml", "-o", "big.pt", "--format", "json"]
main()
"""


@pytest.mark.slow
@pytest.mark.parametrize("signum, returncode", [(signal.SIGINT, 130), (signal.SIGTERM, -signal.SIGTERM)])
def test_a_signal_during_a_large_write_leaves_the_old_file_and_no_temp_file(tmp_path, signum, returncode):
    (tmp_path / "big.yaml").write_text(BIG)
    (tmp_path / "big.pt").write_bytes(b"the previous checkpoint")
    child = _child(["-c", SLOW_DISK], tmp_path)
    deadline = time.monotonic() + 240
    temps: list[Path] = []
    while not temps and child.poll() is None and time.monotonic() < deadline:
        temps = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp") and p.stat().st_size > 0]
        time.sleep(0.005)
    assert temps, f"the child never started writing: {child.communicate()}"
    child.send_signal(signum)
    out, err = child.communicate(timeout=120)
    assert child.returncode == returncode, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert (tmp_path / "big.pt").read_bytes() == b"the previous checkpoint"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.pt", "big.yaml"]
