"""`netspec diff`: two specs compared statically, checked against the published totals and known depths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

import netspec
from netspec.cli import app

ARCH = Path(__file__).resolve().parent.parent / "architectures"
TV = ARCH / "torchvision"
# torchvision's figures (torchinfo, batch 1): params, mult-adds
RESNET18 = (11_689_512, 1_814_083_944)
RESNET34 = (21_797_672, 3_663_779_432)


def test_resnet18_to_resnet34_adds_eight_blocks_and_the_published_difference():
    result = netspec.diff(TV / "resnet18.yaml", TV / "resnet34.yaml")
    added = [r.path for r in result.rows if r.change == "added" and r.path.count(".") == 1]
    # stage depths go from [2, 2, 2, 2] to [3, 4, 6, 3]
    assert added == ["layer1.2", "layer2.2", "layer2.3", "layer3.2", "layer3.3", "layer3.4", "layer3.5", "layer4.2"]
    assert not [r for r in result.rows if r.change == "removed"]
    assert result.b.total_params - result.a.total_params == RESNET34[0] - RESNET18[0]
    assert result.b.total_mult_adds - result.a.total_mult_adds == RESNET34[1] - RESNET18[1]
    # the deltas of the changed top-level rows add up to the total difference
    top = [r for r in result.rows if r.path.count(".") == 0]
    assert sum(r.params_delta for r in top) == RESNET34[0] - RESNET18[0]
    # new rows come right after the row they follow in B
    paths = [r.path for r in result.rows]
    assert paths.index("layer1.2") == paths.index("layer1.1") + len([p for p in paths if p.startswith("layer1.1.")]) + 1


def test_same_spec_with_other_params_from_the_command_line():
    run = CliRunner().invoke(app, ["diff", str(ARCH / "lenet5.yaml"), str(ARCH / "lenet5.yaml"),
                                   "--set-b", "num_classes=2", "--format", "json"])
    assert run.exit_code == 0, run.output
    data = json.loads(run.output)
    assert [r["path"] for r in data["rows"]] == ["classifier", "classifier.5"]
    # linear(84 -> 10) became linear(84 -> 2): 8 outputs of 85 parameters fewer
    assert data["rows"][1]["params_delta"] == -8 * 85
    assert data["totals"]["total_params"] == {"a": 61_706, "b": 61_706 - 8 * 85}


def test_identical_specs_show_no_rows_and_unchanged_ones_on_request():
    same = netspec.diff(ARCH / "nin.yaml", ARCH / "nin.yaml")
    assert not same.changed and same.visible_rows() == []
    assert "(no module differs)" in same.to_table()
    assert len(same.visible_rows(everything=True)) == len(same.a.rows)


def test_a_removed_layer_is_marked():
    a = "input: [3, 8, 8]\nlayers: ['conv2d(4, 3)', relu, flatten, linear(2)]\n"
    b = "input: [3, 8, 8]\nlayers: ['conv2d(4, 3)', flatten, linear(2)]\n"
    marks = [(r.path, r.change) for r in netspec.diff(a, b).rows]
    assert ("1", "changed") in marks and ("3", "removed") in marks


def test_diff_does_not_import_torch():
    code = ("import sys, netspec.cli\nsys.argv = ['netspec', 'diff', 'architectures/resnet18.yaml', "
            "'architectures/densenet121.yaml', '--depth', '1']\ntry:\n    netspec.cli.main()\nexcept SystemExit:\n"
            "    pass\nprint('torch' in sys.modules, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ARCH.parent, capture_output=True, text=True, timeout=120)
    assert proc.stderr.strip().endswith("False"), proc.stderr
    assert "Params: 11,689,512 -> 7,978,856" in proc.stdout
