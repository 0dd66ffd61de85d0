"""Weight initialisers a spec may name under `init:`, with their argument schemas and torch.nn.init targets."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, PositiveFloat

from .outlines import outline_base


class _InitArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # built when first used


# Each initialiser's argument class is an _InitArgs model made the first time it is read (netspec/outlines.py): a spec
# that names two initialisers pays for those two.
_LazyInitArgs = outline_base(_InitArgs)


class NoArgs(_LazyInitArgs):
    pass


class ConstantArgs(_LazyInitArgs):
    value: float


class NormalArgs(_LazyInitArgs):
    mean: float = 0.0
    std: PositiveFloat = 1.0


class UniformArgs(_LazyInitArgs):
    a: float = 0.0
    b: float = 1.0


class KaimingArgs(_LazyInitArgs):
    a: float = 0.0
    mode: Literal["fan_in", "fan_out"] = "fan_in"
    nonlinearity: Literal["relu", "leaky_relu", "linear", "sigmoid", "tanh", "selu", "conv2d"] = "leaky_relu"


class XavierArgs(_LazyInitArgs):
    gain: float = 1.0


class TruncNormalArgs(_LazyInitArgs):
    mean: float = 0.0
    std: PositiveFloat = 1.0
    a: float = -2.0
    b: float = 2.0


# initialisers that compute fans, so need a tensor of 2 or more dimensions (not a bias)
NEEDS_MATRIX = {"kaiming_normal", "kaiming_uniform", "xavier_normal", "xavier_uniform", "orthogonal"}

# name -> (argument schema, positional argument order, torch.nn.init function)
INITIALIZERS: dict[str, tuple[type[_InitArgs], tuple[str, ...], str]] = {
    "zeros": (NoArgs, (), "zeros_"),
    "ones": (NoArgs, (), "ones_"),
    "constant": (ConstantArgs, ("value",), "constant_"),
    "normal": (NormalArgs, ("mean", "std"), "normal_"),
    "uniform": (UniformArgs, ("a", "b"), "uniform_"),
    "kaiming_normal": (KaimingArgs, ("a", "mode", "nonlinearity"), "kaiming_normal_"),
    "kaiming_uniform": (KaimingArgs, ("a", "mode", "nonlinearity"), "kaiming_uniform_"),
    "xavier_normal": (XavierArgs, ("gain",), "xavier_normal_"),
    "xavier_uniform": (XavierArgs, ("gain",), "xavier_uniform_"),
    "trunc_normal": (TruncNormalArgs, ("mean", "std", "a", "b"), "trunc_normal_"),
    "orthogonal": (XavierArgs, ("gain",), "orthogonal_"),
}


_TORCH_NAMES = {"value": "val"}  # our argument name -> torch.nn.init's, where they differ


def init_tensor(tensor: Any, name: str, args: BaseModel) -> None:
    """Fill `tensor` in place with initialiser `name` and its validated arguments."""
    import torch
    import torch.nn.init as nn_init

    kwargs = {_TORCH_NAMES.get(k, k): v for k, v in args.model_dump().items()}
    with torch.no_grad():
        getattr(nn_init, INITIALIZERS[name][2])(tensor, **kwargs)


def apply_init(module: Any, plan: dict[str, dict[str, tuple[str, BaseModel]]], layers: dict[Any, tuple[str, str]]) -> None:
    """Initialise the layers `plan` names: keys that are layer kinds first, then module paths and
    path patterns (`classifier.1`, `*.downsample.0`) in the order written, so the more specific wins.

    `layers` maps each built layer module to (its kind, its module path)."""
    import fnmatch

    import torch
    import torch.nn.init as nn_init

    from .layers import REGISTRY

    by_path = [key for key in plan if key not in REGISTRY]
    with torch.no_grad():
        for sub in module.modules():
            if sub not in layers:
                continue
            kind, path = layers[sub]
            tables = [plan[kind]] if kind in plan else []
            tables += [plan[key] for key in by_path if key != kind and fnmatch.fnmatchcase(path, key)]
            for table in tables:
                for tensor_name, (init_name, args) in table.items():
                    tensor = sub
                    for part in tensor_name.split("."):  # a container kind's tensors: `0.weight`, `fc1.bias`
                        tensor = getattr(tensor, part, None)
                    if tensor is None:  # e.g. bias=false: nothing to initialise
                        continue
                    init_tensor(tensor, init_name, args)

