"""Hypothesis strategies that generate netspec specs as a small tree of entries, and render that tree in YAML and .ns.

How to extend (a new construct): add a dataclass for it below `Entry`, give it a `yaml()` method (the Python
value a YAML list item holds) and an `ns()` method (its .ns text), and add a strategy for it to `CONSTRUCTS`
(a function `(draw, ctx, depth) -> Entry`). `entries()` picks among CONSTRUCTS by weight; `Ctx` carries what
the spec so far declares (params, blocks, whether we are at the top level) so a construct can refer to it.
Layer calls come from the registry: every registered kind's own `example`, plus argument generators in `CALLS`
for the kinds that shape the network most (their arguments are drawn, often wrong on purpose).

What is not an entry is a declaration of the whole spec, with the same two writers: `Function` (`functions:`),
`Choice` (a block argument that lists the values it accepts), `Init` (`init:`) and `Extends` (a preset on a
family written in its own file, in either syntax). Their strategies are `DECLARATIONS`. A drawn spec is a
`Sample`: its text, the other files it reads (the family of an `extends`) and the checkpoint check it gets
(saved and loaded back intact, with a byte flipped, cut short, tampered with, or over the parameter budget).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
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
    mode: str  # concat | add | mul
    branches: list[Entry]
    named: bool = False  # branches written as a mapping (name: entry)
    name: str | None = None
    dim: int | None = None  # concat along another dimension

    def yaml(self) -> Any:
        if self.named:
            out = {self.mode: {f"b{i}": b.yaml() for i, b in enumerate(self.branches)}}
        else:
            out = {self.mode: [item_yaml(b) for b in self.branches]}
        if self.dim is not None:
            out["dim"] = self.dim
        return out

    def ns(self) -> str:
        head = self.mode + (f"(dim={self.dim})" if self.dim is not None else "")
        if self.named:
            return head + " { " + " ".join(f"b{i}: {b.ns()}" for i, b in enumerate(self.branches)) + " }"
        return head + " { " + " ".join(item_ns(b) for b in self.branches) + " }"


@dataclass
class Ref(Entry):
    """`$target`: an earlier entry's output, a split's part, or `$input`."""

    target: str
    name: str | None = None

    def yaml(self) -> Any:
        return "$" + self.target

    def ns(self) -> str:
        return "$" + self.target


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
class Choice:
    """A block argument that lists the values it accepts: `{choice: [...], default: d}`, `.ns` `a in [...] = d`."""

    name: str
    options: list[str]
    default: str | None = None  # None: a required argument

    def yaml(self) -> Any:
        out: dict[str, Any] = {"choice": [_scalar(o) for o in self.options]}
        if self.default is not None:
            out["default"] = _scalar(self.default)
        return out

    def ns(self) -> str:
        text = f"{self.name} in [{', '.join(self.options)}]"
        return text + (f" = {self.default}" if self.default is not None else "")


@dataclass
class Block:
    name: str
    args: list[tuple[str, str | None]]  # (name, default text or None for required)
    body: Entry
    choices: dict[str, Choice] = field(default_factory=dict)  # the arguments that list their values

    def arg_yaml(self, arg: str, default: str | None) -> str:
        if arg in self.choices:
            return json.dumps(self.choices[arg].yaml())
        return default if default is not None else "required"

    def arg_ns(self, arg: str, default: str | None) -> str:
        if arg in self.choices:
            return self.choices[arg].ns()
        return arg if default is None else f"{arg}={default}"


@dataclass
class Function:
    """A value function: `functions: {"f(v, d=2)": body}` in YAML, `function f(v, d=2) = body` in .ns."""

    name: str
    args: list[tuple[str, str | None]]
    body: str

    def signature(self) -> str:
        return f"{self.name}({', '.join(a if d is None else f'{a}={d}' for a, d in self.args)})"

    def yaml(self) -> str:  # one line of the `functions:` mapping
        return f"  {json.dumps(self.signature())}: {json.dumps(self.body)}"

    def ns(self) -> str:
        return f"function {self.signature()} = {self.body}"


@dataclass
class Init:
    """One `init` entry: a layer kind or a module path (pattern), and an initialiser per tensor."""

    key: str
    tensors: dict[str, str]

    def yaml(self) -> str:  # one line of the `init:` mapping (JSON is YAML: `*` starts no alias there)
        return f"  {json.dumps(self.key)}: {json.dumps(self.tensors)}"

    def ns(self) -> str:
        key = self.key if self.key.isidentifier() else f"`{self.key}`"
        return f"init {key}({', '.join(f'{t}={v}' for t, v in self.tensors.items())})"


@dataclass
class Extends:
    """`extends`: the path the preset names, and the family it builds on, written in its own file (or none:
    a library spec, or a path that is wrong on purpose)."""

    path: str
    base: "SpecTree | None" = None
    base_syntax: str = "yaml"

    def yaml(self) -> str:
        return f"extends: {json.dumps(self.path)}"

    def ns(self) -> str:
        return f"extends {json.dumps(self.path)}"

    def files(self) -> dict[str, str]:
        if self.base is None:
            return {}
        return {f"base.{self.base_syntax}": self.base.yaml() if self.base_syntax == "yaml" else self.base.ns()}


@dataclass
class SpecTree:
    """A whole spec: header, params, blocks and the top-level entries (each named, as top-level entries are)."""

    input: tuple[int, ...] | None  # None: a preset that keeps its family's
    params: dict[str, str]
    blocks: list[Block]
    layers: list[Entry]  # empty: a preset that keeps its family's
    outputs: list[str] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    init: list[Init] = field(default_factory=list)
    extends: Extends | None = None
    name: str = "fuzzed"

    def yaml(self) -> str:
        lines = [f"name: {self.name}"]
        if self.extends is not None:
            lines.append(self.extends.yaml())
        if self.input is not None:
            lines.append(f"input: {json.dumps(list(self.input))}")
        if self.functions:
            lines.append("functions:")
            lines += [f.yaml() for f in self.functions]
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
                    lines += [f"      {a}: {b.arg_yaml(a, d)}" for a, d in b.args]
                body = b.body.yaml()
                if isinstance(body, dict):
                    lines += _block_yaml(body, 4)
                else:
                    lines += _block_yaml({"layers": body if isinstance(body, list) else [body]}, 4)
        if self.layers:
            lines.append("layers:")
            for e in self.layers:
                lines += _block_yaml({e.name or "x": e.yaml()}, 2)
        if self.init:
            lines.append("init:")
            lines += [i.yaml() for i in self.init]
        return "\n".join(lines) + "\n"

    def ns(self) -> str:
        lines = [f"network {self.name}"]
        if self.extends is not None:
            lines.append(self.extends.ns())
        if self.input is not None:
            lines.append("input " + "x".join(map(str, self.input)))
        lines += [f.ns() for f in self.functions]
        lines += [f"param {k} = {v}" for k, v in self.params.items()]
        if self.outputs:
            lines.append("outputs " + ", ".join(self.outputs))
        for b in self.blocks:
            args = ", ".join(b.arg_ns(a, d) for a, d in b.args)
            lines.append(f"block {b.name}({args}) = {b.body.ns()}" if b.args else f"block {b.name} = {b.body.ns()}")
        lines += [item_ns(e) for e in self.layers]
        lines += [i.ns() for i in self.init]
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
    block_args: list[str] = field(default_factory=list)  # the enclosing block's size arguments
    rank: int = 3  # rank of the input shape (batch left out): picks 1-d, 2-d or 3-d layer kinds
    dims: dict = field(default_factory=lambda: {1: "1d", 2: "1d", 3: "2d", 4: "3d"})
    top: bool = False
    functions: list[Function] = field(default_factory=list)
    layer_args: list[str] = field(default_factory=list)  # the enclosing block's arguments that hold a layer


def _size(draw, ctx: Ctx, low: int = 1, high: int = 16) -> str:
    """A size argument: mostly a literal, sometimes a param or block argument, sometimes an expression, rarely bad."""
    called = {f.name for f in ctx.functions}
    names = [n for n, v in ctx.params.items() if v.isdigit() or v.split("(")[0] in called] + ctx.block_args
    if ctx.functions and draw(st.integers(0, 5)) == 0:
        return _function_call(draw, ctx, low, high)
    pick = draw(st.integers(0, 19))
    if pick < 13 or not names:
        return str(draw(st.integers(low, high)))
    if pick < 17:
        return draw(st.sampled_from(names))
    if pick < 19:
        return f"{draw(st.sampled_from(names))} * {draw(st.integers(1, 3))}"
    return draw(st.sampled_from(["0", "-1", "true", "'3'", "1.5", "10**20", "nope"]))


def _function_call(draw, ctx: Ctx, low: int = 1, high: int = 16) -> str:
    """A call of one of the spec's functions: by position, by name, or (rarely) with one argument too many."""
    fn = draw(st.sampled_from(ctx.functions))
    values = [str(draw(st.integers(low, high))) for a, d in fn.args if d is None or draw(st.booleans())]
    pick = draw(st.integers(0, 59))  # drawn for many sizes of a spec: one in 60 is wrong
    if pick == 30:
        values.append("1")
    elif pick < 12:
        values = [f"{a}={v}" for (a, _), v in zip(fn.args, values)]
    return f"{fn.name}({', '.join(values)})"


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


