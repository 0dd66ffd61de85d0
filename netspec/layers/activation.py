"""Activation kinds: element-wise ones (shape unchanged; only prelu has parameters), glu and the softmaxes."""

from __future__ import annotations

from typing import Literal

from pydantic import PositiveFloat, PositiveInt, model_validator

from .base import Flag, LayerArgs, LayerKind, LazyArgs, NoArgs, Shape, ShapeError, format_shape, need_rank, register_layer


class InplaceArgs(LazyArgs):
    inplace: Flag = False


class _Activation(LayerKind):
    Args = InplaceArgs
    torch_name = ""

    def label(self, a: LayerArgs) -> str:
        return super().label(a).replace(self.name, self.torch_name, 1)  # ReLU, GELU: as papers write them

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


class GeluArgs(LazyArgs):
    approximate: Literal["none", "tanh"] = "none"


class LeakyReluArgs(LazyArgs):
    negative_slope: float = 0.01
    inplace: Flag = False


_activation("relu", "ReLU", "max(0, x)")
_activation("relu6", "ReLU6", "min(max(0, x), 6)")
_activation("silu", "SiLU", "x * sigmoid(x) (swish)")
_activation("sigmoid", "Sigmoid", "1 / (1 + exp(-x))", NoArgs)
_activation("tanh", "Tanh", "hyperbolic tangent", NoArgs)
_activation("gelu", "GELU", "Gaussian error linear unit", GeluArgs, ("approximate",))
_activation("leaky_relu", "LeakyReLU", "x if x > 0 else negative_slope * x", LeakyReluArgs, ("negative_slope",))


class SoftmaxArgs(LazyArgs):
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


class HardtanhArgs(LazyArgs):
    min_val: float = -1.0
    max_val: float = 1.0
    inplace: Flag = False

    @model_validator(mode="after")
    def _ordered(self) -> "HardtanhArgs":
        if self.max_val <= self.min_val:
            raise ValueError(f"max_val {self.max_val} must be greater than min_val {self.min_val}")
        return self


class AlphaArgs(LazyArgs):
    alpha: float = 1.0
    inplace: Flag = False


class CeluArgs(LazyArgs):
    alpha: PositiveFloat = 1.0  # torch divides by alpha
    inplace: Flag = False


class SoftplusArgs(LazyArgs):
    beta: PositiveFloat = 1.0
    threshold: float = 20.0


_activation("hardswish", "Hardswish", "x * relu6(x + 3) / 6 (MobileNetV3)")
_activation("hardsigmoid", "Hardsigmoid", "relu6(x + 3) / 6 (MobileNetV3's squeeze-excitation gate)")
_activation("hardtanh", "Hardtanh", "x clipped to [min_val, max_val]", HardtanhArgs, ("min_val", "max_val"))
_activation("elu", "ELU", "x if x > 0 else alpha * (exp(x) - 1)", AlphaArgs, ("alpha",))
_activation("selu", "SELU", "scale * elu(x, 1.6733): self-normalising (use alpha_dropout with it)")
_activation("celu", "CELU", "max(0, x) + min(0, alpha * (exp(x / alpha) - 1))", CeluArgs, ("alpha",))
_activation("mish", "Mish", "x * tanh(softplus(x))")
_activation("softplus", "Softplus", "log(1 + exp(beta * x)) / beta, linear above threshold", SoftplusArgs,
            ("beta", "threshold"))


class PReluArgs(LazyArgs):
    num_parameters: PositiveInt = 1
    init: float = 0.25


@register_layer
class PRelu(LayerKind):
    name = "prelu"
    Args = PReluArgs
    positional = ("num_parameters", "init")
    summary = "x if x > 0 else a * x, with a learnable: one slope, or one per channel (num_parameters = C)"
    example = "prelu(16)"
    param_names = ("weight",)
    vector_params = ("weight",)
    torch_class = "torch.nn.PReLU"

    def infer(self, a: PReluArgs, shape: Shape) -> Shape:
        if a.num_parameters != 1 and (not shape or shape[0] != a.num_parameters):
            got = f"{shape[0]} channels in {format_shape(shape)}" if shape else "a scalar"
            raise ShapeError(f"prelu with num_parameters={a.num_parameters} needs that many channels, got {got}; "
                             "use 1 for one shared slope")
        return shape

    def count_params(self, a: PReluArgs, in_shape: Shape, out_shape: Shape) -> int:
        return a.num_parameters

    def build(self, a: PReluArgs, in_shape: Shape):
        import torch.nn as nn

        return nn.PReLU(a.num_parameters, init=a.init)


class GluArgs(LazyArgs):
    dim: int = -1


@register_layer
class Glu(LayerKind):
    name = "glu"
    Args = GluArgs
    positional = ("dim",)
    summary = "gated linear unit: splits `dim` (the batch is 0; the last by default) in halves a, b -> a * sigmoid(b)"
    example = "glu(1)"
    torch_class = "torch.nn.GLU"

    def infer(self, a: GluArgs, shape: Shape) -> Shape:
        rank = len(shape) + 1
        if not -rank <= a.dim < rank or a.dim % rank == 0:
            raise ShapeError(f"glu dim {a.dim} does not fit {format_shape(shape)} (dimension 0 is the batch)",
                             code="rank-mismatch")
        i = a.dim % rank - 1
        if shape[i] % 2:
            raise ShapeError(f"glu halves dimension {a.dim}, which must be even, got {shape[i]} in {format_shape(shape)}")
        return (*shape[:i], shape[i] // 2, *shape[i + 1 :])

    def build(self, a: GluArgs, in_shape: Shape):
        import torch.nn as nn

        return nn.GLU(a.dim)


@register_layer
class LogSoftmax(Softmax):
    name = "log_softmax"
    summary = "log of the softmax along `dim` (counted with the batch as dimension 0; 1 by default)"
    example = "log_softmax(dim=1)"
    torch_class = "torch.nn.LogSoftmax"

    def infer(self, a: SoftmaxArgs, shape: Shape) -> Shape:
        rank = len(shape) + 1
        if not -rank <= a.dim < rank or a.dim % rank == 0:
            raise ShapeError(f"log_softmax dim {a.dim} does not fit {format_shape(shape)} (dimension 0 is the batch)",
                             code="rank-mismatch")
        return shape

    def build(self, a: SoftmaxArgs, in_shape: Shape):
        import torch.nn as nn

        return nn.LogSoftmax(dim=a.dim)


@register_layer
class Softmax2d(LayerKind):
    name = "softmax2d"
    Args = NoArgs
    summary = "softmax over the channels at each position of (C, H, W)"
    example = "softmax2d"
    torch_class = "torch.nn.Softmax2d"

    def infer(self, a: NoArgs, shape: Shape) -> Shape:
        need_rank(self.name, shape, (3,), "(C, H, W)")
        return shape

    def build(self, a: NoArgs, in_shape: Shape):
        import torch.nn as nn

        return nn.Softmax2d()
