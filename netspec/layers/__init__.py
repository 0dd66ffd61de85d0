"""The layer registry: every built-in kind, listed here and registered when its module is first needed; user kinds
join with @register_layer.

A built-in module (its pydantic argument classes above all) is imported the first time one of its kinds is looked
up, so `netspec summary` of a spec that uses five kinds does not build the classes of seventy. Adding a built-in
kind means adding its name below, in the order its module registers it (tests/test_startup.py checks the table)."""

from .base import REGISTRY, LayerArgs, LayerKind, Shape, ShapeError, arg_names, format_shape, register_layer

# module -> the kinds it registers, in order: the registry's order (docs, schema, `netspec layers`) is this one
BUILT_IN = {
    "activation": "relu relu6 silu sigmoid tanh gelu leaky_relu softmax hardswish hardsigmoid hardtanh elu selu celu "
                  "mish softplus prelu glu log_softmax softmax2d",
    "conv": "conv2d maxpool2d avgpool2d adaptive_avgpool2d adaptive_maxpool2d",
    "convnd": "conv1d conv3d conv_transpose1d conv_transpose2d conv_transpose3d maxpool1d maxpool3d avgpool1d avgpool3d "
              "adaptive_avgpool1d adaptive_maxpool1d adaptive_avgpool3d adaptive_maxpool3d lppool1d lppool2d",
    "dense": "linear batchnorm2d batchnorm1d layernorm lrn dropout flatten identity channel_affine",
    "norm": "batchnorm3d frozen_batchnorm2d groupnorm instancenorm1d instancenorm2d instancenorm3d layernorm2d",
    "regular": "dropout1d dropout2d dropout3d alpha_dropout stochastic_depth layer_scale",
    "shape": "upsample pixel_shuffle pixel_unshuffle pad channel_shuffle permute reshape unflatten",
}
for _module, _names in BUILT_IN.items():
    REGISTRY.list_pending(f"{__name__}.{_module}", _names.split())  # type: ignore[attr-defined]
del _module, _names

__all__ = [
    "REGISTRY",
    "LayerArgs",
    "LayerKind",
    "Shape",
    "ShapeError",
    "arg_names",
    "format_shape",
    "register_layer",
]
