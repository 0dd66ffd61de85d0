"""The torch modules a compiled spec is made of: plain nn.Modules with hand-written forward passes."""

from __future__ import annotations

import linecache
from collections import OrderedDict
from typing import Any

import torch
from torch import nn


class Network(nn.Sequential):
    """The root of a compiled spec: its top-level entries run in order.

    `spec_name` and `input_shape` (one sample, no batch dimension) say what it was built from.
    Extra outputs (`taps`: name -> train_only) see the tensor where they stand and leave it
    unchanged; with any active, forward returns a tuple ordered as `output_names` ("main" is the
    last layer's output). Training-only outputs are neither run nor returned in eval mode.
    """

    def __init__(self, layers: "OrderedDict[str, nn.Module]", spec_name: str = "", input_shape: tuple[int, ...] = (),
                 taps: dict[str, bool] | None = None, output_names: tuple[str, ...] = ("main",)):
        super().__init__(layers)
        self.spec_name = spec_name
        self.input_shape = tuple(input_shape)
        self.taps = dict(taps or {})
        self.output_names = tuple(output_names)

    def forward(self, x: torch.Tensor):
        if not self.taps:
            return super().forward(x)
        outputs: dict[str, torch.Tensor] = {}
        for name, module in self._modules.items():
            if name in self.taps:
                if self.training or not self.taps[name]:
                    outputs[name] = module(x)
            else:
                x = module(x)
        if len(outputs) == 0:
            return x
        outputs["main"] = x
        return tuple(outputs[name] for name in self.output_names if name in outputs)

    def extra_repr(self) -> str:
        return f"spec={self.spec_name!r}, input={self.input_shape}"


class Concat(nn.ModuleDict):
    """Parallel branches on one input, concatenated along channels (Inception), or along `dim`."""

    def __init__(self, branches: "OrderedDict[str, nn.Module] | None" = None, dim: int = 1):
        super().__init__(branches)
        self.concat_dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (N, C, H, W) -> (N, sum of branch channels, H, W)
        return torch.cat([branch(x) for branch in self.values()], dim=self.concat_dim)


_FORWARDS: dict[str, Any] = {}  # generated source -> its compiled function, shared by identical parts


def _compiled(source: str) -> Any:
    """The `forward` function that generated `source` defines (compiled once per process)."""
    function = _FORWARDS.get(source)
    if function is None:
        filename = f"<netspec forward {len(_FORWARDS) + 1}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # for tracebacks
        namespace: dict[str, Any] = {"torch": torch, "F": torch.nn.functional}
        exec(compile(source, filename, "exec"), namespace)  # netspec's own generated code, never user text
        function = _FORWARDS[source] = namespace["forward"]
    return function


class Generated(nn.Module):
    """A part of a network whose data flow is not a chain of its children (references, splits, resizes,
    flat modules): its forward is Python generated from the spec, readable as `module.code`."""

    def __init__(self, children: "OrderedDict[str, nn.Module]", code: str,
                 tensors: "OrderedDict[str, nn.Parameter] | None" = None):
        super().__init__()
        for name, tensor in (tensors or {}).items():  # its own parameters (`parameter:` entries)
            self.register_parameter(name, tensor)
        for name, module in children.items():
            self.add_module(name, module)
        self.code = code
        self._generated = _compiled(code)

    def forward(self, x: torch.Tensor):
        return self._generated(self, x)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_generated", None)  # a function made by exec cannot be pickled: made again on load
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._generated = _compiled(self.code)


class GeneratedNetwork(Generated):
    """The root of a compiled spec whose data flow needs generated code (see Network for the attributes)."""

    def __init__(self, children: "OrderedDict[str, nn.Module]", code: str, spec_name: str = "",
                 input_shape: tuple[int, ...] = (), taps: dict[str, bool] | None = None,
                 output_names: tuple[str, ...] = ("main",), tensors: "OrderedDict[str, nn.Parameter] | None" = None):
        super().__init__(children, code, tensors)
        self.spec_name = spec_name
        self.input_shape = tuple(input_shape)
        self.taps = dict(taps or {})
        self.output_names = tuple(output_names)

    def extra_repr(self) -> str:
        return f"spec={self.spec_name!r}, input={self.input_shape}"


class _Elementwise(nn.ModuleDict):
    """Parallel branches on one input, combined element-wise. A branch may be a parameter of this module
    (an nn.Parameter under the branch's name, which gives itself, broadcast over the batch)."""

    def __init__(self, branches: "OrderedDict[str, nn.Module | nn.Parameter] | None" = None):
        super().__init__()
        branches = branches if branches is not None else OrderedDict()
        for name, branch in branches.items():
            if isinstance(branch, nn.Parameter):
                self.register_parameter(name, branch)
            else:
                self.add_module(name, branch)
        self.branch_names = tuple(branches)

    def outputs(self, x: torch.Tensor):
        for name in self.branch_names:
            yield self._parameters[name] if name in self._parameters else self._modules[name](x)


