"""The infer pass: static shapes, parameter counts and mult-adds for every node, with no torch.

Shape conflicts are reported at the spec line of the node that causes them. Residual shortcuts
in `auto`/`conv` mode are made concrete here (a 1x1 projection when shapes differ), because only
the shapes say whether one is needed.
"""

from __future__ import annotations

import fnmatch
import math

from . import flow
from . import graph as g
from ..diagnostics import Collector, did_you_mean
from ..initializers import NEEDS_MATRIX
from ..layers import REGISTRY, Shape, ShapeError, format_shape
from ..layers.base import window_out


MAX_TENSOR_VALUES = 2**48  # one sample's tensor: 1 PB of float32; past ~2**60 torch's storage size overflows
shape_values = math.prod
_Layer, _Seq = g.Layer, g.Seq


class _Stop(Exception):
    """Inference cannot go on along this path (an error was recorded)."""


def _fmt(shape: Shape) -> str:
    return format_shape(shape)


def _hw(shape: Shape) -> str:
    return "x".join(str(d) for d in shape[1:])


def _sizes(shape: Shape) -> dict[str, int]:
    """The names an entry's expressions use for the tensor reaching it: in_channels, in_height, in_width."""
    sizes = {"in_channels": shape[0] if shape else 0}
    if len(shape) == 3:
        sizes.update(in_height=shape[1], in_width=shape[2])
    return sizes


# torch's interpolate: the modes tied to a number of spatial dimensions (the others take any)
_RESIZE_SPATIAL = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_RESIZE_SHAPES = {1: "(C, L)", 2: "(C, H, W)", 3: "(C, D, H, W)"}
_RESIZE_MODE_FOR = {1: "linear", 2: "bilinear", 3: "trilinear"}


def _has_references(node: g.Node) -> bool:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, (g.Ref, g.Resize)):
            return True
        stack.extend(current.children)
    return False


def _producer(node: g.Node) -> str:
    """A branch as messages name it, `'b2' (line 7)`; a reference with what it reads, `'$enc' (enc, line 5)`."""
    if isinstance(node, g.Ref) and node.source is not None and not node.block_input:
        source = node.source
        where = f", line {source.loc.line}" if source.loc is not None else ""
        return f"'{node.name}' ({source.path or 'the input'}{where})"
    where = f" (line {node.loc.line})" if node.loc is not None else ""
    return f"'{node.name}'{where}"


def _axis(dim: int, shape: Shape) -> int | None:
    """torch's dimension (1 is the channels, -1 the last) as an index into a per-sample shape, or None."""
    axis = dim - 1 if dim > 0 else len(shape) + dim
    return axis if 0 <= axis < len(shape) else None


MAX_PROJECTIONS = 4096  # the projections' Args kept for the process (see _PROJECTIONS): past this, afresh


def forget_projections() -> None:
    """Forget the `auto` shortcuts' projection Args made so far (pipeline.clear_caches calls this)."""
    _PROJECTIONS.clear()


