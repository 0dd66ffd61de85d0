"""Files on disk (netspec/files.py): specs are read only from regular files, with a bounded read, and every file
netspec writes (`fmt --write`, `convert -o`, `schema -o`) is replaced atomically, keeps its permissions, and is
never a link's target, a device or a directory. Each failure is one line on stderr and exit status 2.

The operating system's own failures that cannot be caused for real in a test run as root (a read-only folder,
a full disk) are raised at the system call netspec makes, with the errno the kernel would give.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

import pytest

from netspec.files import FileProblem, FileTooLarge, atomic_write, read_regular

SPEC = "name: small\ninput: [3, 8, 8]\nlayers:\n  - conv2d(4, 3)\n  - relu\n"
NS = "network small\ninput [3, 8, 8]\nconv(4, 3)\nrelu\n"


# ---- reading ---------------------------------------------------------------------------------------


def test_read_regular_reads_a_file_up_to_the_limit(tmp_path):
    (tmp_path / "a.yaml").write_bytes(b"x" * 100)
    assert read_regular(tmp_path / "a.yaml", 100) == b"x" * 100
    with pytest.raises(FileTooLarge) as caught:
        read_regular(tmp_path / "a.yaml", 99)
    assert str(caught.value) == "spec is 100 bytes; the limit is 99 bytes"


def test_a_file_that_grows_after_stat_is_still_read_only_to_the_limit(tmp_path, monkeypatch):
    """stat may say less than the file holds (a file still being written, /proc): the read stops at limit + 1."""
    path = tmp_path / "growing.yaml"
    path.write_bytes(b"y" * 5000)
    real_stat = os.stat

    def small_stat(name, *args, **kwargs):
        result = real_stat(name, *args, **kwargs)
        if str(name) == str(path):
            return os.stat_result((result.st_mode, *tuple(result)[1:6], 10, *tuple(result)[7:]))
        return result

    monkeypatch.setattr(os, "stat", small_stat)
    with pytest.raises(FileTooLarge) as caught:
        read_regular(path, 1000)
    assert str(caught.value) == "spec is more than 1,000 bytes; the limit is 1,000 bytes"


@pytest.mark.parametrize("make, message", [
    (lambda p: p.symlink_to("/dev/zero"), "is a character device, not a regular file"),
    (lambda p: p.symlink_to("/dev/urandom"), "is a character device, not a regular file"),
    (lambda p: os.mkfifo(p), "is a FIFO (named pipe), not a regular file"),
    (lambda p: p.mkdir(), "is a directory, not a regular file"),
    (lambda p: (p.symlink_to(p.with_name("other")), p.with_name("other").symlink_to(p)),
     "a symbolic link loop (too many levels of links)"),
    (lambda p: None, "no such file"),
])
def test_read_regular_refuses_what_is_not_a_regular_file(tmp_path, make, message):
    path = tmp_path / "spec.yaml"
    make(path)
    with pytest.raises(FileProblem) as caught:
        read_regular(path, 1 << 20)
    assert str(caught.value) == message


def test_a_nul_byte_in_a_path_is_a_file_problem_not_a_value_error(tmp_path):
    with pytest.raises(FileProblem, match="NUL byte"):
        read_regular(str(tmp_path / "a\x00b.yaml"), 100)


# ---- writing ---------------------------------------------------------------------------------------


def test_atomic_write_replaces_the_content_and_keeps_the_permissions(tmp_path):
    target = tmp_path / "out.ns"
    target.write_text("old")
    target.chmod(0o600)
    atomic_write(target, "new text")
    assert target.read_text() == "new text"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.ns"], "a temporary file was left behind"


def test_a_new_file_gets_the_umask_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        atomic_write(tmp_path / "fresh.yaml", b"data")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "fresh.yaml").stat().st_mode) == 0o644


def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary_file(tmp_path):
    target = tmp_path / "spec.yaml"
    target.write_text(SPEC)

    def writer(handle):
        handle.write(b"half of a spec")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(FileProblem, match="no space left on the device"):
        atomic_write(target, writer)
    assert target.read_text() == SPEC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


def test_ctrl_c_mid_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "spec.yaml"
    target.write_text(SPEC)

    def writer(handle):
        handle.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, writer)
    assert target.read_text() == SPEC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


@pytest.mark.parametrize("make, message", [
    (lambda p: p.symlink_to(p.with_name("real.yaml")),
     "is a symbolic link; netspec does not write through links (give the path of the file it points to)"),
    (lambda p: p.mkdir(), "is a directory, not a regular file"),
    (lambda p: os.mkfifo(p), "is a FIFO (named pipe), not a regular file"),
])
def test_atomic_write_refuses_links_directories_and_fifos(tmp_path, make, message):
    (tmp_path / "real.yaml").write_text("keep me")
    target = tmp_path / "out.yaml"
    make(target)
    with pytest.raises(FileProblem) as caught:
        atomic_write(target, "text")
    assert str(caught.value) == message
    assert (tmp_path / "real.yaml").read_text() == "keep me"


def test_atomic_write_refuses_a_device(tmp_path):
    with pytest.raises(FileProblem, match="^is a character device, not a regular file$"):
        atomic_write("/dev/null", "text")


def test_atomic_write_into_a_missing_folder(tmp_path):
    with pytest.raises(FileProblem) as caught:
        atomic_write(tmp_path / "nowhere" / "out.yaml", "text")
    assert str(caught.value) == f"the folder {tmp_path / 'nowhere'} does not exist"
    assert not (tmp_path / "nowhere").exists()


# ---- the command line's one-line errors (goldens) ----------------------------------------------------


def _read_only_folder(monkeypatch):
    """A folder the kernel refuses to create files in (EACCES from mkstemp), as for a non-root user."""
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)


def _full_disk(monkeypatch):
    """A disk that fills up during the write (ENOSPC from fsync, as on a real full disk)."""
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)


IO_GOLDENS = [
    # (what the folder holds, command, patch, exit status, stderr exactly)
    ("missing-folder", ["convert", "spec.yaml", "--to", "ns", "-o", "nowhere/out.ns"], None, 2,
     "netspec: error: cannot write nowhere/out.ns: the folder nowhere does not exist\n"),
    ("output-is-a-directory", ["convert", "spec.yaml", "--to", "ns", "-o", "folder"], None, 2,
     "netspec: error: cannot write folder: is a directory, not a regular file\n"),
    ("output-is-a-link", ["convert", "spec.yaml", "--to", "ns", "-o", "link.ns"], None, 2,
     "netspec: error: cannot write link.ns: is a symbolic link; netspec does not write through links "
     "(give the path of the file it points to)\n"),
    ("output-is-a-device", ["convert", "spec.yaml", "--to", "ns", "-o", "/dev/null"], None, 2,
     "netspec: error: cannot write /dev/null: is a character device, not a regular file\n"),
    ("read-only-folder", ["convert", "spec.yaml", "--to", "ns", "-o", "out.ns"], _read_only_folder, 2,
     "netspec: error: cannot write out.ns: permission denied (cannot write in the folder .)\n"),
    ("full-disk", ["convert", "spec.yaml", "--to", "ns", "-o", "out.ns"], _full_disk, 2,
     "netspec: error: cannot write out.ns: no space left on the device\n"),
    ("fmt-full-disk", ["fmt", "--write", "messy.yaml"], _full_disk, 2,
     "netspec: error: cannot write messy.yaml: no space left on the device\n"),
    ("fmt-through-a-link", ["fmt", "--write", "messy-link.yaml"], None, 2,
     "netspec: error: cannot write messy-link.yaml: is a symbolic link; netspec does not write through links "
     "(give the path of the file it points to)\n"),
    ("schema-into-a-directory", ["schema", "-o", "folder"], None, 2,
     "netspec: error: cannot write folder: is a directory, not a regular file\n"),
    ("draw-missing-folder", ["draw", "spec.yaml", "-o", "nowhere/out.dot"], None, 2,
     "netspec: error: cannot write nowhere/out.dot: the folder nowhere does not exist\n"),
    ("draw-into-a-directory", ["draw", "spec.yaml", "-o", "folder"], None, 2,
     "netspec: error: cannot write folder: is a directory, not a regular file\n"),
    ("draw-through-a-link", ["draw", "spec.yaml", "-o", "link.dot"], None, 2,
     "netspec: error: cannot write link.dot: is a symbolic link; netspec does not write through links "
     "(give the path of the file it points to)\n"),
    ("draw-full-disk", ["draw", "spec.yaml", "-o", "out.dot"], _full_disk, 2,
     "netspec: error: cannot write out.dot: no space left on the device\n"),
    ("build-into-a-directory", ["build", "spec.yaml", "-o", "folder"], None, 2,
     "netspec: error: folder is a directory\n"),
    ("build-through-a-link", ["build", "spec.yaml", "-o", "link.ns"], None, 2,
     "netspec: error: link.ns is a symbolic link; netspec does not replace a link with a file (write to the file "
     "it points to, or remove the link)\n"),
    ("build-to-a-device", ["build", "spec.yaml", "-o", "/dev/null"], None, 2,
     "netspec: error: /dev/null is not a regular file (a device, pipe or socket); checkpoints are written only to "
     "regular files\n"),
    ("build-full-disk", ["build", "spec.yaml", "-o", "out.pt"], _full_disk, 2,
     "netspec: error: cannot write out.pt: no space left on the device\n"),
]
MESSY = "name: small\ninput: [3,8,8]\nlayers:\n  - conv2d(4,3)\n  - relu\n"


@pytest.mark.parametrize("name, args, patch, rc, stderr", IO_GOLDENS, ids=[g[0] for g in IO_GOLDENS])
def test_io_errors_are_one_line_and_leave_nothing_half_written(name, args, patch, rc, stderr, tmp_path, cli,
                                                               monkeypatch):
    (tmp_path / "spec.yaml").write_text(SPEC)
    (tmp_path / "messy.yaml").write_text(MESSY)
    (tmp_path / "messy-link.yaml").symlink_to("messy.yaml")
    (tmp_path / "folder").mkdir()
    (tmp_path / "link.ns").symlink_to("target.ns")
    (tmp_path / "link.dot").symlink_to("target.ns")
    before = sorted(p.name for p in tmp_path.iterdir())
    if patch:
        patch(monkeypatch)
    run = cli(*args, cwd=tmp_path)
    assert (run.rc, run.stderr) == (rc, stderr), run.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "a file was created or left half-written"
    assert (tmp_path / "messy.yaml").read_text() == MESSY
    assert not (tmp_path / "target.ns").exists(), "the link's target was written"


def test_fmt_write_keeps_the_permissions_of_the_spec(tmp_path, cli):
    path = tmp_path / "messy.yaml"
    path.write_text(MESSY)
    path.chmod(0o640)
    run = cli("fmt", "--write", "messy.yaml", cwd=tmp_path)
    assert run.rc == 0, run.output
    assert path.read_text() != MESSY and stat.S_IMODE(path.stat().st_mode) == 0o640


def test_convert_output_reads_back_as_the_same_spec(tmp_path, cli):
    from netspec.pipeline import parse

    (tmp_path / "spec.yaml").write_text(SPEC)
    run = cli("convert", "spec.yaml", "--to", "ns", "-o", "out.ns", cwd=tmp_path)
    assert run.rc == 0, run.output
    assert parse(tmp_path / "out.ns").spec == parse(tmp_path / "spec.yaml").spec


@pytest.mark.parametrize("syntax, text", [("yaml", SPEC), ("ns", NS)])
def test_a_spec_reached_through_a_symbolic_link_to_a_regular_file_is_read(tmp_path, cli, syntax, text):
    """Links are fine for reading; only what they point to matters."""
    (tmp_path / f"real.{syntax}").write_text(text)
    (tmp_path / f"link.{syntax}").symlink_to(f"real.{syntax}")
    run = cli("check", f"link.{syntax}", cwd=tmp_path)
    assert run.rc == 0 and run.stdout.startswith(f"link.{syntax}: ok"), run.output

