"""The Spec IR (pydantic models): what a spec says, independent of the syntax it was written in.

Values inside the IR are literals (int, float, bool, None, lists) or expression text (str) such as
`"c1 * 2"`; expressions are evaluated later, by the resolve pass. Source positions are not part of
the IR: they travel beside it in a `Locations` table keyed by IR path, so two specs that say the
same thing compare equal whichever syntax they came from.
"""

from functools import lru_cache
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator
from typing_extensions import TypeAliasType

from ..diagnostics import Loc
from ..records import Record

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"  # params, blocks and call targets: names expressions can use
MODULE_NAME_PATTERN = r"^[^.]+$"  # a module: any text torch accepts (netspec.names says which it refuses)
# A reference without its `$`: an entry name, then names or part numbers inside it (`body.layer2`, `halves.0`).
REFERENCE_PATTERN = r"^[^.$\s]+(\.[^.$\s]+)*$"
FLOW_CALLS = ("split", "resize")  # calls that are data flow, not layers: they make no module
Value = Any  # int | float | bool | None | str (an expression) | list[Value]

# Keys that introduce a structure (not a layer or block call) in an entry.
STRUCTURES = ("concat", "add", "mul", "residual", "repeat", "dense", "if", "splice", "output", "flat", "parameter")
SHORTCUT_MODES = ("auto", "identity", "conv", "when_same")


class _Model(BaseModel):
    # built on first use, once for the whole recursive Entry union (not once per model at import)
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class _Node(_Model):
    name: Optional[str] = Field(None, pattern=MODULE_NAME_PATTERN, description="module name; unnamed entries are indexed")


class Call(_Node):
    """A layer kind or a block, called with arguments: `conv2d(64, 3, stride=2)`."""

    op: Literal["call"] = "call"
    target: str = Field(pattern=NAME_PATTERN)
    args: list[Value] = []
    kwargs: dict[str, Value] = {}


class Ref(_Node):
    """The output of an earlier entry, by name: `$enc` (a sibling before this entry or an entry of an enclosing
    scope), `$body.layer2` (an entry inside one), `$halves.0` (a part of a split), `$input` (the enclosing
    block's input, or the network's). It makes no module and takes no index."""

    op: Literal["ref"] = "ref"
    target: str = Field(pattern=REFERENCE_PATTERN)


class Seq(_Node):
    """Entries run one after another (an nn.Sequential)."""

    op: Literal["seq"] = "seq"
    items: list["Entry"]


class Merge(_Node):
    """Parallel branches on the same input, merged by channel concat, element-wise add, or element-wise mul.

    `mul` broadcasts as torch does: a branch of shape (C, 1, 1) scales one of (C, H, W) (squeeze-and-excitation)."""

    op: Literal["concat", "add", "mul"]
    branches: list["Entry"] = Field(min_length=1)
    dim: Value = 1  # concat only: the dimension joined, counted as torch does (0 is the batch, 1 the channels)


class Residual(_Node):
    """body(x) + shortcut(x), then `after`. The shortcut is made to fit when shapes differ."""

    op: Literal["residual"] = "residual"
    body: list["Entry"] = Field(min_length=1)
    shortcut: Union[Literal["auto", "identity", "conv", "when_same"], list["Entry"]] = "auto"
    shortcut_name: str = Field("shortcut", pattern=MODULE_NAME_PATTERN)
    after: Optional["Entry"] = None


class Repeat(_Node):
    """`count` copies of `block`, with `i` bound to the copy's index and `first` overriding arguments of copy 0."""

    op: Literal["repeat"] = "repeat"
    count: Value
    block: "Entry"
    first: dict[str, Value] = {}
    names: Optional[str] = None


class Dense(_Node):
    """Dense connectivity: each of `count` layers sees the concat of the input and all earlier outputs."""

    op: Literal["dense"] = "dense"
    count: Value
    layer: "Entry"
    names: Optional[str] = None


