"""Fully connected, normalisation, reshaping and regularisation kinds."""

from __future__ import annotations

import math
from typing import Optional

from pydantic import Field, PositiveFloat, PositiveInt, confloat

from .base import Flag, LayerKind, LazyArgs, NoArgs, Shape, ShapeError, format_shape, need_rank, register_layer


class LinearArgs(LazyArgs):
    out: PositiveInt
    bias: Flag = True
    in_: Optional[PositiveInt] = Field(None, alias="in")


@register_layer
class Linear(LayerKind):
    name = "linear"
    Args = LinearArgs
    positional = ("out",)
    torch_order = "Linear(in_features, out_features)"
    summary = "fully connected layer on the last dimension; `in` checks the incoming features"
    example = "linear(num_classes)"
    param_names = ("weight", "bias")
    torch_class = "torch.nn.Linear"

    def infer(self, a: LinearArgs, shape: Shape) -> Shape:
        if not shape:
            raise ShapeError("linear expects at least one dimension", code="rank-mismatch")
        if a.in_ is not None and a.in_ != shape[-1]:
            hint = " (add `flatten` before it?)" if len(shape) > 1 else ""
            raise ShapeError(f"linear expects {a.in_} input features, got {shape[-1]}{hint}")
        return (*shape[:-1], a.out)

    def label(self, a: LinearArgs) -> str:
        return f"linear, {a.out}"

    def count_params(self, a: LinearArgs, in_shape: Shape, out_shape: Shape) -> int:
        return in_shape[-1] * a.out + (a.out if a.bias else 0)

    def build(self, a: LinearArgs, in_shape: Shape):
        import torch.nn as nn

        return nn.Linear(in_shape[-1], a.out, bias=a.bias)


class BatchNormArgs(LazyArgs):
    eps: PositiveFloat = 1e-5
    momentum: Optional[confloat(ge=0, le=1)] = 0.1
    affine: Flag = True
    track_running_stats: Flag = True
    features: Optional[PositiveInt] = None


class _BatchNorm(LayerKind):
    param_names = ("weight", "bias")
    vector_params = ("weight", "bias")
    ranks: tuple[int, ...] = ()
    what = ""

    def infer(self, a: BatchNormArgs, shape: Shape) -> Shape:
        need_rank(self.name, shape, self.ranks, self.what)
        if a.features is not None and a.features != shape[0]:
            raise ShapeError(f"{self.name} expects {a.features} channels, got {shape[0]}")
        return shape

    def label(self, a: BatchNormArgs) -> str:
        return "batch norm"

    def count_params(self, a: BatchNormArgs, in_shape: Shape, out_shape: Shape) -> int:
        return 2 * in_shape[0] if a.affine else 0

    def _kwargs(self, a: BatchNormArgs) -> dict:
        return dict(eps=a.eps, momentum=a.momentum, affine=a.affine, track_running_stats=a.track_running_stats)


@register_layer
class BatchNorm2d(_BatchNorm):
    name = "batchnorm2d"
    Args = BatchNormArgs
    ranks = (3,)
    what = "(C, H, W)"
    summary = "batch normalisation over the channels of (C, H, W); channels come from the input"
    example = "batchnorm2d(eps=0.001)"
    torch_class = "torch.nn.BatchNorm2d"

    def build(self, a: BatchNormArgs, in_shape: Shape):
        import torch.nn as nn

        return nn.BatchNorm2d(in_shape[0], **self._kwargs(a))


@register_layer
class BatchNorm1d(_BatchNorm):
    name = "batchnorm1d"
    Args = BatchNormArgs
    ranks = (1, 2)
    what = "(C,) or (C, L)"
    summary = "batch normalisation over the features of (C,) or (C, L)"
    example = "batchnorm1d"
    torch_class = "torch.nn.BatchNorm1d"

    def build(self, a: BatchNormArgs, in_shape: Shape):
        import torch.nn as nn

        return nn.BatchNorm1d(in_shape[0], **self._kwargs(a))


class LayerNormArgs(LazyArgs):
    dims: Optional[PositiveInt] = None  # trailing dimensions normalised together; all of them when left out
    eps: PositiveFloat = 1e-5
    elementwise_affine: Flag = True
    bias: Flag = True


@register_layer
class LayerNorm(LayerKind):
    name = "layernorm"
    Args = LayerNormArgs
    positional = ("dims",)
    summary = "layer normalisation over the last `dims` dimensions of each sample (all by default)"
    example = "layernorm(dims=1)"
    param_names = ("weight", "bias")
    vector_params = ("weight", "bias")
    torch_class = "torch.nn.LayerNorm"

    def _normalized(self, a: LayerNormArgs, shape: Shape) -> Shape:
        dims = a.dims or len(shape)
        if dims > len(shape):
            raise ShapeError(
                f"layernorm over {dims} dimensions needs an input with at least {dims}, got {format_shape(shape)}",
                code="rank-mismatch",
            )
        return shape[len(shape) - dims :]

    def infer(self, a: LayerNormArgs, shape: Shape) -> Shape:
        self._normalized(a, shape)
        return shape

    def count_params(self, a: LayerNormArgs, in_shape: Shape, out_shape: Shape) -> int:
        if not a.elementwise_affine:
            return 0
        n = math.prod(self._normalized(a, in_shape))
        return n * (2 if a.bias else 1)

    def build(self, a: LayerNormArgs, in_shape: Shape):
        import torch.nn as nn

        return nn.LayerNorm(
            list(self._normalized(a, in_shape)), eps=a.eps, elementwise_affine=a.elementwise_affine, bias=a.bias
        )


