"""Regularisation kinds (channel dropout, alpha dropout, stochastic depth) and the learnable layer scale."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import confloat

from .base import RANK_TEXT, LayerKind, LazyArgs, Shape, ShapeError, format_shape, need_rank, register_layer
from .dense import DropoutArgs


class _ChannelDropout(LayerKind):
    """Zeroes whole channels with probability p in training mode."""

    spatial: ClassVar[int]
    Args = DropoutArgs
    positional = ("p",)

    def infer(self, a: DropoutArgs, shape: Shape) -> Shape:
        need_rank(self.name, shape, (self.spatial + 1,), RANK_TEXT[self.spatial])
        return shape

    def build(self, a: DropoutArgs, in_shape: Shape):
        import torch.nn as nn

        return getattr(nn, self.torch_class.rsplit(".", 1)[1])(a.p, inplace=a.inplace)


@register_layer
class Dropout1d(_ChannelDropout):
    name = "dropout1d"
    spatial = 1
    summary = "zeroes whole channels of (C, L) with probability p in training mode"
    example = "dropout1d(0.1)"
    torch_class = "torch.nn.Dropout1d"


@register_layer
class Dropout2d(_ChannelDropout):
    name = "dropout2d"
    spatial = 2
    summary = "zeroes whole channels of (C, H, W) with probability p in training mode"
    example = "dropout2d(0.1)"
    torch_class = "torch.nn.Dropout2d"


@register_layer
class Dropout3d(_ChannelDropout):
    name = "dropout3d"
    spatial = 3
    summary = "zeroes whole channels of (C, D, H, W) with probability p in training mode"
    example = "dropout3d(0.1)"
    torch_class = "torch.nn.Dropout3d"


@register_layer
class AlphaDropout(LayerKind):
    name = "alpha_dropout"
    Args = DropoutArgs
    positional = ("p",)
    summary = "dropout that keeps a SELU network's mean and variance, in training mode"
    example = "alpha_dropout(0.1)"
    torch_class = "torch.nn.AlphaDropout"

    def build(self, a: DropoutArgs, in_shape: Shape):
        import torch.nn as nn

        return nn.AlphaDropout(a.p, inplace=a.inplace)


class StochasticDepthArgs(LazyArgs):
    p: confloat(ge=0, le=1)
    mode: Literal["row", "batch"] = "row"


@register_layer
class StochasticDepth(LayerKind):
    name = "stochastic_depth"
    Args = StochasticDepthArgs
    positional = ("p", "mode")
    summary = ("in training mode, drops the whole input of a sample (row) or of the batch with probability p and "
               "scales what is kept by 1 / (1 - p), as torchvision's StochasticDepth; put it at a residual body's end")
    example = "stochastic_depth(0.1, mode=row)"
    torch_class = "netspec.backends.modules.StochasticDepth"

    def build(self, a: StochasticDepthArgs, in_shape: Shape):
        from ..backends.modules import StochasticDepth as Module

        return Module(a.p, a.mode)


class LayerScaleArgs(LazyArgs):
    init_value: float = 1e-6
    dim: int = 1


@register_layer
class LayerScale(LayerKind):
    name = "layer_scale"
    Args = LayerScaleArgs
    positional = ("init_value", "dim")
    summary = ("multiplies by a learnable scale per channel (dimension `dim`, the batch being 0), starting at "
               "init_value (ConvNeXt, CaiT)")
    example = "layer_scale(0.000001)"
    param_names = ("weight",)
    vector_params = ("weight",)
    torch_class = "netspec.backends.modules.LayerScale"

    def _shape(self, a: LayerScaleArgs, shape: Shape) -> tuple[int, ...]:
        """The scale's shape: the size of `dim`, and 1 for each dimension after it: (C, 1, 1) on (C, H, W)."""
        rank = len(shape) + 1
        if not -rank <= a.dim < rank or a.dim % rank == 0:
            raise ShapeError(f"layer_scale dim {a.dim} does not fit {format_shape(shape)} (dimension 0 is the batch)",
                             code="rank-mismatch")
        i = a.dim % rank - 1
        return (shape[i], *(1 for _ in shape[i + 1 :]))

    def infer(self, a: LayerScaleArgs, shape: Shape) -> Shape:
        self._shape(a, shape)
        return shape

    def count_params(self, a: LayerScaleArgs, in_shape: Shape, out_shape: Shape) -> int:
        return self._shape(a, in_shape)[0]

    def build(self, a: LayerScaleArgs, in_shape: Shape):
        from ..backends.modules import LayerScale as Module

        return Module(self._shape(a, in_shape), a.init_value)

