"""The Graph: a spec with params, expressions, blocks and repeats resolved into concrete nodes.

Every node has its module path (`body.inception3a.branch2.1`) and the source location that made
it. `infer` adds shapes and counts to the same tree (filling the `typed` fields), and `compile`
turns it into torch modules. Pure Python: nothing here imports torch.
"""

from __future__ import annotations

from typing import Any, Optional

from ..diagnostics import Loc
from ..layers import LayerKind, Shape
from ..records import Record

# The node classes are Records, not dataclasses (netspec/records.py: the same equality and repr, no code compiled at
# import). A field whose default is immutable has it as a class attribute, so a node's __init__ stores only what
# it is given: Node's own fields reach a subclass's __init__ by keyword, rarely, and go through `_given`.


class Node(Record):
    _fields = ("name", "path", "loc", "virtual", "flat", "tap", "train_only", "block", "block_args", "in_shape",
               "out_shape", "params", "mult_adds")

    name: Optional[str]  # the module name inside its parent ("conv1", or "3" when unnamed); None until named
    path: str  # dotted module path from the root ("" for the root)
    loc: Optional[Loc]
    virtual: bool = False  # inside a `flat` module: pure data flow, no module of its own
    flat: bool = False  # this node's module holds every named entry below it directly (see spec.Flat)
    tap: bool = False  # an extra output: runs on the tensor here, which flows on unchanged (spec.Output)
    train_only: bool = False  # a tap that is returned (and run) only in training mode
    block: Optional[str] = None  # the spec block whose call made this node ("inception"), for tables and diagrams
    block_args: tuple = ()  # that call's argument values, in the block's order
    # filled by infer:
    in_shape: Shape = ()
    out_shape: Shape = ()
    params: int = 0  # learnable parameters, children included
    mult_adds: int = 0  # for one sample, children included

    def __init__(self, name: Optional[str], path: str, loc: Optional[Loc], **node: Any) -> None:
        self.name, self.path, self.loc = name, path, loc
        if node:
            self._given(node)

    def _given(self, node: dict[str, Any]) -> None:
        """Node's fields other than name, path and loc, given by keyword (`virtual=True`)."""
        for key, value in node.items():
            if key not in _NODE_DEFAULTS:
                raise TypeError(f"{type(self).__qualname__}.__init__() got an unexpected keyword argument '{key}'")
            setattr(self, key, value)

    @property
    def children(self) -> list["Node"]:
        return []

    @property
    def op(self) -> str:
        return type(self).__name__.lower()

    @property
    def module(self) -> bool:
        """Does this node compile to a module? References, splits and resizes are data flow only."""
        return True

    @property
    def counted(self) -> bool:
        """Do this node's mult-adds count in eval-mode totals? (Training-only outputs do not run there.)"""
        return not self.train_only


_NODE_DEFAULTS = frozenset(Node._fields[3:])


class Layer(Node):
    _fields = Node._fields + ("kind", "args", "pending")
    kind: LayerKind = None  # type: ignore[assignment]
    args: Any = None  # the kind's validated Args model (None until infer binds a `pending` layer)
    # for arguments that use in_channels & co: (sizes, errors) -> Args or None, called by infer
    pending: Any = None

    def __init__(self, name: Optional[str], path: str, loc: Optional[Loc], *, kind: LayerKind = None,  # type: ignore
                 args: Any = None, pending: Any = None, **node: Any) -> None:
        self.name, self.path, self.loc = name, path, loc
        self.kind = kind
        self.args = args
        self.pending = pending
        if node:
            self._given(node)

    @property
    def op(self) -> str:
        return self.kind.name


class Param(Node):
    """A learnable tensor of the module that holds this node (spec.Parameter): a branch of add or mul that
    gives the tensor itself. `out_shape` is its shape per sample (leading 1s beyond the input's rank are the
    batch); `shape` is the tensor's own."""

    _fields = Node._fields + ("shape", "init")
    shape: Shape = ()
    init: Any = None  # (initialiser name, validated args), as in Graph.init

    def __init__(self, name: Optional[str], path: str, loc: Optional[Loc], *, shape: Shape = (), init: Any = None,
                 **node: Any) -> None:
        self.name, self.path, self.loc = name, path, loc
        self.shape = shape
        self.init = init
        if node:
            self._given(node)

    @property
    def op(self) -> str:
        return "parameter"


