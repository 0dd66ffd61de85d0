"""Hypothesis strategies that generate netspec specs as a small tree of entries, and render that tree in YAML and .ns.

How to extend (a new construct): add a dataclass for it below `Entry`, give it a `yaml()` method (the Python
value a YAML list item holds) and an `ns()` method (its .ns text), and add a strategy for it to `CONSTRUCTS`
(a function `(draw, ctx, depth) -> Entry`). `entries()` picks among CONSTRUCTS by weight; `Ctx` carries what
the spec so far declares (params, blocks, whether we are at the top level) so a construct can refer to it.
Layer calls come from the registry: every registered kind's own `example`, plus argument generators in `CALLS`
for the kinds that shape the network most (their arguments are drawn, often wrong on purpose).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable

from hypothesis import strategies as st

from netspec.layers import REGISTRY

# ---------------------------------------------------------------------------------------------------- the tree


class Entry(ABC):
    """One entry of a layer list; `name` (optional) is the module name written before it."""

    name: str | None = None

    @abstractmethod
    def yaml(self) -> Any:  # the value of a YAML list item, without the name
        """Each construct writes itself in YAML."""

    @abstractmethod
    def ns(self) -> str:  # the .ns text, without the name
        """... and in .ns."""


@dataclass
class Call(Entry):
    text: str  # "conv2d(8, 3, padding=1)", "relu", "unit(4)"
    name: str | None = None

    def yaml(self) -> Any:
        return self.text

    def ns(self) -> str:
        return self.text


@dataclass
class Seq(Entry):
    items: list[Entry]
    name: str | None = None

    def yaml(self) -> Any:
        return [item_yaml(i) for i in self.items]

    def ns(self) -> str:
        return "[" + " ".join(item_ns(i) for i in self.items) + "]"


@dataclass
class Merge(Entry):
    mode: str  # concat | add
    branches: list[Entry]
    named: bool = False  # branches written as a mapping (name: entry)
    name: str | None = None

    def yaml(self) -> Any:
        if self.named:
            return {self.mode: {f"b{i}": b.yaml() for i, b in enumerate(self.branches)}}
        return {self.mode: [item_yaml(b) for b in self.branches]}

    def ns(self) -> str:
        if self.named:
            return self.mode + " { " + " ".join(f"b{i}: {b.ns()}" for i, b in enumerate(self.branches)) + " }"
        return self.mode + " { " + " ".join(item_ns(b) for b in self.branches) + " }"


@dataclass
class Residual(Entry):
    body: list[Entry]
    shortcut: str | list[Entry] | None = None  # auto | identity | conv | when_same | entries
    shortcut_name: str | None = None
    after: Entry | None = None
    name: str | None = None

    def yaml(self) -> Any:
        out: dict[str, Any] = {"body": [item_yaml(i) for i in self.body]}
        if isinstance(self.shortcut, str):
            out["shortcut"] = self.shortcut
        elif self.shortcut is not None:
            out["shortcut"] = [item_yaml(i) for i in self.shortcut]
        if self.shortcut_name:
            out["shortcut_name"] = self.shortcut_name
        if self.after is not None:
            out["after"] = self.after.yaml()
        return {"residual": out}

    def ns(self) -> str:
        text = "residual { " + " ".join(item_ns(i) for i in self.body) + " }"
        if isinstance(self.shortcut, str):
            text += f" shortcut {self.shortcut}"
        elif self.shortcut is not None:
            text += " shortcut { " + " ".join(item_ns(i) for i in self.shortcut) + " }"
        if self.shortcut_name:
            text += f" as {self.shortcut_name}"
        if self.after is not None:
            text += f" after {self.after.ns()}"
        return text


@dataclass
class Counted(Entry):
    word: str  # repeat | dense
    count: str
    body: Entry
    names: str | None = None
    first: str | None = None  # repeat only: "s=2" (a block argument's new value for the first copy)
    name: str | None = None

    def yaml(self) -> Any:
        out: dict[str, Any] = {self.word: _scalar(self.count), ("block" if self.word == "repeat" else "layer"): self.body.yaml()}
        if self.first:
            key, value = self.first.split("=")
            out["first"] = {key: _scalar(value)}
        if self.names:
            out["names"] = self.names
        return out

    def ns(self) -> str:
        count = self.count if self.count.isdigit() else f"({self.count})"
        text = f"{self.word} {count}"
        if self.first:
            text += f" first({self.first})"
        if self.names:
            text += f' names "{self.names}"'
        return f"{text} {self.body.ns()}"


@dataclass
class If(Entry):
    cond: str
    then: Entry
    other: Entry | None = None
    name: str | None = None

    def yaml(self) -> Any:
        out = {"if": _scalar(self.cond), "then": self.then.yaml()}
        if self.other is not None:
            out["else"] = self.other.yaml()
        return out

    def ns(self) -> str:
        text = f"if {self.cond} then {self.then.ns()}"
        return text + (f" else {self.other.ns()}" if self.other is not None else "")


@dataclass
class Wrap(Entry):
    word: str  # splice | flat | output
    body: Entry
    train_only: bool = False  # output only
    name: str | None = None

    def yaml(self) -> Any:
        out = {self.word: self.body.yaml()}
        if self.train_only:
            out["train_only"] = True
        return out

    def ns(self) -> str:
        return f"{self.word} {'train_only ' if self.train_only else ''}{self.body.ns()}"


def item_yaml(e: Entry) -> Any:
    return {e.name: e.yaml()} if e.name else e.yaml()


def item_ns(e: Entry) -> str:
    return f"{e.name}: {e.ns()}" if e.name else e.ns()


def _scalar(text: str) -> Any:
    """A count or condition as YAML writes it: a number or boolean as itself, an expression as text."""
    if text.isdigit():
        return int(text)
    if text in ("true", "false"):
        return text == "true"
    return text


@dataclass
class Block:
    name: str
    args: list[tuple[str, str | None]]  # (name, default text or None for required)
    body: Entry


@dataclass
class SpecTree:
    """A whole spec: header, params, blocks and the top-level entries (each named, as top-level entries are)."""

    input: tuple[int, ...]
    params: dict[str, str]
    blocks: list[Block]
    layers: list[Entry]
    outputs: list[str] = field(default_factory=list)

    def yaml(self) -> str:
        lines = ["name: fuzzed", f"input: {json.dumps(list(self.input))}"]
        if self.params:
            lines.append("params:")
            lines += [f"  {k}: {v}" for k, v in self.params.items()]
        if self.outputs:
            lines.append(f"outputs: {json.dumps(self.outputs)}")
        if self.blocks:
            lines.append("blocks:")
            for b in self.blocks:
                lines.append(f"  {b.name}:")
                if b.args:
                    lines.append("    args:")
                    lines += [f"      {a}: {d if d is not None else 'required'}" for a, d in b.args]
                body = b.body.yaml()
                if isinstance(body, dict):
                    lines += _block_yaml(body, 4)
                else:
                    lines += _block_yaml({"layers": body if isinstance(body, list) else [body]}, 4)
        lines.append("layers:")
        for e in self.layers:
            lines += _block_yaml({e.name or "x": e.yaml()}, 2)
        return "\n".join(lines) + "\n"

    def ns(self) -> str:
        lines = ["network fuzzed", "input " + "x".join(map(str, self.input))]
        lines += [f"param {k} = {v}" for k, v in self.params.items()]
        if self.outputs:
            lines.append("outputs " + ", ".join(self.outputs))
        for b in self.blocks:
            args = ", ".join(a if d is None else f"{a}={d}" for a, d in b.args)
            lines.append(f"block {b.name}({args}) = {b.body.ns()}" if b.args else f"block {b.name} = {b.body.ns()}")
        lines += [item_ns(e) for e in self.layers]
        return "\n".join(lines) + "\n"


def _block_yaml(value: dict, indent: int) -> list[str]:
    """Block-style YAML for a mapping whose leaves are strings, numbers, booleans, lists and mappings.

    Strings go through json.dumps (a double-quoted YAML 1.2 scalar) so that calls with commas and
    expressions with colons read back as the text written."""
    pad = " " * indent
    out: list[str] = []
    for key, v in value.items():
        if isinstance(v, dict):
            out.append(f"{pad}{key}:")
            out += _block_yaml(v, indent + 2)
        elif isinstance(v, list):
            out.append(f"{pad}{key}:" if v else f"{pad}{key}: []")
            out += _list_yaml(v, indent + 2)
        else:
            out.append(f"{pad}{key}: {json.dumps(v)}")
    return out


def _list_yaml(items: list, indent: int) -> list[str]:
    pad = " " * indent
    out: list[str] = []
    for v in items:
        if isinstance(v, dict):
            inner = _block_yaml(v, indent + 2)
            out.append(f"{pad}- {inner[0].strip()}" if inner else f"{pad}- {{}}")
            out += inner[1:]
        elif isinstance(v, list):
            out.append(f"{pad}-" if v else f"{pad}- []")
            out += _list_yaml(v, indent + 2)
        else:
            out.append(f"{pad}- {json.dumps(v)}")
    return out


# ---------------------------------------------------------------------------------------------------- strategies


@dataclass
class Ctx:
    """What a construct may refer to: params, the blocks defined so far, the enclosing block's args."""

    params: dict[str, str]
    blocks: list[Block]
    block_args: list[str] = field(default_factory=list)
    rank: int = 3  # rank of the input shape (batch left out): picks 1-d, 2-d or 3-d layer kinds
    dims: dict = field(default_factory=lambda: {1: "1d", 2: "1d", 3: "2d", 4: "3d"})
    top: bool = False


