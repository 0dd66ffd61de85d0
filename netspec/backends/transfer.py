"""Partial weight transfer: load what fits from a checkpoint into a variant of the network it came from.

A variant built from a library spec (other classes, one input channel, a wider stem) keeps most
of its module names and tensor shapes; `load_matching` copies every tensor whose name and shape
agree and reports the rest, so a fine-tuning run starts from everything that could be reused:

    model = netspec.load("architectures/torchvision/resnet50.yaml", num_classes=10, in_channels=1)
    loaded, skipped = load_matching(model, torchvision.models.resnet50().state_dict())
    # skipped == ["conv1.weight", "fc.bias", "fc.weight"]
"""

from __future__ import annotations

from typing import Any, Mapping


def load_matching(module: Any, state_dict: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Load every entry of `state_dict` whose key and shape match `module`'s; return (loaded, skipped) keys.

    `skipped` lists the checkpoint's keys that were left out: those the module has no tensor for,
    and those whose shape differs. Tensors of the module that the checkpoint does not cover keep
    their values. Both lists are sorted.
    """
    own = module.state_dict()
    fitting = {key: value for key, value in state_dict.items()
               if key in own and tuple(own[key].shape) == tuple(value.shape)}
    result = module.load_state_dict(fitting, strict=False)
    assert not result.unexpected_keys, result.unexpected_keys  # every key in `fitting` is one of the module's
    skipped = [key for key in state_dict if key not in fitting]
    return sorted(fitting), sorted(skipped)


__all__ = ["load_matching"]
