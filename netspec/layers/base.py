"""The layer-kind contract and its registry: one registered class per kind holds schema, shape rule, counts and builder."""

from __future__ import annotations

import math
from typing import Annotated, Any, Callable, ClassVar, Iterable, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Strict, ValidationInfo, field_validator

from ..outlines import Outline, outline_base

Shape = tuple[int, ...]  # one sample's shape, batch dimension left out: (C, H, W) or (F,)
Flag = Annotated[bool, Strict()]  # true or false only: no 'yes', 'on' or 1 read as a bool


class ShapeError(ValueError):
    """A layer cannot take the shape that reaches it; the message says what it needed."""

    def __init__(self, message: str, code: str = "shape-mismatch"):
        super().__init__(message)
        self.code = code


class LayerArgs(BaseModel):
    """Base for every kind's argument schema: unknown arguments are errors, and a value's type is taken as
    written: `true` is not the size 1, and the text '3' is not the number 3 (pydantic alone would convert both)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_conversion(cls, value: Any, info: ValidationInfo) -> Any:
        key = (cls, info.field_name or "")
        admits = _ADMITS.get(key)
        if admits is None:  # what a field's type admits, worked out once per class and field
            field = cls.model_fields.get(key[1])
            admits = _ADMITS[key] = _admits(field.annotation) if field is not None else _ANYTHING
        if admits is not _ANYTHING:
            problem = _unconvertible(value, admits)
            if problem:
                raise ValueError(problem)
        return value


_ANYTHING = (True, True, frozenset())  # a name that is not a field: left to pydantic
_ADMITS: dict[tuple[type, str], tuple[bool, bool, frozenset]] = {}


def _admits(annotation: Any) -> tuple[bool, bool, frozenset]:
    """(admits any bool, admits any str, the literal values it admits) for a field's type."""
    origin = get_origin(annotation)
    if annotation is Any or annotation is object:
        return True, True, frozenset()
    if annotation is bool:
        return True, False, frozenset()
    if annotation is str:
        return False, True, frozenset()
    if origin is Literal:
        return False, False, frozenset((type(v), v) for v in get_args(annotation))
    if origin is Annotated:
        return _admits(get_args(annotation)[0])
    if origin is Union or origin is not None:  # unions, Optional, tuple[...], list[...]: any member or item type
        flags = [_admits(a) for a in get_args(annotation) if a is not Ellipsis]
        return (any(f[0] for f in flags), any(f[1] for f in flags),
                frozenset().union(*(f[2] for f in flags)) if flags else frozenset())
    if isinstance(annotation, type) and issubclass(annotation, (bool, str)):
        return issubclass(annotation, bool), issubclass(annotation, str), frozenset()
    if isinstance(annotation, type) and issubclass(annotation, (int, float)):
        return False, False, frozenset()
    return True, True, frozenset()  # a type netspec does not know (a user's own): left to pydantic


def _numeric(text: str) -> bool:
    """Would pydantic read this text as a number? (Other text fails its checks with their own message.)"""
    try:
        float(text.strip())
    except ValueError:
        return False
    return True


def _unconvertible(value: Any, admits: tuple[bool, bool, frozenset]) -> str:
    """Why `value` (or an item of it) is of a type the field would only take by conversion; '' when fine."""
    any_bool, any_str, literals = admits
    if isinstance(value, (list, tuple)):
        return next((p for p in (_unconvertible(v, admits) for v in value) if p), "")
    if isinstance(value, bool) and not any_bool and (bool, value) not in literals:
        return f"{str(value).lower()} is a boolean, not a number; write the number itself"
    if isinstance(value, str) and not any_str and (str, value) not in literals and _numeric(value):
        return f"'{value}' is text, not a number; write the number without quotes"
    return ""


# The base of the built-in kinds' argument classes: each is a LayerArgs model made the first time it is read (a kind's
# `Args`, an import of its name), so a command pays for the classes of the kinds its spec uses (netspec/outlines.py).
LazyArgs = outline_base(LayerArgs)


class NoArgs(LazyArgs):
    """The schema of a kind that takes no arguments."""


