"""netspec: a declarative architecture language and compiler for PyTorch CNNs (the public Python API).

    model = netspec.load("architectures/resnet18.yaml", num_classes=10)
    model = netspec.load("resnet50", num_classes=10)          # a model of the library, by name
    netspec.list_models("resnet*")
    spec = netspec.parse("architectures/googlenet.yaml")
    print(netspec.summarize(spec).to_table())

Importing netspec does not import torch; only `load` (and `compile`) do.
"""

from __future__ import annotations

from typing import Any

from .diagnostics import Diagnostic, Loc, SpecError, UsageError
from .layers import LayerArgs, LayerKind, ShapeError, register_layer
from .library import list_models
from .pipeline import DEFAULT_MAX_PARAMS, Source, analyse
from .pipeline import build as _build
from .pipeline import parse as _parse
from .pipeline import parse_linked as _parse_linked
from .spec import BlockDef, Spec
from .summary import Row, Summary, summarize_graph

__version__ = "0.1.0"


def parse(source: Source, format: str | None = None, *, link: bool = True) -> Spec:
    """Read and validate a spec (a path, or spec text) into the Spec IR. Raises SpecError.

    With `link` (the default) a spec that `extends` another comes back merged with it, ready to vary;
    `link=False` gives the file's own content, as written.
    """
    return (_parse_linked if link else _parse)(source, format).spec


def load(
    source: Source,
    *,
    device: Any = None,
    seed: int | None = None,
    input_shape: tuple[int, ...] | None = None,
    max_params: int | None = DEFAULT_MAX_PARAMS,
    format: str | None = None,
    params: dict[str, Any] | None = None,
    **more_params: Any,
):
    """Compile a spec into an nn.Module.

    Keyword arguments other than the options set the spec's params (`num_classes=10`); a param whose
    name is also an option's (say `seed`) goes in `params={...}`.
    """
    return _build(source, {**(params or {}), **more_params}, input_shape=input_shape, device=device, seed=seed,
                  max_params=max_params, format=format)


def diff(a: Source, b: Source, *, params_a: dict[str, Any] | None = None, params_b: dict[str, Any] | None = None,
         input_shape: tuple[int, ...] | None = None):
    """Static comparison of two specs (or one spec with two sets of params): a SummaryDiff."""
    from .compare import diff_summaries

    return diff_summaries(summarize(a, input_shape=input_shape, params=params_a),
                          summarize(b, input_shape=input_shape, params=params_b))


def summarize(
    source: Source, *, input_shape: tuple[int, ...] | None = None, format: str | None = None,
    params: dict[str, Any] | None = None, **more_params: Any,
) -> Summary:
    """Static summary (rows and totals) of a spec, without torch. Params as for `load`."""
    return summarize_graph(analyse(source, {**(params or {}), **more_params}, input_shape, format))


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
    "list_models",
    "load",
    "parse",
    "register_layer",
    "summarize",
]
