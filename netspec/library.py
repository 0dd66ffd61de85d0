"""The model library: the spec files shipped inside the package, found by name, and the user's NETSPEC_PATH folders.

A library name is a spec's path inside the library without its extension (a name with a spec
extension is a file's path; `netspec:NAME.ns` reaches a library file in a given syntax): `googlenet` is the
original GoogLeNet at the library's top level, `torchvision/googlenet` is torchvision's. A bare name
with no top-level spec is looked up in `torchvision/`, so `resnet50` means `torchvision/resnet50`.
Each model is listed under the shortest name that finds it. Family specs (in a `families/` folder)
are not models, but `extends: netspec:torchvision/families/resnet.yaml` reaches them.

In a wheel the library is the package data folder `netspec/architectures/` (read through
importlib.resources); in a source checkout it is the repository's top-level `architectures/`,
which the wheel is built from.
"""

from __future__ import annotations

import fnmatch
import os
import re
from functools import lru_cache
from pathlib import Path

from .diagnostics import UsageError

SCHEME = "netspec:"  # `extends: netspec:torchvision/families/resnet.yaml`
DEFAULT_COLLECTION = "torchvision"  # where a bare name is looked up after the top level
FAMILIES = "families"
SUFFIXES = (".yaml", ".yml", ".ns")  # in this order: a model written in both syntaxes is read from YAML
SEARCH_PATH_VARIABLE = "NETSPEC_PATH"
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*")  # what a library name may look like


@lru_cache(maxsize=1)
def root() -> Path:
    """The library folder: package data when installed, the checkout's `architectures/` otherwise."""
    from importlib.resources import files  # imported here: most commands name a file and never need it

    packaged = files("netspec").joinpath("architectures")
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged.resolve()
    checkout = Path(__file__).resolve().parent.parent / "architectures"
    if checkout.is_dir():
        return checkout
    raise UsageError("netspec's model library is missing from this installation (no netspec/architectures folder); "
                     "reinstall netspec")


def _files() -> list[Path]:
    """Every spec file of the library, families included."""
    return sorted(p for p in root().rglob("*") if p.suffix in SUFFIXES and p.is_file())


def references() -> list[str]:
    """`netspec:` references to every library file, families included (for extends and its did-you-mean)."""
    return [SCHEME + p.relative_to(root()).as_posix() for p in _files()]


def _full_name(path: Path) -> str:
    return path.relative_to(root()).with_suffix("").as_posix()


@lru_cache(maxsize=1)
def models() -> dict[str, Path]:
    """Listed name -> spec file, for every model of the library (families left out), in natural order."""
    full: dict[str, Path] = {}
    for path in _files():
        name = _full_name(path)
        if FAMILIES in name.split("/")[:-1]:
            continue
        best = full.get(name)
        if best is None or SUFFIXES.index(path.suffix) < SUFFIXES.index(best.suffix):
            full[name] = path
    listed: dict[str, Path] = {}
    for name, path in full.items():
        collection, _, stem = name.rpartition("/")
        short = stem if collection == DEFAULT_COLLECTION and stem not in full else name
        listed[short] = path
    return dict(sorted(listed.items(), key=lambda item: (_natural(item[0].rpartition("/")[2]), "/" in item[0])))


def _natural(text: str) -> list:
    """Sort key that puts resnet18 before resnet101."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def full_name(name: str) -> str:
    """The path-like name of a listed model (`resnet50` -> `torchvision/resnet50`)."""
    return _full_name(models()[name])


def list_models(pattern: str | None = None) -> list[str]:
    """Names of the library's models, optionally those matching a shell-style pattern (`resnet*`, `torchvision/*`).

    A pattern is matched against the listed name and against the path-like name, so `torchvision/*`
    lists every torchvision model, each under the name `load` takes.
    """
    names = list(models())
    if pattern is None:
        return names
    return [n for n in names if fnmatch.fnmatchcase(n, pattern) or fnmatch.fnmatchcase(full_name(n), pattern)]


def find(name: str) -> Path | None:
    """The library file for a name (`resnet50`, `torchvision/resnet50`, `netspec:torchvision/families/resnet.yaml`)."""
    name = name[len(SCHEME):] if name.startswith(SCHEME) else name
    name = name.replace("\\", "/")
    if not NAME.fullmatch(name) or ".." in name.split("/"):
        return None
    stem, suffix = os.path.splitext(name)
    bases = [stem] if "/" in stem else [stem, f"{DEFAULT_COLLECTION}/{stem}"]
    suffixes = [suffix] if suffix in SUFFIXES else SUFFIXES
    if suffix and suffix not in SUFFIXES:
        return None
    library = root()
    for base in bases:
        for ext in suffixes:
            path = library / f"{base}{ext}"
            if path.is_file() and path.resolve().is_relative_to(library):
                return path
    return None


def is_name(text: str) -> bool:
    """Whether `text` reads as a library name (`resnet50`, `torchvision/resnet50`), not as a spec file's path."""
    return NAME.fullmatch(text) is not None and os.path.splitext(text)[1] not in SUFFIXES


def not_found(name: str) -> UsageError:
    """The error for a name that is neither a file nor a library model, with the closest library names."""
    import difflib

    stem = os.path.splitext(name.replace("\\", "/"))[0]
    forms = {**{full_name(n): n for n in models()}, **{n: n for n in models()}}  # either name -> the listed one
    close = [forms[f] for f in difflib.get_close_matches(stem, list(forms), n=9, cutoff=0.6)]
    close = list(dict.fromkeys(close))[:3]
    hint = " (did you mean " + " or ".join(f"'{c}'" for c in close) + "?)" if close else ""
    return UsageError(f"'{name}' is neither a spec file nor a library model{hint}; `netspec models` lists them")


def search_path() -> list[Path]:
    """The folders named by NETSPEC_PATH (separated by os.pathsep), where `extends` also looks."""
    value = os.environ.get(SEARCH_PATH_VARIABLE, "")
    return [Path(part).expanduser().resolve() for part in value.split(os.pathsep) if part.strip()]
