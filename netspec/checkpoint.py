"""Checkpoints: a state_dict saved with the spec text that made it, written atomically, read with weights_only."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

FORMAT = "netspec-checkpoint/1"


def save_checkpoint(path: str | os.PathLike, module: Any, spec_text: str, *, spec_format: str = "yaml",
                    spec_file: str = "", params: Mapping[str, Any] | None = None,
                    input_shape: tuple[int, ...] = (), seed: int | None = None) -> Path:
    """Write {state_dict, spec text, params} to `path`; a crash leaves the old file (or none), never half of one."""
    import torch

    payload = {
        "format": FORMAT,
        "spec_text": spec_text,
        "spec_format": spec_format,
        "spec_file": spec_file,
        "params": {str(k): str(v) for k, v in (params or {}).items()},
        "input_shape": list(input_shape),
        "seed": seed,
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
    }
    target = Path(path)
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a checkpoint is an ordinary file
        os.replace(tmp, target)
    except BaseException:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        raise
    return target


def load_checkpoint(path: str | os.PathLike, *, device: Any = None):
    """Rebuild the module from the checkpoint's own spec text and load its weights (torch.load weights_only=True)."""
    import torch

    from .diagnostics import UsageError
    from .pipeline import build, parse_text

    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UsageError(f"{path}: not a netspec checkpoint")
    shape = tuple(payload["input_shape"]) or None
    parsed = parse_text(payload["spec_text"], payload["spec_file"] or "<checkpoint>", payload["spec_format"])
    module = build(parsed, payload["params"], input_shape=shape)
    module.load_state_dict(payload["state_dict"], strict=True)
    return module.to(device) if device is not None else module