def _arg_value(draw, ctx: Ctx, block: Block, arg: str, low: int = 1, high: int = 16) -> str:
    """A value for a block argument: one it lists (or, one time in six, one it does not), else a size."""
    choice = block.choices.get(arg)
    if choice is None:
        return _size(draw, ctx, low, high)
    if draw(st.integers(0, 9)):
        picked = draw(st.sampled_from(choice.options))
        return "leaky_relu(0.2)" if picked == "leaky_relu" and draw(st.booleans()) else picked
    return draw(st.sampled_from(["reluu", "5", "'relu'", "silu(inplace=true)", "softplus", "7"]))


def block_call(draw, ctx: Ctx, block: Block) -> str:
    args = [_arg_value(draw, ctx, block, a) for a, d in block.args if d is None]
    args += [f"{a}={_arg_value(draw, ctx, block, a, 1, 3)}" for a, d in block.args
             if d is not None and draw(st.booleans())]
    return f"{block.name}({', '.join(args)})" if args else block.name


def call(draw, ctx: Ctx, depth: int) -> Entry:
    if ctx.layer_args and draw(st.integers(0, 3)) == 0:  # in a block: the layer an argument holds
        return Call(draw(st.sampled_from(ctx.layer_args)))
    if ctx.blocks and draw(st.integers(0, 4)) == 0:  # a block call
        return Call(block_call(draw, ctx, draw(st.sampled_from(ctx.blocks))))
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
        return Wrap(word, Call(block_call(draw, ctx, body)) if body is not None else seq(draw, ctx, depth))
    return Wrap(word, entry(draw, ctx, depth - 1), train_only=word == "output" and draw(st.booleans()))


