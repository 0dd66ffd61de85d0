"""The model library that comes with the package: names, `netspec models`, extends by `netspec:` and NETSPEC_PATH,
and a real wheel whose library works from a folder with no spec files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import netspec
from netspec import library

REPO = Path(__file__).resolve().parent.parent
ARCH = REPO / "architectures"

# torchvision's classifiers that the library has presets for (docs/library.md), and the seed networks
TORCHVISION_NAMES = {
    "alexnet", "densenet121", "densenet161", "densenet169", "densenet201", "googlenet", "inception_v3",
    "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3", "efficientnet_b4", "efficientnet_b5",
    "efficientnet_b6", "efficientnet_b7", "efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l",
    "mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3", "mobilenet_v2",
    "mobilenet_v3_large", "mobilenet_v3_small",
    "regnet_x_400mf", "regnet_x_800mf", "regnet_x_1_6gf", "regnet_x_3_2gf", "regnet_x_8gf",
    "regnet_x_16gf", "regnet_x_32gf",
    "regnet_y_400mf", "regnet_y_800mf", "regnet_y_1_6gf", "regnet_y_3_2gf", "regnet_y_8gf", "regnet_y_16gf",
    "regnet_y_32gf", "regnet_y_128gf", "convnext_tiny", "convnext_small", "convnext_base", "convnext_large",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
    "resnext101_32x8d", "resnext101_64x4d", "squeezenet1_0", "squeezenet1_1", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0",
    "shufflenet_v2_x1_5", "shufflenet_v2_x2_0", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16",
    "vgg16_bn", "vgg19", "vgg19_bn", "wide_resnet50_2", "wide_resnet101_2",
    # the semantic segmentation models
    "fcn_resnet50", "fcn_resnet101", "deeplabv3_resnet50", "deeplabv3_resnet101", "deeplabv3_mobilenet_v3_large",
    "lraspp_mobilenet_v3_large",
}
SEED_NAMES = {"alexnet", "densenet121", "googlenet", "lenet5", "lenet5_bn", "nin", "resnet18", "vgg11"}


def test_every_library_file_is_reachable_by_exactly_one_listed_name():
    names = netspec.list_models()
    assert len(names) == len(set(names))
    expected = {p.relative_to(ARCH).with_suffix("").as_posix() for p in ARCH.rglob("*.yaml")
                if "families" not in p.parts}
    assert {library.full_name(n) for n in names} == expected
    for name in names:
        assert library.find(name) == library.models()[name]


def test_bare_names_prefer_the_top_level_then_torchvision():
    """The rule of docs/python-api.md: a top-level spec wins; otherwise torchvision/ is looked in."""
    for name in SEED_NAMES:
        assert library.find(name) == ARCH / f"{name}.yaml"
        assert library.find(f"torchvision/{name}") in (None, ARCH / "torchvision" / f"{name}.yaml")
    for name in TORCHVISION_NAMES - SEED_NAMES:
        assert library.find(name) == ARCH / "torchvision" / f"{name}.yaml"
    assert library.find("googlenet.ns") == ARCH / "googlenet.ns"
    assert library.find("netspec:torchvision/families/resnet.yaml") == ARCH / "torchvision/families/resnet.yaml"
    assert library.find("../pyproject") is None and library.find("torchvision/../../pyproject.toml") is None


def test_list_models_patterns_match_like_fnmatch():
    assert netspec.list_models("resnet*") == ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
    everything = netspec.list_models("torchvision/*")
    assert {library.full_name(n) for n in everything} == {f"torchvision/{n}" for n in TORCHVISION_NAMES} | {
        "torchvision/fpn_resnet50"}  # the feature pyramid backbone, beside the classifiers
    assert netspec.list_models("nothing*") == []


def test_load_and_summarize_by_name_from_a_folder_without_specs(tmp_path, monkeypatch):
    import torch
    import torchvision

    monkeypatch.chdir(tmp_path)
    summary = netspec.summarize("torchvision/resnet50")
    with torch.device("meta"):
        reference = torchvision.models.resnet50()
    assert summary.total_params == sum(p.numel() for p in reference.parameters())
    model = netspec.load("resnet50", num_classes=10, device="meta")
    assert model.fc.out_features == 10
    assert set(model.state_dict()) == set(reference.state_dict())
    assert netspec.summarize("googlenet").total_params != netspec.summarize("torchvision/googlenet").total_params


@pytest.mark.parametrize("name, message", [
    ("resnet51", "'resnet51' is neither a spec file nor a library model (did you mean 'resnet50'"),
    ("torchvision/resnt50", "'torchvision/resnt50' is neither a spec file nor a library model (did you mean "
                            "'resnet50'"),
    ("resnet50.yaml", "resnet50.yaml: no such file"),  # a name with a spec extension is a path
])
def test_a_name_that_is_neither_file_nor_model_gets_did_you_mean(tmp_path, cli, name, message):
    run = cli("summary", name, cwd=tmp_path)
    assert run.rc == 2 and run.stdout == ""
    assert run.stderr.startswith(f"netspec: error: {message}"), run.stderr


def test_netspec_models_lists_static_figures_equal_to_torchvision(tmp_path, cli):
    import torch
    import torchvision

    run = cli("models", "squeezenet*", "--format", "json", cwd=tmp_path)
    assert run.rc == 0, run.output
    entries = json.loads(run.stdout)
    assert [e["name"] for e in entries] == ["squeezenet1_0", "squeezenet1_1"]
    for entry in entries:
        with torch.device("meta"):
            reference = getattr(torchvision.models, entry["name"])()
        assert entry["params"] == sum(p.numel() for p in reference.parameters())
        assert entry["input"] == [3, 224, 224] and entry["spec"] == f"torchvision/{entry['name']}"
    table = cli("models", cwd=tmp_path)
    assert table.rc == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["Model", "Params", "Mult-adds", "Input", "Description"]
    assert len(lines) == 1 + len(netspec.list_models())
    assert any(line.split()[:4] == ["lenet5", "61,706", "423,038", "1x28x28"] for line in lines)
    none = cli("models", "nothing*", cwd=tmp_path)
    assert none.rc == 2 and "no library model matches 'nothing*'" in none.stderr


CIFAR_RESNET = """\
name: resnet_cifar
description: ResNet-26 for 32x32 inputs, on the library's family
extends: netspec:torchvision/families/resnet.yaml
input: [3, 32, 32]
params:
  num_classes: 10
  depths: [3, 3, 3, 3]