class LayerKind:
    """One kind of layer. Subclass, fill the class attributes and methods, and decorate with @register_layer.

    Everything but `build` is pure Python: `netspec check` and `summary` call them without torch.
    """

    name: ClassVar[str]
    Args: ClassVar[type[LayerArgs]] = LayerArgs
    positional: ClassVar[tuple[str, ...]] = ()  # argument names that may be given by position
    torch_order: ClassVar[str] = ""  # where torch's positional order differs: its signature, for the message
    summary: ClassVar[str] = ""  # one line for the docs table
    example: ClassVar[str] = ""  # a spec snippet that uses it
    param_names: ClassVar[tuple[str, ...]] = ()  # tensors an `init:` entry may name
    vector_params: ClassVar[tuple[str, ...]] = ("bias",)  # those of them that are 1-d
    torch_class: ClassVar[str] = ""  # the torch.nn class it builds, for the docs

    def infer(self, args: Any, shape: Shape) -> Shape:
        """The output shape for input `shape`; raise ShapeError when the input does not fit."""
        return shape

    def count_params(self, args: Any, in_shape: Shape, out_shape: Shape) -> int:
        """Learnable parameters of the built module."""
        return 0

    def mult_adds(self, args: Any, in_shape: Shape, out_shape: Shape, params: int) -> int:
        """Multiply-accumulates for one sample, as torchinfo counts them (its parameters, once)."""
        return params

    def label(self, args: Any) -> str:
        """A short caption for diagrams: the kind and the positional arguments that differ from their defaults."""
        shown = [_caption_value(getattr(args, _attr(type(args), n))) for n in self.positional
                 if _differs(args, _attr(type(args), n))]
        return ", ".join([self.name, *shown]) if shown else self.name

    def build(self, args: Any, in_shape: Shape) -> Any:
        """The torch module (torch is imported here and only here)."""
        raise TypeError(f"layer kind '{self.name}' defines no torch builder")


class _Pending:
    """A built-in kind whose module is not imported yet: the registry imports it on the first lookup."""

    __slots__ = ("module",)

    def __init__(self, module: str) -> None:
        self.module = module

    def __repr__(self) -> str:
        return f"<kind of {self.module}, not imported yet>"


class Registry(dict):
    """Layer-kind name -> LayerKind, in registration order: a dict, whose built-in kinds are listed (netspec/layers/
    __init__.py) before their modules run. A module is imported when one of its kinds is first read (`[]`, `get`,
    `pop`), and every one of them when the registry is read whole (`values`, `items`, a copy, `==`); names alone
    (`in`, iteration, `len`) need no import. So a spec that uses a few kinds pays for the classes of those."""

    def __iter__(self):  # the keys, as a dict's; defined so that dict(REGISTRY) and {**REGISTRY} read each value
        return dict.__iter__(self)

    def __getitem__(self, name: str) -> LayerKind:
        kind = dict.__getitem__(self, name)
        return self._load(name, kind) if type(kind) is _Pending else kind

    def get(self, name: str, default: Any = None) -> Any:
        kind = dict.get(self, name, default)
        return self._load(name, kind) if type(kind) is _Pending else kind

    def pop(self, name: str, *default: Any) -> Any:
        if type(dict.get(self, name)) is _Pending:
            self[name]
        return dict.pop(self, name, *default)

    def setdefault(self, name: str, default: Any = None) -> Any:
        if type(dict.get(self, name)) is _Pending:
            return self[name]
        return dict.setdefault(self, name, default)

    def __setitem__(self, name: str, kind: LayerKind) -> None:
        if type(dict.get(self, name)) is _Pending:  # the built-in first, then what replaces it, as before
            self[name]
        dict.__setitem__(self, name, kind)

    def __delitem__(self, name: str) -> None:
        if type(dict.get(self, name)) is _Pending:
            self[name]
        dict.__delitem__(self, name)

    def update(self, *others: Any, **kinds: Any) -> None:
        for name, kind in dict(*others, **kinds).items():
            self[name] = kind

    def popitem(self) -> tuple[str, LayerKind]:
        self.load_all()
        return dict.popitem(self)

    def values(self):
        self.load_all()
        return dict.values(self)

    def items(self):
        self.load_all()
        return dict.items(self)

    def copy(self) -> dict[str, LayerKind]:
        return dict(self.items())

    def __eq__(self, other: object) -> bool:
        self.load_all()
        if isinstance(other, Registry):
            other.load_all()
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None  # type: ignore[assignment]

    def __or__(self, other: Any) -> Any:
        return self.copy() | other

    def __ror__(self, other: Any) -> Any:
        return other | self.copy()

    def __ior__(self, other: Any) -> "Registry":
        self.update(other)
        return self

    def __reduce__(self) -> Any:
        return dict, (self.copy(),)

    def __repr__(self) -> str:
        self.load_all()
        return dict.__repr__(self)

    def list_pending(self, module: str, names: Iterable[str]) -> None:
        """Name the kinds `module` registers when imported, before it is (netspec/layers/__init__.py)."""
        pending = _Pending(module)
        for name in names:
            if not dict.__contains__(self, name):  # listed once: a reload of the package changes nothing
                dict.__setitem__(self, name, pending)

    def load_all(self) -> None:
        """Import every built-in module whose kinds are still listed only."""
        for name, kind in list(dict.items(self)):
            if type(kind) is _Pending:
                self._load(name, kind)

    def key(self) -> tuple:
        """What the registered kinds are, as a cache key, without importing anything: each name with None for the
        built-in kind (imported or not) or the id of whatever replaced it."""
        return tuple((name, None if type(kind) is _Pending or kind is _BUILT_IN.get(name) else id(kind))
                     for name, kind in dict.items(self))

    def _load(self, name: str, pending: _Pending) -> LayerKind:
        import importlib

        importlib.import_module(pending.module)
        kind = dict.get(self, name)
        if type(kind) is _Pending:  # the module ran before and the registry was refilled from a raw copy
            kind = _BUILT_IN[name]
            dict.__setitem__(self, name, kind)
        return kind