class If(_Node):
    """`then` when `cond` is true, else `else` (or nothing at all: the entry takes no index)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    op: Literal["if"] = "if"
    cond: Value
    then: "Entry"
    else_: Optional["Entry"] = Field(None, alias="else")


class Splice(_Node):
    """The entries of a sequence (a list, a block of layers, a repeat) joined into the enclosing sequence."""

    op: Literal["splice"] = "splice"
    body: "Entry"


class Output(_Node):
    """An extra output (auxiliary head, feature tap): `body` runs on the current tensor, which flows on unchanged."""

    op: Literal["output"] = "output"
    body: "Entry"
    train_only: bool = False


class Flat(_Node):
    """One module whose named entries are its direct children, whatever the data flow between them."""

    op: Literal["flat"] = "flat"
    body: "Entry"


class Parameter(_Node):
    """A learnable tensor of the enclosing module, under the entry's name (ConvNeXt's `layer_scale`, not a child
    module's `weight`). It is a branch of `add` or `mul`, and gives itself whatever the input, broadcast over
    the batch. `init` is an initialiser, as under the spec's `init:`."""

    op: Literal["parameter"] = "parameter"
    shape: Value  # a list of sizes (expressions), or one expression giving such a list
    init: Value = "zeros"


# A named alias: pydantic builds the union's schema (and finds each model's `op`) once and refers to it from each of
# the fourteen fields that hold entries, instead of once for each (half the Spec's schema build; validation is the
# same). The module has no `from __future__ import annotations`: its annotations are objects, not texts that pydantic
# would compile one by one.
Entry = TypeAliasType("Entry", Annotated[
    Union[Call, Ref, Seq, Merge, Residual, Repeat, Dense, If, Splice, Output, Flat, Parameter],
    Field(discriminator="op")
])


class Arg(_Model):
    """A block argument: required, or with a default value."""

    name: str = Field(pattern=NAME_PATTERN)
    default: Value = None
    required: bool = True
    choices: Optional[list[Value]] = None  # the values a call may pass (words, numbers, layer kinds), checked at the call


class BlockDef(_Model):
    """A reusable block defined in the spec, called like a function."""

    args: list[Arg] = []
    body: Entry
    doc: str = ""


class FunctionDef(_Model):
    """A value function defined in the spec (`make_divisible(v, divisor=8) = ...`), called in any expression.

    Its body is one expression over its arguments and the spec's other functions (not the params)."""

    args: list[Arg] = []
    body: Value
    doc: str = ""


class Spec(_Model):
    """A whole architecture."""

    name: str
    description: str = ""
    extends: Union[str, list[str], None] = None  # the spec file(s) this one builds on (relative to this file)
    input: list[Value] = []
    params: dict[str, Value] = {}
    functions: dict[str, FunctionDef] = {}
    blocks: dict[str, BlockDef] = {}
    layers: list[Entry] = []
    # What the network returns: a list (a tuple, in this order) or a mapping (a dict) of output names (`main` is
    # the last layer's output, others name `output` entries) and references (`$body.layer2`).
    outputs: Union[list[str], dict[str, str]] = []
    init: dict[str, dict[str, Value]] = {}

    @field_validator("params", "blocks", "functions")
    @classmethod
    def _identifier_keys(cls, value: dict) -> dict:
        import re

        for key in value:
            if not re.match(NAME_PATTERN, str(key)):
                raise ValueError(f"'{key}' is not a valid name (letters, digits and _; not starting with a digit)")
        return value

    # ---- deriving variants in code -------------------------------------------------------------

    def with_params(self, **values: Value) -> "Spec":
        """A copy whose param defaults are replaced; unknown names raise UsageError."""
        from ..diagnostics import UsageError, did_you_mean

        for key in values:
            if key not in self.params:
                raise UsageError(f"unknown param '{key}'{did_you_mean(key, self.params)}; params: {', '.join(self.params)}")
        return self.model_copy(update={"params": {**self.params, **values}})

    def with_block(self, name: str, block: Union["BlockDef", str, dict]) -> "Spec":
        """A copy with block `name` replaced (or added): a BlockDef, or its YAML text or dict."""
        if not isinstance(block, BlockDef):
            block = _raw_reader("block")(block, name)
        return self.model_copy(update={"blocks": {**self.blocks, name: block}})

    def with_layers(self, layers: Union[list, str]) -> "Spec":
        """A copy with other top-level layers: a list of Entry objects, or YAML text / data for `layers:`."""
        if isinstance(layers, str) or (isinstance(layers, list) and not all(isinstance(e, BaseModel) for e in layers)):
            layers = _raw_reader("layers")(layers, set(self.blocks))
        return self.model_copy(update={"layers": list(layers)})

    def with_input(self, *shape: int) -> "Spec":
        """A copy with another input shape, such as `with_input(1, 28, 28)`."""
        return self.model_copy(update={"input": list(shape)})


