"""Record: the base of netspec's plain-data classes, giving them dataclass's equality and repr without its cost at import.

`@dataclass` writes each class's `__init__`, `__repr__` and `__eq__` as source text and compiles them when the
module is imported (graph.py's twelve node classes took about 53 M instructions that way, 6% of a whole `netspec
summary` process). A Record subclass writes its `__init__` itself, which Python compiles once into the `.pyc`,
names its fields in `_fields`, and takes the rest from here, with the results dataclass gives: the same repr text,
equality only between objects of the same class whose fields are equal in order, and no hash; a FrozenRecord
refuses assignment as a frozen dataclass does and hashes its fields.

    class Point(Record):
        _fields = ("x", "y")

        def __init__(self, x: int, y: int = 0) -> None:
            self.x = x
            self.y = y
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from reprlib import recursive_repr
from typing import Any


class Record:
    __slots__ = ()
    _fields: tuple[str, ...] = ()  # every field, in the order of __init__'s parameters (a base class's first)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.__match_args__ = cls._fields  # `case Point(x, y)`, as a dataclass's fields allow

    def _values(self) -> tuple:
        return tuple([getattr(self, name) for name in self._fields])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values() == other._values()  # type: ignore[attr-defined]
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal records are interchangeable, and most are changed in place

    @recursive_repr()
    def __repr__(self) -> str:
        fields = ", ".join([f"{name}={getattr(self, name)!r}" for name in self._fields])
        return f"{self.__class__.__qualname__}({fields})"


class FrozenRecord(Record):
    """A Record whose fields are set once, by its __init__ through `object.__setattr__`: assigning or deleting one
    later raises dataclasses.FrozenInstanceError with a frozen dataclass's message, and equal records hash alike."""

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:
        return hash(self._values())
