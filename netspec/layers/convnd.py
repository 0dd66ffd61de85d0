"""Sliding-window kinds over 1 or 3 spatial dimensions, transposed convolutions and power-average pooling.

A kind over n spatial dimensions takes one sample of rank n + 1: (C, L), (C, H, W) or (C, D, H, W).
Sizes given as one int apply to every spatial dimension; a list gives one per dimension.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal, Optional, Union

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt, model_validator

from .base import (
    RANK_TEXT,
    Flag,
    LayerKind,
    LazyArgs,
    Shape,
    ShapeError,
    need_rank,
    ntuple,
    pad_limits,
    register_layer,
    sizes_check,
    window_out,
)

Ints = Union[PositiveInt, tuple[PositiveInt, ...]]
Pads = Union[NonNegativeInt, tuple[NonNegativeInt, ...]]
_SIZED = ("kernel", "stride", "padding", "dilation", "output_padding", "size")


class _NdArgs(LazyArgs):
    """Arguments of a kind over `spatial` dimensions: a list value must have one entry per dimension."""

    spatial: ClassVar[int] = 2

    @model_validator(mode="after")
    def _lengths(self):
        n = type(self).spatial
        for field in _SIZED:
            value = getattr(self, field, None)
            if isinstance(value, tuple) and len(value) != n:
                raise ValueError(f"{field} has {len(value)} values; give one int or {n} (one per spatial dimension)")
        return self


def _torch(path: str):
    import torch.nn as nn

    return getattr(nn, path.rsplit(".", 1)[1])


def _spatial_input(kind: LayerKind, shape: Shape, n: int) -> None:
    need_rank(kind.name, shape, (n + 1,), RANK_TEXT[n])


def _channels(kind: str, a, c: int) -> None:
    if a.in_ is not None and a.in_ != c:
        raise ShapeError(f"{kind} expects {a.in_} input channels, got {c}")
    if c % a.groups:
        raise ShapeError(f"{kind} with groups={a.groups} needs input channels divisible by {a.groups}, got {c}")
    if a.out % a.groups:
        raise ShapeError(f"{kind} with groups={a.groups} needs out channels divisible by {a.groups}, got {a.out}")


# ---- convolutions ------------------------------------------------------------------------------


class _ConvNdArgs(_NdArgs):
    out: PositiveInt
    kernel: Ints
    stride: Ints = 1
    padding: Union[Pads, Literal["same", "valid"]] = 0
    dilation: Ints = 1
    groups: PositiveInt = 1
    bias: Flag = True
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros"
    in_: Optional[PositiveInt] = Field(None, alias="in")

    @model_validator(mode="after")
    def _same_needs_stride_one(self):
        if self.padding == "same" and set(ntuple(self.stride, type(self).spatial)) != {1}:
            raise ValueError("padding 'same' needs stride 1")
        return self


class Conv1dArgs(_ConvNdArgs):
    spatial: ClassVar[int] = 1


class Conv3dArgs(_ConvNdArgs):
    spatial: ClassVar[int] = 3


class _ConvNd(LayerKind):
    """A convolution over `spatial` dimensions (conv2d, older, lives in conv.py)."""

    spatial: ClassVar[int]
    positional = ("out", "kernel", "stride", "padding")
    param_names = ("weight", "bias")

    def _pads(self, a: _ConvNdArgs) -> tuple[tuple[int, int], ...]:
        """(left, right) per spatial dimension, as torch pads the input ('same' may be uneven)."""
        n = self.spatial
        if a.padding == "valid":
            return ((0, 0),) * n
        if a.padding == "same":
            total = [d * (k - 1) for k, d in zip(ntuple(a.kernel, n), ntuple(a.dilation, n))]
            return tuple((t // 2, t - t // 2) for t in total)
        return tuple((p, p) for p in ntuple(a.padding, n))

    def infer(self, a: _ConvNdArgs, shape: Shape) -> Shape:
        n = self.spatial
        _spatial_input(self, shape, n)
        _channels(self.name, a, shape[0])
        sizes = shape[1:]
        pads = self._pads(a)
        if a.padding_mode != "zeros":
            pad_limits(self.name, a.padding_mode, pads, sizes)
        if a.padding == "same":
            return (a.out, *sizes)
        k, s, d = ntuple(a.kernel, n), ntuple(a.stride, n), ntuple(a.dilation, n)
        out = tuple(window_out(size + left + right, k_, s_, 0, d_)
                    for size, (left, right), k_, s_, d_ in zip(sizes, pads, k, s, d))
        sizes_check(self.name, sizes, out, lambda: f"kernel {'x'.join(map(str, k))} (dilation {'x'.join(map(str, d))}) "
                        f"with padding {'x'.join(str(p[0]) for p in pads)}")
        return (a.out, *out)

    def count_params(self, a: _ConvNdArgs, in_shape: Shape, out_shape: Shape) -> int:
        return a.out * (in_shape[0] // a.groups) * math.prod(ntuple(a.kernel, self.spatial)) + (a.out if a.bias else 0)

    def mult_adds(self, a, in_shape: Shape, out_shape: Shape, params: int) -> int:
        return params * math.prod(out_shape[1:])  # torchinfo: every weight once per output position

    def build(self, a: _ConvNdArgs, in_shape: Shape):
        n = self.spatial
        padding = a.padding if isinstance(a.padding, str) else ntuple(a.padding, n)
        return _torch(self.torch_class)(in_shape[0], a.out, ntuple(a.kernel, n), stride=ntuple(a.stride, n),
                                        padding=padding, dilation=ntuple(a.dilation, n), groups=a.groups,
                                        bias=a.bias, padding_mode=a.padding_mode)


@register_layer
class Conv1d(_ConvNd):
    name = "conv1d"
    Args = Conv1dArgs
    spatial = 1
    summary = "1-d convolution over (C, L) (audio, sequences); input channels come from the incoming shape"
    example = "conv1d(32, 9, stride=2, padding=4)"
    torch_class = "torch.nn.Conv1d"


@register_layer
class Conv3d(_ConvNd):
    name = "conv3d"
    Args = Conv3dArgs
    spatial = 3
    summary = "3-d convolution over (C, D, H, W) (video, volumes); input channels come from the incoming shape"
    example = "conv3d(32, 3, padding=1)"
    torch_class = "torch.nn.Conv3d"


class _ConvTransposeArgs(_NdArgs):
    out: PositiveInt
    kernel: Ints
    stride: Ints = 1
    padding: Pads = 0
    output_padding: Pads = 0
    groups: PositiveInt = 1
    bias: Flag = True
    dilation: Ints = 1
    in_: Optional[PositiveInt] = Field(None, alias="in")

    @model_validator(mode="after")
    def _output_padding_fits(self):
        n = type(self).spatial
        for op, s, d in zip(ntuple(self.output_padding, n), ntuple(self.stride, n), ntuple(self.dilation, n)):
            if op >= max(s, d):
                raise ValueError(f"output_padding {op} must be smaller than the stride ({s}) or the dilation ({d})")
        return self


class ConvTranspose1dArgs(_ConvTransposeArgs):
    spatial: ClassVar[int] = 1


class ConvTranspose2dArgs(_ConvTransposeArgs):
    spatial: ClassVar[int] = 2


class ConvTranspose3dArgs(_ConvTransposeArgs):
    spatial: ClassVar[int] = 3


class _ConvTransposeNd(LayerKind):
    """A transposed convolution ("deconvolution"): out = (in - 1) * stride - 2 * padding
    + dilation * (kernel - 1) + output_padding + 1 per spatial dimension."""

    spatial: ClassVar[int]
    positional = ("out", "kernel", "stride", "padding", "output_padding")
    param_names = ("weight", "bias")

    def infer(self, a: _ConvTransposeArgs, shape: Shape) -> Shape:
        n = self.spatial
        _spatial_input(self, shape, n)
        _channels(self.name, a, shape[0])
        k, s, p = ntuple(a.kernel, n), ntuple(a.stride, n), ntuple(a.padding, n)
        d, op = ntuple(a.dilation, n), ntuple(a.output_padding, n)
        out = tuple((size - 1) * s_ - 2 * p_ + d_ * (k_ - 1) + op_ + 1
                    for size, k_, s_, p_, d_, op_ in zip(shape[1:], k, s, p, d, op))
        sizes_check(self.name, shape[1:], out,
                    lambda: f"padding {'x'.join(map(str, p))} with kernel {'x'.join(map(str, k))}")
        return (a.out, *out)

    def count_params(self, a: _ConvTransposeArgs, in_shape: Shape, out_shape: Shape) -> int:
        weight = in_shape[0] * (a.out // a.groups) * math.prod(ntuple(a.kernel, self.spatial))
        return weight + (a.out if a.bias else 0)

    def mult_adds(self, a, in_shape: Shape, out_shape: Shape, params: int) -> int:
        return params * math.prod(out_shape[1:])  # torchinfo's rule for every Conv* class, transposed too

    def build(self, a: _ConvTransposeArgs, in_shape: Shape):
        n = self.spatial
        return _torch(self.torch_class)(in_shape[0], a.out, ntuple(a.kernel, n), stride=ntuple(a.stride, n),
                                        padding=ntuple(a.padding, n), output_padding=ntuple(a.output_padding, n),
                                        groups=a.groups, bias=a.bias, dilation=ntuple(a.dilation, n))


@register_layer
class ConvTranspose1d(_ConvTransposeNd):
    name = "conv_transpose1d"
    Args = ConvTranspose1dArgs
    spatial = 1
    summary = "1-d transposed convolution over (C, L): upsamples by the stride"
    example = "conv_transpose1d(8, 4, stride=2, padding=1)"
    torch_class = "torch.nn.ConvTranspose1d"


@register_layer
class ConvTranspose2d(_ConvTransposeNd):
    name = "conv_transpose2d"
    Args = ConvTranspose2dArgs
    spatial = 2
    summary = "2-d transposed convolution over (C, H, W): upsamples by the stride (decoders, U-Net)"
    example = "conv_transpose2d(32, 2, stride=2)"
    torch_class = "torch.nn.ConvTranspose2d"


@register_layer
class ConvTranspose3d(_ConvTransposeNd):
    name = "conv_transpose3d"
    Args = ConvTranspose3dArgs
    spatial = 3
    summary = "3-d transposed convolution over (C, D, H, W): upsamples by the stride"
    example = "conv_transpose3d(8, 2, stride=2)"
    torch_class = "torch.nn.ConvTranspose3d"


# ---- pooling -----------------------------------------------------------------------------------


class _PoolNdArgs(_NdArgs):
    kernel: Ints
    stride: Optional[Ints] = None  # torch's default: the kernel size
    padding: Pads = 0
    ceil_mode: Flag = False


class _MaxPoolNdArgs(_PoolNdArgs):
    dilation: Ints = 1


class _AvgPoolNdArgs(_PoolNdArgs):
    count_include_pad: Flag = True


class MaxPool1dArgs(_MaxPoolNdArgs):
    spatial: ClassVar[int] = 1


class MaxPool3dArgs(_MaxPoolNdArgs):
    spatial: ClassVar[int] = 3


class AvgPool1dArgs(_AvgPoolNdArgs):
    spatial: ClassVar[int] = 1


class AvgPool3dArgs(_AvgPoolNdArgs):
    spatial: ClassVar[int] = 3


class _PoolNd(LayerKind):
    spatial: ClassVar[int]
    kernel_within_input: ClassVar[bool] = False  # torch's avg_pool3d refuses an input smaller than the kernel
    positional = ("kernel", "stride", "padding")

    def infer(self, a: _PoolNdArgs, shape: Shape) -> Shape:
        n = self.spatial
        _spatial_input(self, shape, n)
        k, p = ntuple(a.kernel, n), ntuple(a.padding, n)
        s = ntuple(a.stride if a.stride is not None else a.kernel, n)
        d = ntuple(getattr(a, "dilation", 1), n)
        if any(p_ > k_ // 2 for p_, k_ in zip(p, k)):
            raise ShapeError(f"{self.name} padding {'x'.join(map(str, p))} must be at most half the kernel "
                             f"{'x'.join(map(str, k))}", code="invalid-value")
        if self.kernel_within_input and any(size < k_ for size, k_ in zip(shape[1:], k)):
            raise ShapeError(f"{self.name} needs an input at least as large as its kernel {'x'.join(map(str, k))} "
                             f"(padding does not count), but gets {'x'.join(map(str, shape[1:]))}",
                             code="spatial-too-small")
        out = tuple(window_out(size, k_, s_, p_, d_, a.ceil_mode) for size, k_, s_, p_, d_ in zip(shape[1:], k, s, p, d))
        sizes_check(self.name, shape[1:], out,
                    lambda: f"kernel {'x'.join(map(str, k))} with padding {'x'.join(map(str, p))}")
        return (shape[0], *out)

    def build(self, a: _PoolNdArgs, in_shape: Shape):
        n = self.spatial
        extra = {"dilation": ntuple(a.dilation, n)} if hasattr(a, "dilation") else {
            "count_include_pad": a.count_include_pad}
        stride = ntuple(a.stride, n) if a.stride is not None else None
        return _torch(self.torch_class)(ntuple(a.kernel, n), stride=stride, padding=ntuple(a.padding, n),
                                        ceil_mode=a.ceil_mode, **extra)


@register_layer
class MaxPool1d(_PoolNd):
    name = "maxpool1d"
    Args = MaxPool1dArgs
    spatial = 1
    summary = "1-d max pooling over (C, L) (stride defaults to the kernel size)"
    example = "maxpool1d(3, stride=2, padding=1)"
    torch_class = "torch.nn.MaxPool1d"


@register_layer
class MaxPool3d(_PoolNd):
    name = "maxpool3d"
    Args = MaxPool3dArgs
    spatial = 3
    summary = "3-d max pooling over (C, D, H, W) (stride defaults to the kernel size)"
    example = "maxpool3d([1, 3, 3], stride=[1, 2, 2], padding=[0, 1, 1])"
    torch_class = "torch.nn.MaxPool3d"


@register_layer
class AvgPool1d(_PoolNd):
    name = "avgpool1d"
    Args = AvgPool1dArgs
    spatial = 1
    summary = "1-d average pooling over (C, L) (stride defaults to the kernel size)"
    example = "avgpool1d(4)"
    torch_class = "torch.nn.AvgPool1d"


@register_layer
class AvgPool3d(_PoolNd):
    name = "avgpool3d"
    Args = AvgPool3dArgs
    spatial = 3
    summary = "3-d average pooling over (C, D, H, W) (stride defaults to the kernel size)"
    example = "avgpool3d(2)"
    kernel_within_input = True
    torch_class = "torch.nn.AvgPool3d"


class _AdaptiveNdArgs(_NdArgs):
    size: Union[PositiveInt, tuple[Optional[PositiveInt], ...]] = 1  # none keeps that dimension's size


class Adaptive1dArgs(_AdaptiveNdArgs):
    spatial: ClassVar[int] = 1
    size: PositiveInt = 1


class Adaptive3dArgs(_AdaptiveNdArgs):
    spatial: ClassVar[int] = 3


class _AdaptiveNd(LayerKind):
    spatial: ClassVar[int]
    positional = ("size",)

    def _size(self, a: _AdaptiveNdArgs) -> tuple:
        return (a.size,) * self.spatial if isinstance(a.size, int) else tuple(a.size)

    def infer(self, a: _AdaptiveNdArgs, shape: Shape) -> Shape:
        _spatial_input(self, shape, self.spatial)
        return (shape[0], *(size if want is None else want for size, want in zip(shape[1:], self._size(a))))

    def build(self, a: _AdaptiveNdArgs, in_shape: Shape):
        return _torch(self.torch_class)(a.size if isinstance(a.size, int) else self._size(a))


@register_layer
class AdaptiveAvgPool1d(_AdaptiveNd):
    name = "adaptive_avgpool1d"
    Args = Adaptive1dArgs
    spatial = 1
    summary = "average-pool (C, L) to a fixed length (1 gives global average pooling)"
    example = "adaptive_avgpool1d(1)"
    torch_class = "torch.nn.AdaptiveAvgPool1d"


@register_layer
class AdaptiveMaxPool1d(_AdaptiveNd):
    name = "adaptive_maxpool1d"
    Args = Adaptive1dArgs
    spatial = 1
    summary = "max-pool (C, L) to a fixed length"
    example = "adaptive_maxpool1d(4)"
    torch_class = "torch.nn.AdaptiveMaxPool1d"


@register_layer
class AdaptiveAvgPool3d(_AdaptiveNd):
    name = "adaptive_avgpool3d"
    Args = Adaptive3dArgs
    spatial = 3
    summary = "average-pool (C, D, H, W) to a fixed size (1 gives global average pooling)"
    example = "adaptive_avgpool3d(1)"
    torch_class = "torch.nn.AdaptiveAvgPool3d"


@register_layer
class AdaptiveMaxPool3d(_AdaptiveNd):
    name = "adaptive_maxpool3d"
    Args = Adaptive3dArgs
    spatial = 3
    summary = "max-pool (C, D, H, W) to a fixed size"
    example = "adaptive_maxpool3d([1, 2, 2])"
    torch_class = "torch.nn.AdaptiveMaxPool3d"


class _LPPoolArgs(_NdArgs):
    norm_type: PositiveFloat
    kernel: Ints
    stride: Optional[Ints] = None  # the kernel size by default
    ceil_mode: Flag = False


class LPPool1dArgs(_LPPoolArgs):
    spatial: ClassVar[int] = 1


class LPPool2dArgs(_LPPoolArgs):
    spatial: ClassVar[int] = 2


class _LPPool(LayerKind):
    """Power-average pooling: (sum of x ** p over the window) ** (1 / p); no padding."""

    spatial: ClassVar[int]
    positional = ("norm_type", "kernel", "stride")

    def infer(self, a: _LPPoolArgs, shape: Shape) -> Shape:
        n = self.spatial
        _spatial_input(self, shape, n)
        k = ntuple(a.kernel, n)
        s = ntuple(a.stride if a.stride is not None else a.kernel, n)
        out = tuple(window_out(size, k_, s_, 0, 1, a.ceil_mode) for size, k_, s_ in zip(shape[1:], k, s))
        sizes_check(self.name, shape[1:], out, lambda: f"kernel {'x'.join(map(str, k))}")
        return (shape[0], *out)

    def build(self, a: _LPPoolArgs, in_shape: Shape):
        n = self.spatial
        stride = ntuple(a.stride, n) if a.stride is not None else None
        kernel = a.kernel if n == 1 else ntuple(a.kernel, n)
        if n == 1 and stride is not None:
            stride = stride[0]
        return _torch(self.torch_class)(a.norm_type, kernel, stride=stride, ceil_mode=a.ceil_mode)


@register_layer
class LPPool1d(_LPPool):
    name = "lppool1d"
    Args = LPPool1dArgs
    spatial = 1
    summary = "power-average pooling over (C, L): the p-norm of each window"
    example = "lppool1d(2, 3, stride=2)"
    torch_class = "torch.nn.LPPool1d"


@register_layer
class LPPool2d(_LPPool):
    name = "lppool2d"
    Args = LPPool2dArgs
    spatial = 2
    summary = "power-average pooling over (C, H, W): the p-norm of each window"
    example = "lppool2d(2, 3, stride=2)"
    torch_class = "torch.nn.LPPool2d"
