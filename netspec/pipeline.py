"""The pipeline, end to end: source -> raw tree -> Spec -> Graph -> typed Graph -> nn.Module.

    parse     frontends.yaml_source.read_yaml  text          -> RawDoc (tree + source map)
    validate  frontends.validate.validate      RawDoc        -> ParsedSpec (Spec IR + locations)
              (`.ns` files: frontends.dsl.parse_ns does both, text -> ParsedSpec)
    link      ir.link.link                     ParsedSpec    -> ParsedSpec (`extends` merged in)
    resolve   ir.resolve.resolve               ParsedSpec    -> Graph (params, blocks, repeats expanded)
    infer     ir.infer.infer                   Graph         -> typed Graph (shapes, params, mult-adds)
    compile   backends.compile.compile_graph   typed Graph   -> nn.Module      (the only step that imports torch)

The front ends (netspec/frontends/) know the syntaxes, the IR and its passes (netspec/ir/) know neither the
syntaxes nor torch, and the back ends (netspec/backends/) turn a typed graph into modules, tables and pictures.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import math
import operator
import os
import stat
from collections import OrderedDict
from pathlib import Path
from typing import Any, Mapping, Union

from . import budgets, library
from .diagnostics import Collector, Diagnostic, Loc, SpecError, UsageError, escaped
from .files import FileProblem, FileTooLarge, read_regular
from .frontends.validate import validate
from .frontends.yaml_source import MAX_BYTES, read_yaml
from .ir import graph as g
from .ir.infer import forget_projections, infer
from .ir.link import link
from .ir.resolve import forget_validated, resolve
from .ir.spec import Locations, ParsedSpec, Spec
from .layers import REGISTRY
from .usage import check_build_arguments, check_format, check_outputs, check_source

DEFAULT_MAX_PARAMS = 1_000_000_000  # 4 GB of float32 weights (the largest library model, RegNetY-128GF, has 645M); raise with --max-params / max_params=
DEFAULT_MAX_ACTIVATIONS = 1_000_000_000  # values one sample's forward pass writes: 4 GB of float32
FORMATS = {".yaml": "yaml", ".yml": "yaml", ".ns": "ns"}  # the file extension picks the front end
Source = Union[str, os.PathLike, Spec, ParsedSpec]


@contextlib.contextmanager
def paused_gc():
    """The cyclic garbage collector paused for a static pass (see _gc_paused); on again afterwards if it was on."""
    if not gc.isenabled():  # already paused by an outer pass, or by the caller
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _gc_paused(fn):
    """Run a static pass with the cyclic garbage collector paused: the passes allocate many small objects that
    all stay alive until the pass returns, so the collections Python would run meanwhile free nothing and cost
    up to half the time of a 10,000-layer spec. The collector is switched back on (if it was on) however the
    pass ends; what it would have collected is collected later as usual."""

    @functools.wraps(fn)
    def paused(*args: Any, **kwargs: Any) -> Any:  # paused_gc, without a context manager made at each call
        if not gc.isenabled():
            return fn(*args, **kwargs)
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.enable()

    return paused


def read_source(source: str | os.PathLike, format: str | None = None) -> tuple[str, str, str]:
    """(text, file name, format) for a path or for spec text given directly."""
    check_source(source)
    if isinstance(source, os.PathLike):
        path, written = Path(os.fsdecode(source)), str(source)
    elif "\n" in source:
        return str(source), "<string>", format or "yaml"
    else:
        path, written = Path(source), source
        if not (path.suffix.lower() in FORMATS or _is_file(source) or source.startswith(library.SCHEME)
                or library.NAME.fullmatch(source) is not None):
            return str(source), "<string>", format or "yaml"
    # a name with a spec file's suffix is never a library name: no need to ask whether the file exists
    if written.startswith(library.SCHEME) or (library.is_name(written) and not _is_file(written)):
        found = library.find(written)
        if found is None:
            raise library.not_found(escaped(str(path)))
        path = found
    fmt = format or FORMATS.get(path.suffix.lower())
    if fmt is None and not path.is_dir():
        raise UsageError(f"{escaped(str(path))}: unknown spec format '{escaped(path.suffix)}'; use .yaml, .yml or .ns")
    return _read_text(str(path)), str(path), fmt


TEXT_CACHE_SIZE = 256  # spec files whose text is kept per process, with the stat that read it
TEXT_CACHE_CHARACTERS = 8 << 20  # and at most this much text among them


_texts: "OrderedDict[str, tuple[tuple, str]]" = OrderedDict()
_text_characters = [0]  # the length of the texts in _texts


def _read_text(name: str) -> str:
    """The text of the spec file `name`. A regular file read before in this process, whose size, modification
    and change times and inode are still those it had then, is not read again (its text is the same str, whose
    hash the parse cache already knows); anything else is read, and refused, as before."""
    limit = budgets.current().bytes(MAX_BYTES)
    try:
        info = os.stat(name)
    except (OSError, ValueError):  # read_regular says why, below
        info = None
    stamp = None
    if info is not None and stat.S_ISREG(info.st_mode) and info.st_size <= limit:
        stamp = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)
        hit = _texts.get(name)
        if hit is not None and hit[0] == stamp:
            _texts.move_to_end(name)
            return hit[1]
    try:
        data = read_regular(name, limit)
    except FileTooLarge as exc:
        raise SpecError([Diagnostic("file-too-large", f"{exc} (raise it with --max-bytes / max_bytes=)", "",
                                    Loc(name, 1, 1))]) from None
    except FileProblem as exc:
        raise UsageError(f"{escaped(name)}: {exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data[: exc.start].count(b"\n") + 1
        column = len(data[line_start : exc.start].decode("utf-8", errors="replace")) + 1
        raise SpecError([Diagnostic("encoding", "spec files must be UTF-8 text", "", Loc(name, line, column))]) from None
    if stamp is not None and len(data) == stamp[0]:  # the file stat saw, whole
        old = _texts.pop(name, None)
        _texts[name] = (stamp, text)
        _text_characters[0] += len(text) - (len(old[1]) if old else 0)
        while len(_texts) > 1 and (len(_texts) > TEXT_CACHE_SIZE or _text_characters[0] > TEXT_CACHE_CHARACTERS):
            _text_characters[0] -= len(_texts.popitem(last=False)[1][1])
    return text


def _is_file(text: str) -> bool:
    """Does spec text without a newline name an existing path (never an error: text is not a path)?"""
    try:
        return "\x00" not in text and os.path.lexists(text)
    except (OSError, ValueError):
        return False


@_gc_paused
def parse(source: Source, format: str | None = None, *, max_nodes: int | None = None,
          max_bytes: int | None = None) -> ParsedSpec:
    """Source (path, text, Spec) -> ParsedSpec: the first two passes, under the size budgets (netspec/budgets.py)."""
    if max_nodes is not None or max_bytes is not None:
        check_budgets(max_nodes, max_bytes)
        with budgets.within(max_nodes, max_bytes):
            return parse(source, format)
    if isinstance(source, ParsedSpec):
        return source
    if isinstance(source, Spec):
        return ParsedSpec(source, Locations(), "", "<spec>", "yaml")
    check_format(format)
    text, file, fmt = read_source(source, format)
    return parse_text(text, file, fmt)


PARSE_CACHE_SIZE = 256  # distinct texts whose parse is kept per process: every bundled spec and family, and then some
PARSE_CACHE_CHARACTERS = 8 << 20  # and at most this much text among them (the 105 bundled specs hold 114,000)
PARSE_CACHE_NAMES = 4  # names one text's parse is kept under: a family named on the command line and by `extends`


# (text, syntax, default name, layer registry, budgets) -> {file name -> its parse}
_parsed: "OrderedDict[tuple, dict[str, ParsedSpec]]" = OrderedDict()
_parsed_characters = [0]  # the length of the texts among _parsed's keys


# the registry's names and kinds when its key was last worked out, and the number standing for that key; each key
# seen -> its number
_registry_seen: list = [None, (), None]
_registry_numbers: dict[tuple, int] = {}


def _registry_key() -> int:
    """What parsing depends on besides the text: the layer kinds registered now (a plugin may add one), as a number
    standing for REGISTRY.key(). The key is worked out again only when a name or a kind (by identity) of the
    registry has changed: it is a function of those alone (netspec/layers/base.py)."""
    names, kinds = tuple(dict.keys(REGISTRY)), tuple(dict.values(REGISTRY))
    seen = _registry_seen
    if names != seen[0] or len(kinds) != len(seen[1]) or not all(map(operator.is_, kinds, seen[1])):
        key = REGISTRY.key()  # type: ignore[attr-defined]
        seen[:] = [names, kinds, _registry_numbers.setdefault(key, len(_registry_numbers))]
    return seen[2]


def parse_text(text: str, file: str = "<string>", format: str = "yaml") -> ParsedSpec:
    """Spec text -> ParsedSpec, in the given syntax.

    A text parsed before in this process (same text, syntax, default name and layer registry) is not parsed
    again: `extends` reads a family once for all its presets. The key is the text itself, so a file that
    changed on disk is parsed afresh whatever its modification time says. A text parsed before under another
    file name (a family named on the command line, and by `extends` as an absolute path) is the same parse with
    that name in its positions. Each caller gets its own ParsedSpec and Locations (the Spec is frozen), so one
    caller's changes never reach another.
    """
    default_name = _default_name(file)
    key = (text, format, default_name, _registry_key(), budgets.current().key())
    named = _parsed.get(key)
    if named is None:
        hit = _parse_text(text, file, format, default_name)  # a SpecError is raised, never cached
        _parsed[key] = {file: hit}
        _parsed_characters[0] += len(text)
        while len(_parsed) > 1 and (len(_parsed) > PARSE_CACHE_SIZE
                                    or _parsed_characters[0] > PARSE_CACHE_CHARACTERS):
            _parsed_characters[0] -= len(_parsed.popitem(last=False)[0][0])
        return _copy(hit)
    _parsed.move_to_end(key)
    hit = named.get(file)
    if hit is None:
        hit = _renamed(next(iter(named.values())), file)
        if len(named) >= PARSE_CACHE_NAMES:
            del named[next(iter(named))]  # the first kept
        named[file] = hit
    return _copy(hit)


@functools.lru_cache(maxsize=1024)
def _default_name(file: str) -> str:
    """The name of a spec that gives none: its file's stem (`<string>` and the like: network)."""
    return Path(file).stem if not file.startswith("<") else "network"


