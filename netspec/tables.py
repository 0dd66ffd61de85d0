"""The LALR tables of the .ns parser and of the expression parser, kept between runs as JSON in the user's cache
folder (never a pickle, never in the package folder), so that start-up does not pay the grammar analysis each time.

    $NETSPEC_CACHE_DIR, else $XDG_CACHE_HOME/netspec, else ~/.cache/netspec     (NETSPEC_CACHE_DIR="" turns it off)
        ns-tables-<key>.json      one per grammar; key: a hash of the grammar text, lark's version and this format's version

The file is data only: JSON has no way to name code, and lark rebuilds the parser from it without `eval` or
pickle. A file that is damaged, from another version, or not a regular file is ignored and written again,
atomically (netspec/files.py), so two processes starting at once never see half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

import lark
from lark import Lark
from lark.grammar import Rule
from lark.lexer import TerminalDef

from .files import FileProblem, atomic_write, read_regular

FORMAT = "netspec-ns-tables/1"
MAX_TABLE_BYTES = 8 << 20  # today's tables are about 190 KB


def cache_folder() -> Path | None:
    """Where the tables are kept, or None when caching is turned off."""
    chosen = os.environ.get("NETSPEC_CACHE_DIR")
    if chosen is not None:
        return Path(chosen) if chosen.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "netspec"


def _int_keys(obj: dict) -> dict:
    """JSON turns lark's integer keys (states, memo ids) into text; turn them back."""
    return {int(k) if k.isdigit() else k: v for k, v in obj.items()}


def cached_parser(grammar: str, build: Callable[[], Lark], **load_options: Any) -> Lark:
    """The parser `build()` makes for `grammar`, from the cache when a valid entry is there.

    `load_options` are the options that are objects rather than data (the post-lexer), given again on load.
    """
    key = hashlib.sha256(f"{FORMAT}\n{lark.__version__}\n{grammar}".encode("utf-8")).hexdigest()[:24]
    folder = cache_folder()
    path = folder / f"ns-tables-{key}.json" if folder is not None else None
    if path is not None:
        loaded = _load(path, key, load_options)
        if loaded is not None:
            loaded.source_grammar = grammar  # as lark keeps it on a parser it built itself
            return loaded
    parser = build()
    if path is not None:
        _save(parser, path, key, set(load_options))
    return parser


def _load(path: Path, key: str, load_options: dict[str, Any]) -> Lark | None:
    try:
        entry = json.loads(read_regular(path, MAX_TABLE_BYTES), object_hook=_int_keys)
    except (FileProblem, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("format") != FORMAT or entry.get("key") != key:
        return None
    try:
        return Lark._load_from_dict(entry["data"], entry["memo"], **load_options)
    except Exception:  # tables from a damaged or foreign file: build them again instead  # noqa: BLE001
        return None


def _save(parser: Lark, path: Path, key: str, object_options: set[str]) -> None:
    data, memo = parser.memo_serialize([TerminalDef, Rule])
    data["options"] = {k: v for k, v in data["options"].items() if k not in object_options}
    text = json.dumps({"format": FORMAT, "key": key, "data": data, "memo": memo}, separators=(",", ":"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text)
    except (FileProblem, OSError):  # a read-only home, a full disk: parse without a cache
        pass
