"""Element-wise activation kinds: no parameters, shape unchanged."""

from __future__ import annotations

from typing import Literal

from pydantic import PositiveFloat

from .base import Flag, LayerArgs, NoArgs, LayerKind, Shape, ShapeError, format_shape, register_layer


class InplaceArgs(LayerArgs):
    inplace: Flag = False


class _Activation(LayerKind):
    Args = InplaceArgs
    torch_name = ""

    def build(self, a: LayerArgs, in_shape: Shape):
        import torch.nn as nn

        return getattr(nn, self.torch_name)(**a.model_dump())


def _activation(name: str, torch_name: str, summary: str, args: type[LayerArgs] = InplaceArgs, positional=()):
    cls = type(
        torch_name,
        (_Activation,),
        {
            "name": name,
            "Args": args,
            "torch_name": torch_name,
            "torch_class": f"torch.nn.{torch_name}",
            "summary": summary,
            "example": name,
            "positional": positional,
            "__doc__": summary,
        },
    )
    return register_layer(cls)


class GeluArgs(LayerArgs):
    approximate: Literal["none", "tanh"] = "none"


class LeakyReluArgs(LayerArgs):
    negative_slope: float = 0.01
    inplace: Flag = False


_activation("relu", "ReLU", "max(0, x)")
_activation("relu6", "ReLU6", "min(max(0, x), 6)")
_activation("silu", "SiLU", "x * sigmoid(x) (swish)")
_activation("sigmoid", "Sigmoid", "1 / (1 + exp(-x))", NoArgs)
_activation("tanh", "Tanh", "hyperbolic tangent", NoArgs)
_activation("gelu", "GELU", "Gaussian error linear unit", GeluArgs, ("approximate",))
_activation("leaky_relu", "LeakyReLU", "x if x > 0 else negative_slope * x", LeakyReluArgs, ("negative_slope",))


class SoftmaxArgs(LayerArgs):
    dim: int = 1


@register_layer
class Softmax(LayerKind):
    name = "softmax"
    Args = SoftmaxArgs
    positional = ("dim",)
    summary = "softmax along `dim` (counted with the batch as dimension 0; 1 by default)"
    example = "softmax(dim=1)"
    torch_class = "torch.nn.Softmax"

    def infer(self, a: SoftmaxArgs, shape: Shape) -> Shape:
        rank = len(shape) + 1
        if not -rank <= a.dim < rank or a.dim % rank == 0:
            raise ShapeError(
                f"softmax dim {a.dim} does not fit {format_shape(shape)} (dimension 0 is the batch)",
                code="rank-mismatch",
            )
        return shape

    def build(self, a: SoftmaxArgs, in_shape: Shape):
        import torch.nn as nn

        return nn.Softmax(dim=a.dim)
