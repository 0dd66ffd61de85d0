"""The window rules (conv and pooling output sizes, and which configurations are refused) agree with torch on a
grid of configurations: every padding mode, `same` and `valid`, ceil_mode, dilation, strides, and inputs down to
1x1, with height and width different so that a rule mixing them up shows. For each configuration netspec's
static answer (refused, or an output shape) must be torch's: the module built and run on zeros, or the
exception torch raises building or running it."""

from __future__ import annotations

import itertools
import warnings

import pytest
import torch
from pydantic import ValidationError

from netspec.layers import REGISTRY, ShapeError

SIZES = [(1, 2), (2, 3), (3, 3), (5, 4)]
CONV_GRID = list(itertools.product(
    [1, 2, 3],                                  # kernel
    [1, 2],                                     # stride
    [0, 1, 2, 3, "same", "valid"],              # padding
    [1, 2],                                     # dilation
    ["zeros", "reflect", "replicate", "circular"],
))
POOL_GRID = list(itertools.product(
    [1, 2, 3],                                  # kernel
    [None, 1, 2],                               # stride (None: the kernel)
    [0, 1, 2],                                  # padding
    [1, 2],                                     # dilation (max pooling only)
    [False, True],                              # ceil_mode
))


def _static(kind: str, args: dict, shape: tuple[int, ...]):
    """netspec's answer: the output shape, or 'refused'."""
    layer = REGISTRY[kind]
    try:
        parsed = layer.Args.model_validate(args)
        return tuple(layer.infer(parsed, shape))
    except (ValidationError, ShapeError):
        return "refused"


def _torch(make, shape: tuple[int, ...]):
    """torch's answer for the same configuration."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = make()
            with torch.no_grad():
                out = module(torch.zeros((1, *shape)))
    except (RuntimeError, ValueError) as exc:
        return "refused", str(exc).splitlines()[0][:120]
    return tuple(out.shape[1:]), ""


def _disagreements(configs):
    wrong = []
    for kind, args, make, shape in configs:
        ours = _static(kind, args, shape)
        theirs, why = _torch(make, shape)
        if ours != theirs:
            wrong.append(f"{kind}({args}) on {shape}: netspec {ours}, torch {theirs} {why}")
    return wrong


def _conv_configs():
    for (k, s, p, d, mode), (h, w) in itertools.product(CONV_GRID, SIZES):
        args = {"out": 2, "kernel": k, "stride": s, "padding": p, "dilation": d, "padding_mode": mode}
        yield ("conv2d", args, lambda k=k, s=s, p=p, d=d, mode=mode: torch.nn.Conv2d(
            2, 2, k, stride=s, padding=p, dilation=d, padding_mode=mode), (2, h, w))


def _pool_configs(kind: str):
    for (k, s, p, d, ceil), (h, w) in itertools.product(POOL_GRID, SIZES):
        if kind == "avgpool2d" and d != 1:
            continue
        args = {"kernel": k, "stride": s, "padding": p, "ceil_mode": ceil}
        if kind == "maxpool2d":
            args["dilation"] = d
            make = lambda k=k, s=s, p=p, d=d, ceil=ceil: torch.nn.MaxPool2d(k, s, p, dilation=d, ceil_mode=ceil)
        else:
            make = lambda k=k, s=s, p=p, ceil=ceil: torch.nn.AvgPool2d(k, s, p, ceil_mode=ceil)
        yield (kind, args, make, (2, h, w))


pytestmark = pytest.mark.slow  # about 2,000 modules built and run: a few seconds


def test_the_grid_covers_every_padding_mode_and_ceil_mode():
    assert {c[4] for c in CONV_GRID} == set(REGISTRY["conv2d"].Args.model_fields["padding_mode"].annotation.__args__)
    assert {c[4] for c in POOL_GRID} == {False, True}


def test_conv2d_agrees_with_torch_on_the_grid():
    wrong = _disagreements(_conv_configs())
    assert not wrong, f"{len(wrong)} of {len(CONV_GRID) * len(SIZES)} disagree, e.g.:\n" + "\n".join(wrong[:15])


@pytest.mark.parametrize("kind", ["maxpool2d", "avgpool2d"])
def test_pooling_agrees_with_torch_on_the_grid(kind):
    configs = list(_pool_configs(kind))
    wrong = _disagreements(configs)
    assert not wrong, f"{len(wrong)} of {len(configs)} disagree, e.g.:\n" + "\n".join(wrong[:40])


# The 1-d and 3-d kinds share the rules through their own code paths (netspec/layers/convnd.py): the same
# grid, on inputs with each dimension different. (The fuzzer found avgpool3d's own limit: an input smaller
# than the kernel, padding aside, is refused by torch whatever ceil_mode says.)
SIZES_ND = {1: [(1,), (2,), (3,), (5,)], 3: [(1, 2, 3), (3, 3, 2), (2, 4, 5)]}
TORCH_ND = {"conv": "Conv{}d", "maxpool": "MaxPool{}d", "avgpool": "AvgPool{}d"}


def _nd_configs(family: str, n: int):
    cls = getattr(torch.nn, TORCH_ND[family].format(n))
    grid = CONV_GRID if family == "conv" else POOL_GRID
    for config, size in itertools.product(grid, SIZES_ND[n]):
        if family == "conv":
            k, s, p, d, mode = config
            args = {"out": 2, "kernel": k, "stride": s, "padding": p, "dilation": d, "padding_mode": mode}
            make = lambda k=k, s=s, p=p, d=d, mode=mode: cls(2, 2, k, stride=s, padding=p, dilation=d, padding_mode=mode)
        else:
            k, s, p, d, ceil = config
            if family == "avgpool" and d != 1:
                continue
            args = {"kernel": k, "stride": s, "padding": p, "ceil_mode": ceil}
            if family == "maxpool":
                args["dilation"] = d
                make = lambda k=k, s=s, p=p, d=d, ceil=ceil: cls(k, s, p, dilation=d, ceil_mode=ceil)
            else:
                make = lambda k=k, s=s, p=p, ceil=ceil: cls(k, s, p, ceil_mode=ceil)
        yield (f"{family}{n}d", args, make, (2, *size))


@pytest.mark.parametrize("family", ["conv", "maxpool", "avgpool"])
@pytest.mark.parametrize("n", [1, 3])
def test_1d_and_3d_kinds_agree_with_torch_on_the_grid(family, n):
    configs = list(_nd_configs(family, n))
    wrong = _disagreements(configs)
    assert not wrong, f"{len(wrong)} of {len(configs)} disagree, e.g.:\n" + "\n".join(wrong[:40])