def _size(draw, ctx: Ctx, low: int = 1, high: int = 16) -> str:
    """A size argument: mostly a literal, sometimes a param or block argument, sometimes an expression, rarely bad."""
    names = [n for n, v in ctx.params.items() if v.isdigit()] + ctx.block_args
    pick = draw(st.integers(0, 19))
    if pick < 13 or not names:
        return str(draw(st.integers(low, high)))
    if pick < 17:
        return draw(st.sampled_from(names))
    if pick < 19:
        return f"{draw(st.sampled_from(names))} * {draw(st.integers(1, 3))}"
    return draw(st.sampled_from(["0", "-1", "true", "'3'", "1.5", "10**20", "nope"]))


def _dim() -> str:
    return {1: "1d", 2: "2d", 3: "3d"}


def _conv(draw, ctx: Ctx) -> str:
    d = ctx.dims[ctx.rank]
    out = _size(draw, ctx)
    kernel = draw(st.integers(1, 5))
    args = [out, str(kernel)]
    if draw(st.booleans()):
        args.append(f"stride={draw(st.integers(1, 3))}")
    if draw(st.booleans()):
        args.append(f"padding={draw(st.sampled_from(['0', '1', '2', 'same', 'valid', str(kernel // 2)]))}")
    if draw(st.integers(0, 4)) == 0:
        args.append(f"dilation={draw(st.integers(1, 3))}")
    if draw(st.integers(0, 4)) == 0:
        args.append(f"groups={draw(st.integers(1, 4))}")
    if draw(st.integers(0, 3)) == 0:
        args.append(f"padding_mode={draw(st.sampled_from(['zeros', 'reflect', 'replicate', 'circular']))}")
    if draw(st.integers(0, 3)) == 0:
        args.append("bias=false")
    kind = draw(st.sampled_from([f"conv{d}", f"conv{d}", f"conv_transpose{d}"]))
    if kind.startswith("conv_transpose"):
        args = [a for a in args if not a.startswith(("padding_mode", "padding=same", "padding=valid"))]
    return f"{kind}({', '.join(args)})"


