"""A plugin for the goldens: the kind `squeeze_excite`, loaded with --plugin by test_errors.py."""

import netspec


class SqueezeExciteArgs(netspec.LayerArgs):
    squeeze: int


@netspec.register_layer
class SqueezeExcite(netspec.LayerKind):
    name = "squeeze_excite"
    Args = SqueezeExciteArgs
    positional = ("squeeze",)
    summary = "a per-channel gate computed from the pooled input"
    example = "squeeze_excite(4)"
    torch_class = "(none: shapes only)"