# ---- a Spec from data already plainly valid ----------------------------------------------------------------------
# Both front ends hand pydantic canonical data that they have checked themselves, and for a correct spec pydantic
# finds nothing more: building the Spec's validator (about 110 M instructions, once per process) and running it
# then only copies the data into models. `built_spec` makes the same models directly where every value is of the
# exact type its field takes (no conversion pydantic would make, no pattern it could refuse), and leaves anything
# else, by returning None, to pydantic, which reports it as before.


class _Unsure(Exception):
    """The data may not be what its field takes as it stands: pydantic decides."""


def _text(value: Any) -> str:
    if value.__class__ is not str:
        raise _Unsure
    return value


def _flag(value: Any) -> bool:
    if value.__class__ is not bool:
        raise _Unsure
    return value


def _name(value: Any) -> str:  # NAME_PATTERN, for ASCII text exactly (isidentifier also takes other letters)
    if value.__class__ is not str or not value.isascii() or not value.isidentifier():
        raise _Unsure
    return value


def _module_name(value: Any) -> str:  # MODULE_NAME_PATTERN: some text, no dot (a newline left to pydantic)
    if value.__class__ is not str or not value or "." in value or "\n" in value:
        raise _Unsure
    return value


def _entry_name(value: Any) -> str | None:  # an entry's `name`: none, or a module name
    if value is None:
        return None
    if value.__class__ is not str or not value or "." in value or "\n" in value:
        raise _Unsure
    return value


def _optional(check: Any) -> Any:
    return lambda value: None if value is None else check(value)


_REFERENCE = None  # REFERENCE_PATTERN, compiled at the first reference


def _reference(value: Any) -> str:
    global _REFERENCE
    if _REFERENCE is None:
        import re

        _REFERENCE = re.compile(r"[^.$\s]+(\.[^.$\s]+)*\Z")
    if value.__class__ is not str or not value.isascii() or _REFERENCE.match(value) is None:
        raise _Unsure
    return value


def _list(check: Any, at_least: int = 0) -> Any:
    def checked(value: Any) -> list:
        if value.__class__ is not list or len(value) < at_least:
            raise _Unsure
        return [check(item) for item in value]

    return checked


def _values(value: Any) -> list:  # list[Value]: a new list of the same items
    if value.__class__ is not list:
        raise _Unsure
    return value.copy()


def _mapping(check: Any, names: bool = False) -> Any:
    """dict[str, ...] (`check` None: of Values); `names`: its keys pass Spec._identifier_keys."""
    def checked(value: Any) -> dict:
        if value.__class__ is not dict:
            raise _Unsure
        for key in value:
            if key.__class__ is not str or (names and not (key.isascii() and key.isidentifier())):
                raise _Unsure
        return value.copy() if check is None else {key: check(item) for key, item in value.items()}

    return checked


def _entry(value: Any) -> Any:
    """An Entry: the model its `op` names."""
    if value.__class__ is not dict:
        raise _Unsure
    op = value.get("op")
    made = _ENTRY_PLANS.get(op) if op.__class__ is str else None
    if made is None:
        raise _Unsure
    return _model(made, value)


def _shortcut(value: Any) -> Any:
    if value.__class__ is str and value in SHORTCUT_MODES:
        return value
    return _list(_entry)(value)


# each entry model and the words its `op` takes
_ENTRY_OPS = ((Call, ("call",)), (Ref, ("ref",)), (Seq, ("seq",)), (Merge, ("concat", "add", "mul")),
              (Residual, ("residual",)), (Repeat, ("repeat",)), (Dense, ("dense",)), (If, ("if",)),
              (Splice, ("splice",)), (Output, ("output",)), (Flat, ("flat",)), (Parameter, ("parameter",)))


_REQUIRED = object()
# model -> {field: check}, filled below; a check of None takes the value as it is (a Value, pydantic's Any, or an
# entry's `op`, which chose the model)
_FIELD_CHECKS: dict[type, dict[str, Any]] = {}
_ENTRY_PLANS: dict[str, tuple] = {}  # an entry's op -> its model's plan
_PLANS: dict[type, tuple] = {}


def _plan(cls: type) -> tuple:
    """(model, ((field, input key, check, default or _REQUIRED, whether the default is copied), ...) in the model's
    field order, whether an input key differs from its field's name)."""
    made = _PLANS.get(cls)
    if made is None:
        checks = _FIELD_CHECKS[cls]
        fields = []
        for name, info in cls.model_fields.items():  # type: ignore[attr-defined]
            default = _REQUIRED if info.is_required() else info.default
            fields.append((name, info.alias or name, checks[name], default, default.__class__ in (list, dict)))
        made = _PLANS[cls] = (cls, tuple(fields), any(name != key for name, key, *_ in fields))
    return made