# Names that references draw from: the names `_name` gives entries (so many references find their entry), a
# split's parts, paths into named entries, and ones no entry has (unknown, forward and cyclic references).
REF_TARGETS = ["a", "b", "conv", "body", "stage", "x1", "a.0", "a.1", "b.0", "b.1", "body.0", "stage.conv", "conv.0",
               "nope"]


def _target(draw) -> str:
    """Mostly `$input` (always there), else a name that an earlier entry may or may not have."""
    return "input" if draw(st.integers(0, 3)) else draw(st.sampled_from(REF_TARGETS))


def reference(draw, ctx: Ctx, depth: int) -> Entry:
    return Ref(_target(draw))


def _keeps_shape(draw, ctx: Ctx, depth: int) -> Entry:
    """Mostly an entry that keeps the shape (so the merge it is in usually fits), sometimes any entry."""
    if draw(st.integers(0, 3)):
        return Call(draw(st.sampled_from(["identity", "sigmoid", _activation(draw, ctx)])))
    return entry(draw, ctx, depth - 1)


def data_flow(draw, ctx: Ctx, depth: int) -> Entry:
    """A split, a resize, a gate (`mul`) or a skip (`concat`/`add` over a reference), a concat along a dim."""
    kind = draw(st.sampled_from(["split", "resize", "gate", "skip", "dim"]))
    if kind == "split":
        parts = draw(st.sampled_from(["2", "1", "[1, 1]", "2, dim=-1", "3", "[2, 1]", "2, dim=0"]))
        return Call(f"split({parts})", name=draw(st.sampled_from(["a", "b", None])))
    if kind == "resize":
        mode = draw(st.sampled_from(["", ", mode=bilinear", ", mode=nearest-exact", ", mode=bilinear, align_corners=true",
                                     ", mode=area", ", mode=linear"]))
        return Call(f"resize(${_target(draw)}{mode})")
    if kind == "gate":
        return Merge("mul", [draw(st.sampled_from([Ref("input"), Call("identity")])), _keeps_shape(draw, ctx, depth)])
    if kind == "skip":
        mode = draw(st.sampled_from(["concat", "add", "mul"]))
        return Merge(mode, [reference(draw, ctx, depth), _keeps_shape(draw, ctx, depth)])
    return Merge("concat", [_keeps_shape(draw, ctx, depth) for _ in range(draw(st.integers(1, 2)))],
                 dim=draw(st.sampled_from([-1, 2, 1, 3])))