class Ref(Node):
    """The output of an earlier node (`$enc`), a part of a split (`$halves.0`), or a block's input (`$input`)."""

    _fields = Node._fields + ("target", "source", "part", "block_input", "reported")
    target: str = ""  # as written, without `$`
    source: Optional[Node] = None  # the node it names (for `$input`: the block node whose input it is); set by flow
    part: Optional[int] = None  # which part of a split source
    block_input: bool = False  # the input of `source`, not its output
    reported: bool = False  # the flow pass found it wrong and said so

    def __init__(self, name: Optional[str], path: str, loc: Optional[Loc], *, target: str = "",
                 source: Optional[Node] = None, part: Optional[int] = None, block_input: bool = False,
                 reported: bool = False, **node: Any) -> None:
        self.name, self.path, self.loc = name, path, loc
        self.target = target
        self.source = source
        self.part = part
        self.block_input = block_input
        self.reported = reported
        if node:
            self._given(node)

    @property
    def module(self) -> bool:
        return False


class Split(Node):
    """The tensor flowing here, cut into parts along `dim` (torch's numbering: 1 is the channels); the parts are
    read by reference (`$halves.0`) and the tensor itself flows on unchanged."""

    _fields = Node._fields + ("parts", "sizes", "dim", "part_shapes")
    parts: int = 2  # equal parts, when `sizes` is empty
    sizes: tuple[int, ...] = ()
    dim: int = 1
    part_shapes: list  # filled by infer

    def __init__(self, name: Optional[str], path: str, loc: Optional[Loc], *, parts: int = 2,
                 sizes: tuple[int, ...] = (), dim: int = 1, part_shapes: Optional[list] = None, **node: Any) -> None:
        self.name, self.path, self.loc = name, path, loc
        self.parts = parts
        self.sizes = sizes
        self.dim = dim
        self.part_shapes = [] if part_shapes is None else part_shapes
        if node:
            self._given(node)

    @property
    def module(self) -> bool:
        return False


class Resize(Node):
    """The tensor flowing here interpolated to the spatial size of another (`resize($lateral)`)."""

    _fields = Node._fields + ("like", "mode", "align_corners")
    like: Optional[Ref] = None
    mode: str = "nearest"
    align_corners: Optional[bool] = None

    def __init__(self, name: Optional[str], path: str, loc: Optional[Loc], *, like: Optional[Ref] = None,
                 mode: str = "nearest", align_corners: Optional[bool] = None, **node: Any) -> None:
        self.name, self.path, self.loc = name, path, loc
        self.like = like
        self.mode = mode
        self.align_corners = align_corners
        if node:
            self._given(node)

    @property
    def module(self) -> bool:
        return False


class Seq(Node):
    _fields = Node._fields + ("items",)
    items: list[Node]

    def __init__(self, name: Optional[str], path: str, loc: Optional[Loc], *, items: Optional[list[Node]] = None,
                 **node: Any) -> None:
        self.name, self.path, self.loc = name, path, loc
        self.items = [] if items is None else items
        if node:
            self._given(node)

    @property
    def children(self) -> list[Node]:
        return self.items


class Merge(Node):
    _fields = Node._fields + ("mode", "dim", "branches")
    mode: str = "concat"  # "concat" (along `dim`), "add", or "mul" (element-wise, broadcasting)
    dim: int = 1  # concat: torch's dimension (1 is the channels)
    branches: list[Node]

    def __init__(self, name: Optional[str], path: str, loc: Optional[Loc], *, mode: str = "concat", dim: int = 1,
                 branches: Optional[list[Node]] = None, **node: Any) -> None:
        self.name, self.path, self.loc = name, path, loc
        self.mode = mode
        self.dim = dim
        self.branches = [] if branches is None else branches
        if node:
            self._given(node)

    @property
    def children(self) -> list[Node]:
        return self.branches

    @property
    def op(self) -> str:
        return self.mode


class Residual(Node):
    _fields = Node._fields + ("body", "shortcut_mode", "shortcut", "shortcut_name", "after", "active")
    body: list[Node]
    shortcut_mode: str = "auto"  # auto | identity | conv | when_same | explicit
    shortcut: Optional[Seq] = None  # explicit layers, or the projection infer makes; None = identity
    shortcut_name: str = "shortcut"
    after: Optional[Node] = None
    active: bool = True  # False when mode is when_same and shapes differ: the block is just its body

    def __init__(self, name: Optional[str], path: str, loc: Optional[Loc], *, body: Optional[list[Node]] = None,
                 shortcut_mode: str = "auto", shortcut: Optional[Seq] = None, shortcut_name: str = "shortcut",
                 after: Optional[Node] = None, active: bool = True, **node: Any) -> None:
        self.name, self.path, self.loc = name, path, loc
        self.body = [] if body is None else body
        self.shortcut_mode = shortcut_mode
        self.shortcut = shortcut
        self.shortcut_name = shortcut_name
        self.after = after
        self.active = active
        if node:
            self._given(node)

    @property
    def children(self) -> list[Node]:
        out = list(self.body)
        if self.shortcut is not None:
            out.append(self.shortcut)
        if self.after is not None:
            out.append(self.after)
        return out


