"""docs/library.md is generated from the library's specs by netspec.catalog, statically, and is up to date."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import netspec
from netspec.catalog import catalog_markdown, main

REPO = Path(__file__).resolve().parent.parent
LIBRARY = REPO / "architectures" / "torchvision"
PAGE = REPO / "docs" / "library.md"
REGENERATE = "regenerate it: python -m netspec.catalog architectures/torchvision > docs/library.md"


def test_committed_page_is_the_generated_one():
    assert PAGE.read_text(encoding="utf-8") == catalog_markdown(LIBRARY), f"docs/library.md is out of date; {REGENERATE}"


def test_every_model_is_listed_with_its_totals():
    page = catalog_markdown(LIBRARY)
    for path in sorted(LIBRARY.glob("*.yaml")):
        summary = netspec.summarize(path)
        row = next((line for line in page.splitlines() if line.startswith(f"| `{summary.name}` |")), None)
        assert row is not None, f"{summary.name} is not in the table"
        size = "x".join(map(str, summary.input_shape))
        assert f"| {summary.total_params:,} | {summary.total_mult_adds:,} | {size} |" in row


# What torchvision's models return, by name: a tensor (here `main`); GoogLeNet's and Inception v3's
# training-mode named tuples (logits, aux_logits2, aux_logits1) and (logits, aux_logits); the segmentation
# models' dict {"out"} (aux_loss off by default); the FPN backbone's dict of levels "0" to "3" and "pool".
OUTPUTS = {
    "resnet50": "`main`",
    "googlenet": "`main`, `aux2` (training), `aux1` (training)",
    "inception_v3": "`main`, `AuxLogits` (training)",
    "fcn_resnet50": "dict: `out`",
    "fpn_resnet50": "dict: `0`, `1`, `2`, `3`, `pool`",
}


def test_every_model_lists_its_output_names():
    page = catalog_markdown(LIBRARY)
    for path in sorted(LIBRARY.glob("*.yaml")):
        summary = netspec.summarize(path)
        row = next(line for line in page.splitlines() if line.startswith(f"| `{summary.name}` |"))
        size = "x".join(map(str, summary.input_shape))
        outputs = row.split(f"| {size} | ", 1)[1].split(" | ", 1)[0]
        if summary.name in OUTPUTS:
            assert outputs == OUTPUTS[summary.name], summary.name
        names = [part.split("`")[1] for part in outputs.removeprefix("dict: ").split(", ")]
        assert names[0] == "main" or outputs.startswith("dict: "), summary.name
        assert sorted(names[1:]) == sorted(name for name, _, _ in summary.extra_outputs) or outputs.startswith("dict: ")


def test_every_family_has_a_section_with_its_notes():
    page = catalog_markdown(LIBRARY)
    for family in sorted((LIBRARY / "families").glob("*.yaml")):
        assert f"### {family.stem}\n" in page
        first_note = family.read_text(encoding="utf-8").splitlines()[0].removeprefix("# ")
        assert first_note in page


def test_the_catalog_never_imports_torch():
    code = (
        "import json, sys\n"
        "from netspec.catalog import catalog_markdown\n"
        f"page = catalog_markdown({str(LIBRARY)!r})\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'chars': len(page)}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["torch"] is False and result["chars"] > 1000


def test_command_prints_the_page(capsys):
    assert main([str(LIBRARY)]) == 0
    assert capsys.readouterr().out == catalog_markdown(LIBRARY)


def test_command_usage_errors(capsys, tmp_path):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err
    assert main([str(tmp_path / "missing")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_command_reports_spec_errors(capsys, tmp_path):
    (tmp_path / "broken.yaml").write_text("name: broken\ninput: [3, 8, 8]\nlayers: ['conv2d(4, 3, strid=1)']\n")
    assert main([str(tmp_path)]) == 1
    assert "unknown-arg" in capsys.readouterr().err


def test_folder_outside_the_repository_is_named_by_its_name(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "small.yaml").write_text("name: small\ndescription: a small net\ninput: [3, 8, 8]\n"
                                       "layers: ['conv2d(4, 3)', flatten, linear(2)]\n")
    page = catalog_markdown(folder)
    assert "`mine/`" in page and str(tmp_path) not in page
    assert "| `small` | (standalone) |" in page and "a small net" in page
