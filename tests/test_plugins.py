"""Custom kinds reach every command: `--plugin FILE_OR_MODULE`, NETSPEC_PLUGINS, and an installed package's
`netspec.layers` entry point. The plugin code is the code docs/python-api.md shows (its titled blocks), so
the documented example is the one that is run; the counts are checked against torch and torchinfo."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import torch
import torchinfo

import netspec
from netspec import docgen
from netspec.diagnostics import UsageError
from netspec.layers import REGISTRY
from netspec.plugins import load_plugin

from conftest import REPO, run_cli

DOC = REPO / "docs" / "python-api.md"
SE_SPEC = """\
input: [3, 32, 32]
layers:
  - conv2d(16, 3, padding=1)
  - se: squeeze_excite(4)
  - relu
init:
  se:
    fc2.bias: ones
"""


def doc_files() -> dict[str, str]:
    """The files python-api.md has the reader save: title -> text."""
    blocks = docgen.code_blocks(DOC.read_text(encoding="utf-8"))
    return {b.title: b.body for b in blocks if b.title}


@pytest.fixture
def registry():
    """Leave the registry as it was: plugins loaded by a test are forgotten after it."""
    before = dict(REGISTRY)
    yield REGISTRY
    REGISTRY.clear()
    REGISTRY.update(before)


@pytest.fixture
def se_folder(tmp_path, registry):
    """A folder holding the documented plugin file se_kinds.py and a spec that uses it."""
    (tmp_path / "se_kinds.py").write_text(doc_files()["se_kinds.py"], encoding="utf-8")
    (tmp_path / "se_net.yaml").write_text(SE_SPEC, encoding="utf-8")
    return tmp_path


def test_without_the_plugin_the_kind_is_unknown(se_folder):
    run = run_cli("check", "se_net.yaml", cwd=se_folder)
    assert run.rc == 1 and "unknown layer or block 'squeeze_excite'" in run.stderr


@pytest.mark.parametrize("command", ["check", "summary", "build"])
def test_plugin_file_on_the_command_line(se_folder, command):
    run = run_cli(command, "--plugin", "se_kinds.py", "se_net.yaml", cwd=se_folder)
    assert run.rc == 0, run.output
    if command == "check":
        assert run.stdout == "se_net.yaml: ok (596 params, output (16, 32, 32))\n"
    else:
        assert "se     squeeze_excite  (16, 32, 32)     148        148" in run.stdout
    if command == "build":
        assert "forward pass (1, 16, 32, 32) ok" in run.stdout


@pytest.mark.parametrize("command", ["check", "summary", "build"])
def test_plugins_from_the_environment(se_folder, command, monkeypatch):
    (se_folder / "empty_plugin.py").write_text('"""Registers nothing."""\n', encoding="utf-8")
    monkeypatch.setenv("NETSPEC_PLUGINS", os.pathsep.join(["empty_plugin.py", str(se_folder / "se_kinds.py")]))
    run = run_cli(command, "se_net.yaml", cwd=se_folder)
    assert run.rc == 0, run.output
    assert "596" in run.stdout.replace(",", "")


def test_a_container_kind_is_counted_as_torchinfo_counts_it_and_init_reaches_its_tensors(se_folder):
    load_plugin(str(se_folder / "se_kinds.py"))
    spec = str(se_folder / "se_net.yaml")
    summary = netspec.summarize(spec)
    model = netspec.load(spec, seed=0)
    stats = torchinfo.summary(model, (1, 3, 32, 32), device="cpu", verbose=0)
    assert (stats.total_params, stats.total_mult_adds) == (summary.total_params, summary.total_mult_adds)
    assert torch.equal(model.se.fc2.bias, torch.ones(16))  # `init: se: fc2.bias: ones`, by module path
    assert not torch.equal(model.se.fc1.bias, torch.ones(4))
    with pytest.raises(netspec.SpecError, match="none of which has a tensor 'fc3.bias'"):
        netspec.summarize(SE_SPEC.replace("fc2.bias", "fc3.bias"))


def test_loading_a_plugin_again_is_not_a_clash(se_folder):
    load_plugin(str(se_folder / "se_kinds.py"))
    first = type(REGISTRY["squeeze_excite"])
    load_plugin(str(se_folder / "se_kinds.py"))  # a notebook's reload: new class objects, same definitions
    assert type(REGISTRY["squeeze_excite"]) is not first
    assert netspec.summarize(str(se_folder / "se_net.yaml")).total_params == 596


def test_a_real_clash_names_both_definitions(se_folder):
    load_plugin(str(se_folder / "se_kinds.py"))
    other = se_folder / "other_se.py"
    other.write_text(doc_files()["se_kinds.py"].replace("class SqueezeExciteKind", "class MySE"), encoding="utf-8")
    with pytest.raises(UsageError) as info:
        load_plugin(str(other))
    message = str(info.value)
    assert "layer kind 'squeeze_excite' is defined twice" in message
    assert ".SqueezeExciteKind (" in message and str(se_folder / "se_kinds.py") in message
    assert ".MySE (" in message and str(other) in message


def test_a_plugin_cannot_take_a_built_in_name_by_accident(tmp_path, registry):
    (tmp_path / "mine.py").write_text(
        "import netspec\n\n@netspec.register_layer\nclass Conv(netspec.LayerKind):\n    name = 'conv2d'\n",
        encoding="utf-8")
    run = run_cli("layers", "--plugin", "mine.py", cwd=tmp_path)
    assert run.rc == 2
    assert "defined twice: by netspec.layers.conv.Conv2d" in run.stderr and "Conv (" in run.stderr


@pytest.mark.parametrize(
    "plugin, words",
    [("missing.py", "plugin missing.py: no such file"),
     ("no_such_module_xyz", "no module named 'no_such_module_xyz'"),
     ("broken.py", "plugin broken.py failed to load: ZeroDivisionError: division by zero")],
)
def test_a_plugin_that_does_not_load_is_a_usage_error(tmp_path, registry, plugin, words):
    (tmp_path / "broken.py").write_text("1 / 0\n", encoding="utf-8")
    (tmp_path / "net.yaml").write_text("input: [4]\nlayers:\n  - relu\n", encoding="utf-8")
    run = run_cli("check", "--plugin", plugin, "net.yaml", cwd=tmp_path)
    assert run.rc == 2 and words in run.stderr and "Traceback" not in run.output


def test_every_command_takes_plugin():
    from netspec.cli import app

    for command in app.registered_commands:
        run = run_cli(command.name or command.callback.__name__, "--help")
        assert "--plugin" in run.stdout, command


# ---- an installed package: its entry point, with no flag ---------------------------------------


def make_distribution(site: Path) -> str:
    """The documented package convkinds, 'installed' into `site` as pip would: the package and a .dist-info
    whose entry_points.txt holds the entry points of the documented pyproject.toml. Returns the kind's name."""
    files = doc_files()
    project = tomllib.loads(files["pyproject.toml"])["project"]
    for title, text in files.items():
        if title.startswith("convkinds/"):
            (site / title).parent.mkdir(parents=True, exist_ok=True)
            (site / title).write_text(text, encoding="utf-8")
    info = site / f"{project['name']}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n",
                                   encoding="utf-8")
    lines = [line for group, points in project["entry-points"].items()
             for line in (f"[{group}]", *(f"{k} = {v}" for k, v in points.items()))]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return "conv_bn_relu"