def _pool(draw, ctx: Ctx) -> str:
    d = ctx.dims[ctx.rank]
    kind = draw(st.sampled_from([f"maxpool{d}", f"avgpool{d}", f"adaptive_avgpool{d}", f"adaptive_maxpool{d}"]))
    if kind.startswith("adaptive"):
        return f"{kind}({draw(st.integers(1, 4))})"
    args = [str(draw(st.integers(1, 4)))]
    if draw(st.booleans()):
        args.append(f"stride={draw(st.integers(1, 3))}")
    if draw(st.booleans()):
        args.append(f"padding={draw(st.integers(0, 2))}")
    if draw(st.booleans()):
        args.append("ceil_mode=true")
    return f"{kind}({', '.join(args)})"


def _activation(draw, ctx: Ctx) -> str:
    kind = draw(st.sampled_from(["relu", "relu", "relu6", "leaky_relu", "silu", "elu", "gelu", "sigmoid", "tanh",
                                 "hardswish", "hardsigmoid", "mish", "selu", "celu"]))
    if "inplace" in REGISTRY[kind].Args.model_fields and draw(st.integers(0, 3)) == 0:
        return f"{kind}(inplace={draw(st.sampled_from(['true', 'false']))})"
    return kind


def _norm(draw, ctx: Ctx) -> str:
    d = ctx.dims[ctx.rank]
    return draw(st.sampled_from([f"batchnorm{d}", f"instancenorm{d}(affine=true)", f"groupnorm({draw(st.integers(1, 4))})",
                                 "layer_scale(0.1)"]))