REGISTRY: dict[str, LayerKind] = Registry()
_BUILT_IN: dict[str, LayerKind] = {}  # each listed built-in kind, as its module registered it


def register_layer(cls: type[LayerKind] | None = None, *, replace: bool = False):
    """Class decorator: add a layer kind to the registry under `cls.name`.

    Registering a name that another class holds is an error naming both definitions, unless
    `replace=True` says it is meant: `@register_layer(replace=True)`. The same class defined again
    (its module re-imported or reloaded, as a notebook does) takes the name over without complaint.
    """
    if cls is None:
        return lambda c: register_layer(c, replace=replace)
    if not getattr(cls, "name", None):
        raise TypeError(f"{cls.__name__} needs a `name`")
    listed = dict.get(REGISTRY, cls.name)
    if type(listed) is _Pending and listed.module == cls.__module__:  # a built-in kind, its module running now
        _check_positional(cls)
        kind = _BUILT_IN[cls.name] = cls()
        dict.__setitem__(REGISTRY, cls.name, kind)
        return cls
    taken = type(REGISTRY[cls.name]) if cls.name in REGISTRY else None
    if taken is not None and not replace and not _same_definition(taken, cls):
        raise ValueError(f"layer kind '{cls.name}' is defined twice: by {definition(taken)} and by "
                         f"{definition(cls)}; rename one, or pass replace=True to replace the first")
    _check_positional(cls)
    REGISTRY[cls.name] = cls()
    return cls


def _check_positional(cls: type[LayerKind]) -> None:
    args = next(vars(klass)["Args"] for klass in cls.__mro__ if "Args" in vars(klass))
    names = args.field_names() if isinstance(args, Outline) else _field_names(args)  # an outline is not made here
    unknown = set(cls.positional) - set(names)
    if unknown:
        raise TypeError(f"{cls.__name__}.positional names unknown arguments {sorted(unknown)}")


def definition(cls: type) -> str:
    """Where a class is defined, for messages: `module.Class (file:line)`."""
    import inspect

    try:
        where = f" ({inspect.getsourcefile(cls)}:{inspect.getsourcelines(cls)[1]})"
    except (OSError, TypeError):
        where = ""
    return f"{cls.__module__}.{cls.__qualname__}{where}"


def _same_definition(old: type, new: type) -> bool:
    """Is `new` the class `old` defined again (the same module and name: a re-import or a reload)?"""
    return old is new or (old.__module__, old.__qualname__) == (new.__module__, new.__qualname__)


def _field_names(args_cls: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in args_cls.model_fields.items()]


