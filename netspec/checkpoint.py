"""Checkpoints: weights stored with the fully linked spec that made them, written atomically, read back standalone.

A checkpoint is one `torch.save` file of plain data (it loads with `weights_only=True`):

    format          "netspec-checkpoint/2"
    netspec_version the version that wrote it
    spec            the spec with every `extends` merged in, as canonical YAML: rebuilding reads nothing else
    spec_format     "yaml" (the syntax of `spec`)
    name, source    the spec's name, and the file it was read from (for messages only)
    files           {file: text} of every spec file that was read, as written (for the record; not read back)
    params          the params given on top of the spec's defaults; input_shape; seed
    digest          sha256 over everything above and every tensor, checked on loading
    state_dict      the module's tensors, on the CPU

Writing goes to a temporary file beside the target, which is fsynced and renamed over it; SIGINT
and SIGTERM during the write abandon it (the old file stays, the temporary file goes), and a
temporary file left by a killed process is removed by the next write to the same target.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import signal
import stat
import tempfile
import threading
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, Mapping

from .diagnostics import UsageError
from .pipeline import DEFAULT_MAX_PARAMS

FORMAT = "netspec-checkpoint/2"
_TEMP = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp$")  # `.model.pt.4242.k3j2.tmp`
_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format is a zip archive


# ---- writing -------------------------------------------------------------------------------------------


def save_checkpoint(path: str | os.PathLike, module: Any, spec: Any, *, format: str | None = None,
                    params: Mapping[str, Any] | None = None, input_shape: tuple[int, ...] | None = None,
                    seed: int | None = None) -> Path:
    """Write `module`'s weights with `spec` (a path, library name, spec text, Spec or ParsedSpec) fully linked."""
    import torch

    from . import __version__
    from .pipeline import parse_linked

    parsed = parse_linked(spec, format)
    shape = input_shape if input_shape is not None else getattr(module, "input_shape", ())
    payload: dict[str, Any] = {
        "format": FORMAT,
        "netspec_version": __version__,
        "spec": _standalone_text(parsed),
        "spec_format": "yaml",
        "name": parsed.spec.name,
        "source": parsed.file,
        "files": {_file_name(f): text for f, text in parsed.locations.sources.items()},
        "params": {str(k): _plain(v) for k, v in (params or {}).items()},
        "input_shape": [int(n) for n in shape],
        "seed": seed,
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
    }
    payload["digest"] = _digest(payload)
    return write_atomically(path, lambda handle: torch.save(payload, handle))


def _standalone_text(parsed: Any) -> str:
    """The linked spec as canonical YAML, checked to read back as the same spec."""
    from .pipeline import parse_text
    from .frontends.printer import to_yaml

    text = to_yaml(parsed.spec)
    assert parse_text(text, "<checkpoint>", "yaml").spec == parsed.spec, "the YAML printer changed the spec"
    return text


def _file_name(file: str) -> str:
    """A spec file as the record names it: `netspec:NAME.yaml` for the library's, else as it was read."""
    from . import library

    try:
        return library.SCHEME + Path(file).resolve().relative_to(library.root()).as_posix()
    except (ValueError, OSError):
        return file