def _head(draw, ctx: Ctx) -> str:
    if ctx.rank == 1 or draw(st.integers(0, 5)) == 0:  # rank-changing calls are rare except on features
        return draw(st.sampled_from(["flatten", f"linear({_size(draw, ctx)})", "dropout(0.5)", "identity"]))
    return draw(st.sampled_from(["dropout(0.5)", "identity", "layer_scale(0.1)"]))


def _registry_example(draw, ctx: Ctx) -> str:
    """Any registered kind, called as its own docs example (new kinds join the fuzzer by registering)."""
    names = sorted(REGISTRY)
    if draw(st.integers(0, 3)):  # mostly kinds made for this rank (or for any rank)
        suffix = ctx.dims[ctx.rank]
        names = [n for n in names if n.endswith(suffix) or not n[-2:] in ("1d", "2d", "3d")] or names
    kind = REGISTRY[draw(st.sampled_from(names))]
    return kind.example or kind.name


def _near_miss(draw, ctx: Ctx) -> str:
    """A call that is almost right: an unknown kind, an unknown argument, a missing one, a wrong type."""
    return draw(st.sampled_from([
        "conv2d", "conv2d(8)", "conv2d(8, 3, stride=0)", "conv2d(8, 3, nope=1)", "reluu", "linear", "linear(0)",
        "maxpool2d(0)", "conv2d(8, true)", "conv2d(8, '3')", "conv2d(8, 3, padding=-1)", "batchnorm2d(eps=-1)",
        "dropout(2)", "pad(100, mode=reflect)", "pad(3, mode=circular)", "upsample(scale_factor=0)",
        "conv2d(100000, 11)", "linear(10**9)", "conv2d(8, 3, groups=3)", "relu(inplace=1)",
    ]))


# (weight, generator) pairs: the layer calls of the fuzzer
CALLS: list[tuple[int, Callable]] = [
    (6, _conv), (3, _pool), (6, _activation), (3, _norm), (2, _head), (3, _registry_example), (1, _near_miss),
]


def _weighted(draw, table):
    total = sum(w for w, _ in table)
    pick = draw(st.integers(0, total - 1))
    for weight, item in table:
        if pick < weight:
            return item
        pick -= weight
    raise AssertionError