"""


def test_a_user_spec_extends_the_library_resnet_family_and_builds(tmp_path, cli):
    import torch
    import torchvision

    (tmp_path / "cifar.yaml").write_text(CIFAR_RESNET)
    run = cli("build", "cifar.yaml", "--seed", "0", "--depth", "1", cwd=tmp_path)
    assert run.rc == 0, run.output
    model = netspec.load(tmp_path / "cifar.yaml", seed=0)
    reference = torchvision.models.resnet.ResNet(torchvision.models.resnet.BasicBlock, [3, 3, 3, 3], num_classes=10)
    assert {k: v.shape for k, v in model.state_dict().items()} == {k: v.shape for k, v in reference.state_dict().items()}
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_extends_through_netspec_path_and_its_limits(tmp_path, monkeypatch, cli):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "base.yaml").write_text("name: base\nextends: netspec:resnet18\nparams:\n  num_classes: 7\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "mine.yaml").write_text("name: mine\nextends: base.yaml\n")
    (project / "escape.yaml").write_text("name: escape\nextends: ../shared/base.yaml\n")

    missing = cli("check", "mine.yaml", cwd=project)
    assert missing.rc == 1 and "'base.yaml' does not exist" in missing.stderr
    monkeypatch.setenv("NETSPEC_PATH", str(shared))
    assert netspec.summarize(project / "mine.yaml").output_shape == (7,)
    escape = cli("check", "escape.yaml", cwd=project)  # the search path does not lift the folder rule
    assert escape.rc == 1 and "is outside the folder" in escape.stderr
    (project / "typo.yaml").write_text("name: typo\nextends: netspec:torchvision/families/resnt.yaml\n")
    typo = cli("check", "typo.yaml", cwd=project)
    assert typo.rc == 1 and "(did you mean 'netspec:torchvision/families/resnet.yaml'" in typo.stderr


def test_the_text_syntax_extends_the_library_too(tmp_path):
    from netspec.frontends.printer import to_ns, to_yaml

    text = 'network cifar\nextends "netspec:torchvision/families/resnet.yaml"\ninput 3x32x32\nparam num_classes = 10\n'
    (tmp_path / "cifar.ns").write_text(text)
    (tmp_path / "cifar.yaml").write_text(CIFAR_RESNET.replace("depths: [3, 3, 3, 3]", "depths: [2, 2, 2, 2]"))
    from_ns, from_yaml = netspec.summarize(tmp_path / "cifar.ns"), netspec.summarize(tmp_path / "cifar.yaml")
    assert (from_ns.total_params, from_ns.output_shape) == (from_yaml.total_params, from_yaml.output_shape)
    own = netspec.parse(tmp_path / "cifar.ns", link=False)
    assert own.extends == "netspec:torchvision/families/resnet.yaml"
    assert netspec.parse(to_yaml(own), link=False) == own and netspec.parse(to_ns(own), "ns", link=False) == own


# ---- the package as pip installs it ------------------------------------------------------------------

WHEEL_SCRIPT = """
import netspec, torch
assert netspec.list_models("resnet*") == ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
model = netspec.load("mobilenet_v2", num_classes=10, seed=0)
print(tuple(model(torch.zeros(1, 3, 224, 224)).shape), netspec.__file__)
"""


def _wheel(tmp_path: Path) -> Path:
    """`pip wheel .` on a copy of the project's files (so the build leaves nothing in the checkout)."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    for folder in ("netspec", "architectures"):
        shutil.copytree(REPO / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "-q", "-w", str(out), str(source)], check=True, capture_output=True, timeout=300)
    (wheel,) = out.glob("netspec-*.whl")
    return wheel