def _copy(parsed: ParsedSpec) -> ParsedSpec:
    locations = Locations(dict(parsed.locations.table), dict(parsed.locations.sources))
    return ParsedSpec(parsed.spec, locations, parsed.text, parsed.file, parsed.format)


def _renamed(parsed: ParsedSpec, file: str) -> ParsedSpec:
    """The parse of the same text under the file name `file`: the same Spec, each position in the old file's name
    moved to the new one (one new Loc for each old one)."""
    old = parsed.file
    table: dict = {}
    moved: dict[int, Loc] = {}  # id of an old Loc -> its new one: several paths may share a position
    for path, located in parsed.locations.table.items():
        loc = located.loc
        if loc is not None and loc.file == old:
            new = moved.get(id(loc))
            if new is None:
                new = moved[id(loc)] = Loc(file, loc.line, loc.col)
            located = located.moved(new)
        table[path] = located
    sources = {file if name == old else name: text for name, text in parsed.locations.sources.items()}
    return ParsedSpec(parsed.spec, Locations(table, sources), parsed.text, file, parsed.format)


def clear_caches() -> None:
    """Forget every file's text, every parsed text, every validated layer argument and every typed layer (the
    expression cache is netspec.ir.expr.parse_expr.cache_clear)."""
    _parsed.clear()
    _parsed_characters[0] = 0
    _texts.clear()
    _text_characters[0] = 0
    forget_validated()
    forget_projections()


