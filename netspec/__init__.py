"""netspec: a declarative architecture language and compiler for PyTorch CNNs (the public Python API).

    model = netspec.load("architectures/resnet18.yaml", num_classes=10)
    model = netspec.load("resnet50", num_classes=10)          # a model of the library, by name
    netspec.list_models("resnet*")
    spec = netspec.parse("architectures/googlenet.yaml")
    print(netspec.summarize(spec).to_table())

Importing netspec does not import torch; only `load` (and `compile`) do.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import gc as _gc

# The imports below (pydantic, the IR, the front ends) make some 30,000 objects the cyclic collector tracks, nearly all
# alive as long as the process: the collections Python would run while they are made free almost nothing, so the
# collector waits until the imports are done, and is on again afterwards if it was on.
_collecting = _gc.isenabled()
_gc.disable()
try:
    from .diagnostics import Diagnostic, Loc, SpecError, UsageError
    from .layers import LayerArgs, LayerKind, ShapeError, register_layer
    from .library import list_models
    from .pipeline import DEFAULT_MAX_PARAMS, Source, analyse
    from .pipeline import build as _build
    from .pipeline import parse as _parse
    from .pipeline import parse_linked as _parse_linked
    from .ir.spec import BlockDef, Spec
    from .backends.summary import DEFAULT_COLUMNS, Row, Summary, summarize_graph
    from .usage import check_params
finally:
    if _collecting:
        _gc.enable()
    del _collecting, _gc

__version__ = "0.1.0"


def parse(source: Source, format: str | None = None, *, link: bool = True, max_nodes: int | None = None,
          max_bytes: int | None = None) -> Spec:
    """Read and validate a spec (a path, or spec text) into the Spec IR. Raises SpecError.

    `max_bytes` (default 1 MiB) is the largest file read; `max_nodes` (default 20,000) the node budget, which
    raises the limits on values and tokens in the file with it (see `load`).

    With `link` (the default) a spec that `extends` another comes back merged with it, ready to vary;
    `link=False` gives the file's own content, as written.
    """
    return (_parse_linked if link else _parse)(source, format, max_nodes=max_nodes, max_bytes=max_bytes).spec


def load(
    source: Source,
    *,
    device: Any = None,
    seed: int | None = None,
    input_shape: tuple[int, ...] | None = None,
    max_params: int | None = DEFAULT_MAX_PARAMS,
    max_nodes: int | None = None,
    max_bytes: int | None = None,
    format: str | None = None,
    freeze: Sequence[str] = (),
    params: dict[str, Any] | None = None,
    weights: str | os.PathLike | None = None,
    outputs: Sequence[str] | dict[str, str] | None = None,
    **more_params: Any,
):
    """Compile a spec (a file, spec text, a Spec, or a library model's name) into an nn.Module.

    Keyword arguments other than the options set the spec's params (`num_classes=10`); a param whose
    name is also an option's (say `seed`) goes in `params={...}`. `weights` names a state_dict file
    on disk (torchvision's `.pth`, say) to load into the module strictly; nothing is downloaded.
    `freeze` names modules (paths or globs such as `features.*`) whose parameters get `requires_grad=False`.
    The size budgets, as `max_params`, are raised on purpose: `max_nodes` (default 20,000 entries after blocks and
    repeats are expanded; the limits on values and tokens in the file grow with it) and `max_bytes` (default
    1 MiB, the largest file read).
    `outputs` taps entries without editing the spec: a list of module paths (`body.layer2`, or `$body.layer2`)
    and output names (`main`) makes forward return a tuple in that order, a dict of them a dict.
    """
    check_params(params)
    module = _build(source, {**(params or {}), **more_params}, input_shape=input_shape,
                    device="cpu" if weights is not None else device, seed=seed, max_params=max_params, format=format,
                    max_nodes=max_nodes, max_bytes=max_bytes, outputs=outputs)
    if freeze:
        from .backends.summary import frozen

        for path, part in module.named_modules():
            if path and frozen(path, freeze):
                part.requires_grad_(False)
    if weights is None:
        return module
    from .checkpoint import load_weights

    load_weights(module, weights)
    return module.to(device) if device is not None else module


def load_checkpoint(path: str | os.PathLike, *, device: Any = None, max_params: int | None = DEFAULT_MAX_PARAMS):
    """Rebuild a module from a checkpoint written by `netspec build -o` (or save_checkpoint), from it alone."""
    from .checkpoint import load_checkpoint as _load_checkpoint

    return _load_checkpoint(path, device=device, max_params=max_params)


def save_checkpoint(path: str | os.PathLike, module: Any, spec: Source, *, params: dict[str, Any] | None = None,
                    input_shape: tuple[int, ...] | None = None, seed: int | None = None, format: str | None = None):
    """Write `module`'s weights with `spec`, every `extends` merged in, atomically; returns the path."""
    from .checkpoint import save_checkpoint as _save_checkpoint

    return _save_checkpoint(path, module, spec, params=params, input_shape=input_shape, seed=seed, format=format)


def draw(source: Source, fmt: str = "svg", *, depth: int | None = None, direction: str = "TB",
         input_shape: tuple[int, ...] | None = None, format: str | None = None,
         params: dict[str, Any] | None = None, **more_params: Any) -> str | bytes:
    """A diagram of the spec, statically: DOT or Mermaid text (`fmt` "dot", "mmd"), or the bytes of an
    "svg", "png", "pdf" or "html" file (those need a Graphviz program: pip install graphviz-pure)."""
    from .backends.diagram import diagram

    data = diagram(analyse(source, {**(params or {}), **more_params}, input_shape, format), fmt, depth, direction)
    return data.decode("utf-8") if fmt in ("dot", "mmd", "svg", "html") else data


def diff(a: Source, b: Source, *, params_a: dict[str, Any] | None = None, params_b: dict[str, Any] | None = None,
         input_shape: tuple[int, ...] | None = None):
    """Static comparison of two specs (or one spec with two sets of params): a SummaryDiff."""
    from .backends.compare import diff_summaries

    check_params(params_a, "params_a")
    check_params(params_b, "params_b")

    return diff_summaries(summarize(a, input_shape=input_shape, params=params_a),
                          summarize(b, input_shape=input_shape, params=params_b))


def summarize(
    source: Source, *, input_shape: tuple[int, ...] | None = None, format: str | None = None,
    batch_size: int = 1, dtype: str = "float32", columns: Sequence[str] | str = DEFAULT_COLUMNS,
    depth: int | None = None, freeze: Sequence[str] = (), max_nodes: int | None = None, max_bytes: int | None = None,
    params: dict[str, Any] | None = None, **more_params: Any,
) -> Summary:
    """Static summary (rows and totals) of a spec, without torch. Params as for `load`.

    `batch_size` and `dtype` (float32, float16, bfloat16) set the memory figures, `columns` and
    `depth` what `print(summary)` shows, `freeze` the modules counted as non-trainable.
    """
    check_params(params)
    graph = analyse(source, {**(params or {}), **more_params}, input_shape, format, max_nodes, max_bytes)
    return summarize_graph(graph, batch_size=batch_size, dtype=dtype, columns=columns, depth=depth, freeze=freeze)


__all__ = [
    "BlockDef",
    "Diagnostic",
    "LayerArgs",
    "LayerKind",
    "Loc",
    "Row",
    "ShapeError",
    "Spec",
    "SpecError",
    "Summary",
    "UsageError",
    "diff",
    "draw",
    "list_models",
    "load",
    "load_checkpoint",
    "parse",
    "register_layer",
    "save_checkpoint",
    "summarize",
]