def _plain(value: Any) -> Any:
    """A param value as plain data that a weights-only load accepts."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def _digest(payload: Mapping[str, Any]) -> str:
    """sha256 over the payload's metadata (as canonical JSON) and each tensor's name, dtype, shape and bytes."""
    import torch

    meta = {k: v for k, v in payload.items() if k not in ("digest", "state_dict")}
    h = hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode())
    for key in sorted(payload["state_dict"]):
        tensor = payload["state_dict"][key]
        h.update(f"\0{key}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        if tensor.numel():
            h.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().data)
    return h.hexdigest()


class _Interrupted(Exception):
    """SIGINT or SIGTERM arrived while a checkpoint was being written."""


class _Sink:
    """The file torch.save writes to: keeps the OSError it met (torch re-raises it as a RuntimeError) and stops
    at the first write after a signal."""

    def __init__(self, handle: BinaryIO, signals: dict):
        self.handle, self.signals, self.error = handle, signals, None

    def write(self, data: Any) -> int:
        if self.signals:
            raise _Interrupted()
        try:
            return self.handle.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self.handle.flush()


@contextmanager
def _signals_deferred() -> Iterator[dict]:
    """While the block runs, SIGINT and SIGTERM only record themselves; afterwards each is delivered as before."""
    received: dict[str, int] = {}
    if threading.current_thread() is not threading.main_thread():  # handlers can only be set there
        yield received
        return
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(signum)
        if handler not in (signal.SIG_IGN, None):
            previous[signum] = handler
            signal.signal(signum, lambda number, frame: received.setdefault("signal", number))

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    try:
        yield received
    except _Interrupted:
        restore()
        signal.raise_signal(received["signal"])  # KeyboardInterrupt, or the default action of SIGTERM
        raise InterruptedError(errno.EINTR, f"interrupted by {signal.Signals(received['signal']).name}") from None
    finally:
        restore()
    if "signal" in received:  # it came after the file was in place: deliver it now
        signal.raise_signal(received["signal"])


def write_atomically(path: str | os.PathLike, write: Callable[[Any], None]) -> Path:
    """Write a file through `write(handle)`: all of it, or nothing (the old file, if any, stays as it was)."""
    target = Path(path)
    mode = _existing_mode(target)
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(folder, target.name)
    if mode is None:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    tmp = None
    with _signals_deferred() as received:
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=folder)
            with os.fdopen(fd, "wb") as handle:
                sink = _Sink(handle, received)
                try:
                    write(sink)
                except Exception:
                    if sink.error is not None:
                        raise sink.error from None  # ENOSPC, EIO...: the real cause, not torch's wrapper
                    if received:
                        raise _Interrupted() from None
                    raise
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, mode)  # mkstemp makes 0600: give the target's mode, or an ordinary file's
            if received:
                raise _Interrupted()
            os.replace(tmp, target)
            tmp = None
        except BaseException:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except FileNotFoundError:
                    pass
            raise
    _fsync_folder(folder)
    return target


def _existing_mode(target: Path) -> int | None:
    """The permission bits of the file being replaced (None: there is none); links and devices are refused."""
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        raise UsageError(f"{target} is a symbolic link; netspec does not replace a link with a file "
                         "(write to the file it points to, or remove the link)")
    if stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{target} is a directory")
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{target} is not a regular file (a device, pipe or socket); checkpoints are written "
                         "only to regular files")
    return stat.S_IMODE(info.st_mode)


def _remove_stale_temps(folder: Path, name: str) -> None:
    """Delete the temporary files of `name` whose writing process is gone (killed with SIGKILL, say)."""
    for candidate in folder.glob(f".{glob_escape(name)}.*.tmp"):
        match = _TEMP.match(candidate.name)
        if match is None or match["target"] != name or int(match["pid"]) == os.getpid():
            continue
        try:
            os.kill(int(match["pid"]), 0)
        except ProcessLookupError:
            candidate.unlink(missing_ok=True)
        except (PermissionError, OverflowError):
            continue


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (where the platform allows a folder to be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---- reading -------------------------------------------------------------------------------------------


def _read_torch_file(path: Path) -> Any:
    """torch.load(weights_only=True) of `path`, with a one-line UsageError for every way the file can be wrong."""
    import torch

    match = _TEMP.match(path.name)
    if match is not None:
        raise UsageError(f"{path}: a temporary file left by an interrupted write of {match['target']}, "
                         "not a checkpoint; delete it")
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
        size = path.stat().st_size
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not a checkpoint") from None
    except PermissionError:
        raise UsageError(f"{path}: permission denied") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    if size == 0:
        raise UsageError(f"{path}: empty file, not a checkpoint")
    if head != _ZIP_MAGIC:
        raise UsageError(f"{path}: not a checkpoint (not a file written by torch.save)")
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()  # the first member whose bytes do not match their CRC-32
    except (zipfile.BadZipFile, EOFError, ValueError, OSError):
        raise UsageError(f"{path}: truncated: the file ends before the end of its torch.save archive; "
                         "write it again") from None
    except NotImplementedError:  # a header flag that no torch.save sets (zipfile refuses what it announces)
        raise UsageError(f"{path}: damaged: a header of its torch.save archive is corrupt; write it again") from None
    if damaged is not None:  # named in the message would be torch's internal layout: say what it means
        raise UsageError(f"{path}: damaged: some of its bytes do not match the archive's checksums; write it again")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises several kinds; each means the same to the user
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            raise UsageError(f"{path}: not a checkpoint: it holds Python objects that a weights-only load "
                             "refuses to run") from None
        raise UsageError(f"{path}: damaged: torch cannot read it") from None


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The checkpoint's payload, checked: format, the keys this format has, and the digest."""
    path = Path(path)
    payload = _read_torch_file(path)
    if not isinstance(payload, dict) or "format" not in payload:
        if isinstance(payload, dict) and payload and all(hasattr(v, "shape") for v in payload.values()):
            raise UsageError(f"{path}: not a netspec checkpoint but a plain state_dict ({len(payload)} tensors); "
                             "load it into a spec with netspec.load(SPEC, weights=PATH)")
        raise UsageError(f"{path}: not a netspec checkpoint (a torch file without netspec's format marker)")
    if payload["format"] != FORMAT:
        raise UsageError(f"{path}: written in the format {payload['format']!r}, which this netspec does not read "
                         f"(it reads {FORMAT!r}); rebuild it with `netspec build -o`")
    missing = [k for k in ("spec", "spec_format", "params", "input_shape", "state_dict", "digest") if k not in payload]
    if missing:
        raise UsageError(f"{path}: damaged: the checkpoint has no {', '.join(missing)}")
    if _digest(payload) != payload["digest"]:
        raise UsageError(f"{path}: the spec or the weights were changed after netspec wrote the file "
                         "(its digest does not match its contents)")
    return payload