# (weight, strategy) pairs: the constructs of the language. A new construct adds its line here.
CONSTRUCTS: list[tuple[int, Callable]] = [
    (12, call), (3, seq), (2, merge), (2, residual), (2, counted), (1, cond), (1, wrap), (1, reference),
    (1, data_flow),
]


def entry(draw, ctx: Ctx, depth: int) -> Entry:
    if depth <= 0:
        made = call(draw, ctx, 0)
    else:
        inner = replace(ctx, top=False)
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


def _params(draw, ctx: Ctx) -> dict[str, str]:
    params: dict[str, str] = {}
    for name in draw(st.lists(st.sampled_from(["width", "depth", "bn", "k"]), max_size=3, unique=True)):
        params[name] = "true" if name == "bn" else str(draw(st.integers(1, 6)))
    if ctx.functions and draw(st.integers(0, 2)) == 0:  # a param made by a function
        params["fw"] = _function_call(draw, ctx, 1, 8)
    return params


def _block(draw, ctx: Ctx, name: str) -> Block:
    """A block with required, default and (sometimes) listed-value arguments; its body uses them."""
    args = list(draw(st.sampled_from([[], [("c", None)], [("c", None), ("s", "1")],
                                      [("c", None), ("w", "max(1, in_channels // 2)")]])))  # waits for its input
    choices: dict[str, Choice] = {}
    layer_args: list[str] = []
    sizes = [a for a, _ in args]
    pick = draw(st.integers(0, 5))
    if pick < 2:  # an argument holding a layer, from a list
        options = draw(st.lists(st.sampled_from(["relu", "silu", "gelu", "identity", "tanh", "leaky_relu"]),
                                min_size=1, max_size=3, unique=True))
        default = draw(st.sampled_from([None, *options])) if pick == 0 else options[0]
        choices["act"] = Choice("act", options, default)
        args.append(("act", default))
        layer_args.append("act")
    elif pick == 2:  # a size from a list
        options = draw(st.lists(st.sampled_from(["1", "2", "3", "5"]), min_size=1, max_size=3, unique=True))
        choices["kk"] = Choice("kk", options, draw(st.sampled_from([None, *options])))
        args.append(("kk", choices["kk"].default))
        sizes.append("kk")
    args.sort(key=lambda a: a[1] is not None)  # required ones first
    block_ctx = replace(ctx, blocks=list(ctx.blocks), block_args=sizes, layer_args=layer_args, top=False)
    body = draw(st.sampled_from([seq, residual, merge, counted]))(draw, block_ctx, 2)
    body.name = None
    return Block(name, args, body, choices)


def _layers(draw, ctx: Ctx, shape) -> list[Entry]:
    top = replace(ctx, top=True)
    layers = []
    for index in range(draw(st.integers(1, 4))):
        made = entry(draw, top, draw(st.integers(0, 3)))
        made.name = f"l{index}"
        layers.append(made)
    if len(shape) > 1 and draw(st.booleans()):  # a classifier head, as most networks end
        layers.append(Call(draw(st.sampled_from(["flatten", f"adaptive_avgpool{ctx.dims[len(shape)]}(1)"])),
                           name=f"l{len(layers)}"))
        layers.append(Call(f"linear({draw(st.integers(1, 10))})", name=f"l{len(layers)}"))
    return layers


# ---- declarations: what a spec says besides its entries

FUNCTION_BODIES = [  # over the arguments v (and d): formulas, and (the last three) some that go wrong on purpose
    "v * 2", "max(1, v // 2)", "v + 1 if v < 4 else v", "int(v * 1.5)", "min(v, 8)", "v // d * d + d",
    "max(d, v - d)", "v ** 2 // 4 + 1", "round(v / 3) + 1", "v", "abs(v - 3) + 1", "max(1, v * d // 4)",
    "v // 0", "width", "v + '1'",
]