def _parse_text(text: str, file: str, format: str, default_name: str) -> ParsedSpec:
    if format == "ns":  # the text syntax (netspec/frontends/dsl.py): same Spec, same Locations
        from .frontends.dsl import parse_ns

        return parse_ns(text, file, default_name)
    if format != "yaml":
        raise UsageError(f"unknown spec format '{format}'; use yaml or ns")
    parsed = validate(read_yaml(text, file), default_name)
    parsed.format = format
    return parsed


def check_budgets(max_nodes: Any = None, max_bytes: Any = None) -> None:
    """The size budgets of the API and the command line: None (the default) or a positive whole number."""
    budgets.check_budget_value("max_nodes", max_nodes)
    budgets.check_budget_value("max_bytes", max_bytes)


@_gc_paused
def parse_linked(source: Source, format: str | None = None, *, max_nodes: int | None = None,
                 max_bytes: int | None = None) -> ParsedSpec:
    """Source -> ParsedSpec with every `extends` merged in (each file read under the same budgets)."""
    check_budgets(max_nodes, max_bytes)
    with budgets.within(max_nodes, max_bytes):
        return link(parse(source, format), read=parse)


@_gc_paused
def typed_graph(parsed: ParsedSpec, params: Mapping[str, Any] | None = None,
                input_shape: tuple[int, ...] | None = None, max_nodes: int | None = None,
                outputs: Any = None) -> g.Graph:
    """ParsedSpec -> typed Graph: resolve, then infer."""
    check_budgets(max_nodes)
    return infer(resolve(parsed, params, input_shape, max_nodes, outputs),
                 Collector(sources=dict(parsed.locations.sources)))


