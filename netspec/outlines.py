"""Outlines: pydantic models written as classes but made on first use, so a module that declares dozens pays only for
those a command reads.

Making a pydantic model class costs about 2 M instructions (its fields collected, its annotations evaluated), even
with `defer_build`; netspec's built-in layer kinds and initialisers declare some seventy, and a spec uses a handful.
A class written on a base from `outline_base(Model)` is an outline: a plain class, cheap to make, holding the body
as written. The first time something reads it as a model, the model is made from that body exactly as the class
statement would have made it (same name, module, fields, validators and config, the outline's bases replaced by
their models), and the outline stands for it from then on:

- held as a class attribute (a layer kind's `Args`), it reads as the model, and the attribute is replaced by it;
- its attributes (`model_validate`, `model_fields`; read, set or deleted), calls, `isinstance` and `issubclass`
  go to the model;
- its module's global of the same name is replaced by the model, so imports, pickles and messages see the model.

    LazyArgs = outline_base(LayerArgs)

    class PadArgs(LazyArgs):  # a LayerArgs model, made when first read
        pad: int = 0
"""

from __future__ import annotations

import sys
import threading
from typing import Any

_MODEL = "_outline_model"  # where an outline keeps its model once made (the root of outline_base: from the start)
_NOT_BODY = frozenset({"__dict__", "__weakref__", _MODEL})
_MAKING = threading.RLock()  # one model per outline, whichever threads ask first (a class statement runs once too)


class Outline(type):
    """The type of outline classes: see the module's text."""

    def model(cls) -> type:
        """The pydantic model this outline stands for, made the first time it is asked for."""
        made = cls.__dict__.get(_MODEL)
        if made is None:
            with _MAKING:
                made = cls.__dict__.get(_MODEL) or cls._make()
        return made

    def _make(cls) -> type:
        bases = tuple(base.model() if isinstance(base, Outline) else base for base in cls.__bases__)
        body = {key: value for key, value in cls.__dict__.items() if key not in _NOT_BODY}
        body["__qualname__"] = cls.__qualname__
        # the body's names are resolved in its module, as for a class statement there; the frame making the
        # model is not the class's scope, so pydantic is told not to take its locals as the parent namespace
        made = type(bases[0])(cls.__name__, bases, body, __pydantic_reset_parent_namespace__=False)
        type.__setattr__(cls, _MODEL, made)
        module = sys.modules.get(cls.__module__)
        if module is not None and vars(module).get(cls.__name__) is cls:
            setattr(module, cls.__name__, made)
        return made

    def field_names(cls) -> set[str]:
        """The argument names the model will have (aliases too), read from the outline without making it."""
        names: set[str] = set()
        for klass in cls.__mro__:
            if not isinstance(klass, Outline):
                model = getattr(klass, "model_fields", {})
                names.update(info.alias or name for name, info in model.items())
                continue
            for name, annotation in vars(klass).get("__annotations__", {}).items():
                if not str(annotation).startswith("ClassVar"):
                    alias = getattr(vars(klass).get(name), "alias", None)
                    names.add(alias if isinstance(alias, str) else name)
        return names

    def __get__(cls, instance: Any, owner: type | None = None) -> type:
        made = cls.model()
        for klass in owner.__mro__ if owner is not None else ():  # read once through the outline, then directly
            for key, value in list(vars(klass).items()):
                if value is cls:
                    type.__setattr__(klass, key, made)
        return made

    def __getattr__(cls, name: str) -> Any:  # only what the plain class lacks: the model's own attributes
        return getattr(cls.model(), name)

    def __setattr__(cls, name: str, value: Any) -> None:  # a patch (a test's monkeypatch) reaches the model
        setattr(cls.model(), name, value)

    def __delattr__(cls, name: str) -> None:
        delattr(cls.model(), name)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls.model()(*args, **kwargs)

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls.model())

    def __subclasscheck__(cls, subclass: type) -> bool:  # an outline written on this one, or a subclass of the model
        return type.__subclasscheck__(cls, subclass) or issubclass(subclass, cls.model())


def outline_base(model: type) -> type:
    """The base to write outlines of subclasses of the pydantic model `model` on (the root stands for `model`)."""
    return Outline(f"{model.__name__}Outline", (), {"__module__": model.__module__, _MODEL: model,
                                                    "__doc__": f"Subclasses are {model.__name__} models made on "
                                                               f"first use (netspec/outlines.py)."})