def functions(draw, ctx: Ctx) -> list[Function]:
    """0-2 value functions; a later one may call an earlier one (or, rarely, itself: an eval-error)."""
    made: list[Function] = []
    for index in range(draw(st.integers(1, 2))):
        name = f"f{index}" if draw(st.integers(0, 29)) else "max"  # `max`: a built-in's name
        args = draw(st.sampled_from([[("v", None)], [("v", None), ("d", "2")], [("v", None), ("d", None)]]))
        bodies = [b for b in FUNCTION_BODIES if "d" not in b.replace("width", "").replace("round", "") or len(args) > 1]
        body = draw(st.sampled_from(bodies[:-3] if draw(st.integers(0, 9)) != 5 else bodies[-3:]))
        if made and draw(st.integers(0, 2)) == 0:
            body = f"{draw(st.sampled_from(made)).name}(v) + 1"
        elif draw(st.integers(0, 29)) == 0:
            body = f"{name}(v)"
        made.append(Function(name, args, body))
    return made


INITIALISERS = [  # for any tensor; then those that need a matrix or kernel; then wrong ones
    "zeros", "ones", "constant(0.5)", "normal(0, 0.01)", "uniform(-0.1, 0.1)", "trunc_normal(std=0.02)",
]
MATRIX_INITIALISERS = ["kaiming_normal(mode=fan_out, nonlinearity=relu)", "kaiming_uniform", "xavier_normal",
                       "xavier_uniform(gain=2)", "orthogonal"]
BAD_INITIALISERS = ["normal(0, -1)", "constant", "nope", "kaiming_normal(mode=sideways)"]


def _initialiser(draw, tensor: str) -> str:
    pick = draw(st.integers(0, 39))
    if pick == 0:
        return draw(st.sampled_from(BAD_INITIALISERS + MATRIX_INITIALISERS))
    if tensor == "weight" and pick < 10:
        return draw(st.sampled_from(MATRIX_INITIALISERS))
    return draw(st.sampled_from(INITIALISERS))


def inits(draw, ctx: Ctx, layers: list[Entry]) -> list[Init]:
    """1-2 `init` entries: a layer kind (mostly one the spec uses) or a module path or pattern."""
    d = ctx.dims[ctx.rank]
    names = [e.name for e in layers if e.name]
    keys = [f"conv{d}", f"conv{d}", "linear", "linear", f"batchnorm{d}", f"conv_transpose{d}", "groupnorm",
            "layer_scale", *(names[:2]), *(f"{n}.*" for n in names[:2]), "*"]
    made: list[Init] = []
    for key in draw(st.lists(st.sampled_from(keys), min_size=1, max_size=2, unique=True)):
        if draw(st.integers(0, 39)) == 0:  # a kind without tensors, a path that matches nothing
            key = draw(st.sampled_from(["relu", "nope.*", "*.0", "l9"]))
        has = REGISTRY[key].param_names if key in REGISTRY else ("weight",)
        tensors = draw(st.lists(st.sampled_from(has or ("weight",)), min_size=1, max_size=2, unique=True))
        if draw(st.integers(0, 39)) == 0:
            tensors.append(draw(st.sampled_from(["gamma", "bias"])))
        made.append(Init(key, {t: _initialiser(draw, t) for t in tensors}))
    return made


def extends(draw, base: SpecTree, base_ctx: Ctx, syntax: str) -> SpecTree:
    """A preset on `base`: some params, a block or a function replaced, maybe its own input, layers or init."""
    path = "base" if draw(st.integers(0, 7)) else draw(st.sampled_from(
        ["missing.yaml", "../base.yaml", f"main.{syntax}", "netspec:lenet5", "netspec:nope"]))
    base_syntax = draw(st.sampled_from(["yaml", "ns"]))
    if path == "base":
        path = f"base.{base_syntax}"
    link = Extends(path, base if path.startswith("base.") else None, base_syntax)
    params = {k: ("false" if v == "true" else str(draw(st.integers(1, 6))))
              for k, v in base.params.items() if k != "fw" and draw(st.booleans())}
    if draw(st.integers(0, 3)) == 0:
        params["extra"] = str(draw(st.integers(1, 6)))
    ctx = replace(base_ctx, params={**base.params, **params})
    blocks = [_block(draw, replace(ctx, blocks=[b for b in base.blocks if b is not old]), old.name)
              for old in base.blocks if draw(st.integers(0, 2)) == 0]
    ctx = replace(ctx, blocks=[*(b for b in base.blocks if b.name not in {n.name for n in blocks}), *blocks])
    funcs = [Function(f.name, f.args, draw(st.sampled_from(["v + 1", "v * 3", "v // 0"])))
             for f in base.functions if draw(st.booleans())]
    shape = base.input if draw(st.integers(0, 3)) else tuple(max(1, n + draw(st.integers(-2, 2))) for n in base.input)
    layers = _layers(draw, replace(ctx, rank=len(shape or (1, 1, 1))), shape or (1, 1, 1)) \
        if draw(st.integers(0, 2)) == 0 else []
    init = inits(draw, ctx, layers or base.layers) if draw(st.integers(0, 3)) == 0 else []
    return SpecTree(None if shape == base.input else shape, params, blocks, layers, functions=funcs, init=init,
                    extends=link, name="preset")


