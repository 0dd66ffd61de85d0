"""Resampling and reshaping kinds: upsample, pixel (un)shuffle, pad, channel shuffle, permute, reshape, unflatten.

None has parameters. Where a kind names dimensions (`permute`, `unflatten`) they are counted as torch
counts them, with the batch as dimension 0.
"""

from __future__ import annotations

import math
from typing import Literal, Optional, Union

from pydantic import PositiveFloat, PositiveInt, model_validator

from .base import (
    RANK_TEXT,
    Flag,
    LayerKind,
    LazyArgs,
    Shape,
    ShapeError,
    format_shape,
    need_rank,
    pad_limits,
    register_layer,
    sizes_check,
)

# Interpolation modes and the one rank each takes (nearest ones take any of 1 to 3 spatial dimensions).
_MODE_SPATIAL = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


class UpsampleArgs(LazyArgs):
    size: Optional[Union[PositiveInt, tuple[PositiveInt, ...]]] = None
    scale_factor: Optional[Union[PositiveFloat, tuple[PositiveFloat, ...]]] = None
    mode: Literal["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear"] = "nearest"
    align_corners: Optional[Flag] = None

    @model_validator(mode="after")
    def _one_of_size_and_scale(self):
        if (self.size is None) == (self.scale_factor is None):
            raise ValueError("give exactly one of size and scale_factor")
        if self.align_corners is not None and self.mode not in _MODE_SPATIAL:
            raise ValueError(f"align_corners is for the interpolating modes ({', '.join(_MODE_SPATIAL)}), "
                             f"not {self.mode}")
        return self


@register_layer
class Upsample(LayerKind):
    name = "upsample"
    Args = UpsampleArgs
    positional = ("size", "scale_factor", "mode")
    summary = ("resizes the spatial dimensions to `size`, or by `scale_factor` (output floor(size * factor)); "
               "nearest, linear, bilinear, bicubic, trilinear")
    example = "upsample(scale_factor=2, mode=bilinear, align_corners=false)"
    torch_class = "torch.nn.Upsample"

    def infer(self, a: UpsampleArgs, shape: Shape) -> Shape:
        want = _MODE_SPATIAL.get(a.mode)
        if want is not None:
            need_rank(f"upsample mode {a.mode}", shape, (want + 1,), RANK_TEXT[want])
        else:
            need_rank(self.name, shape, (2, 3, 4), "(C, L), (C, H, W) or (C, D, H, W)")
        n = len(shape) - 1
        given = a.size if a.size is not None else a.scale_factor
        if isinstance(given, tuple) and len(given) != n:
            raise ShapeError(f"upsample {'size' if a.size is not None else 'scale_factor'} has {len(given)} values "
                             f"for {n} spatial dimensions of {format_shape(shape)}")
        if a.size is not None:
            out = a.size if isinstance(a.size, tuple) else (a.size,) * n
        else:
            factors = a.scale_factor if isinstance(a.scale_factor, tuple) else (a.scale_factor,) * n
            out = tuple(math.floor(float(size) * f) for size, f in zip(shape[1:], factors))  # torch's rounding
            sizes_check(self.name, shape[1:], out, lambda: f"scale_factor {a.scale_factor}")
        return (shape[0], *out)

    def build(self, a: UpsampleArgs, in_shape: Shape):
        import torch.nn as nn

        return nn.Upsample(size=a.size, scale_factor=a.scale_factor, mode=a.mode, align_corners=a.align_corners)


class PixelShuffleArgs(LazyArgs):
    upscale_factor: PositiveInt