def _model(made: tuple, data: Any) -> Any:
    """The model of the plan `made` holding `data` (its fields by input key), as validating it would make it."""
    if data.__class__ is not dict:
        raise _Unsure
    cls, plan, aliased = made
    values: dict[str, Any] = {}
    found = 0
    for name, key, check, default, copied in plan:
        if key in data:
            values[name] = data[key] if check is None else check(data[key])
            found += 1
        elif default is _REQUIRED:
            raise _Unsure
        else:
            values[name] = default.copy() if copied else default
    if found != len(data):  # a key that is no field's (pydantic forbids it), or a field by its other name
        raise _Unsure
    given = {name for name, key, *_ in plan if key in data} if aliased else set(data)
    return _instance(cls, values, given)


def _instance(cls: type, values: dict[str, Any], given: set[str]) -> Any:
    """A model holding `values` (every field's, in order), `given` its set fields: what model_construct makes (its
    slots filled directly, as object.__setattr__ would, without looking each name up)."""
    made = _new(cls)
    _set_dict(made, values)
    _set_fields_set(made, given)
    _set_extra(made, None)
    _set_private(made, None)
    return made


_new = object.__new__
_set_dict, _set_fields_set, _set_extra, _set_private = (
    BaseModel.__dict__[name].__set__
    for name in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"))


def built_spec(data: Any) -> "Spec | None":
    """The Spec that `Spec.model_validate(data)` gives, made without pydantic's validator, where every value of
    `data` is plainly valid; None where pydantic has to decide."""
    if not _ENTRY_PLANS:
        _fill_plans()
    try:
        return _model(_plan(Spec), data)
    except _Unsure:
        return None


def constructed_spec(**values: Any) -> "Spec":
    """`Spec.model_construct(**values)` for values of Spec's fields (link's merged spec): the fields not given take
    their defaults, and those given are the ones set."""
    if not _ENTRY_PLANS:
        _fill_plans()
    given = set(values)
    made = {}
    for name, _, _, default, copied in _plan(Spec)[1]:
        if name in values:
            made[name] = values[name]
        else:
            assert default is not _REQUIRED, f"the spec's {name} is required"
            made[name] = default.copy() if copied else default
    assert given <= made.keys(), "a value for no field of Spec"
    return _instance(Spec, made, given)


def _fill_plans() -> None:
    entry, optional_entry, entries = _entry, _optional(_entry), _list(_entry)
    _FIELD_CHECKS.update({  # each entry's fields but `name` and `op`
        Call: {"target": _name, "args": _values, "kwargs": _mapping(None)},
        Ref: {"target": _reference},
        Seq: {"items": entries},
        Merge: {"branches": _list(_entry, 1), "dim": None},
        Residual: {"body": _list(_entry, 1), "shortcut": _shortcut, "shortcut_name": _module_name,
                   "after": optional_entry},
        Repeat: {"count": None, "block": entry, "first": _mapping(None), "names": _optional(_text)},
        Dense: {"count": None, "layer": entry, "names": _optional(_text)},
        If: {"cond": None, "then": entry, "else_": optional_entry},
        Splice: {"body": entry},
        Output: {"body": entry, "train_only": _flag},
        Flat: {"body": entry},
        Parameter: {"shape": None, "init": None},
    })
    for cls, ops in _ENTRY_OPS:
        _FIELD_CHECKS[cls].update(name=_entry_name, op=None)  # the entry's `op` chose its model
    arg = lambda value: _model(_plan(Arg), value)  # noqa: E731
    arguments = _list(arg)
    _FIELD_CHECKS.update({
        Arg: {"name": _name, "default": None, "required": _flag, "choices": _optional(_values)},
        BlockDef: {"args": arguments, "body": entry, "doc": _text},
        FunctionDef: {"args": arguments, "body": None, "doc": _text},
        Spec: {"name": _text, "description": _text, "extends": _optional(_extends), "input": _values,
               "params": _mapping(None, names=True),
               "functions": _mapping(lambda value: _model(_plan(FunctionDef), value), names=True),
               "blocks": _mapping(lambda value: _model(_plan(BlockDef), value), names=True),
               "layers": entries, "outputs": _outputs, "init": _mapping(_mapping(None))},
    })
    for cls, ops in _ENTRY_OPS:
        for op in ops:
            _ENTRY_PLANS[op] = _plan(cls)


def _extends(value: Any) -> Any:
    if value.__class__ is str:
        return value
    return _list(_text)(value)


def _outputs(value: Any) -> Any:
    if value.__class__ is dict:
        return _mapping(_text)(value)
    return _list(_text)(value)


# The YAML front end registers its readers of raw data here (Spec.with_block / with_layers take YAML text or
# dicts); the IR itself never imports a front end.
RAW_READERS: dict[str, Any] = {}


def _raw_reader(kind: str):
    assert kind in RAW_READERS, "netspec/__init__ loads the YAML front end, which registers its readers"
    return RAW_READERS[kind]


IRPath = tuple[Any, ...]


class Located:
    """Where an IR path came from: a file position and the path as the user wrote it.

    The written path may be given as its parts (a tuple), joined into text only when a message reads it: most
    values of a valid spec are never named in a message, and joining each costs more than recording it."""

    __slots__ = ("loc", "_shown")

    def __init__(self, loc: Loc | None, shown: str | tuple) -> None:
        self.loc = loc
        self._shown = shown

    @property
    def shown(self) -> str:
        if not isinstance(self._shown, str):
            self._shown = shown_path(self._shown)
        return self._shown

    def moved(self, loc: Loc | None) -> "Located":
        """The same path at another position (the same text read under another file name)."""
        return Located(loc, self._shown)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Located):
            return NotImplemented
        return (self.loc, self.shown) == (other.loc, other.shown)

    def __repr__(self) -> str:
        return f"Located(loc={self.loc!r}, shown={self.shown!r})"