@st.composite
def spec_trees(draw, syntax: str = "yaml") -> SpecTree:
    shape = draw(INPUTS)
    ctx = Ctx({}, [], rank=len(shape))
    ctx.functions = functions(draw, ctx) if draw(st.integers(0, 4)) == 0 else []
    ctx.params.update(_params(draw, ctx))
    for index in range(draw(st.integers(0, 2))):
        ctx.blocks.append(_block(draw, ctx, f"blk{index}"))
    layers = _layers(draw, ctx, shape)
    taps = [e.name for e in layers if isinstance(e, Wrap) and e.word == "output"]
    outputs = ["main", *taps] if taps and draw(st.booleans()) else []
    if draw(st.integers(0, 7)) == 0:  # outputs that read entries by reference, at the top level or inside one
        named = [e.name for e in layers if e.name]
        picked = draw(st.lists(st.sampled_from(named * 4 + ["nope", "a.0"]), min_size=1, max_size=2)) if named else []
        outputs = (outputs or ["main", *taps]) + ["$" + p for p in picked]
    tree = SpecTree(shape, ctx.params, ctx.blocks, layers, outputs, ctx.functions)
    for weight, declaration in DECLARATIONS:
        if draw(st.integers(0, weight - 1)) == 0:
            tree = declaration(draw, tree, ctx, syntax)
    return tree


def _with_init(draw, tree: SpecTree, ctx: Ctx, syntax: str) -> SpecTree:
    return replace(tree, init=inits(draw, ctx, tree.layers))


# (one in N, strategy) pairs: the declarations a drawn spec gets besides its entries, each with that chance;
# a strategy takes the tree so far and returns the tree with the declaration. (`functions` are drawn first,
# one spec in five, since params, blocks and entries call them; block `Choice`s come with blocks.)
DECLARATIONS: list[tuple[int, Callable]] = [(5, _with_init), (8, extends)]


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


class Sample(str):
    """A drawn spec's text (the spec read first), the other files it reads, and the checkpoint check it gets.

    `files` maps a file name to its text, for the family an `extends` names: the spec is then read from a folder
    holding them beside it (`main.yaml` or `main.ns`). `checkpoint` is None, "intact", "budget", "tamper",
    "flip@F" or "truncate@F" (F in [0, 1): where in the checkpoint's bytes)."""

    files: dict[str, str]
    checkpoint: str | None

    def __new__(cls, text: str, files: dict[str, str] | None = None, checkpoint: str | None = None) -> "Sample":
        made = super().__new__(cls, text)
        made.files = dict(files or {})
        made.checkpoint = checkpoint
        return made

    def shown(self) -> str:
        """The text, then each other file after a `# --- NAME` line, then the checkpoint check."""
        parts = [str(self)] + [f"# --- {name}\n{text}" for name, text in self.files.items()]
        return "".join(parts) + (f"# --- checkpoint: {self.checkpoint}\n" if self.checkpoint else "")


def shown(text: str) -> str:
    return text.shown() if isinstance(text, Sample) else text


CHECKPOINTS = st.one_of(
    st.sampled_from(["intact", "intact", "budget", "tamper"]),
    st.builds(lambda how, at: f"{how}@{at / 10_000:.4f}", st.sampled_from(["flip", "flip", "truncate"]),
              st.integers(0, 9_999)),
)


@st.composite
def spec_texts(draw, syntax: str) -> Sample:
    """A spec in `syntax` (yaml or ns): mostly as generated, one in eight with a text edit; about one in six gets a
    checkpoint check (hypothesis draws small integers more often, so each "one in N" is a little more)."""
    tree = draw(spec_trees(syntax))
    text = tree.yaml() if syntax == "yaml" else tree.ns()
    if draw(st.integers(0, 7)) == 0:
        text = draw(text_edits(text))
    checkpoint = draw(CHECKPOINTS) if draw(st.integers(0, 5)) == 0 else None
    return Sample(text, tree.extends.files() if tree.extends is not None else {}, checkpoint)
