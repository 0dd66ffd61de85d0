"""The flow pass: every reference (`$enc`, `$body.layer2`, `$halves.0`, `$input`) linked to the node it names,
and the outputs a network returns, checked so that each edge reads a tensor computed before it.

A reference is looked up by module name, nearest scope first: the entries before it in its own sequence (or
branches, or residual body), then the entries before the enclosing entry, and so on up to the enclosing block
call (a block sees its own entries and `$input`, not its caller's) or the network's top level. `.name` steps
into an entry, `.0` picks a part of a split. Runs after naming (resolve._Namer), so names are module names.
"""

from __future__ import annotations

from typing import Any, Iterator, Optional

from . import graph as g
from ..diagnostics import Collector, Loc, did_you_mean

INPUT = "input"  # `$input`: the input of the enclosing block call, or the network's


def _visible(nodes: list[g.Node]) -> Iterator[g.Node]:
    """The entries a name can pick among `nodes`: each, and the named entries inside the unnamed containers
    of a flat module (which are data flow only, their entries hoisted to the flat module)."""
    for child in nodes:
        if child.virtual and child.module and child.children:
            yield from _visible(child.children)
        else:
            yield child


def _named(nodes: list[g.Node], name: str) -> Optional[g.Node]:
    for node in reversed(nodes):  # the nearest first
        if node.name == name:
            return node
    return None


class _Linker:
    def __init__(self, errors: Collector):
        self.errors = errors

    def error(self, code: str, message: str, ref: g.Ref) -> None:
        ref.reported = True
        self.errors.error(code, message, ref.path or "(root)", ref.loc)

    def walk(self, root: g.Seq, unlinked_only: bool = False) -> None:
        """Link every reference (or only those not linked yet), in order, with the chain of its ancestors."""
        chain: list[g.Node] = []  # root ... the node whose children are being visited
        layer, ref, resize = g.Layer, g.Ref, g.Resize

        def visit(node: g.Node) -> None:
            chain.append(node)
            for child in node.children:
                kind = type(child)
                if kind is layer:  # most nodes: no reference, no children
                    continue
                if kind is ref or isinstance(child, ref):
                    if not (unlinked_only and (child.source is not None or child.reported)):
                        self.link(child, (*chain, child))
                elif isinstance(child, resize) and child.like is not None and not (
                        unlinked_only and (child.like.source is not None or child.like.reported)):
                    child.like.path = child.path
                    self.link(child.like, (*chain, child))
                if child.children:
                    visit(child)
            chain.pop()

        visit(root)
        del visit  # it holds itself through its closure: a cycle that only the collector would free

    def link(self, ref: g.Ref, chain: tuple[g.Node, ...]) -> None:
        """`chain`: root ... parent, then the node that holds the reference (the Ref itself, or a Resize)."""
        first, *rest = ref.target.split(".")
        if first == INPUT:
            block = next((n for n in reversed(chain[:-1]) if n.block is not None), chain[0])
            ref.source, ref.block_input = block, True
            if rest:
                self.error("invalid-reference", f"'${ref.target}': `$input` is a tensor, with nothing inside it to "
                           "name; write `$input` alone", ref)
            return
        seen: list[str] = []
        found = None
        for depth in range(len(chain) - 2, -1, -1):
            scope, via = chain[depth], chain[depth + 1]
            children = scope.children
            before = list(_visible(children[: _position(children, via)]))
            found = _named(before, first)
            seen += [n.name for n in before if n.name]
            if found is not None or scope.block is not None:
                break
        if found is None:
            self.unknown(ref, first, chain, seen)
            return
        for step in rest:
            found = self.step(ref, found, step)
            if found is None:
                return
        ref.source = found if not isinstance(found, tuple) else found[0]
        ref.part = None if not isinstance(found, tuple) else found[1]

    def step(self, ref: g.Ref, node: Any, name: str) -> Any:
        """One `.name` or `.N` into `node`; None after reporting."""
        if isinstance(node, tuple):
            self.error("invalid-reference", f"'${ref.target}': a part of a split has nothing inside it", ref)
            return None
        while isinstance(node, g.Ref) and node.source is not None and not node.block_input:
            node = node.source if node.part is None else (node.source, node.part)
            if isinstance(node, tuple):
                return self.step(ref, node, name)
        if isinstance(node, g.Split):
            if name.isdigit() and int(name) < node.parts:
                return (node, int(name))
            self.error("invalid-reference", f"'${ref.target}': split '{node.name}' has parts 0 to {node.parts - 1}, "
                       f"not '{name}'", ref)
            return None
        entries = list(_visible(node.children))
        found = _named(entries, name)
        if found is None:
            names = [n.name for n in entries if n.name]
            listed = f"; its entries: {', '.join(names[:12])}{', ...' if len(names) > 12 else ''}" if names else \
                ", which has no entries inside it"
            self.error("unknown-reference", f"'${ref.target}': '{node.name}' has no entry '{name}'"
                       f"{did_you_mean(name, names)}{listed}", ref)
        return found

    def unknown(self, ref: g.Ref, name: str, chain: tuple[g.Node, ...], seen: list[str]) -> None:
        for ancestor in chain[1:-1]:
            if ancestor.name == name:
                inner = ref.target.split(".", 1)[1] if "." in ref.target else next(
                    (n.name for n in _visible(ancestor.children) if n.name and not n.name.startswith("$")), "...")
                self.error("cyclic-reference", f"'${ref.target}' names '{name}', which contains this reference: its "
                           f"output is computed from this entry (a cycle); inside '{name}', name its entries "
                           f"directly (such as `${inner}`), or refer to an entry before it", ref)
                return
        for depth in range(len(chain) - 2, -1, -1):
            scope, via = chain[depth], chain[depth + 1]
            children = scope.children
            later = _named(list(_visible(children[_position(children, via) + 1:]))[::-1], name)
            if later is not None:
                where = f" (line {later.loc.line})" if later.loc is not None else ""
                self.error("forward-reference", f"'${ref.target}' names '{name}'{where}, which comes after this "
                           "entry; an entry can read only outputs computed before it: move it, or refer to an "
                           "earlier entry", ref)
                return
            if scope.block is not None:
                break
        block = next((n.block for n in reversed(chain[:-1]) if n.block is not None), None)
        scope_note = f" (a block sees only its own entries and `$input`; pass what '{block}' needs as its input)" \
            if block is not None else ""
        visible = [n for n in dict.fromkeys(seen) if not n.startswith("$") and not n.isdigit()]
        self.error("unknown-reference", f"unknown reference '${ref.target}'{did_you_mean(name, [*visible, INPUT])}"
                   f"{scope_note}; before it: {', '.join(visible[:12]) or 'nothing but $input'}", ref)


