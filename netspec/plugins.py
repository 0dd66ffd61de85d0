"""Loading layer-kind plugins: modules or files named on the command line or in NETSPEC_PLUGINS, and installed
packages' `netspec.layers` entry points. A plugin registers its kinds with @register_layer when imported.

    netspec check --plugin my_kinds.py --plugin mypackage.layers spec.yaml
    NETSPEC_PLUGINS=my_kinds.py:mypackage.layers netspec check spec.yaml   # os.pathsep between entries

    # in an installed package's pyproject.toml: its kinds reach every command with no flag
    [project.entry-points."netspec.layers"]
    mykinds = "mypackage.layers"
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Iterable

from .diagnostics import UsageError

ENV_VAR = "NETSPEC_PLUGINS"
ENTRY_POINT_GROUP = "netspec.layers"

_loaded_entry_points = False
# group -> whether a package may declare it, from the one look at the installed packages a command starts with
# (netspec.cli.main: for its own group and pydantic's); each answer is read once, and forgotten when the command ends
_looked_up: dict[str, bool] = {}


def _module_name(path: Path) -> str:
    """A stable module name for a plugin file, so that loading it again finds the same module."""
    digest = hashlib.sha1(str(path).encode("utf-8")).hexdigest()[:8]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"_netspec_plugin_{stem}_{digest}"


def _failed(what: str, exc: BaseException) -> UsageError:
    if os.environ.get("NETSPEC_DEBUG"):
        raise exc
    return UsageError(f"plugin {what} failed to load: {type(exc).__name__}: {exc}")


def load_plugin(target: str) -> None:
    """Import one plugin: a Python file (a path ending .py), a package folder, or an importable module name
    (looked for on sys.path, then in the current folder).

    A plugin named again is run again, as a notebook's reload does: its kinds are registered anew by the
    same classes, which is not a clash (see register_layer).
    """
    target = target.strip()
    if not target:
        return
    path = Path(target)
    if path.is_dir() and (path / "__init__.py").is_file():  # a package folder: import it from its parent
        path, target = path.resolve().parent, path.resolve().name
        _import(target, path)
        return
    if target.endswith(".py") or path.is_file():
        if not path.is_file():
            raise UsageError(f"plugin {target}: no such file")
        resolved = path.resolve()
        name = _module_name(resolved)
        spec = importlib.util.spec_from_file_location(name, resolved)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[name]
            raise _failed(target, exc) from None
        return
    _import(target, Path.cwd())


def _import(name: str, folder: Path) -> None:
    """Import (or reload) the module `name`, with `folder` at the end of sys.path while it is looked for."""
    added = str(folder) not in sys.path
    if added:
        sys.path.append(str(folder))
    try:
        if name in sys.modules:
            try:
                importlib.reload(sys.modules[name])
                return
            except ModuleNotFoundError:  # imported from a folder that is gone: forget it, look again
                root = name.split(".")[0]
                for stale in [m for m in sys.modules if m == root or m.startswith(root + ".")]:
                    del sys.modules[stale]
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise UsageError(f"plugin {name}: no module named '{exc.name}' (give a .py file, a package folder or "
                             "an importable module; is the package installed?)") from None
        raise _failed(name, exc) from None
    except Exception as exc:
        raise _failed(name, exc) from None
    finally:
        if added:
            sys.path.remove(str(folder))


def load_entry_points() -> None:
    """Import every installed `netspec.layers` entry point (once per process; importlib.metadata is asked only
    when an installed package's entry_points.txt names the group, see _may_declare_entry_points).

    An entry point names a module (`mypackage.layers`), whose import registers its kinds, or an object
    in it (`mypackage.layers:SeparableConv2d`): a LayerKind class is registered, a function is called.
    """
    global _loaded_entry_points
    if _loaded_entry_points:
        return
    _loaded_entry_points = True
    if not _answer(ENTRY_POINT_GROUP):
        return
    import importlib.metadata

    from .layers import REGISTRY, LayerKind, register_layer

    for point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = point.load()
            if isinstance(obj, type) and issubclass(obj, LayerKind):
                if type(REGISTRY.get(getattr(obj, "name", ""))) is not obj:
                    register_layer(obj)
            elif callable(obj) and not isinstance(obj, type):
                obj()
        except UsageError:
            raise
        except Exception as exc:
            dist = point.dist.name if point.dist is not None else "an installed package"
            raise _failed(f"{point.value} (entry point '{point.name}' of {dist})", exc) from None


def _may_declare_entry_points(group_name: str = ENTRY_POINT_GROUP) -> bool:
    """Could an installed distribution declare an entry point of the group (`netspec.layers`)? False only when
    importlib.metadata would find none: every finder of distributions is the standard path finder, every entry
    of sys.path a folder or missing, and no `*.dist-info` or `*.egg-info` folder in them has an entry_points.txt
    naming the group (a zip, an egg or anything unreadable answers True, and importlib.metadata looks). Reading
    those files is a sixth of the cost of importlib.metadata's own scan, which parses every entry point of every
    package, and needs no import of importlib.metadata (with email, zipfile and csv)."""
    return group_name in _may_declare((group_name,))


def _may_declare(group_names: tuple[str, ...]) -> set[str]:
    """Those of the groups an installed distribution could declare, by one look at the files (as above); all of
    them wherever the look cannot tell."""
    import importlib.machinery

    every = set(group_names)
    for finder in sys.meta_path:
        if finder is not importlib.machinery.PathFinder and getattr(finder, "find_distributions", None) is not None:
            return every
    groups = [(name, name.encode("utf-8")) for name in group_names]
    found: set[str] = set()
    for entry in sys.path:
        if not isinstance(entry, str):
            return every
        try:
            names = os.listdir(entry or ".")
        except NotADirectoryError:  # a zip file on the path
            return every
        except OSError:  # missing or unreadable: importlib.metadata finds nothing there either
            continue
        for name in names:
            lowered = name.lower()
            if lowered.endswith((".dist-info", ".egg-info")):
                try:
                    with open(os.path.join(entry or ".", name, "entry_points.txt"), "rb") as file:
                        text = file.read()
                except (FileNotFoundError, NotADirectoryError):  # no entry points, or an egg-info file
                    continue
                except OSError:
                    return every
                found.update(group for group, written in groups if written in text)
                if found == every:
                    return every
            elif lowered.endswith(".egg"):
                return every
    return found


def look_up_entry_points() -> None:
    """Look at the installed packages once for both groups a command asks about, netspec's and pydantic's plugins
    (at its start: the command's plugins, then its first schema); forget_entry_points drops what is left."""
    found = _may_declare((ENTRY_POINT_GROUP, "pydantic"))
    _looked_up.update({ENTRY_POINT_GROUP: ENTRY_POINT_GROUP in found, "pydantic": "pydantic" in found})


def forget_entry_points() -> None:
    """Drop the answers of look_up_entry_points that no one read: a later question looks at the files again."""
    _looked_up.clear()


def _answer(group_name: str) -> bool:
    """_may_declare_entry_points(group_name), read from the command's look if it has the answer (once)."""
    known = _looked_up.pop(group_name, None)
    return _may_declare_entry_points(group_name) if known is None else known


def spare_pydantic_plugin_scan() -> None:
    """Let pydantic's plugin loader skip importlib.metadata where no installed package can declare a plugin.

    At the first schema of a process, pydantic looks for its plugins with importlib.metadata's
    `entry_points(group="pydantic")`, which imports importlib.metadata (email, zipfile, csv, socket with it) and
    parses every entry point of every installed package: about a tenth of a whole `netspec summary` process.
    Here its loader module is imported with its `entry_points` bound to `_entry_points`, which answers no entry
    points only where `_may_declare_entry_points` proves importlib.metadata would find none, and asks
    importlib.metadata otherwise; the loader itself (PYDANTIC_DISABLE_PLUGINS, loading what it finds) is
    pydantic's, unchanged. Nothing is done once either module is imported, and a loader that wants more of
    importlib.metadata than `entry_points` fails to import here and is imported as ever when pydantic needs it."""
    if "pydantic.plugin._loader" in sys.modules or "importlib.metadata" in sys.modules:
        return
    import types

    stand_in = types.ModuleType("importlib.metadata")
    stand_in.entry_points = _entry_points  # type: ignore[attr-defined]
    sys.modules["importlib.metadata"] = stand_in
    try:
        import pydantic.plugin._loader  # noqa: F401  binds `entry_points` to _entry_points
    except (ImportError, AttributeError):  # a loader that wants more of the module than the stand-in has
        pass
    finally:
        if sys.modules.get("importlib.metadata") is stand_in:
            del sys.modules["importlib.metadata"]


def _entry_points(**selection: str):
    """importlib.metadata.entry_points(**selection), without importing it where no package can declare the group."""
    group = selection.get("group")
    if group is not None and len(selection) == 1 and not _answer(group):
        return ()
    import importlib.metadata

    return importlib.metadata.entry_points(**selection)


def load_plugins(targets: Iterable[str] = (), *, environment: bool = True, entry_points: bool = True) -> None:
    """What the command line loads before it runs: entry points, NETSPEC_PLUGINS, then each `--plugin`."""
    if entry_points:
        load_entry_points()
    if environment:
        for target in os.environ.get(ENV_VAR, "").split(os.pathsep):
            load_plugin(target)
    for target in targets:
        load_plugin(target)
