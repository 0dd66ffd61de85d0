"""Files on disk: bounded reads of regular files only, and atomic writes that keep the target's permissions.

Every spec file netspec reads goes through `read_regular`, and every file it writes through `atomic_write`.
Both turn the operating system's failures into `FileProblem`, one line a person can act on, which the
command line prints as a usage error (exit 2) and `extends` reports at the spec line that named the file.

    read_regular(path, limit)          stat, refuse anything but a regular file, open without blocking,
                                       read at most limit + 1 bytes whatever stat said
    atomic_write(path, data)           write a temporary file beside the target, fsync, give it the
                                       target's permissions, rename it over the target
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO, Callable, Union

Writer = Callable[[BinaryIO], None]  # writes the whole content to an open binary file


class FileProblem(Exception):
    """A file cannot be read or written; the message is one line naming the cause (not the path)."""


class FileTooLarge(FileProblem):
    """A file holds more bytes than the reader's limit."""

    def __init__(self, size: int, limit: int, exact: bool = True):
        self.size, self.limit = size, limit
        amount = f"{size:,} bytes" if exact else f"more than {limit:,} bytes"
        super().__init__(f"spec is {amount}; the limit is {limit:,} bytes")


_REASONS = {
    errno.ENOENT: "no such file",
    errno.ENOTDIR: "no such file (a part of the path is not a folder)",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ELOOP: "a symbolic link loop (too many levels of links)",
    errno.ENAMETOOLONG: "the path is too long",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EISDIR: "is a directory",
    errno.EFBIG: "the file is too large for the file system",
    errno.EIO: "an input/output error",
}


def reason(exc: OSError) -> str:
    """One line for an OSError, without the path (callers put the path first)."""
    return _REASONS.get(exc.errno or 0) or (exc.strerror or type(exc).__name__).lower()


def _kind(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


def _check_path(path: Union[str, os.PathLike]) -> str:
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if "\x00" in text:
        raise FileProblem("the path holds a NUL byte")
    if not text:
        raise FileProblem("the path is empty")
    return text


def read_regular(path: Union[str, os.PathLike], limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; FileProblem (FileTooLarge) otherwise.

    A FIFO, a device (a link to /dev/zero), a socket or a directory is refused from stat, before it is
    opened; the open does not block, and the read stops after limit + 1 bytes even if the file grew
    or stat lied, so no file makes netspec wait or fill its memory.
    """
    name = _check_path(path)
    try:
        info = os.stat(name)
        if not stat.S_ISREG(info.st_mode):
            raise FileProblem(f"is {_kind(info.st_mode)}, not a regular file")
        if info.st_size > limit:
            raise FileTooLarge(info.st_size, limit)
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
                     | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise FileProblem(reason(exc)) from None
    try:
        info = os.fstat(fd)  # the file opened may not be the one stat saw
        if not stat.S_ISREG(info.st_mode):
            raise FileProblem(f"is {_kind(info.st_mode)}, not a regular file")
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise FileProblem(reason(exc)) from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise FileTooLarge(len(data), limit, exact=False)
    return data


def atomic_write(path: Union[str, os.PathLike], data: Union[bytes, str, Writer]) -> Path:
    """Replace `path` with `data` (bytes, UTF-8 text, or a function writing to a binary file) all at once.

    The content goes to a temporary file in the target's folder, is flushed to disk, takes the
    target's permissions (or the umask's for a new file) and is renamed over the target, so a crash,
    a full disk or Ctrl-C leaves the old file whole and no temporary file behind. A target that is a
    symbolic link, a directory, a device or a FIFO is refused, not replaced; so is a missing folder.
    """
    target = Path(_check_path(path))
    folder = target.parent
    try:
        existing = os.lstat(target)
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise FileProblem(reason(exc)) from None
    if existing is not None:
        if stat.S_ISLNK(existing.st_mode):
            raise FileProblem("is a symbolic link; netspec does not write through links "
                              "(give the path of the file it points to)")
        if not stat.S_ISREG(existing.st_mode):
            raise FileProblem(f"is {_kind(existing.st_mode)}, not a regular file")
        mode = stat.S_IMODE(existing.st_mode)
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    if not folder.is_dir():
        raise FileProblem(f"the folder {folder} does not exist" if not folder.exists()
                          else f"{folder} is not a folder")
    import tempfile  # here, not at the top: only writing needs it (and shutil, lzma, bz2 with it)

    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as handle:
            if callable(data):
                data(handle)
            else:
                handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), mode)
        os.replace(tmp, target)
        tmp = None
    except PermissionError:
        raise FileProblem(f"permission denied (cannot write in the folder {folder})") from None
    except OSError as exc:
        raise FileProblem(reason(exc)) from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return target
