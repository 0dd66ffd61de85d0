"""The link pass: a spec that `extends` another is merged onto it (ParsedSpec -> ParsedSpec without `extends`).

A preset builds on a family: its params replace the family's defaults (and may add new ones),
its blocks replace blocks of the same name, its init entries replace the family's per tensor, and
its input, layers, outputs and description replace the family's when given. The file named by
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
from .spec import Locations, ParsedSpec, Spec

MAX_EXTENDS = 8  # presets on families on families...

_REPLACED_WHOLE = ("input", "layers", "outputs", "description")


def _merge(base: Spec, preset: Spec) -> Spec:
    init = {k: dict(v) for k, v in base.init.items()}
    for kind, table in preset.init.items():
        init[kind] = {**init.get(kind, {}), **table}
    return Spec(
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
    table = {p: v for p, v in base.table.items() if not (p and p[0] in replaced)}
    table.update(preset.table)
    return Locations(table, {**base.sources, **preset.sources})


def link(parsed: ParsedSpec, read: Callable[[str], ParsedSpec], root: Path | None = None,
         chain: tuple[str, ...] = ()) -> ParsedSpec:
    """Follow `extends` (read with `read`, a path -> ParsedSpec function) and merge; check what a spec must have."""
    spec = parsed.spec
    here = Path(parsed.file) if not parsed.file.startswith("<") else None
    root = root or (here.resolve().parent if here else Path.cwd().resolve())
    if spec.extends is None:
        _check_complete(parsed)
        return parsed
    where = parsed.locations.find(("extends",))

    def fail(code: str, message: str) -> SpecError:
        return SpecError([Diagnostic(code, message, "extends", where.loc)], parsed.locations.sources)

    if len(chain) >= MAX_EXTENDS:
        raise fail("extends", f"more than {MAX_EXTENDS} specs extend one another")
    if spec.extends.startswith(library.SCHEME):  # the library that comes with netspec
        found = library.find(spec.extends)
        if found is None:
            written = spec.extends[len(library.SCHEME):]
            raise fail("extends", f"'{spec.extends}' is not in netspec's library"
                                  f"{did_you_mean(library.SCHEME + written, library.references())}")
        target, base_root = found.resolve(), library.root()
    else:
        if "\x00" in spec.extends or not spec.extends.strip():
            raise fail("extends", "the path is empty or holds a NUL byte; give the spec's file name")
        try:
            target, base_root = ((here.parent if here else Path.cwd()) / spec.extends).resolve(), root
        except (OSError, RuntimeError, ValueError):  # a symbolic link loop, a path too long
            raise fail("extends", f"'{spec.extends}' cannot be followed (a symbolic link loop or a path too long)") from None
        if not target.is_relative_to(root):
            raise fail("extends", f"'{spec.extends}' is outside the folder {_shown(root)} of the spec being read; "
                                  "a spec may only extend specs in its own folder or below it, in a NETSPEC_PATH "
                                  "folder, or in the library (netspec:NAME)")
        if not target.is_file():
            target, base_root = _on_search_path(spec.extends) or (target, root)
    if str(target) in chain or (here is not None and target == here.resolve()):
        raise fail("extends", f"'{spec.extends}' extends back to itself ({' -> '.join([*chain, str(target)])})")
    if not target.exists():  # a FIFO or a device is refused by the reader, below
        searched = "".join(f", nor in {_shown(folder)}" for folder in library.search_path())
        raise fail("extends", f"'{spec.extends}' does not exist (looked for {_shown(target)}{searched})")
    try:
        base = link(read(str(target)), read, base_root, (*chain, str(here.resolve() if here else "<string>")))
    except UsageError as exc:  # not a regular file, unreadable, not a spec format: said where `extends` names it
        raise fail("extends", f"'{spec.extends}' cannot be read: {exc}") from None
    except SpecError as exc:  # errors in the base spec keep their own locations; add the sources we know
        raise SpecError(exc.diagnostics, {**parsed.locations.sources, **exc.sources}) from None
    merged = _merge(base.spec, spec)
    locations = _merge_locations(base.locations, parsed.locations, spec)
    out = ParsedSpec(merged, locations, parsed.text, parsed.file, parsed.format)
    _check_complete(out)
    return out


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
