"""The layer registry: every built-in kind, registered on import; user kinds join with @register_layer."""

from . import activation, conv, convnd, dense, norm, regular, shape  # noqa: F401  (importing registers the kinds)
from .base import REGISTRY, LayerArgs, LayerKind, Shape, ShapeError, arg_names, format_shape, register_layer

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