def _position(children: list[g.Node], via: g.Node) -> int:
    for index, node in enumerate(children):
        if node is via:
            return index
    raise AssertionError("the reference's chain passes through a node that is not among its parent's children")


def link_references(root: g.Seq, errors: Collector, unlinked_only: bool = False) -> None:
    """Set `source` (and `part`, `block_input`) on every reference in the graph (or on those not linked yet,
    after infer expanded an entry that waited for its input's size); report the bad ones."""
    _Linker(errors).walk(root, unlinked_only)


def taps(root: g.Seq) -> list[g.Node]:
    """Every extra output (`output:` entry), at any depth, in order."""
    found: list[g.Node] = [root] if root.tap else []
    add, layer = found.append, g.Layer

    def visit(nodes: list[g.Node]) -> None:
        for node in nodes:
            if node.tap:
                add(node)
            if type(node) is not layer:  # a layer has no children
                children = node.children
                if children:
                    visit(children)

    visit(root.children)
    del visit  # as in _Linker.walk: no cycle left for the collector
    return found


def output_reference(root: g.Seq, text: str, loc: Optional[Loc], errors: Collector, where: str) -> Optional[g.Ref]:
    """A reference in `outputs:` (or `load(outputs=...)`), looked up from the end of the network: any top-level
    entry, and by path anything inside one."""
    ref = g.Ref(None, where, loc, target=text[1:] if text.startswith("$") else text)
    ref.name = text
    linker = _Linker(errors)
    first, *rest = ref.target.split(".")
    if first == INPUT and not rest:
        ref.source, ref.block_input = root, True
        return ref
    found: Any = _named(list(_visible(root.items)), first)
    if found is None:
        names = [n.name for n in _visible(root.items) if n.name]
        linker.error("unknown-reference", f"outputs names '{text}', which is not an entry of the network"
                     f"{did_you_mean(first, names)}; its top-level entries: {', '.join(names[:12])}", ref)
        return None
    for step in rest:
        found = linker.step(ref, found, step)
        if found is None:
            return None
    ref.source = found if not isinstance(found, tuple) else found[0]
    ref.part = None if not isinstance(found, tuple) else found[1]
    return ref