@pytest.mark.slow
def test_the_wheel_carries_the_library_and_works_from_an_empty_folder(tmp_path):
    wheel = _wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for path in [*REPO.glob("netspec/**/*.py"), *REPO.glob("netspec/**/*.lark"), REPO / "netspec/py.typed"]:
        assert path.relative_to(REPO).as_posix() in names, f"the wheel lacks {path.relative_to(REPO)}"
    for path in [*ARCH.rglob("*.yaml"), *ARCH.rglob("*.ns")]:
        assert f"netspec/architectures/{path.relative_to(ARCH).as_posix()}" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)

    # A bare environment holding only the wheel; the dependencies come from this one (no network).
    env = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    python = env / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")  # plain path: its .pth are not run
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", "-q",
                    str(wheel)], check=True, capture_output=True, timeout=300)

    empty = tmp_path / "empty"
    empty.mkdir()
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NETSPEC_PATH")}

    def run(*command: str) -> str:
        proc = subprocess.run(command, cwd=empty, env=clean, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    script = str(env / "bin" / "netspec")
    models = run(script, "models").splitlines()
    assert len(models) == 1 + len(netspec.list_models())
    assert any(line.split()[:4] == ["resnet50", "25,557,032", "4,089,238,376", "3x224x224"] for line in models)
    summary = run(script, "summary", "resnet50", "--depth", "1")
    assert "Total params: 25,557,032" in summary
    shape, where = run(str(python), "-c", WHEEL_SCRIPT).rsplit(" ", 1)
    assert shape == "(1, 10)"
    assert Path(where).resolve().is_relative_to(Path(purelib).resolve()), f"netspec came from {where}"
    assert list(empty.iterdir()) == []