class _Inferrer:
    def __init__(self, errors: Collector):
        self.errors = errors
        self.done: set[int] = set()  # ids of the nodes typed so far: what a reference may read
        self.root: g.Node | None = None
        # (kind, id of its Args, input shape) -> (output shape, params, mult-adds, the Args): a kind's rules are
        # functions of its arguments and the shape, so a layer made again within this graph (a plain stack, the
        # copies of a block called again with the same arguments, which share their Args) is typed once. The Args is
        # kept in the value, so its id cannot be taken by another object while the table lives. Only this call's:
        # each analysis runs the shape rules of its own layers (what is kept across calls is read input, not results).
        self.layers: dict[tuple, tuple] = {}

    def referenced(self, ref: g.Ref, node: g.Node) -> Shape:
        """The shape a reference reads (its source is earlier, so typed by now unless it failed)."""
        source = ref.source
        if source is None:
            raise _Stop  # the flow pass has reported it
        if ref.block_input:
            return source.in_shape
        if id(source) not in self.done:
            raise _Stop  # the source failed, and said why
        if ref.part is not None:
            return source.part_shapes[ref.part]
        return source.out_shape

    def fail(self, node: g.Node, code: str, message: str) -> None:
        self.errors.error(code, message, node.path or "(root)", node.loc)
        raise _Stop

    def within_limit(self, node: g.Node, shape: Shape, what: str) -> None:
        """Refuse a tensor no machine can hold (torch's storage size would overflow), at the layer that makes it."""
        values = math.prod(shape)
        if values > MAX_TENSOR_VALUES:
            self.fail(node, "too-large", f"{what}, {_fmt(shape)}, has {values:.3g} values per sample, more than "
                      f"the {MAX_TENSOR_VALUES:.3g} any tensor can have here; use a smaller input or size")

    def run(self, node: g.Node, shape: Shape) -> Shape:
        if type(node) is _Layer and node.args is not None:  # most nodes: a layer with its arguments bound
            key = (node.kind, id(node.args), shape)
            node.in_shape = shape
            node.out_shape, node.params, node.mult_adds, _ = self.layers.get(key) or self.layer(node, shape, key)
            self.done.add(id(node))
            return node.out_shape
        if type(node) is _Seq:  # the other most common node
            out = self.sequence(node, shape)
            self.done.add(id(node))
            return out
        while isinstance(node, g.Pending):  # an entry that waited for this shape: resolved now, in place (an `if`
            real = node.expand(node, _sizes(shape), self.errors)  # may choose an entry that waits for it too)
            if real is None:
                raise _Stop
            node.become(real)
            if self.root is not None and _has_references(node):  # its references are linked now it exists
                flow.link_references(self.root, self.errors, unlinked_only=True)
        out = self.typed(node, shape)
        self.done.add(id(node))
        return out

    def layer(self, node: g.Layer, shape: Shape, key: tuple) -> tuple:
        """Type a layer that no other with the same kind, arguments and input has been (`key`: the three): (output
        shape, params, mult-adds, its Args), remembered for the next such layer."""
        kind, args = node.kind, node.args
        if shape_values(shape) > MAX_TENSOR_VALUES:
            self.within_limit(node, shape, "the tensor reaching this layer")
        try:
            out = kind.infer(args, shape)
        except ShapeError as exc:
            self.fail(node, exc.code, str(exc))
        if shape_values(out) > MAX_TENSOR_VALUES:
            self.within_limit(node, out, "this layer's output")
        params = kind.count_params(args, shape, out)
        typed = self.layers[key] = (out, params, kind.mult_adds(args, shape, out, params), args)
        return typed

    def sequence(self, node: g.Seq, shape: Shape) -> Shape:
        """A Seq's items in order, its counts summed as they run; a plain layer among them (most items) typed
        here as `run` would, without a call of its own."""
        node.in_shape = out = shape
        params = mult_adds = 0
        layers, done = self.layers, self.done
        for child in node.items:
            if type(child) is _Layer and child.args is not None and not child.tap:
                key = (child.kind, id(child.args), out)
                child.in_shape = out
                typed = layers.get(key) or self.layer(child, out, key)
                child.out_shape, child.params, child.mult_adds, _ = typed
                done.add(id(child))
                out = typed[0]
                params += typed[1]
                mult_adds += typed[2]  # counted: only an extra output may be training-only
                continue
            if child.tap:
                self.run(child, out)  # an extra output: the main stream goes on unchanged
            else:
                out = self.run(child, out)
            params += child.params
            if not child.train_only:  # Node.counted
                mult_adds += child.mult_adds
        node.out_shape, node.params, node.mult_adds = out, params, mult_adds
        return out

    def typed(self, node: g.Node, shape: Shape) -> Shape:
        if type(node) is _Layer:  # arguments that use the incoming sizes: bind them now
            node.in_shape = shape
            if node.args is None:
                node.args = node.pending(_sizes(shape), self.errors)
                if node.args is None:
                    raise _Stop
            key = (node.kind, id(node.args), shape)
            node.out_shape, node.params, node.mult_adds, _ = self.layers.get(key) or self.layer(node, shape, key)
            return node.out_shape
        if isinstance(node, g.Seq):  # a Seq's subclass (resolve's stand-in for a failed entry)
            return self.sequence(node, shape)
        node.in_shape = shape
        if isinstance(node, g.Merge):
            out = self.merge(node, shape)
            children = node.branches
        elif isinstance(node, g.Ref):
            node.out_shape = self.referenced(node, node)
            return node.out_shape
        elif isinstance(node, g.Split):
            node.out_shape = shape  # the tensor flows on; its parts are read by reference
            node.part_shapes = self.split(node, shape)
            return shape
        elif isinstance(node, g.Resize):
            like = self.referenced(node.like, node)
            if len(like) != len(shape) or len(shape) < 2:
                self.fail(node, "shape-mismatch", f"resize takes the spatial size of {_producer(node.like.source)}, "
                          f"{_fmt(like)}, for a tensor of {_fmt(shape)}; both need the same number of dimensions, "
                          "with channels first")
            spatial = _RESIZE_SPATIAL.get(node.mode)
            if spatial is not None and len(shape) - 1 != spatial:
                self.fail(node, "rank-mismatch", f"resize mode {node.mode} interpolates {spatial}-d maps "
                          f"({_RESIZE_SHAPES[spatial]}), but the tensor here is {_fmt(shape)}; use "
                          f"{_RESIZE_MODE_FOR.get(len(shape) - 1, 'nearest')} or nearest")
            node.out_shape = (shape[0], *like[1:])
            self.within_limit(node, node.out_shape, "the resized tensor")
            return node.out_shape
        elif isinstance(node, g.Param):
            return self.parameter(node, shape)
        elif isinstance(node, g.Residual):
            out = self.residual(node, shape)
            children = node.children
        elif isinstance(node, g.Dense):
            out = shape
            for child in node.layers:
                grown = self.run(child, out)
                if len(grown) != len(out) or grown[1:] != out[1:]:
                    self.fail(child, "shape-mismatch",
                              f"a dense layer must keep the spatial size to be concatenated: {_fmt(out)} became {_fmt(grown)}")
                out = (out[0] + grown[0], *out[1:])
            children = node.layers
        else:
            raise AssertionError(f"unknown graph node {type(node).__name__}")
        node.out_shape = out
        params = mult_adds = 0
        for child in children:
            params += child.params
            if not child.train_only:  # Node.counted
                mult_adds += child.mult_adds
        node.params, node.mult_adds = params, mult_adds
        return out

    def parameter(self, node: g.Param, shape: Shape) -> Shape:
        """A parameter's shape per sample: torch aligns shapes from the right, so dimensions beyond the input's
        rank must be leading 1s, which stand for the batch (ViT's (1, L, D) beside an (L, D) input)."""
        extra = len(node.shape) - len(shape)
        if extra > 0 and any(d != 1 for d in node.shape[:extra]):
            self.fail(node, "rank-mismatch", f"parameter '{node.name}' of shape {_fmt(node.shape)} has more dimensions "
                      f"than its input {_fmt(shape)}; only leading 1s may stand for the batch")
        self.within_limit(node, node.shape, "this parameter")
        node.out_shape = tuple(node.shape[max(extra, 0):])
        node.params = math.prod(node.shape)
        node.mult_adds = 0  # it is read, not computed (torchinfo counts no mult-adds for a module's own tensor)
        return node.out_shape

    def split(self, node: g.Split, shape: Shape) -> list[Shape]:
        axis = _axis(node.dim, shape)
        if axis is None:
            self.fail(node, "shape-mismatch", f"split dim {node.dim} does not exist in {_fmt(shape)} (dims 1 to "
                      f"{len(shape)}, or -1 to -{len(shape)}; 0 is the batch)")
        size = shape[axis]
        if node.sizes:
            if sum(node.sizes) != size:
                self.fail(node, "shape-mismatch", f"split sizes {list(node.sizes)} add up to {sum(node.sizes)}, but "
                          f"dim {node.dim} of {_fmt(shape)} has {size}")
            sizes = list(node.sizes)
        else:
            if size % node.parts:
                self.fail(node, "shape-mismatch", f"split into {node.parts} equal parts needs dim {node.dim} of "
                          f"{_fmt(shape)} to be a multiple of {node.parts}; give the sizes instead, such as "
                          f"split([{size // node.parts + size % node.parts}, {size // node.parts}])"
                          if node.parts == 2 else f"split into {node.parts} equal parts needs dim {node.dim} of "
                          f"{_fmt(shape)} to be a multiple of {node.parts}; give a list of sizes instead")
            sizes = [size // node.parts] * node.parts
        return [tuple(shape[:axis]) + (part,) + tuple(shape[axis + 1:]) for part in sizes]

    def merge(self, node: g.Merge, shape: Shape) -> Shape:
        if not node.branches:  # every branch was an `if` whose condition is false and has no `else`
            self.fail(node, "invalid-entry", f"this {node.mode} has no branches left (each one's `if` is false); "
                      "give an `if` an `else: identity`, or remove the empty parallel block")
        outs: list[tuple[g.Node, Shape]] = []
        failed = False
        for branch in node.branches:
            try:
                outs.append((branch, self.run(branch, shape)))
            except _Stop:
                failed = True  # keep checking the other branches: report all errors of a run
        if failed:
            raise _Stop
        first_node, first = outs[0]
        shape_so_far, node_so_far = first, first_node
        axis = _axis(node.dim, first) if node.mode == "concat" else None
        if node.mode == "concat" and axis is None:
            self.fail(node, "shape-mismatch", f"concat dim {node.dim} does not exist in {_fmt(first)} (branch "
                      f"{_producer(first_node)}); dims are 1 to {len(first)}, or -1 to -{len(first)}")
        for branch, out in outs[1:]:
            if node.mode == "mul":  # torch's broadcasting, per sample: equal rank, each size equal or 1
                if len(out) != len(shape_so_far) or any(a != b and 1 not in (a, b) for a, b in zip(shape_so_far, out)):
                    self.fail(branch, "shape-mismatch",
                              f"mul needs shapes that broadcast (equal rank, each size equal or 1): "
                              f"branch {_producer(node_so_far)} gives {_fmt(shape_so_far)}, "
                              f"branch {_producer(branch)} gives {_fmt(out)}")
                shape_so_far = tuple(max(a, b) for a, b in zip(shape_so_far, out))
            elif node.mode == "concat":
                if len(out) != len(first) or out[:axis] + out[axis + 1:] != first[:axis] + first[axis + 1:]:
                    apart = "channels" if node.dim == 1 else f"dim {node.dim}"
                    self.fail(branch, "shape-mismatch",
                              f"concat needs equal sizes apart from {apart}: branch {_producer(first_node)} gives "
                              f"{_fmt(first)}, branch {_producer(branch)} gives {_fmt(out)}")
            elif out != first:
                self.fail(branch, "shape-mismatch",
                          f"add needs equal shapes: branch {_producer(first_node)} gives {_fmt(first)}, "
                          f"branch {_producer(branch)} gives {_fmt(out)}")
        if node.mode == "concat":
            joined = sum(o[axis] for _, o in outs)
            return (*first[:axis], joined, *first[axis + 1:])
        return shape_so_far if node.mode == "mul" else first

    def residual(self, node: g.Residual, shape: Shape) -> Shape:
        out = shape
        layers, done = self.layers, self.done
        for child in node.body:
            if type(child) is not _Layer or child.args is None:
                out = self.run(child, out)
                continue
            key = (child.kind, id(child.args), out)  # run's first case, without a call of its own
            child.in_shape = out
            child.out_shape, child.params, child.mult_adds, _ = layers.get(key) or self.layer(child, out, key)
            done.add(id(child))
            out = child.out_shape
        mode = node.shortcut_mode
        if mode == "explicit":
            assert node.shortcut is not None
            got = self.run(node.shortcut, shape)
            if got != out:
                self.fail(node.shortcut, "shape-mismatch",
                          f"the shortcut gives {_fmt(got)} but the body gives {_fmt(out)}; they must match to be added")
        elif out == shape:
            node.shortcut = None  # identity
        elif mode == "identity":
            self.fail(node, "shape-mismatch",
                      f"an identity shortcut needs the body to keep the shape, but {_fmt(shape)} became {_fmt(out)}; "
                      f"use `shortcut: auto` for a 1x1 projection")
        elif mode == "when_same":
            node.active = False
        else:
            node.shortcut = self.projection(node, shape, out, with_bn=(mode == "auto"))
            self.run(node.shortcut, shape)
        if node.after is not None:
            out = self.run(node.after, out)
        return out

    def projection(self, node: g.Residual, shape: Shape, out: Shape, with_bn: bool) -> g.Seq:
        if len(shape) != 3 or len(out) != 3:
            self.fail(node, "shape-mismatch",
                      f"cannot project {_fmt(shape)} to {_fmt(out)} with a 1x1 convolution; give an explicit shortcut")
        strides = []
        for size_in, size_out in zip(shape[1:], out[1:]):
            stride = max(1, math.ceil(size_in / size_out))
            if window_out(size_in, 1, stride, 0) != size_out:
                self.fail(node, "shape-mismatch",
                          f"the body turns {_hw(shape)} into {_hw(out)}, which no strided 1x1 convolution can match; "
                          "check the body's padding, or give an explicit shortcut")
            strides.append(stride)
        path = f"{node.path}.{node.shortcut_name}" if node.path else node.shortcut_name
        conv_kind, bn_kind = REGISTRY["conv2d"], REGISTRY["batchnorm2d"]
        norm = _last_norm(node.body)  # the body's own norm kind and settings (torchvision's downsample uses the
        if norm is not None:  # block's norm_layer)
            bn_kind = norm.kind
        key = (conv_kind, bn_kind, None if norm is None else id(norm.args), out[0], tuple(strides), with_bn)
        made = _PROJECTIONS.get(key)
        if made is None:
            bn_args = bn_kind.Args() if norm is None else norm.args.model_copy(update={"features": None})
            conv_args = conv_kind.Args(out=out[0], kernel=1, stride=tuple(strides), bias=not with_bn)
            if len(_PROJECTIONS) >= MAX_PROJECTIONS:
                _PROJECTIONS.clear()
            made = _PROJECTIONS[key] = (conv_args, bn_args, None if norm is None else norm.args)
        conv_args, bn_args, _ = made
        items: list[g.Node] = [g.Layer("0", f"{path}.0", node.loc, kind=conv_kind, args=conv_args)]
        if with_bn:
            items.append(g.Layer("1", f"{path}.1", node.loc, kind=bn_kind, args=bn_args))
        return g.Seq(node.shortcut_name, path, node.loc, items=items)


_PROJECTION_NORMS = ("batchnorm2d", "frozen_batchnorm2d")  # norms an `auto` shortcut's projection may copy


# (conv kind, norm kind, id of the body's norm Args or None, channels, strides, with a norm) -> (the projection's
# conv Args, its norm's Args, the body's norm Args, kept so that its id stays its own): an `auto` shortcut's Args are
# made once in the process, so a residual typed again builds no model (and its layers share their Args).
_PROJECTIONS: dict[tuple, tuple] = {}


def _last_norm(nodes: list[g.Node]) -> g.Layer | None:
    """The last layer below `nodes`, in order, whose kind a projection may copy; None if there is none. (Layers
    are leaves, so a walk from the right meets them last first.)"""
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if type(node) is _Layer or isinstance(node, g.Layer):
            if node.kind.name in _PROJECTION_NORMS:
                return node
        else:
            stack.extend(node.children)
    return None


def infer(graph: g.Graph, errors: Collector | None = None) -> g.Graph:
    """Fill every node's shapes and counts. Raises SpecError listing all shape problems."""
    errors = errors or Collector()
    try:
        inferrer = _Inferrer(errors)
        inferrer.root = graph.root
        inferrer.run(graph.root, graph.input_shape)
    except _Stop:
        pass
    errors.raise_if_any()
    _check_init_paths(graph, errors)
    errors.raise_if_any()
    graph.typed = True
    return graph


def _check_init_paths(graph: g.Graph, errors: Collector) -> None:
    """Each `init:` key that is a module path must name layers, all of which have the tensors it sets."""
    if all(key in REGISTRY for key in graph.init):  # layer kinds only (or no init at all): no path to look for
        return
    layers = [n for n in graph.walk() if isinstance(n, g.Layer)]
    for key, table in graph.init.items():
        if key in REGISTRY:
            continue
        matched = [n for n in layers if fnmatch.fnmatchcase(n.path, key)]
        where = graph.init_locs.get(key)
        if not matched:
            errors.error("unknown-layer", f"init names '{key}', which is neither a layer kind nor the module path "
                         f"of a layer{did_you_mean(key, [*REGISTRY, *(n.path for n in layers)])}", f"init.{key}", where)
            continue
        for tensor, (initialiser, _) in table.items():
            having = [n for n in matched if tensor in n.kind.param_names]  # a pattern may cover relus too
            vectors = [n for n in having if initialiser in NEEDS_MATRIX and tensor in n.kind.vector_params]
            if not having:
                errors.error("unknown-key", f"'{key}' matches {', '.join(n.path for n in matched[:3])}, none of "
                             f"which has a tensor '{tensor}'", f"init.{key}.{tensor}", where)
            elif vectors:
                errors.error("invalid-value", f"{initialiser} needs a weight matrix or kernel, but "
                             f"{vectors[0].path}.{tensor} is a vector", f"init.{key}.{tensor}", where)
