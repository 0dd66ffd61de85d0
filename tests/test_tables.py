"""The .ns parser's table cache (netspec/tables.py): JSON in the user's cache folder, never a pickle and never in
the package folder; a damaged entry is ignored and written again; caching can be turned off."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import netspec
from netspec.frontends import dsl
from netspec import tables

REPO = Path(__file__).resolve().parent.parent
PACKAGE = Path(netspec.__file__).resolve().parent
GOOGLENET = (REPO / "architectures" / "googlenet.ns").read_text(encoding="utf-8")


def _fresh_parser(monkeypatch, folder):
    monkeypatch.setenv("NETSPEC_CACHE_DIR", str(folder) if folder is not None else "")
    dsl._parser.cache_clear()
    try:
        return dsl._parser()
    finally:
        dsl._parser.cache_clear()


def test_tables_are_json_in_the_cache_folder_and_parse_the_same(tmp_path, monkeypatch):
    first = _fresh_parser(monkeypatch, tmp_path)
    (entry,) = tmp_path.glob("ns-tables-*.json")
    content = json.loads(entry.read_text(encoding="utf-8"))
    assert content["format"] == tables.FORMAT and set(content) == {"format", "key", "data", "memo"}
    second = _fresh_parser(monkeypatch, tmp_path)  # this one comes from the file
    assert second.parse(GOOGLENET, start="start") == first.parse(GOOGLENET, start="start")


def test_nothing_is_written_in_the_package_folder(tmp_path, monkeypatch):
    before = {p.name: p.stat().st_mtime_ns for p in PACKAGE.iterdir() if p.is_file()}
    _fresh_parser(monkeypatch, tmp_path)
    dsl.parse_ns(GOOGLENET, "googlenet.ns")
    after = {p.name: p.stat().st_mtime_ns for p in PACKAGE.iterdir() if p.is_file()}
    assert after == before, "parsing wrote into the package folder"


@pytest.mark.parametrize("damage", [b"", b"\x80\x04not json", b'{"format": "other"}', b"[1, 2, 3]",
                                    b'{"format": "netspec-ns-tables/1", "key": "K", "data": {}, "memo": {}}'])
def test_a_damaged_entry_is_ignored_and_written_again(tmp_path, monkeypatch, damage):
    _fresh_parser(monkeypatch, tmp_path)
    (entry,) = tmp_path.glob("ns-tables-*.json")
    key = entry.stem.removeprefix("ns-tables-")
    entry.write_bytes(damage.replace(b"K", key.encode()))
    parser = _fresh_parser(monkeypatch, tmp_path)
    assert parser.parse(GOOGLENET, start="start") is not None
    assert json.loads(entry.read_text(encoding="utf-8"))["key"] == key, "the damaged entry was not rewritten"


def test_an_entry_that_is_not_a_regular_file_is_not_read(tmp_path, monkeypatch):
    _fresh_parser(monkeypatch, tmp_path)
    (entry,) = tmp_path.glob("ns-tables-*.json")
    entry.unlink()
    entry.symlink_to("/dev/zero")
    assert _fresh_parser(monkeypatch, tmp_path).parse(GOOGLENET, start="start") is not None
    assert entry.is_symlink(), "the link was replaced (atomic writes refuse links)"


def test_caching_can_be_turned_off(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _fresh_parser(monkeypatch, None)
    assert list(tmp_path.iterdir()) == []
    assert tables.cache_folder() is None