@_gc_paused
def analyse(source: Source, params: Mapping[str, Any] | None = None,
            input_shape: tuple[int, ...] | None = None, format: str | None = None,
            max_nodes: int | None = None, max_bytes: int | None = None, outputs: Any = None) -> g.Graph:
    """Source -> typed Graph: everything that needs no torch."""
    check_build_arguments(params, input_shape, format=format)
    check_budgets(max_nodes, max_bytes)
    check_outputs(outputs)
    with budgets.within(max_nodes, max_bytes):
        return typed_graph(parse_linked(source, format), params, input_shape, max_nodes, outputs)


def check_budget(graph: g.Graph, max_params: int | None, sources: dict[str, str] | None = None) -> None:
    """Refuse, before any allocation, a network with more parameters than the budget."""
    if max_params is None or graph.root.params <= max_params:
        return
    biggest = max((n for n in graph.walk() if not n.children), key=lambda n: n.params)
    raise SpecError([Diagnostic(
        "param-budget",
        f"the network has {graph.root.params:,} parameters, over the budget of {max_params:,} "
        f"(the largest layer, {biggest.op}, has {biggest.params:,}); raise the budget with --max-params / max_params=",
        biggest.path, biggest.loc,
    )], sources)


def check_activations(graph: g.Graph, max_values: int | None, parsed: ParsedSpec) -> None:
    """Refuse, before running it, a forward pass that would write more values than the budget."""
    values = math.prod(graph.input_shape) + sum(math.prod(n.out_shape) for n in graph.walk() if not n.children)
    if max_values is None or values <= max_values:
        return
    where = parsed.locations.find(("input",))
    raise SpecError([Diagnostic(
        "activation-budget",
        f"a forward pass on one {'x'.join(map(str, graph.input_shape))} sample would write {values:,} values "
        f"({values * 4 / 2**30:,.1f} GB), over the budget of {max_values:,}; use a smaller --input, "
        "or raise the budget with --max-activations",
        "input", where.loc,
    )], parsed.locations.sources)


def build(source: Source, params: Mapping[str, Any] | None = None, *, input_shape: tuple[int, ...] | None = None,
          device: Any = None, seed: int | None = None, max_params: int | None = DEFAULT_MAX_PARAMS,
          format: str | None = None, max_nodes: int | None = None, max_bytes: int | None = None,
          outputs: Any = None):
    """Source -> nn.Module: the whole pipeline."""
    check_build_arguments(params, input_shape, seed, max_params, format)
    check_budgets(max_nodes, max_bytes)
    check_outputs(outputs)
    with paused_gc(), budgets.within(max_nodes, max_bytes):
        parsed = link(parse(source, format), read=parse)               # text -> tree -> Spec, extends merged
        graph = infer(resolve(parsed, params, input_shape, max_nodes, outputs),  # Spec -> Graph -> typed Graph
                      Collector(sources=dict(parsed.locations.sources)))
    check_budget(graph, max_params, parsed.locations.sources)           # before any allocation
    from .backends.compile import compile_graph  # torch is imported here, and only on this path

    return compile_graph(graph, device=device, seed=seed)
