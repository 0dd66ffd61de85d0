"""The link pass: a spec that `extends` another is merged onto it (ParsedSpec -> ParsedSpec without `extends`).

A preset builds on a family: its params replace the family's defaults (and may add new ones),
its blocks replace blocks of the same name, its init entries replace the family's per tensor, and
its input, layers, outputs and description replace the family's when given. `extends` may name a
list of specs (a segmentation family on two backbone families): they are merged in that order
first, and two of them may not define one block or function differently. The file named by
`extends` is read relative to the spec that names it and must lie inside the folder of the spec
the chain started from, so a spec from elsewhere cannot make netspec read arbitrary files. Two
other places are reached on purpose: `netspec:NAME` names a spec of the library that comes with
netspec (netspec/library.py), and a relative name not found beside the spec is looked up in each
folder of NETSPEC_PATH, again without leaving that folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from .. import library
from ..diagnostics import Diagnostic, SpecError, UsageError, did_you_mean
from .spec import Locations, ParsedSpec, Spec, constructed_spec

MAX_EXTENDS = 8  # presets on families on families...

_REPLACED_WHOLE = ("input", "layers", "outputs", "description")


def _merge(base: Spec, preset: Spec) -> Spec:
    init = {k: dict(v) for k, v in base.init.items()}
    for kind, table in preset.init.items():
        init[kind] = {**init.get(kind, {}), **table}
    return constructed_spec(
        name=preset.name,
        description=preset.description or base.description,
        input=preset.input or base.input,
        params={**base.params, **preset.params},
        functions={**base.functions, **preset.functions},
        blocks={**base.blocks, **preset.blocks},
        layers=preset.layers or base.layers,
        outputs=preset.outputs or base.outputs,
        init=init,
    )


def _merge_locations(base: Locations, preset: Locations, spec: Spec) -> Locations:
    replaced = {key for key in _REPLACED_WHOLE if getattr(spec, key)}
    table = dict(base.table)  # a copy keeps each key's hash; building a new table would hash every path again
    if replaced:
        for path in [p for p in table if p and p[0] in replaced]:
            del table[path]
    table.update(preset.table)
    return Locations(table, {**base.sources, **preset.sources})


def link(parsed: ParsedSpec, read: Callable[[str], ParsedSpec], root: Path | None = None,
         chain: tuple[str, ...] = ()) -> ParsedSpec:
    """Follow `extends` (read with `read`, a path -> ParsedSpec function) and merge; check what a spec must have.

    `extends` names one spec, or a list of them: the bases are merged in order (a later one's params, blocks,
    functions and init replace an earlier one's, and its input and layers win), then this spec on top."""
    spec = parsed.spec
    if spec.extends is None:
        _check_complete(parsed)
        return parsed
    here = Path(parsed.file) if not parsed.file.startswith("<") else None
    resolved = here.resolve() if here else None  # once: each resolve asks the file system about every folder
    root = root or (resolved.parent if resolved else Path.cwd().resolve())
    listed = isinstance(spec.extends, list)
    names = list(spec.extends) if listed else [spec.extends]
    if not names:
        where = parsed.locations.find(("extends",))
        raise SpecError([Diagnostic("extends", "the list names no spec; name the specs this one builds on, or "
                                               "leave `extends` out", "extends", where.loc)], parsed.locations.sources)
    bases = [_base(parsed, name, ("extends", index) if listed else ("extends",), read, root, chain, here, resolved)
             for index, name in enumerate(names)]
    if len(bases) > 1:
        _check_no_clash(parsed, names, bases, listed)
    merged, locations = bases[0].spec, bases[0].locations
    for base in bases[1:]:
        locations = _merge_locations(locations, base.locations, base.spec)
        merged = _merge(merged, base.spec)
    merged = _merge(merged, spec)
    locations = _merge_locations(locations, parsed.locations, spec)
    out = ParsedSpec(merged, locations, parsed.text, parsed.file, parsed.format)
    _check_complete(out)
    return out


def _base(parsed: ParsedSpec, extends: str, at: tuple, read: Callable[[str], ParsedSpec], root: Path,
          chain: tuple[str, ...], here: Path | None, resolved: Path | None) -> ParsedSpec:
    """The spec that `extends` (written at `at`) names, itself linked. `resolved`: `here` resolved."""
    where = parsed.locations.find(at)

    def fail(code: str, message: str) -> SpecError:
        return SpecError([Diagnostic(code, message, "extends", where.loc)], parsed.locations.sources)

    if len(chain) >= MAX_EXTENDS:
        raise fail("extends", f"more than {MAX_EXTENDS} specs extend one another")
    if extends.startswith(library.SCHEME):  # the library that comes with netspec
        found = library.find(extends)
        if found is None:
            written = extends[len(library.SCHEME):]
            raise fail("extends", f"'{extends}' is not in netspec's library"
                                  f"{did_you_mean(library.SCHEME + written, library.references())}")
        target, base_root = found.resolve(), library.root()
    else:
        if "\x00" in extends or not extends.strip():
            raise fail("extends", "the path is empty or holds a NUL byte; give the spec's file name")
        try:
            target, base_root = ((here.parent if here else Path.cwd()) / extends).resolve(), root
        except (OSError, RuntimeError, ValueError):  # a symbolic link loop, a path too long
            raise fail("extends", f"'{extends}' cannot be followed (a symbolic link loop or a path too long)") from None
        if not target.is_relative_to(root):
            raise fail("extends", f"'{extends}' is outside the folder {_shown(root)} of the spec being read; "
                                  "a spec may only extend specs in its own folder or below it, in a NETSPEC_PATH "
                                  "folder, or in the library (netspec:NAME)")
        if not target.is_file():
            target, base_root = _on_search_path(extends) or (target, root)
    if str(target) in chain or (resolved is not None and target == resolved):
        raise fail("extends", f"'{extends}' extends back to itself ({' -> '.join([*chain, str(target)])})")
    if not target.exists():  # a FIFO or a device is refused by the reader, below
        searched = "".join(f", nor in {_shown(folder)}" for folder in library.search_path())
        raise fail("extends", f"'{extends}' does not exist (looked for {_shown(target)}{searched})")
    try:
        return link(read(str(target)), read, base_root, (*chain, str(resolved if resolved else "<string>")))
    except UsageError as exc:  # not a regular file, unreadable, not a spec format: said where `extends` names it
        raise fail("extends", f"'{extends}' cannot be read: {exc}") from None
    except SpecError as exc:  # errors in the base spec keep their own locations; add the sources we know
        raise SpecError(exc.diagnostics, {**parsed.locations.sources, **exc.sources}) from None


def _check_no_clash(parsed: ParsedSpec, names: list[str], bases: list[ParsedSpec], listed: bool) -> None:
    """Two bases may not define one block or function differently, unless this spec defines it itself: one
    would silently replace the other inside the first base's own layers."""
    problems = []
    for what, field in (("block", "blocks"), ("function", "functions")):
        own = getattr(parsed.spec, field)
        first: dict[str, tuple[int, object]] = {}
        for index, base in enumerate(bases):
            for key, definition in getattr(base.spec, field).items():
                if key in first and first[key][1] != definition and key not in own:
                    earlier = first[key][0]
                    where = parsed.locations.find(("extends", index) if listed else ("extends",))
                    problems.append(Diagnostic(
                        "extends", f"{what} '{key}' is defined both by '{names[earlier]}' and by '{names[index]}', "
                                   f"differently; rename one, or define '{key}' in this spec to choose",
                        "extends", where.loc))
                first.setdefault(key, (index, definition))
    if problems:
        raise SpecError(problems, parsed.locations.sources)


def _on_search_path(extends: str) -> tuple[Path, Path] | None:
    """(file, its NETSPEC_PATH folder) for the first folder that holds `extends` without leaving it."""
    for folder in library.search_path():
        target = (folder / extends).resolve()
        if target.is_relative_to(folder) and target.is_file():
            return target, folder
    return None


def _shown(path: Path) -> str:
    """A path as the user would write it: relative to the working directory when it is below it."""
    try:
        return str(path.relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return str(path)


def _check_complete(parsed: ParsedSpec) -> None:
    missing = [key for key in ("input", "layers") if not getattr(parsed.spec, key)]
    if missing:
        where = parsed.locations.find(())
        raise SpecError([Diagnostic("missing-key", f"the spec has no `{key}` (give it here or in the spec it extends)",
                                    key, where.loc) for key in missing], parsed.locations.sources)