class Dense(Node):
    _fields = Node._fields + ("layers",)
    layers: list[Node]

    def __init__(self, name: Optional[str], path: str, loc: Optional[Loc], *, layers: Optional[list[Node]] = None,
                 **node: Any) -> None:
        self.name, self.path, self.loc = name, path, loc
        self.layers = [] if layers is None else layers
        if node:
            self._given(node)

    @property
    def children(self) -> list[Node]:
        return self.layers


class Pending(Node):
    """An entry whose arguments, count or condition use the sizes of the tensor reaching it (`in_channels`):
    resolve leaves it here, and infer, once it knows that tensor, calls `expand` for the node it stands for and
    makes this node that one in place (so that whatever holds this node, its parent, holds the real one)."""

    _fields = Node._fields + ("expand",)
    expand: Any = None  # (this node, {in_channels: .., in_height: .., in_width: ..}, errors) -> Node or None

    def __init__(self, name: Optional[str], path: str, loc: Optional[Loc], *, expand: Any = None,
                 **node: Any) -> None:
        self.name, self.path, self.loc = name, path, loc
        self.expand = expand
        if node:
            self._given(node)

    def become(self, real: Node) -> None:
        kept = {"name": self.name, "path": self.path, "tap": self.tap, "train_only": self.train_only,
                "virtual": self.virtual, "flat": self.flat or real.flat}
        self.__class__ = type(real)  # type: ignore[assignment]
        self.__dict__ = {**real.__dict__, **kept}


class Graph(Record):
    _fields = ("name", "input_shape", "root", "params", "outputs", "init", "init_locs", "typed", "output_refs",
               "output_dict")

    name: str
    input_shape: Shape
    root: Seq
    params: dict[str, Any]  # the resolved values of the spec's params
    outputs: list[str]  # names of the returned outputs, in order ("main" is the last layer's output)
    init: dict[str, dict[str, Any]]  # layer kind -> tensor name -> evaluated initialiser
    init_locs: dict[str, Optional[Loc]]
    typed: bool  # True once infer has filled shapes and counts
    # outputs that are references (`outputs: [$body.layer2]`, `load(outputs=...)`): name -> Ref, set by flow;
    # with any, the network returns `outputs` (names: "main", tap names, or these) as a tuple or, when
    # `output_dict`, a dict
    output_refs: dict[str, Ref]
    output_dict: bool

    def __init__(self, name: str, input_shape: Shape, root: Seq, params: dict[str, Any], outputs: list[str],
                 init: dict[str, dict[str, Any]], init_locs: Optional[dict[str, Optional[Loc]]] = None,
                 typed: bool = False, output_refs: Optional[dict[str, Ref]] = None, output_dict: bool = False) -> None:
        self.name = name
        self.input_shape = input_shape
        self.root = root
        self.params = params
        self.outputs = outputs
        self.init = init
        self.init_locs = {} if init_locs is None else init_locs
        self.typed = typed
        self.output_refs = {} if output_refs is None else output_refs
        self.output_dict = output_dict

    def walk(self):
        """Every node, parents before children."""
        stack: list[Node] = [self.root]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


def copy_tree(node: Node, fields: Optional[dict] = None) -> Node:
    """A fresh copy of the tree under `node`, as resolve made it (before infer fills it): every node new, the
    values they hold (validated arguments, locations) shared. Resolve copies a block instance it made before
    with the same arguments, rather than evaluating the block again. `fields`: the top node's own fields as
    they were when the instance was made, where they have changed since (its children have not)."""
    cls = type(node)
    new = object.__new__(cls)
    fields = new.__dict__ = (node.__dict__ if fields is None else fields).copy()
    if cls is Layer or cls is Ref or cls is Param:
        return new
    held = CHILD_LIST.get(cls) or next((f for base, f in CHILD_LIST.items() if isinstance(node, base)), None)
    if held is not None:  # a Seq, Merge or Dense (a subclass too: resolve's _Failed is a Seq)
        fields[held] = _copies(fields[held])
    elif isinstance(node, Residual):
        fields["body"] = _copies(fields["body"])
        fields["shortcut"] = copy_tree(fields["shortcut"]) if fields["shortcut"] is not None else None
        fields["after"] = copy_tree(fields["after"]) if fields["after"] is not None else None
    elif isinstance(node, Resize):
        fields["like"] = copy_tree(fields["like"]) if fields["like"] is not None else None
    elif isinstance(node, Split):
        fields["part_shapes"] = list(fields["part_shapes"])
    return new


CHILD_LIST = {Seq: "items", Merge: "branches", Dense: "layers"}  # the node kinds whose children are one list


def _copies(nodes: list[Node]) -> list[Node]:
    """copy_tree of each of `nodes`, a layer (most of them) copied in place."""
    out = []
    for node in nodes:
        if type(node) is Layer:
            new = object.__new__(Layer)
            new.__dict__ = node.__dict__.copy()
            out.append(new)
        else:
            out.append(copy_tree(node))
    return out
