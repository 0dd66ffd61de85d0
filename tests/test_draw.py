"""netspec draw: diagrams of every bundled spec that Graphviz accepts, whose boxes and edge shapes agree with the
torch module netspec builds (module paths, output shapes from forward hooks), golden DOT files, the gallery."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import netspec
from netspec import gallery
from netspec.backends.diagram import Box, build_scene, find_renderer, render, shape_text, to_dot, to_mermaid
from netspec.pipeline import analyse

REPO = Path(__file__).resolve().parent.parent
ARCH = REPO / "architectures"
BUNDLED = sorted([*ARCH.glob("*.yaml"), *(ARCH / "torchvision").glob("*.yaml"), *(ARCH / "examples").glob("*.yaml")])
PURE = shutil.which("graphviz-pure") or shutil.which("graphviz-pure", path=str(Path(sys.executable).parent))
SYSTEM_DOT = shutil.which("dot")


def _layer_boxes(scene) -> list[Box]:
    return [b for b in scene.boxes.values() if b.path and b.role not in ("block", "io", "output", "merge")]


def test_graphviz_pure_comes_with_the_test_extra():
    assert PURE, 'graphviz-pure is in the test extra: pip install -e ".[test]"'


@pytest.mark.slow
@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: str(p.relative_to(ARCH)))
def test_every_bundled_spec_draws_and_graphviz_accepts_it(path):
    graph = analyse(path)
    dot = to_dot(build_scene(graph))
    svg = render(dot, "svg", program=PURE).decode("utf-8")
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    # every layer of the network is one box (as many as the torch module has leaf modules, checked below on torch),
    # and so is every split and resize, inside a `flat` module too; a reference is an edge
    leaves = [n for n in graph.walk() if not n.children and n.op != "ref"]
    assert len(re.findall(r"tooltip=", dot)) == len(leaves)
    if SYSTEM_DOT:  # Graphviz itself, where it is installed (Debian's graphviz package, brew, ...); its older
        # releases lay out big graphs slowly, so it gets the same constructs at depth 2
        shallow = to_dot(build_scene(graph, depth=2))
        done = subprocess.run([SYSTEM_DOT, "-Tsvg"], input=shallow.encode(), capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()


@pytest.mark.parametrize("path", sorted(ARCH.glob("*.ns")), ids=lambda p: p.name)
def test_text_syntax_twins_draw_the_same_diagram(path):
    assert to_dot(build_scene(analyse(path))) == to_dot(build_scene(analyse(path.with_suffix(".yaml"))))


@pytest.mark.parametrize("name, shape", [("lenet5", None), ("googlenet", (3, 64, 64)), ("resnet18", (3, 64, 64)),
                                         ("densenet121", (3, 64, 64))])
def test_boxes_and_edge_shapes_match_the_built_module(name, shape):
    """Each layer box is a leaf module of the compiled network, and the shape written on the edge leaving it is
    the shape torch gives that module's output (forward hooks on the meta device)."""
    graph = analyse(ARCH / f"{name}.yaml", input_shape=shape)
    scene = build_scene(graph)
    model = netspec.load(ARCH / f"{name}.yaml", input_shape=shape, device="meta").eval()
    modules = dict(model.named_modules())
    leaf_paths = {p for p, m in modules.items() if p and not list(m.children())}
    boxes = _layer_boxes(scene)
    assert {b.path for b in boxes} == leaf_paths
    seen: dict[str, tuple] = {}
    hooks = [modules[b.path].register_forward_hook(
        lambda m, i, o, path=b.path: seen.__setitem__(path, tuple(o.shape[1:]))) for b in boxes]
    with torch.no_grad():
        model(torch.zeros((1, *graph.input_shape), device="meta"))
    for hook in hooks:
        hook.remove()
    labels = {}
    for edge in scene.edges:
        labels.setdefault(edge.src, edge.label)
    for box in boxes:
        if labels.get(box.id):
            assert labels[box.id] == shape_text(seen[box.path]), box.path


def test_lenet5_reads_like_the_figure():
    scene = build_scene(analyse(ARCH / "lenet5.yaml"))
    captions = [b.lines[0] for b in _layer_boxes(scene)]
    assert captions == ["conv 5×5, 6", "Sigmoid", "avg-pool 2×2, /2", "conv 5×5, 16", "Sigmoid", "avg-pool 2×2, /2",
                        "flatten", "linear, 120", "Sigmoid", "linear, 84", "Sigmoid", "linear, 10"]
    shapes = [e.label for e in scene.edges if e.label]
    assert shapes == ["6×28×28", "6×14×14", "16×10×10", "16×5×5", "400", "120", "84", "10"]
    assert [g.label for g in scene.items if not isinstance(g, Box)] == ["features", "classifier"]


def test_inception_branches_leave_one_box_and_meet_at_a_concat():
    scene = build_scene(analyse(ARCH / "examples" / "inception_module.yaml"))
    concat = next(b for b in scene.boxes.values() if b.lines == ["concat"])
    into = [e.src for e in scene.edges if e.dst == concat.id]
    assert len(into) == 4
    start = next(b for b in scene.boxes.values() if b.lines[0] == "input")
    firsts = [scene.boxes[e.dst].lines[0] for e in scene.edges if e.src == start.id]
    assert firsts == ["conv 1×1, 64", "conv 1×1, 96", "conv 1×1, 16", "max-pool 3×3"]
    assert concat.out_shape == (256, 28, 28)


