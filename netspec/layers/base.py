"""The layer-kind contract and its registry: one registered class per kind holds schema, shape rule, counts and builder."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Iterable

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Strict

Shape = tuple[int, ...]  # one sample's shape, batch dimension left out: (C, H, W) or (F,)
Flag = Annotated[bool, Strict()]  # true or false only: no 'yes', 'on' or 1 read as a bool


class ShapeError(ValueError):
    """A layer cannot take the shape that reaches it; the message says what it needed."""

    def __init__(self, message: str, code: str = "shape-mismatch"):
        super().__init__(message)
        self.code = code


class LayerArgs(BaseModel):
    """Base for every kind's argument schema: unknown arguments are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class NoArgs(LayerArgs):
    """The schema of a kind that takes no arguments."""


class LayerKind:
    """One kind of layer. Subclass, fill the class attributes and methods, and decorate with @register_layer.

    Everything but `build` is pure Python: `netspec check` and `summary` call them without torch.
    """

    name: ClassVar[str]
    Args: ClassVar[type[LayerArgs]] = LayerArgs
    positional: ClassVar[tuple[str, ...]] = ()  # argument names that may be given by position
    summary: ClassVar[str] = ""  # one line for the docs table
    example: ClassVar[str] = ""  # a spec snippet that uses it
    param_names: ClassVar[tuple[str, ...]] = ()  # tensors an `init:` entry may name
    vector_params: ClassVar[tuple[str, ...]] = ("bias",)  # those of them that are 1-d
    torch_class: ClassVar[str] = ""  # the torch.nn class it builds, for the docs

    def infer(self, args: Any, shape: Shape) -> Shape:
        """The output shape for input `shape`; raise ShapeError when the input does not fit."""
        return shape

    def count_params(self, args: Any, in_shape: Shape, out_shape: Shape) -> int:
        """Learnable parameters of the built module."""
        return 0

    def mult_adds(self, args: Any, in_shape: Shape, out_shape: Shape, params: int) -> int:
        """Multiply-accumulates for one sample, as torchinfo counts them (its parameters, once)."""
        return params

    def build(self, args: Any, in_shape: Shape) -> Any:
        """The torch module (torch is imported here and only here)."""
        raise TypeError(f"layer kind '{self.name}' defines no torch builder")


REGISTRY: dict[str, LayerKind] = {}


def register_layer(cls: type[LayerKind] | None = None, *, replace: bool = False):
    """Class decorator: add a layer kind to the registry under `cls.name`.

    Registering a name that is taken is an error, unless `replace=True` says it is meant:
    `@register_layer(replace=True)`.
    """
    if cls is None:
        return lambda c: register_layer(c, replace=replace)
    if not getattr(cls, "name", None):
        raise TypeError(f"{cls.__name__} needs a `name`")
    if cls.name in REGISTRY and not replace and type(REGISTRY[cls.name]) is not cls:
        raise ValueError(f"layer kind '{cls.name}' is already registered ({type(REGISTRY[cls.name]).__name__}); "
                         "pass replace=True to replace it")
    unknown = set(cls.positional) - set(_field_names(cls.Args))
    if unknown:
        raise TypeError(f"{cls.__name__}.positional names unknown arguments {sorted(unknown)}")
    REGISTRY[cls.name] = cls()
    return cls


def _field_names(args_cls: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in args_cls.model_fields.items()]


def arg_names(kind: LayerKind) -> list[str]:
    """The argument names a user writes for `kind` (aliases such as `in` included)."""
    return _ARG_NAMES.get(kind.Args) or _ARG_NAMES.setdefault(kind.Args, _field_names(kind.Args))


_ARG_NAMES: dict[type, list[str]] = {}


# ---- helpers shared by the shape rules -------------------------------------------------------


def pair(value: int | Iterable[int]) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    items = tuple(value)
    return (items[0], items[1])


def need_rank(kind: str, shape: Shape, ranks: Iterable[int], what: str) -> None:
    ranks = tuple(ranks)
    if len(shape) not in ranks:
        raise ShapeError(f"{kind} expects {what} input, got {format_shape(shape)}", code="rank-mismatch")


def format_shape(shape: Shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def window_out(size: int, kernel: int, stride: int, padding: int, dilation: int = 1, ceil: bool = False) -> int:
    """Output length of a sliding window (conv or pool), as torch computes it."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if ceil:
        out = math.ceil(span / stride) + 1 if span >= 0 else 0
        if out > 0 and (out - 1) * stride >= size + padding:
            out -= 1  # the last window must start inside the input or its left padding
        return out
    return span // stride + 1 if span >= 0 else 0


def spatial_check(kind: str, in_hw: tuple[int, int], out_hw: tuple[int, int], detail: str) -> None:
    if out_hw[0] <= 0 or out_hw[1] <= 0:
        raise ShapeError(
            f"{kind} turns {in_hw[0]}x{in_hw[1]} into {out_hw[0]}x{out_hw[1]}: the input is too small for {detail}",
            code="spatial-too-small",
        )
