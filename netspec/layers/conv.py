"""Convolution and pooling kinds: the layers whose shape rule is a sliding window over (C, H, W)."""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import Field, PositiveInt, model_validator

from .base import (
    Flag,
    LayerKind,
    LazyArgs,
    Shape,
    ShapeError,
    need_rank,
    pad_limits,
    pair,
    register_layer,
    spatial_check,
    window_out,
)

IntPair = Union[PositiveInt, tuple[PositiveInt, PositiveInt]]


def _window(value: IntPair) -> str:
    """3 -> '3×3', (1, 7) -> '1×7': a kernel as diagrams write it."""
    h, w = pair(value)
    return f"{h}×{w}"


def _step(value: IntPair) -> str:
    """2 -> '2', (2, 1) -> '2×1': a stride or dilation as diagrams write it."""
    h, w = pair(value)
    return str(h) if h == w else f"{h}×{w}"
PadPair = Union[int, tuple[int, int]]


class Conv2dArgs(LazyArgs):
    out: PositiveInt
    kernel: IntPair
    stride: IntPair = 1
    padding: Union[PadPair, Literal["same", "valid"]] = 0
    dilation: IntPair = 1
    groups: PositiveInt = 1
    bias: Flag = True
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros"
    in_: Optional[PositiveInt] = Field(None, alias="in")

    @model_validator(mode="after")
    def _same_needs_stride_one(self) -> "Conv2dArgs":
        if self.padding == "same" and pair(self.stride) != (1, 1):
            raise ValueError("padding 'same' needs stride 1")
        for p in pair(self.padding) if not isinstance(self.padding, str) else ():
            if p < 0:
                raise ValueError("padding must be 0 or more")
        return self


