"""Normalisation kinds beyond batchnorm1d/2d: 3-d batch norm, group and instance norm, LayerNorm over channels."""

from __future__ import annotations

from typing import ClassVar, Optional

from pydantic import PositiveFloat, PositiveInt, confloat

from .base import RANK_TEXT, Flag, LayerKind, LazyArgs, Shape, ShapeError, format_shape, need_rank, register_layer
from .dense import BatchNormArgs, _BatchNorm


@register_layer
class BatchNorm3d(_BatchNorm):
    name = "batchnorm3d"
    Args = BatchNormArgs
    ranks = (4,)
    what = RANK_TEXT[3]
    summary = "batch normalisation over the channels of (C, D, H, W); channels come from the input"
    example = "batchnorm3d"
    torch_class = "torch.nn.BatchNorm3d"

    def build(self, a: BatchNormArgs, in_shape: Shape):
        import torch.nn as nn

        return nn.BatchNorm3d(in_shape[0], **self._kwargs(a))


class FrozenBatchNormArgs(LazyArgs):
    eps: PositiveFloat = 1e-5
    features: Optional[PositiveInt] = None


@register_layer
class FrozenBatchNorm2d(LayerKind):
    name = "frozen_batchnorm2d"
    Args = FrozenBatchNormArgs
    summary = ("batch norm with fixed statistics and affine terms, all buffers (nothing trains): detection "
               "backbones' norm; its state_dict is weight, bias, running_mean, running_var")
    example = "frozen_batchnorm2d"
    torch_class = "netspec.backends.modules.FrozenBatchNorm2d (as torchvision.ops.FrozenBatchNorm2d)"

    def infer(self, a: FrozenBatchNormArgs, shape: Shape) -> Shape:
        need_rank(self.name, shape, (3,), "(C, H, W)")
        if a.features is not None and a.features != shape[0]:
            raise ShapeError(f"{self.name} expects {a.features} channels, got {shape[0]}")
        return shape

    def label(self, a: FrozenBatchNormArgs) -> str:
        return "frozen batch norm"

    def count_params(self, a: FrozenBatchNormArgs, in_shape: Shape, out_shape: Shape) -> int:
        return 0  # four buffers, no parameters

    def build(self, a: FrozenBatchNormArgs, in_shape: Shape):
        from ..backends.modules import FrozenBatchNorm2d as Module

        return Module(in_shape[0], eps=a.eps)


class GroupNormArgs(LazyArgs):
    num_groups: PositiveInt
    eps: PositiveFloat = 1e-5
    affine: Flag = True


@register_layer
class GroupNorm(LayerKind):
    name = "groupnorm"
    Args = GroupNormArgs
    positional = ("num_groups",)
    summary = "normalises each group of channels of (C, ...) over the group and all positions"
    example = "groupnorm(8)"
    param_names = ("weight", "bias")
    vector_params = ("weight", "bias")
    torch_class = "torch.nn.GroupNorm"

    def infer(self, a: GroupNormArgs, shape: Shape) -> Shape:
        if not shape:
            raise ShapeError("groupnorm expects (C, ...) input with a channel dimension, got ()", code="rank-mismatch")
        if shape[0] % a.num_groups:
            raise ShapeError(f"groupnorm with num_groups={a.num_groups} needs channels divisible by "
                             f"{a.num_groups}, got {shape[0]}")
        return shape

    def count_params(self, a: GroupNormArgs, in_shape: Shape, out_shape: Shape) -> int:
        return 2 * in_shape[0] if a.affine else 0

    def build(self, a: GroupNormArgs, in_shape: Shape):
        import torch.nn as nn

        return nn.GroupNorm(a.num_groups, in_shape[0], eps=a.eps, affine=a.affine)


class InstanceNormArgs(LazyArgs):
    eps: PositiveFloat = 1e-5
    momentum: Optional[confloat(ge=0, le=1)] = 0.1
    affine: Flag = False
    track_running_stats: Flag = False
    features: Optional[PositiveInt] = None


class _InstanceNorm(LayerKind):
    spatial: ClassVar[int]
    param_names = ("weight", "bias")
    vector_params = ("weight", "bias")

    def infer(self, a: InstanceNormArgs, shape: Shape) -> Shape:
        need_rank(self.name, shape, (self.spatial + 1,), RANK_TEXT[self.spatial])
        if a.features is not None and a.features != shape[0]:
            raise ShapeError(f"{self.name} expects {a.features} channels, got {shape[0]}")
        if all(d == 1 for d in shape[1:]):
            raise ShapeError(f"{self.name} needs more than one position per channel to normalise over, got "
                             f"{format_shape(shape)}", code="spatial-too-small")
        return shape

    def count_params(self, a: InstanceNormArgs, in_shape: Shape, out_shape: Shape) -> int:
        return 2 * in_shape[0] if a.affine else 0

    def build(self, a: InstanceNormArgs, in_shape: Shape):
        import torch.nn as nn

        cls = getattr(nn, self.torch_class.rsplit(".", 1)[1])
        return cls(in_shape[0], eps=a.eps, momentum=a.momentum, affine=a.affine,
                   track_running_stats=a.track_running_stats)


@register_layer
class InstanceNorm1d(_InstanceNorm):
    name = "instancenorm1d"
    Args = InstanceNormArgs
    spatial = 1
    summary = "normalises each channel of each sample of (C, L) over its length"
    example = "instancenorm1d(affine=true)"
    torch_class = "torch.nn.InstanceNorm1d"


@register_layer
class InstanceNorm2d(_InstanceNorm):
    name = "instancenorm2d"
    Args = InstanceNormArgs
    spatial = 2
    summary = "normalises each channel of each sample of (C, H, W) over its positions (style transfer)"
    example = "instancenorm2d(affine=true)"
    torch_class = "torch.nn.InstanceNorm2d"


@register_layer
class InstanceNorm3d(_InstanceNorm):
    name = "instancenorm3d"
    Args = InstanceNormArgs
    spatial = 3
    summary = "normalises each channel of each sample of (C, D, H, W) over its positions"
    example = "instancenorm3d"
    torch_class = "torch.nn.InstanceNorm3d"


class LayerNorm2dArgs(LazyArgs):
    eps: PositiveFloat = 1e-5
    elementwise_affine: Flag = True
    bias: Flag = True


@register_layer
class LayerNorm2d(LayerKind):
    name = "layernorm2d"
    Args = LayerNorm2dArgs
    summary = "LayerNorm over the channels of (C, H, W) at each position, as torchvision's ConvNeXt LayerNorm2d"
    example = "layernorm2d(eps=0.000001)"
    param_names = ("weight", "bias")
    vector_params = ("weight", "bias")
    torch_class = "netspec.backends.modules.LayerNorm2d"

    def infer(self, a: LayerNorm2dArgs, shape: Shape) -> Shape:
        need_rank(self.name, shape, (3,), RANK_TEXT[2])
        return shape

    def count_params(self, a: LayerNorm2dArgs, in_shape: Shape, out_shape: Shape) -> int:
        if not a.elementwise_affine:
            return 0
        return in_shape[0] * (2 if a.bias else 1)

    def build(self, a: LayerNorm2dArgs, in_shape: Shape):
        from ..backends.modules import LayerNorm2d as Module

        return Module(in_shape[0], eps=a.eps, elementwise_affine=a.elementwise_affine, bias=a.bias)