@register_layer
class PixelShuffle(LayerKind):
    name = "pixel_shuffle"
    Args = PixelShuffleArgs
    positional = ("upscale_factor",)
    summary = "(C * r * r, H, W) -> (C, H * r, W * r): sub-pixel upsampling"
    example = "pixel_shuffle(2)"
    torch_class = "torch.nn.PixelShuffle"

    def infer(self, a: PixelShuffleArgs, shape: Shape) -> Shape:
        need_rank(self.name, shape, (3,), RANK_TEXT[2])
        r = a.upscale_factor
        c, h, w = shape
        if c % (r * r):
            raise ShapeError(f"pixel_shuffle({r}) needs channels divisible by {r * r}, got {c}")
        return (c // (r * r), h * r, w * r)

    def build(self, a: PixelShuffleArgs, in_shape: Shape):
        import torch.nn as nn

        return nn.PixelShuffle(a.upscale_factor)


class PixelUnshuffleArgs(LazyArgs):
    downscale_factor: PositiveInt


@register_layer
class PixelUnshuffle(LayerKind):
    name = "pixel_unshuffle"
    Args = PixelUnshuffleArgs
    positional = ("downscale_factor",)
    summary = "(C, H * r, W * r) -> (C * r * r, H, W): space to depth"
    example = "pixel_unshuffle(2)"
    torch_class = "torch.nn.PixelUnshuffle"

    def infer(self, a: PixelUnshuffleArgs, shape: Shape) -> Shape:
        need_rank(self.name, shape, (3,), RANK_TEXT[2])
        r = a.downscale_factor
        c, h, w = shape
        if h % r or w % r:
            raise ShapeError(f"pixel_unshuffle({r}) needs height and width divisible by {r}, got {h}x{w}")
        return (c * r * r, h // r, w // r)

    def build(self, a: PixelUnshuffleArgs, in_shape: Shape):
        import torch.nn as nn

        return nn.PixelUnshuffle(a.downscale_factor)


class PadArgs(LazyArgs):
    padding: Union[int, tuple[int, ...]]
    mode: Literal["constant", "reflect", "replicate", "circular"] = "constant"
    value: float = 0.0

    @model_validator(mode="after")
    def _pairs(self):
        if isinstance(self.padding, tuple) and (len(self.padding) not in (2, 4, 6)):
            raise ValueError(f"padding is one int or 2, 4 or 6 ints (left, right, top, bottom, front, back: the last "
                             f"dimension first), not {len(self.padding)}")
        if self.value != 0 and self.mode != "constant":
            raise ValueError(f"value is for mode constant, not {self.mode}")
        return self


_PAD_CLASS = {"constant": "ConstantPad", "reflect": "ReflectionPad", "replicate": "ReplicationPad",
              "circular": "CircularPad"}


@register_layer
class Pad(LayerKind):
    name = "pad"
    Args = PadArgs
    positional = ("padding", "mode", "value")
    summary = ("pads the spatial dimensions (one int: all of them; or pairs, the last dimension first); "
               "constant, reflect, replicate or circular, with torch's limits checked")
    example = "pad([1, 1, 2, 2], mode=reflect)"
    torch_class = "torch.nn.{Constant,Reflection,Replication,Circular}Pad{1,2,3}d"

    def _pairs(self, a: PadArgs, shape: Shape) -> list[tuple[int, int]]:
        """(left, right) per padded dimension, the last dimension first."""
        if isinstance(a.padding, int):
            return [(a.padding, a.padding)] * (len(shape) - 1)
        return [(a.padding[i], a.padding[i + 1]) for i in range(0, len(a.padding), 2)]

    def infer(self, a: PadArgs, shape: Shape) -> Shape:
        need_rank(self.name, shape, (2, 3, 4), "(C, L), (C, H, W) or (C, D, H, W)")
        pairs = self._pairs(a, shape)
        spatial = len(shape) - 1
        if a.mode != "constant" and len(pairs) != spatial:
            raise ShapeError(f"pad mode {a.mode} pads every spatial dimension of {format_shape(shape)}: give "
                             f"{2 * spatial} values, not {2 * len(pairs)}", code="invalid-value")
        if len(pairs) > len(shape):
            raise ShapeError(f"pad gives {len(pairs)} pairs for {format_shape(shape)}", code="invalid-value")
        padded = list(reversed(shape))  # the last dimension first, as the pairs are
        for i, (left, right) in enumerate(pairs):
            padded[i] += left + right
        if a.mode in ("reflect", "circular"):
            pad_limits(self.name, a.mode, pairs, reversed(shape))
        out = tuple(reversed(padded))
        sizes_check(self.name, shape, out,
                    lambda: f"padding {list(a.padding) if isinstance(a.padding, tuple) else a.padding}")
        return out

    def build(self, a: PadArgs, in_shape: Shape):
        import torch.nn as nn

        pairs = self._pairs(a, in_shape)
        flat = tuple(p for pair in pairs for p in pair)
        cls = getattr(nn, f"{_PAD_CLASS[a.mode]}{len(pairs)}d")
        return cls(flat, a.value) if a.mode == "constant" else cls(flat)


class ChannelShuffleArgs(LazyArgs):
    groups: PositiveInt


@register_layer
class ChannelShuffle(LayerKind):
    name = "channel_shuffle"
    Args = ChannelShuffleArgs
    positional = ("groups",)
    summary = "interleaves the channels of `groups` groups (ShuffleNet); shape unchanged"
    example = "channel_shuffle(2)"
    torch_class = "torch.nn.ChannelShuffle"

    def infer(self, a: ChannelShuffleArgs, shape: Shape) -> Shape:
        need_rank(self.name, shape, (2, 3, 4), "(C, L), (C, H, W) or (C, D, H, W)")
        if shape[0] % a.groups:
            raise ShapeError(f"channel_shuffle({a.groups}) needs channels divisible by {a.groups}, got {shape[0]}")
        return shape

    def build(self, a: ChannelShuffleArgs, in_shape: Shape):
        import torch.nn as nn

        return nn.ChannelShuffle(a.groups)


class PermuteArgs(LazyArgs):
    dims: tuple[int, ...]


@register_layer
class Permute(LayerKind):
    name = "permute"
    Args = PermuteArgs
    positional = ("dims",)
    summary = "reorders dimensions, counted with the batch as dimension 0, which stays first: [0, 2, 3, 1] is NCHW to NHWC"
    example = "permute([0, 2, 3, 1])"
    torch_class = "netspec.backends.modules.Permute"

    def infer(self, a: PermuteArgs, shape: Shape) -> Shape:
        rank = len(shape) + 1
        if sorted(d % rank if -rank <= d < rank else d for d in a.dims) != list(range(rank)):
            raise ShapeError(f"permute {list(a.dims)} must name each of dimensions 0 to {rank - 1} once: the input "
                             f"{format_shape(shape)} has {rank} with the batch", code="rank-mismatch")
        if a.dims[0] % rank != 0:
            raise ShapeError(f"permute {list(a.dims)} must keep the batch (dimension 0) first", code="invalid-value")
        full = (1, *shape)
        return tuple(full[d % rank] for d in a.dims[1:])

    def build(self, a: PermuteArgs, in_shape: Shape):
        from ..backends.modules import Permute as Module

        return Module(a.dims)


class ReshapeArgs(LazyArgs):
    shape: tuple[int, ...]


def _fill(kind: str, sizes: tuple[int, ...], total: int, what: str) -> tuple[int, ...]:
    """`sizes` with its one -1 (if any) worked out so that they multiply to `total`."""
    if any(s == 0 or s < -1 for s in sizes) or sizes.count(-1) > 1:
        raise ShapeError(f"{kind} sizes {list(sizes)} must be positive, with at most one -1", code="invalid-value")
    known = math.prod(s for s in sizes if s != -1)
    if -1 in sizes:
        if total % known:
            raise ShapeError(f"{kind} cannot fit {total} values of {what} into {list(sizes)}")
        sizes = tuple(total // known if s == -1 else s for s in sizes)
    elif known != total:
        raise ShapeError(f"{kind} {list(sizes)} holds {known} values, but {what} has {total}")
    return sizes


@register_layer
class Reshape(LayerKind):
    name = "reshape"
    Args = ReshapeArgs
    positional = ("shape",)
    summary = "reshapes each sample to `shape` (batch left out; one -1 is worked out)"
    example = "reshape([-1, 4])"
    torch_class = "netspec.backends.modules.Reshape"

    def infer(self, a: ReshapeArgs, shape: Shape) -> Shape:
        return _fill(self.name, a.shape, math.prod(shape), format_shape(shape))

    def build(self, a: ReshapeArgs, in_shape: Shape):
        from ..backends.modules import Reshape as Module

        return Module(a.shape)


class UnflattenArgs(LazyArgs):
    dim: int
    sizes: tuple[int, ...]


@register_layer
class Unflatten(LayerKind):
    name = "unflatten"
    Args = UnflattenArgs
    positional = ("dim", "sizes")
    summary = "splits dimension `dim` (the batch is 0) into `sizes` (one -1 is worked out)"
    example = "unflatten(1, [4, -1])"
    torch_class = "torch.nn.Unflatten"

    def infer(self, a: UnflattenArgs, shape: Shape) -> Shape:
        rank = len(shape) + 1
        if not -rank <= a.dim < rank or a.dim % rank == 0:
            raise ShapeError(f"unflatten dim {a.dim} does not fit {format_shape(shape)} (dimension 0 is the batch)",
                             code="rank-mismatch")
        i = a.dim % rank - 1
        sizes = _fill(self.name, a.sizes, shape[i], f"dimension {a.dim} of {format_shape(shape)}")
        return (*shape[:i], *sizes, *shape[i + 1 :])

    def build(self, a: UnflattenArgs, in_shape: Shape):
        import torch.nn as nn

        return nn.Unflatten(a.dim, a.sizes)