@register_layer
class Conv2d(LayerKind):
    name = "conv2d"
    Args = Conv2dArgs
    positional = ("out", "kernel")
    torch_order = "Conv2d(in_channels, out_channels, kernel_size, stride)"
    summary = "2-d convolution; input channels come from the incoming shape (`in` checks them)"
    example = "conv2d(64, 7, stride=2, padding=3, bias=false)"
    param_names = ("weight", "bias")
    torch_class = "torch.nn.Conv2d"

    def _padding(self, a: Conv2dArgs) -> tuple[int, int]:
        if a.padding == "valid":
            return (0, 0)
        if a.padding == "same":
            k, d = pair(a.kernel), pair(a.dilation)
            return (d[0] * (k[0] - 1) // 2, d[1] * (k[1] - 1) // 2)
        return pair(a.padding)

    def infer(self, a: Conv2dArgs, shape: Shape) -> Shape:
        if len(shape) != 3:
            need_rank(self.name, shape, (3,), "(C, H, W)")
        c, h, w = shape
        out, groups, padding = a.out, a.groups, a.padding
        if a.in_ is not None and a.in_ != c:
            raise ShapeError(f"conv2d expects {a.in_} input channels, got {c}")
        if c % groups:
            raise ShapeError(f"conv2d with groups={groups} needs input channels divisible by {groups}, got {c}")
        if out % groups:
            raise ShapeError(f"conv2d with groups={groups} needs out channels divisible by {groups}, got {out}")
        (kh, kw), (sh, sw), (dh, dw) = pair(a.kernel), pair(a.stride), pair(a.dilation)
        if a.padding_mode != "zeros":  # torch pads the input first: its reflect / circular limits apply
            if padding == "same":
                totals = (dh * (kh - 1), dw * (kw - 1))
                sides = [(t // 2, t - t // 2) for t in totals]
            else:
                sides = [(p, p) for p in self._padding(a)]
            pad_limits(self.name, a.padding_mode, sides, (h, w))
        if padding == "same":
            return (out, h, w)
        ph, pw = (0, 0) if padding == "valid" else pair(padding)  # self._padding(a), "same" aside
        out_hw = (window_out(h, kh, sh, ph, dh), window_out(w, kw, sw, pw, dw))
        spatial_check(self.name, (h, w), out_hw,
                      lambda: f"kernel {kh}x{kw} (dilation {dh}x{dw}) with padding {ph}x{pw}")
        return (out, *out_hw)

    def label(self, a: Conv2dArgs) -> str:
        parts = [f"conv {_window(a.kernel)}", str(a.out)]
        if pair(a.stride) != (1, 1):
            parts.append(f"/{_step(a.stride)}")
        if a.groups > 1:
            parts.append(f"groups {a.groups}")
        if pair(a.dilation) != (1, 1):
            parts.append(f"dilation {_step(a.dilation)}")
        return ", ".join(parts)

    def count_params(self, a: Conv2dArgs, in_shape: Shape, out_shape: Shape) -> int:
        kh, kw = pair(a.kernel)
        return a.out * (in_shape[0] // a.groups) * kh * kw + (a.out if a.bias else 0)

    def mult_adds(self, a: Conv2dArgs, in_shape: Shape, out_shape: Shape, params: int) -> int:
        return params * out_shape[1] * out_shape[2]  # every weight and bias once per output position

    def build(self, a: Conv2dArgs, in_shape: Shape):
        import torch.nn as nn

        padding = a.padding if isinstance(a.padding, str) else pair(a.padding)
        return nn.Conv2d(
            in_shape[0],
            a.out,
            pair(a.kernel),
            stride=pair(a.stride),
            padding=padding,
            dilation=pair(a.dilation),
            groups=a.groups,
            bias=a.bias,
            padding_mode=a.padding_mode,
        )


class PoolArgs(LazyArgs):
    kernel: IntPair
    stride: Optional[IntPair] = None  # torch's default: the kernel size
    padding: PadPair = 0
    ceil_mode: Flag = False


class MaxPoolArgs(PoolArgs):
    dilation: IntPair = 1


class AvgPoolArgs(PoolArgs):
    count_include_pad: Flag = True


class _Pool2d(LayerKind):
    positional = ("kernel", "stride", "padding")
    caption = ""  # "max-pool" or "avg-pool", for diagrams

    def label(self, a: PoolArgs) -> str:
        stride = pair(a.stride if a.stride is not None else a.kernel)
        return f"{self.caption} {_window(a.kernel)}" + (f", /{_step(stride)}" if stride != (1, 1) else "")

    def infer(self, a: PoolArgs, shape: Shape) -> Shape:
        if len(shape) != 3:
            need_rank(self.name, shape, (3,), "(C, H, W)")
        c, h, w = shape
        (kh, kw), (ph, pw) = pair(a.kernel), pair(a.padding)
        sh, sw = pair(a.stride if a.stride is not None else a.kernel)
        dh, dw = pair(vars(a).get("dilation", 1))  # average pools have none (a field lookup, not getattr's miss)
        if ph > kh // 2 or pw > kw // 2 or ph < 0 or pw < 0:
            raise ShapeError(
                f"{self.name} padding {ph}x{pw} must be between 0 and half the kernel {kh}x{kw}",
                code="invalid-value",
            )
        out_hw = (
            window_out(h, kh, sh, ph, dh, a.ceil_mode),
            window_out(w, kw, sw, pw, dw, a.ceil_mode),
        )
        spatial_check(self.name, (h, w), out_hw, lambda: f"kernel {kh}x{kw} with padding {ph}x{pw}")
        return (c, *out_hw)

    def _extra(self, a: PoolArgs) -> dict:
        """Arguments only this pooling kind's torch class takes."""
        return {}

    def build(self, a: PoolArgs, in_shape: Shape):
        import torch.nn as nn

        torch_class = getattr(nn, self.torch_class.rsplit(".", 1)[1])
        stride = pair(a.stride) if a.stride is not None else None
        return torch_class(pair(a.kernel), stride=stride, padding=pair(a.padding), ceil_mode=a.ceil_mode,
                           **self._extra(a))


@register_layer
class MaxPool2d(_Pool2d):
    name = "maxpool2d"
    caption = "max-pool"
    Args = MaxPoolArgs
    summary = "2-d max pooling (stride defaults to the kernel size)"
    example = "maxpool2d(3, stride=2, padding=1, ceil_mode=true)"
    torch_class = "torch.nn.MaxPool2d"

    def _extra(self, a: MaxPoolArgs) -> dict:
        return {"dilation": pair(a.dilation)}


@register_layer
class AvgPool2d(_Pool2d):
    name = "avgpool2d"
    caption = "avg-pool"
    Args = AvgPoolArgs
    summary = "2-d average pooling (stride defaults to the kernel size)"
    example = "avgpool2d(2, stride=2)"
    torch_class = "torch.nn.AvgPool2d"

    def _extra(self, a: AvgPoolArgs) -> dict:
        return {"count_include_pad": a.count_include_pad}


class AdaptivePoolArgs(LazyArgs):
    size: Union[PositiveInt, tuple[Optional[PositiveInt], Optional[PositiveInt]]] = 1


class _AdaptivePool2d(LayerKind):
    positional = ("size",)
    caption = ""  # "avg-pool" or "max-pool", for diagrams

    def label(self, a: AdaptivePoolArgs) -> str:
        if a.size == 1 or a.size == (1, 1):
            return f"global {self.caption}"
        size = (a.size, a.size) if isinstance(a.size, int) else a.size
        return f"adaptive {self.caption} " + "×".join("·" if s is None else str(s) for s in size)

    def infer(self, a: AdaptivePoolArgs, shape: Shape) -> Shape:
        need_rank(self.name, shape, (3,), "(C, H, W)")
        c, h, w = shape
        oh, ow = (a.size, a.size) if isinstance(a.size, int) else a.size
        return (c, h if oh is None else oh, w if ow is None else ow)

    def _size(self, a: AdaptivePoolArgs):
        return a.size if isinstance(a.size, int) else tuple(a.size)


@register_layer
class AdaptiveAvgPool2d(_AdaptivePool2d):
    name = "adaptive_avgpool2d"
    caption = "avg-pool"
    Args = AdaptivePoolArgs
    summary = "average-pool to a fixed output size (1 gives global average pooling)"
    example = "adaptive_avgpool2d(1)"
    torch_class = "torch.nn.AdaptiveAvgPool2d"

    def build(self, a: AdaptivePoolArgs, in_shape: Shape):
        import torch.nn as nn

        return nn.AdaptiveAvgPool2d(self._size(a))


@register_layer
class AdaptiveMaxPool2d(_AdaptivePool2d):
    name = "adaptive_maxpool2d"
    caption = "max-pool"
    Args = AdaptivePoolArgs
    summary = "max-pool to a fixed output size"
    example = "adaptive_maxpool2d([6, 6])"
    torch_class = "torch.nn.AdaptiveMaxPool2d"

    def build(self, a: AdaptivePoolArgs, in_shape: Shape):
        import torch.nn as nn

        return nn.AdaptiveMaxPool2d(self._size(a))
