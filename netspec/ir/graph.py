"""The Graph: a spec with params, expressions, blocks and repeats resolved into concrete nodes.

Every node has its module path (`body.inception3a.branch2.1`) and the source location that made
it. `infer` adds shapes and counts to the same tree (filling the `typed` fields), and `compile`
turns it into torch modules. Pure Python: nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ..diagnostics import Loc
from ..layers import LayerKind, Shape


@dataclass
class Node:
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


@dataclass
class Layer(Node):
    kind: LayerKind = None  # type: ignore[assignment]
    args: Any = None  # the kind's validated Args model (None until infer binds a `pending` layer)
    # for arguments that use in_channels & co: (sizes, errors) -> Args or None, called by infer
    pending: Any = None

    @property
    def op(self) -> str:
        return self.kind.name


@dataclass
class Param(Node):
    """A learnable tensor of the module that holds this node (spec.Parameter): a branch of add or mul that
    gives the tensor itself. `out_shape` is its shape per sample (leading 1s beyond the input's rank are the
    batch); `shape` is the tensor's own."""

    shape: Shape = ()
    init: Any = None  # (initialiser name, validated args), as in Graph.init

    @property
    def op(self) -> str:
        return "parameter"


@dataclass
class Ref(Node):
    """The output of an earlier node (`$enc`), a part of a split (`$halves.0`), or a block's input (`$input`)."""

    target: str = ""  # as written, without `$`
    source: Optional[Node] = None  # the node it names (for `$input`: the block node whose input it is); set by flow
    part: Optional[int] = None  # which part of a split source
    block_input: bool = False  # the input of `source`, not its output
    reported: bool = False  # the flow pass found it wrong and said so

    @property
    def module(self) -> bool:
        return False


@dataclass
class Split(Node):
    """The tensor flowing here, cut into parts along `dim` (torch's numbering: 1 is the channels); the parts are
    read by reference (`$halves.0`) and the tensor itself flows on unchanged."""

    parts: int = 2  # equal parts, when `sizes` is empty
    sizes: tuple[int, ...] = ()
    dim: int = 1
    part_shapes: list = field(default_factory=list)  # filled by infer

    @property
    def module(self) -> bool:
        return False


@dataclass
class Resize(Node):
    """The tensor flowing here interpolated to the spatial size of another (`resize($lateral)`)."""

    like: Optional[Ref] = None
    mode: str = "nearest"
    align_corners: Optional[bool] = None

    @property
    def module(self) -> bool:
        return False


@dataclass
class Seq(Node):
    items: list[Node] = field(default_factory=list)

    @property
    def children(self) -> list[Node]:
        return self.items


@dataclass
class Merge(Node):
    mode: str = "concat"  # "concat" (along `dim`), "add", or "mul" (element-wise, broadcasting)
    dim: int = 1  # concat: torch's dimension (1 is the channels)
    branches: list[Node] = field(default_factory=list)

    @property
    def children(self) -> list[Node]:
        return self.branches

    @property
    def op(self) -> str:
        return self.mode


@dataclass
class Residual(Node):
    body: list[Node] = field(default_factory=list)
    shortcut_mode: str = "auto"  # auto | identity | conv | when_same | explicit
    shortcut: Optional[Seq] = None  # explicit layers, or the projection infer makes; None = identity
    shortcut_name: str = "shortcut"
    after: Optional[Node] = None
    active: bool = True  # False when mode is when_same and shapes differ: the block is just its body

    @property
    def children(self) -> list[Node]:
        out = list(self.body)
        if self.shortcut is not None:
            out.append(self.shortcut)
        if self.after is not None:
            out.append(self.after)
        return out


@dataclass
class Dense(Node):
    layers: list[Node] = field(default_factory=list)

    @property
    def children(self) -> list[Node]:
        return self.layers


@dataclass
class Pending(Node):
    """An entry whose arguments, count or condition use the sizes of the tensor reaching it (`in_channels`):
    resolve leaves it here, and infer, once it knows that tensor, calls `expand` for the node it stands for and
    makes this node that one in place (so that whatever holds this node, its parent, holds the real one)."""

    expand: Any = None  # (this node, {in_channels: .., in_height: .., in_width: ..}, errors) -> Node or None

    def become(self, real: Node) -> None:
        kept = {"name": self.name, "path": self.path, "tap": self.tap, "train_only": self.train_only,
                "virtual": self.virtual, "flat": self.flat or real.flat}
        self.__class__ = type(real)  # type: ignore[assignment]
        self.__dict__ = {**real.__dict__, **kept}


@dataclass
class Graph:
    name: str
    input_shape: Shape
    root: Seq
    params: dict[str, Any]  # the resolved values of the spec's params
    outputs: list[str]  # names of the returned outputs, in order ("main" is the last layer's output)
    init: dict[str, dict[str, Any]]  # layer kind -> tensor name -> evaluated initialiser
    init_locs: dict[str, Optional[Loc]] = field(default_factory=dict)
    typed: bool = False  # True once infer has filled shapes and counts
    # outputs that are references (`outputs: [$body.layer2]`, `load(outputs=...)`): name -> Ref, set by flow;
    # with any, the network returns `outputs` (names: "main", tap names, or these) as a tuple or, when
    # `output_dict`, a dict
    output_refs: dict[str, Ref] = field(default_factory=dict)
    output_dict: bool = False

    def walk(self):
        """Every node, parents before children."""
        stack: list[Node] = [self.root]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


def copy_tree(node: Node) -> Node:
    """A fresh copy of the tree under `node`, as resolve made it (before infer fills it): every node new, the
    values they hold (validated arguments, locations) shared. Resolve copies a block instance it made before
    with the same arguments, rather than evaluating the block again."""
    cls = type(node)
    new = object.__new__(cls)
    fields = new.__dict__ = node.__dict__.copy()
    if cls is Layer or cls is Ref or cls is Param:
        return new
    if isinstance(node, Seq):
        fields["items"] = [copy_tree(n) for n in node.items]
    elif isinstance(node, Merge):
        fields["branches"] = [copy_tree(n) for n in node.branches]
    elif isinstance(node, Residual):
        fields["body"] = [copy_tree(n) for n in node.body]
        fields["shortcut"] = copy_tree(node.shortcut) if node.shortcut is not None else None
        fields["after"] = copy_tree(node.after) if node.after is not None else None
    elif isinstance(node, Dense):
        fields["layers"] = [copy_tree(n) for n in node.layers]
    elif isinstance(node, Resize):
        fields["like"] = copy_tree(node.like) if node.like is not None else None
    elif isinstance(node, Split):
        fields["part_shapes"] = list(node.part_shapes)
    return new