def _name(draw, ctx: Ctx) -> str | None:
    if draw(st.integers(0, 3)):
        return None
    return draw(st.sampled_from(["a", "b", "conv", "body", "head", "x1", "stage"]))


def call(draw, ctx: Ctx, depth: int) -> Entry:
    if ctx.blocks and draw(st.integers(0, 4)) == 0:  # a block call
        block = draw(st.sampled_from(ctx.blocks))
        args = [_size(draw, ctx) for a, d in block.args if d is None]
        args += [f"{a}={_size(draw, ctx, 1, 3)}" for a, d in block.args if d is not None and draw(st.booleans())]
        return Call(f"{block.name}({', '.join(args)})" if args else block.name)
    return Call(_weighted(draw, CALLS)(draw, ctx))


def seq(draw, ctx: Ctx, depth: int) -> Entry:
    return Seq([entry(draw, ctx, depth - 1) for _ in range(draw(st.integers(1, 3)))])


def merge(draw, ctx: Ctx, depth: int) -> Entry:
    mode = draw(st.sampled_from(["concat", "add"]))
    return Merge(mode, [entry(draw, ctx, depth - 1) for _ in range(draw(st.integers(1, 3)))], named=draw(st.booleans()))


def residual(draw, ctx: Ctx, depth: int) -> Entry:
    body = [entry(draw, ctx, depth - 1) for _ in range(draw(st.integers(1, 3)))]
    shortcut = draw(st.sampled_from([None, "auto", "identity", "conv", "when_same", "own"]))
    if shortcut == "own":
        shortcut = [entry(draw, ctx, depth - 1)]
    after = Call(_activation(draw, ctx)) if draw(st.booleans()) else None
    name = draw(st.sampled_from([None, None, "proj", "downsample", "shortcut"]))
    return Residual(body, shortcut, name, after)


def counted(draw, ctx: Ctx, depth: int) -> Entry:
    word = draw(st.sampled_from(["repeat", "dense"]))
    count = draw(st.sampled_from(["1", "2", "3", "0"] + [p for p in ctx.params if ctx.params[p].isdigit()]))
    body = entry(draw, ctx, depth - 1)
    names = draw(st.sampled_from([None, None, "u{i + 1}", "layer{i}", "same"]))
    first = None
    if word == "repeat" and isinstance(body, Call) and "(" in body.text and draw(st.booleans()):
        block = next((b for b in ctx.blocks if body.text.startswith(b.name + "(")), None)
        if block is not None and block.args:
            first = f"{block.args[-1][0]}=2"
    return Counted(word, count, body, names, first)


def cond(draw, ctx: Ctx, depth: int) -> Entry:
    flags = [p for p, v in ctx.params.items() if v in ("true", "false")]
    test = draw(st.sampled_from(flags + ["true", "false"] + [f"{p} > 2" for p in ctx.params if ctx.params[p].isdigit()]))
    other = entry(draw, ctx, depth - 1) if draw(st.booleans()) else None
    return If(test, entry(draw, ctx, depth - 1), other)


def wrap(draw, ctx: Ctx, depth: int) -> Entry:
    word = draw(st.sampled_from(["splice", "flat"] + (["output"] if ctx.top else [])))
    if word == "flat":
        return Wrap(word, seq(draw, ctx, depth))
    if word == "splice":
        body = draw(st.sampled_from([b for b in ctx.blocks] + [None]))
        inner = Call(body.name + ("(" + ", ".join(_size(draw, ctx) for a, d in body.args if d is None) + ")"
                                  if any(d is None for a, d in body.args) else "")) if body is not None else seq(draw, ctx, depth)
        return Wrap(word, inner)
    return Wrap(word, entry(draw, ctx, depth - 1), train_only=word == "output" and draw(st.booleans()))


