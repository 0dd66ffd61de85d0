"""Checks of the arguments the Python API and the command line pass in (not of specs): a bad one is a
UsageError that says what is accepted, raised before any work starts."""

from __future__ import annotations

import os
from typing import Any, Mapping

from .diagnostics import UsageError

MAX_SEED = 2**64 - 1  # torch's generators take seeds below 2**64


def _what(value: Any) -> str:
    """How a wrong argument is named in an error: its type, and a short repr."""
    shown = repr(value)
    return f"{type(value).__name__} {shown[:40] + '...' if len(shown) > 40 else shown}"


def check_source(source: Any) -> None:
    """A spec source is a path (str or os.PathLike) or spec text (str); the API also takes a Spec."""
    if isinstance(source, bool) or not isinstance(source, (str, os.PathLike)):
        hint = " (decode bytes first: text.decode('utf-8'))" if isinstance(source, (bytes, bytearray)) else ""
        hint = hint or (" (a dict is not a spec: write it as YAML text, or validate it with netspec.Spec)"
                        if isinstance(source, Mapping) else "")
        raise UsageError(f"a spec source is a path (str or os.PathLike), spec text (str) or a netspec.Spec; "
                         f"got {_what(source)}{hint}")
    if isinstance(source, str) and not source.strip():
        raise UsageError("a spec source is a path or spec text; got an empty string")


def check_seed(seed: Any) -> None:
    """A seed is None or a whole number from 0 to 2**64 - 1."""
    if seed is None:
        return
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise UsageError(f"a seed is a whole number from 0 to 2**64 - 1 (or None); got {_what(seed)}")


def check_params(params: Any, what: str = "params") -> None:
    """Params are a mapping of param names (str) to values."""
    if params is None:
        return
    if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
        raise UsageError(f"{what} is a dict of param names (str) to values; got {_what(params)}")


def check_input_shape(shape: Any) -> None:
    """An input shape is None or a tuple (or list) of positive whole numbers."""
    if shape is None:
        return
    if (not isinstance(shape, (tuple, list)) or not shape
            or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)):
        raise UsageError(f"input_shape is a tuple of positive whole numbers, such as (3, 224, 224); got {_what(shape)}")


def check_max_params(max_params: Any) -> None:
    """A parameter budget is None (no budget) or a positive whole number."""
    if max_params is None:
        return
    if isinstance(max_params, bool) or not isinstance(max_params, int) or max_params <= 0:
        raise UsageError(f"max_params is a positive whole number (or None for no budget); got {_what(max_params)}")


def check_format(format: Any) -> None:
    """A format is None (from the file extension), 'yaml' or 'ns'."""
    if format is not None and format not in ("yaml", "ns"):
        raise UsageError(f"format is 'yaml', 'ns' or None (from the file extension); got {_what(format)}")


def check_outputs(outputs: Any) -> None:
    """`outputs=`: None, a list or tuple of names and references, or a dict of them (output name -> entry)."""
    if outputs is None:
        return
    if isinstance(outputs, dict):
        values = list(outputs.values())
        keys_ok = all(isinstance(k, str) and k for k in outputs)
    elif isinstance(outputs, (list, tuple)):
        values, keys_ok = list(outputs), True
    else:
        raise UsageError(f"outputs must be a list of entry paths (such as ['layer2', 'layer3']) or a dict of them, "
                         f"got {type(outputs).__name__}")
    if not outputs or not keys_ok or not all(isinstance(v, str) and v.strip("$") for v in values):
        raise UsageError("outputs must name at least one entry, each by a non-empty string: a module path such as "
                         "'body.layer2' (or '$body.layer2'), or 'main' for the last layer's output")


def check_build_arguments(params: Any = None, input_shape: Any = None, seed: Any = None, max_params: Any = None,
                          format: Any = None) -> None:
    """Every option of `build` / `netspec.load`, checked together."""
    check_params(params)
    check_input_shape(input_shape)
    check_seed(seed)
    check_max_params(max_params)
    check_format(format)