def arg_names(kind: LayerKind) -> list[str]:
    """The argument names a user writes for `kind` (aliases such as `in` included)."""
    return _ARG_NAMES.get(kind.Args) or _ARG_NAMES.setdefault(kind.Args, _field_names(kind.Args))


_ARG_NAMES: dict[type, list[str]] = {}


def _attr(args_cls: type[BaseModel], name: str) -> str:
    """The model attribute behind a user-facing argument name (`in` is stored as `in_`)."""
    for attr, info in args_cls.model_fields.items():
        if name in (attr, info.alias):
            return attr
    return name


def _differs(args: Any, attr: str) -> bool:
    info = type(args).model_fields.get(attr)
    return info is not None and (info.is_required() or getattr(args, attr) != info.default)


def _caption_value(value: Any) -> str:
    """3 -> '3', (3, 3) -> '3×3', 0.5 -> '0.5': how a diagram writes an argument."""
    if isinstance(value, (tuple, list)):
        return "×".join(_caption_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# ---- helpers shared by the shape rules -------------------------------------------------------


def ntuple(value: int | Iterable[int], n: int) -> tuple[int, ...]:
    """An int repeated n times, or a sequence of n values, as a tuple."""
    if isinstance(value, int):
        return (value,) * n
    return tuple(value)


RANK_TEXT = {1: "(C, L)", 2: "(C, H, W)", 3: "(C, D, H, W)"}  # the input of a kind over 1, 2 or 3 spatial dims


def pad_limits(kind: str, mode: str, pads: Iterable[tuple[int, int]], sizes: Iterable[int]) -> None:
    """torch's limits on non-constant padding, per padded dimension (left, right) against its size.

    reflect needs each pad smaller than the dimension; circular wraps at most once (pad <= size).
    """
    for (left, right), size in zip(pads, sizes):
        if mode == "reflect" and (left >= size or right >= size):
            raise ShapeError(f"{kind}: reflect padding ({left}, {right}) needs each side smaller than the padded "
                             f"dimension's size {size}; use a smaller pad, or mode replicate", code="invalid-value")
        if mode == "circular" and (left > size or right > size):
            raise ShapeError(f"{kind}: circular padding ({left}, {right}) may wrap around at most once, so each "
                             f"side must be at most the padded dimension's size {size}", code="invalid-value")


def sizes_check(kind: str, before: Iterable[int], after: Iterable[int], detail: Callable[[], str]) -> None:
    """Every output size must be at least 1 (the N-d form of spatial_check). `detail` writes what the input is too
    small for; it is called only then, so a layer that fits builds no message."""
    after = tuple(after)
    if min(after) <= 0:
        raise ShapeError(f"{kind} turns {'x'.join(map(str, before))} into {'x'.join(map(str, after))}: "
                         f"the input is too small for {detail()}", code="spatial-too-small")


def pair(value: int | Iterable[int]) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    items = tuple(value)
    return (items[0], items[1])


def need_rank(kind: str, shape: Shape, ranks: Iterable[int], what: str) -> None:
    ranks = tuple(ranks)
    if len(shape) not in ranks:
        raise ShapeError(f"{kind} expects {what} input, got {format_shape(shape)}", code="rank-mismatch")


def format_shape(shape: Shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def window_out(size: int, kernel: int, stride: int, padding: int, dilation: int = 1, ceil: bool = False) -> int:
    """Output length of a sliding window (conv or pool), as torch computes it (0 or less: no window fits)."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1  # where the last window may start, from 0
    if ceil:  # a last, partial window counts, but it must start inside the input or its left padding
        out = (span + stride - 1) // stride + 1
        if out > 0 and (out - 1) * stride >= size + padding:
            out -= 1
        return out if out > 0 else 0
    out = span // stride + 1
    return out if out > 0 else 0


def spatial_check(kind: str, in_hw: tuple[int, int], out_hw: tuple[int, int], detail: Callable[[], str]) -> None:
    """Both output sizes must be at least 1; `detail` (called only when one is not) writes what for."""
    if out_hw[0] <= 0 or out_hw[1] <= 0:
        raise ShapeError(
            f"{kind} turns {in_hw[0]}x{in_hw[1]} into {out_hw[0]}x{out_hw[1]}: the input is too small for {detail()}",
            code="spatial-too-small",
        )