# (weight, strategy) pairs: the constructs of the language. A new construct adds its line here.
CONSTRUCTS: list[tuple[int, Callable]] = [
    (12, call), (3, seq), (2, merge), (2, residual), (2, counted), (1, cond), (1, wrap),
]


def entry(draw, ctx: Ctx, depth: int) -> Entry:
    if depth <= 0:
        made = call(draw, ctx, 0)
    else:
        inner = Ctx(ctx.params, ctx.blocks, ctx.block_args, ctx.rank, top=False)
        made = _weighted(draw, CONSTRUCTS)(draw, ctx if ctx.top else inner, depth)
    if made.name is None and not ctx.top:
        made.name = _name(draw, ctx)
    return made


INPUTS = st.one_of(
    st.tuples(st.integers(1, 8), st.integers(1, 12), st.integers(1, 12)),  # (C, H, W): most specs
    st.tuples(st.integers(1, 8), st.integers(1, 12), st.integers(1, 12)),
    st.tuples(st.integers(1, 8), st.integers(1, 16)),  # (C, L)
    st.tuples(st.integers(1, 4), st.integers(1, 6), st.integers(1, 6), st.integers(1, 6)),  # (C, D, H, W)
    st.tuples(st.integers(1, 32)),  # (F,)
)


@st.composite
def spec_trees(draw) -> SpecTree:
    shape = draw(INPUTS)
    params: dict[str, str] = {}
    for name in draw(st.lists(st.sampled_from(["width", "depth", "bn", "k"]), max_size=3, unique=True)):
        params[name] = "true" if name == "bn" else str(draw(st.integers(1, 6)))
    ctx = Ctx(params, [], rank=len(shape))
    for index in range(draw(st.integers(0, 2))):
        args = draw(st.sampled_from([[], [("c", None)], [("c", None), ("s", "1")]]))
        block_ctx = Ctx(params, list(ctx.blocks), [a for a, _ in args], ctx.rank)
        body = draw(st.sampled_from([seq, residual, merge, counted]))(draw, block_ctx, 2)
        body.name = None
        ctx.blocks.append(Block(f"blk{index}", args, body))
    top = Ctx(params, ctx.blocks, rank=ctx.rank, top=True)
    layers = []
    for index in range(draw(st.integers(1, 4))):
        made = entry(draw, top, draw(st.integers(0, 3)))
        made.name = f"l{index}"
        layers.append(made)
    if len(shape) > 1 and draw(st.booleans()):  # a classifier head, as most networks end
        layers.append(Call(draw(st.sampled_from(["flatten", f"adaptive_avgpool{ctx.dims[len(shape)]}(1)"])),
                           name=f"l{len(layers)}"))
        layers.append(Call(f"linear({draw(st.integers(1, 10))})", name=f"l{len(layers)}"))
    taps = [e.name for e in layers if isinstance(e, Wrap) and e.word == "output"]
    outputs = ["main", *taps] if taps and draw(st.booleans()) else []
    return SpecTree(shape, params, ctx.blocks, layers, outputs)


def text_edits(text: str):
    """Near-valid text: a few characters cut or a token inserted (the front ends' own error paths)."""
    tokens = ["[", "]", "{", "}", "(", ")", ":", ",", " ", "\n", "-", "#", "'", '"', "=", "x", "0", "relu"]

    @st.composite
    def edited(draw):
        out = text
        for _ in range(draw(st.integers(1, 2))):
            at = draw(st.integers(0, len(out)))
            cut = draw(st.integers(0, 3))
            out = out[:at] + draw(st.sampled_from(tokens)) + out[at + cut:]
        return out

    return edited()


@st.composite
def spec_texts(draw, syntax: str) -> str:
    """A spec's text in `syntax` (yaml or ns): mostly as generated, one in eight with a text edit."""
    tree = draw(spec_trees())
    text = tree.yaml() if syntax == "yaml" else tree.ns()
    if draw(st.integers(0, 7)) == 0:
        text = draw(text_edits(text))
    return text