def load_checkpoint(path: str | os.PathLike, *, device: Any = None, max_params: int | None = DEFAULT_MAX_PARAMS):
    """Rebuild the module from the checkpoint alone (no spec file is read) and load its weights strictly.

    The parameter budget is checked from the static counts before anything is allocated.
    """
    from .pipeline import check_budget, parse_text, typed_graph

    payload = read_checkpoint(path)
    parsed = parse_text(payload["spec"], f"{path}:spec", payload["spec_format"])
    if parsed.spec.extends is not None:  # netspec writes the spec linked: a file made elsewhere, never followed
        raise UsageError(f"{path}: not a checkpoint netspec wrote: its spec extends {parsed.spec.extends!r}, and a "
                         "checkpoint's spec stands alone (nothing outside the file is read)")
    shape = tuple(payload["input_shape"]) or None
    graph = typed_graph(parsed, payload["params"], shape)
    check_budget(graph, max_params, parsed.locations.sources)
    from .backends.compile import compile_graph

    module = compile_graph(graph, device="meta")  # the checkpoint's tensors become the weights: no second copy
    check_fit(module, payload["state_dict"], Path(path))
    module.load_state_dict(payload["state_dict"], strict=True, assign=True)
    if any(t.is_meta for t in (*module.parameters(), *module.buffers())):  # a tensor the state_dict does not hold
        module = compile_graph(graph)
        module.load_state_dict(payload["state_dict"], strict=True)
    return module.to(device) if device is not None else module


# ---- weights without a spec ----------------------------------------------------------------------------


def check_fit(module: Any, state_dict: Mapping[str, Any], path: Path) -> None:
    """A one-line UsageError unless `state_dict` has exactly `module`'s tensor names, each with its shape."""
    want = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    have = {k: tuple(getattr(v, "shape", ())) for k, v in state_dict.items()}
    problems = []
    missing = [k for k in want if k not in have]
    unexpected = [k for k in have if k not in want]
    shapes = [k for k in want if k in have and want[k] != have[k]]
    if missing:
        problems.append(f"{len(missing)} missing ({_some(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected ({_some(unexpected)})")
    if shapes:
        first = shapes[0]
        problems.append(f"{len(shapes)} of another shape ({first} is {have[first]} in the file, "
                        f"{want[first]} in the network)")
    if problems:
        raise UsageError(f"{path}: the weights do not fit the network: tensors {'; '.join(problems)}")


def _some(keys: list[str]) -> str:
    return ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")


def load_weights(module: Any, path: str | os.PathLike) -> Any:
    """Load a state_dict file (torchvision's `.pth`, or a netspec checkpoint) into `module`, strictly; no download."""
    path = Path(path)
    payload = _read_torch_file(path)
    if isinstance(payload, dict) and payload.get("format") == FORMAT:
        payload = read_checkpoint(path)["state_dict"]
    elif isinstance(payload, dict) and isinstance(payload.get("state_dict"), dict):
        payload = payload["state_dict"]
    if not isinstance(payload, dict) or not all(hasattr(v, "shape") for v in payload.values()):
        raise UsageError(f"{path}: not a state_dict (a mapping of tensor names to tensors)")
    check_fit(module, payload, path)
    module.load_state_dict(payload, strict=True)
    return module