def test_residual_shortcuts_identity_and_projection():
    scene = build_scene(analyse(ARCH / "examples" / "residual_block.yaml"))
    adds = [b for b in scene.boxes.values() if b.lines == ["+"]]
    assert len(adds) == 2
    shortcuts = [e for e in scene.edges if e.style == "shortcut"]
    identity = [e for e in shortcuts if e.dst == adds[0].id]
    assert len(identity) == 1 and scene.boxes[identity[0].src].lines[0] == "input"  # x itself, around the body
    projection = [scene.boxes[e.dst] for e in shortcuts if e.dst != adds[0].id]
    assert [b.lines[0] for b in projection] == ["conv 1×1, 128, /2", "batch norm", "+"]
    assert projection[0].path == "projection.shortcut.0"


def test_dense_block_carries_every_input_on():
    scene = build_scene(analyse(ARCH / "examples" / "dense_block.yaml"))
    dense = [e for e in scene.edges if e.style == "dense"]
    assert len(dense) == 4
    grown = [scene.boxes[e.dst].out_shape for e in dense]
    assert grown == [(96, 56, 56), (128, 56, 56), (160, 56, 56), (192, 56, 56)]


def test_depth_collapses_blocks_to_one_box():
    graph = analyse(ARCH / "googlenet.yaml")
    top = build_scene(graph, depth=1)
    assert [b.lines[0] for b in top.boxes.values()] == ["input", "stem", "body", "head", "output"]
    two = build_scene(graph, depth=2)
    inception = [b for b in two.boxes.values() if b.role == "block"]
    assert [b.lines for b in inception][:2] == [["inception3a", "inception(64, 96, 128, 16, 32, 32)"],
                                                ["inception3b", "inception(128, 128, 192, 32, 96, 64)"]]
    assert len(inception) == 9
    full = build_scene(graph)
    assert not [b for b in full.boxes.values() if b.role == "block"]


def test_extra_outputs_are_marked():
    scene = build_scene(analyse(ARCH / "torchvision" / "googlenet.yaml"), depth=2)
    marked = [b.lines for b in scene.boxes.values() if b.role == "output"]
    assert marked == [["aux1", "extra output (training only)"], ["aux2", "extra output (training only)"]]


def test_mermaid_has_the_same_boxes_and_edges():
    scene = build_scene(analyse(ARCH / "resnet18.yaml"), depth=2)
    text = to_mermaid(scene)
    assert text.splitlines()[3] == "flowchart TB"
    assert sum(1 for line in text.splitlines() if re.match(r"\s+n\d+ (-->|==>|-\.->)", line)) == len(scene.edges)
    assert text.count("subgraph ") == text.count("\n  end") + text.count("\n    end")
    assert '"layer1.0<br/>basic(64, 1)"' in text


def test_golden_dot_files_beside_their_specs():
    for spec in gallery.GOLDENS:
        golden = (REPO / spec).with_suffix(".dot")
        assert golden.read_text(encoding="utf-8") == gallery.dot_for(spec, None), (
            f"{golden.relative_to(REPO)} is out of date: python -m netspec.gallery --write, and review the diff")


def test_gallery_is_current():
    stale = [str(p.relative_to(REPO)) for p, data in gallery.expected_files().items()
             if not p.exists() or p.read_bytes() != data]
    assert not stale, f"run `python -m netspec.gallery --write` and review: {stale}"
    page = gallery.PAGE.read_text(encoding="utf-8")
    for stem in ("lenet5", "lenet5_bn", "alexnet", "vgg11", "nin", "googlenet", "resnet18", "densenet121"):
        assert f"![{stem}](gallery/{stem}.svg)" in page, f"the gallery lacks the seed network {stem}"


# ---- the command ------------------------------------------------------------------------------------


def test_draw_writes_each_format(cli, tmp_path):
    for suffix, starts in ((".svg", b"<?xml"), (".png", b"\x89PNG"), (".dot", b"digraph"), (".mmd", b"---"),
                           (".html", b"<!DOCTYPE html>")):
        out = tmp_path / f"lenet{suffix}"
        run = cli("draw", str(ARCH / "lenet5.yaml"), "-o", str(out))
        assert run.rc == 0, run.output
        assert out.read_bytes().startswith(starts)
        assert run.stdout == "" and run.stderr == f"Wrote {out}\n"
    page = (tmp_path / "lenet.html").read_text(encoding="utf-8")
    assert "<svg" in page and "<table" in page and "61,706" in page


def test_draw_prints_dot_or_mermaid_without_output(cli):
    run = cli("draw", str(ARCH / "lenet5.yaml"), "--depth", "1")
    assert run.rc == 0 and run.stdout.startswith('digraph "lenet5" {')
    run = cli("draw", str(ARCH / "lenet5.yaml"), "--format", "mmd", "--direction", "LR")
    assert run.rc == 0 and "flowchart LR" in run.stdout


def test_draw_unknown_extension_is_a_usage_error(cli, tmp_path):
    run = cli("draw", str(ARCH / "lenet5.yaml"), "-o", str(tmp_path / "x.jpg"))
    assert run.rc == 2
    assert run.stderr == "netspec: error: cannot draw to '.jpg'; use one of .dot, .mmd, .svg, .png, .pdf, .html\n"


def test_missing_graphviz_is_one_line_naming_the_install(monkeypatch):
    monkeypatch.delenv("NETSPEC_GRAPHVIZ", raising=False)
    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)
    assert find_renderer("svg") is None
    with pytest.raises(netspec.UsageError) as caught:
        render("digraph { a }", "svg")
    assert str(caught.value) == (
        "writing SVG needs a Graphviz program: pip install graphviz-pure, or install Graphviz "
        "(apt-get install graphviz, brew install graphviz); netspec draw -o FILE.dot or FILE.mmd needs nothing")