class Locations(Record):
    """IR path -> source position, filled by a front end, read by every later pass. (Locations and ParsedSpec are
    Records, as the dataclasses they were: netspec/records.py.)"""

    _fields = ("table", "sources")
    table: dict[IRPath, Located]
    sources: dict[str, str]

    def __init__(self, table: Optional[dict[IRPath, Located]] = None, sources: Optional[dict[str, str]] = None) -> None:
        self.table = {} if table is None else table
        self.sources = {} if sources is None else sources

    def find(self, path: IRPath) -> Located:
        path = tuple(path)
        while path:
            if path in self.table:
                return self.table[path]
            path = path[:-1]
        return self.table.get((), Located(None, ""))


class ParsedSpec(Record):
    """The output of parse + validate: the IR, where each piece came from, and the source text."""

    _fields = ("spec", "locations", "text", "file", "format")
    spec: Spec
    locations: Locations
    text: str
    file: str
    format: str

    def __init__(self, spec: Spec, locations: Locations, text: str = "", file: str = "<string>",
                 format: str = "yaml") -> None:
        self.spec = spec
        self.locations = locations
        self.text = text
        self.file = file
        self.format = format


def shown_path(rpath: tuple) -> str:
    return ".".join(str(p) for p in rpath)


@lru_cache(maxsize=4096)  # asked of every named entry's name, and a spec repeats its names: an edit distance each
def misspelt_structure(word: str) -> str | None:
    """The structure keyword `word` is a slip of (one edit away, two for long words), or None.

    A keyword with digits after it (`add1`, `output2`) is a name, not a slip."""
    if word in STRUCTURES or word.rstrip("0123456789_") in STRUCTURES:
        return None
    lowered = word.lower()
    letters = set(lowered)
    for keyword, limit, keyword_letters in _SLIPS:
        if lowered == keyword:
            return keyword
        # the edit distance is at least the difference in length, and at least the number of letters either word
        # has that the other lacks (each needs an edit of its own): most words are that far from most keywords
        if (limit is None or abs(len(lowered) - len(keyword)) > limit or len(letters - keyword_letters) > limit
                or len(keyword_letters - letters) > limit):
            continue
        if _edits(lowered, keyword) <= limit:
            return keyword
    return None


# each structure keyword, the edits a slip of it may have (None: a word this short is never taken for one), its letters
_SLIPS = tuple((keyword, limit if limit < len(keyword) - 1 else None, frozenset(keyword))
               for keyword, limit in ((k, 2 if len(k) >= 6 else 1) for k in STRUCTURES))


def _edits(a: str, b: str) -> int:
    """Levenshtein distance, with an adjacent swap counting as one edit."""
    if abs(len(a) - len(b)) > 2:
        return 3
    previous2, previous = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            cost = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ca != cb))
            if previous2 is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, previous2[j - 2] + 1)
            row.append(cost)
        previous2, previous = previous, row
    return previous[-1]