class LRNArgs(LazyArgs):
    size: PositiveInt
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 1.0


@register_layer
class LocalResponseNorm(LayerKind):
    name = "lrn"
    Args = LRNArgs
    positional = ("size", "alpha", "beta", "k")
    summary = "local response normalisation across neighbouring channels (AlexNet, GoogLeNet)"
    example = "lrn(5, alpha=0.0001, beta=0.75, k=1)"
    torch_class = "torch.nn.LocalResponseNorm"

    def infer(self, a: LRNArgs, shape: Shape) -> Shape:
        need_rank(self.name, shape, (2, 3), "(C, L) or (C, H, W)")
        return shape

    def build(self, a: LRNArgs, in_shape: Shape):
        import torch.nn as nn

        return nn.LocalResponseNorm(a.size, alpha=a.alpha, beta=a.beta, k=a.k)


class DropoutArgs(LazyArgs):
    p: confloat(ge=0, le=1) = 0.5
    inplace: Flag = False


@register_layer
class Dropout(LayerKind):
    name = "dropout"
    Args = DropoutArgs
    positional = ("p",)
    summary = "zeroes elements with probability p in training mode"
    example = "dropout(0.5)"
    torch_class = "torch.nn.Dropout"

    def build(self, a: DropoutArgs, in_shape: Shape):
        import torch.nn as nn

        return nn.Dropout(a.p, inplace=a.inplace)


class FlattenArgs(LazyArgs):
    start_dim: int = 1
    end_dim: int = -1


@register_layer
class Flatten(LayerKind):
    name = "flatten"
    Args = FlattenArgs
    positional = ("start_dim", "end_dim")
    summary = "joins dimensions start_dim..end_dim (counted with the batch as dimension 0)"
    example = "flatten"
    torch_class = "torch.nn.Flatten"

    def infer(self, a: FlattenArgs, shape: Shape) -> Shape:
        full = (1, *shape)  # torch counts the batch as dimension 0
        rank = len(full)
        start = a.start_dim % rank
        end = a.end_dim % rank
        if start == 0 or a.start_dim >= rank or a.end_dim >= rank or -a.start_dim > rank or -a.end_dim > rank:
            raise ShapeError(
                f"flatten dims {a.start_dim}..{a.end_dim} do not fit {format_shape(shape)} (dimension 0 is the batch)",
                code="rank-mismatch",
            )
        if end < start:
            raise ShapeError(f"flatten end_dim {a.end_dim} comes before start_dim {a.start_dim}", code="invalid-value")
        joined = math.prod(full[start : end + 1])
        return (*full[1:start], joined, *full[end + 1 :])

    def build(self, a: FlattenArgs, in_shape: Shape):
        import torch.nn as nn

        return nn.Flatten(a.start_dim, a.end_dim)


@register_layer
class Identity(LayerKind):
    name = "identity"
    Args = NoArgs
    summary = "passes its input through unchanged"
    example = "identity"
    torch_class = "torch.nn.Identity"

    def build(self, a: NoArgs, in_shape: Shape):
        import torch.nn as nn

        return nn.Identity()


class ChannelAffineArgs(LazyArgs):
    scale: tuple[float, ...]
    shift: tuple[float, ...]


@register_layer
class ChannelAffine(LayerKind):
    name = "channel_affine"
    Args = ChannelAffineArgs
    positional = ("scale", "shift")
    summary = "fixed per-channel x * scale + shift (input re-normalisation); constants, not parameters"
    example = "channel_affine([0.458, 0.448, 0.45], [-0.03, -0.088, -0.188])"
    torch_class = "netspec.backends.modules.ChannelAffine"

    def infer(self, a: ChannelAffineArgs, shape: Shape) -> Shape:
        if not shape:
            raise ShapeError("channel_affine expects a channel dimension", code="rank-mismatch")
        if len(a.scale) != shape[0] or len(a.shift) != shape[0]:
            raise ShapeError(
                f"channel_affine has {len(a.scale)} scales and {len(a.shift)} shifts for {shape[0]} channels"
            )
        return shape

    def build(self, a: ChannelAffineArgs, in_shape: Shape):
        from ..backends.modules import ChannelAffine as Module

        return Module(a.scale, a.shift, len(in_shape))