class Add(_Elementwise):
    """Parallel branches on one input, summed element-wise."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = self.outputs(x)
        out = next(branches)
        for branch in branches:
            out = out + branch
        return out


class Mul(_Elementwise):
    """Parallel branches on one input, multiplied element-wise with torch's broadcasting: a (N, C, 1, 1) gate
    times a (N, C, H, W) map gives (N, C, H, W) (squeeze-and-excitation)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = self.outputs(x)
        out = next(branches)
        for branch in branches:
            out = out * branch
        return out


class Residual(nn.Module):
    """body(x) + shortcut(x), then `after`. The body's layers are direct children (torchvision's naming)."""

    def __init__(
        self,
        body: "OrderedDict[str, nn.Module]",
        shortcut: nn.Module | None,
        shortcut_name: str = "shortcut",
        after: tuple[str, nn.Module] | None = None,
    ):
        super().__init__()
        for name, module in body.items():
            self.add_module(name, module)
        self.body_names = tuple(body)
        self.shortcut_name = shortcut_name if shortcut is not None else None
        if shortcut is not None:
            self.add_module(shortcut_name, shortcut)
        self.after_name = after[0] if after is not None else None
        if after is not None:
            self.add_module(after[0], after[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for name in self.body_names:
            out = self._modules[name](out)
        identity = x if self.shortcut_name is None else self._modules[self.shortcut_name](x)
        out = out + identity
        if self.after_name is not None:
            out = self._modules[self.after_name](out)
        return out


class DenseBlock(nn.ModuleDict):
    """Each layer sees the input and every earlier layer's output, concatenated on channels (DenseNet)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.values():
            x = torch.cat([x, layer(x)], dim=1)  # (N, C, H, W) -> (N, C + growth, H, W)
        return x


class ChannelAffine(nn.Module):
    """x * scale + shift per channel, with fixed constants kept out of the state_dict."""

    def __init__(self, scale: tuple[float, ...], shift: tuple[float, ...], rank: int = 3):
        super().__init__()
        self.values = (tuple(scale), tuple(shift))
        self.view = (1, len(scale)) + (1,) * (rank - 1)  # broadcast over (N, C, H, W)
        self.register_buffer("scale", torch.tensor(scale).view(self.view), persistent=False)
        self.register_buffer("shift", torch.tensor(shift).view(self.view), persistent=False)

    def _apply(self, fn, recurse=True):
        # The constants are not in the state_dict, so a module moved with `to_empty` (after a meta
        # build) would keep garbage: write them again after every move or conversion.
        super()._apply(fn, recurse)
        if self.scale.device.type != "meta":
            with torch.no_grad():
                for buffer, values in zip((self.scale, self.shift), self.values):
                    buffer.copy_(torch.tensor(values).view(self.view))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift

    def extra_repr(self) -> str:
        return f"scale={self.scale.flatten().tolist()}, shift={self.shift.flatten().tolist()}"


class FrozenBatchNorm2d(nn.Module):
    """Batch norm whose statistics and affine terms are fixed buffers: (N, C, H, W) -> x * scale + shift, with
    scale = weight / sqrt(running_var + eps) and shift = bias - running_mean * scale. Its state_dict holds
    weight, bias, running_mean and running_var, as torchvision's FrozenBatchNorm2d does."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        state_dict.pop(prefix + "num_batches_tracked", None)  # a checkpoint of an ordinary BatchNorm2d loads too
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.weight.reshape(1, -1, 1, 1) * (self.running_var.reshape(1, -1, 1, 1) + self.eps).rsqrt()
        shift = self.bias.reshape(1, -1, 1, 1) - self.running_mean.reshape(1, -1, 1, 1) * scale
        return x * scale + shift

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of (N, C, H, W) at each position; the state_dict is nn.LayerNorm's (weight, bias)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C): normalise the last dimension
        x = super().forward(x)
        return x.permute(0, 3, 1, 2)  # back to (N, C, H, W)


class Permute(nn.Module):
    """Reorders the dimensions of the batched tensor (dimension 0 is the batch)."""

    def __init__(self, dims: tuple[int, ...]):
        super().__init__()
        self.dims = tuple(dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(*self.dims)

    def extra_repr(self) -> str:
        return f"dims={list(self.dims)}"


class Reshape(nn.Module):
    """Reshapes each sample to `shape`: (N, ...) -> (N, *shape)."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={list(self.shape)}"


class StochasticDepth(nn.Module):
    """In training, keeps each sample's input (mode "row") or the whole batch's ("batch") with probability
    1 - p, scaled by 1 / (1 - p), and zeroes it otherwise; the identity in eval mode or with p = 0."""

    def __init__(self, p: float, mode: str = "row"):
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        # one draw per sample, (N, 1, 1, ...), or one for the batch, (1, 1, ...): broadcast over the rest
        size = [x.shape[0] if self.mode == "row" else 1] + [1] * (x.dim() - 1)
        mask = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(keep)
        if keep > 0.0:
            mask.div_(keep)
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"


class LayerScale(nn.Module):
    """x times a learnable per-channel scale `weight` of shape (C, 1, ..., 1), starting at `init_value`."""

    def __init__(self, shape: tuple[int, ...], init_value: float):
        super().__init__()
        self.init_value = init_value
        self.weight = nn.Parameter(torch.full(tuple(shape), float(init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight

    def extra_repr(self) -> str:
        return f"shape={tuple(self.weight.shape)}, init_value={self.init_value}"