def netspec_in(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("NETSPEC_DEBUG", "NETSPEC_PLUGINS")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(REPO)])
    return subprocess.run([sys.executable, "-m", "netspec.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


@pytest.mark.slow
def test_an_installed_package_s_kinds_appear_with_no_flag(tmp_path):
    site, work = tmp_path / "site", tmp_path / "work"
    site.mkdir()
    work.mkdir()
    kind = make_distribution(site)
    (work / "net.yaml").write_text(f"input: [3, 32, 32]\nlayers:\n  - {kind}(32, 3, stride=2)\n  - {kind}(64)\n",
                                   encoding="utf-8")
    check = netspec_in(site, work, "check", "net.yaml")
    assert check.returncode == 0, check.stderr
    assert check.stdout == "net.yaml: ok (19,488 params, output (64, 16, 16))\n"  # 3*32*9 + 2*32 + 32*64*9 + 2*64
    listing = netspec_in(site, work, "layers")
    assert f"{kind}(out, kernel, stride)" in listing.stdout and "[plugin convkinds.layers]" in listing.stdout
    schema = netspec_in(site, work, "schema")
    assert f'"{kind}"' in schema.stdout


def test_the_documented_package_counts_agree_with_torchinfo(tmp_path, registry):
    site = tmp_path / "site"
    site.mkdir()
    kind = make_distribution(site)
    sys.path.insert(0, str(site))
    try:
        load_plugin("convkinds.layers")
        spec = f"input: [3, 32, 32]\nlayers:\n  - {kind}(32, 3, stride=2)\n  - {kind}(64)\n"
        summary = netspec.summarize(spec)
        model = netspec.load(spec, seed=0)
        stats = torchinfo.summary(model, (1, 3, 32, 32), device="cpu", verbose=0)
        assert (stats.total_params, stats.total_mult_adds) == (summary.total_params, summary.total_mult_adds)
    finally:
        sys.path.remove(str(site))
        for name in [m for m in sys.modules if m == "convkinds" or m.startswith("convkinds.")]:
            del sys.modules[name]


def test_importlib_metadata_is_asked_whenever_a_package_may_declare_the_group(tmp_path, monkeypatch):
    """The cheap look at entry_points.txt files says False only where importlib.metadata finds no entry point."""
    import importlib.metadata
    import zipfile

    from netspec.plugins import ENTRY_POINT_GROUP, _may_declare_entry_points

    def found() -> bool:
        return bool(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))

    assert found() <= _may_declare_entry_points()
    baseline = _may_declare_entry_points()
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    other = site / "Other-1.0.DIST-INFO"  # importlib.metadata reads the suffix in any case
    other.mkdir()
    (other / "METADATA").write_text("Metadata-Version: 2.1\nName: other\nVersion: 1.0\n", encoding="utf-8")
    (other / "entry_points.txt").write_text("[console_scripts]\nother = other:main\n", encoding="utf-8")
    (site / "plain.egg-info").write_text("Metadata-Version: 1.0\nName: plain\n", encoding="utf-8")  # a file
    monkeypatch.syspath_prepend(str(tmp_path / "missing"))
    assert _may_declare_entry_points() == baseline and found() <= baseline  # other groups, odd entries: no change
    (other / "entry_points.txt").write_text(f"[console_scripts]\nother = other:main\n[{ENTRY_POINT_GROUP}]\n"
                                            "kinds = other.kinds\n", encoding="utf-8")
    assert found() and _may_declare_entry_points()
    (other / "entry_points.txt").unlink()
    archive = tmp_path / "packages.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("zipped-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: zipped\nVersion: 1.0\n")
        zf.writestr("zipped-1.0.dist-info/entry_points.txt", f"[{ENTRY_POINT_GROUP}]\nz = zipped.kinds\n")
    monkeypatch.syspath_prepend(str(archive))
    assert found() and _may_declare_entry_points()  # a zip on the path is left to importlib.metadata


PYDANTIC_PLUGIN = '''\
import os


class Recorder:
    """A pydantic plugin that writes the name of each schema it is shown to the file named in RECORD_TO."""

    def new_schema_validator(self, schema, schema_type, schema_type_path, schema_kind, config, plugin_settings):
        with open(os.environ["RECORD_TO"], "a", encoding="utf-8") as file:
            file.write(schema_type_path.name + "\\n")
        return None, None, None


plugin = Recorder()
'''


def test_an_installed_pydantic_plugin_still_sees_the_schemas_of_a_command(tmp_path, monkeypatch):
    # The command line lets pydantic's plugin loader skip importlib.metadata only where no package can declare a
    # plugin: one that does is found and loaded as pydantic loads it, and shown every schema the command builds.
    site, work = tmp_path / "site", tmp_path / "work"
    site.mkdir()
    work.mkdir()
    (site / "recorder_plugin.py").write_text(PYDANTIC_PLUGIN, encoding="utf-8")
    info = site / "recorder-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: recorder\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[pydantic]\nrecorder = recorder_plugin:plugin\n", encoding="utf-8")
    (work / "net.yaml").write_text("input: [3, 8, 8]\nlayers:\n  - conv2d(4, 3)\n", encoding="utf-8")
    record = tmp_path / "record.txt"
    monkeypatch.setenv("RECORD_TO", str(record))
    check = netspec_in(site, work, "check", "net.yaml")
    assert check.returncode == 0, check.stderr
    # (the Spec of a correct spec is made without a validator: netspec.ir.spec.built_spec)
    assert record.read_text(encoding="utf-8").split() == ["Conv2dArgs"]


def test_pydantic_s_plugin_group_is_looked_for_as_importlib_metadata_looks(tmp_path, monkeypatch):
    import importlib.metadata

    from netspec.plugins import _entry_points, _may_declare_entry_points

    assert bool(importlib.metadata.entry_points(group="pydantic")) <= _may_declare_entry_points("pydantic")
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    info = site / "recorder-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: recorder\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[pydantic]\nrecorder = recorder_plugin:plugin\n", encoding="utf-8")
    assert _may_declare_entry_points("pydantic")
    assert [p.value for p in _entry_points(group="pydantic")] == ["recorder_plugin:plugin"]
    (info / "entry_points.txt").write_text("[console_scripts]\nrecorder = recorder_plugin:main\n", encoding="utf-8")
    if not _may_declare_entry_points("pydantic"):  # no other installed package declares a pydantic plugin
        assert tuple(_entry_points(group="pydantic")) == () == tuple(importlib.metadata.entry_points(group="pydantic"))
