"""Data flow beyond trees: references (`$enc`, `$body.layer2`, `$input`), split, resize, concat along any dim,
outputs at any depth, recursive blocks and the generated forward code, in both syntaxes, each checked against
hand-written torch or torchvision (never against netspec's own output)."""

from __future__ import annotations

import copy
import pickle
import sys
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import distributed as dist
from torch import nn

import netspec
from netspec.diagnostics import SpecError
from netspec.backends.modules import Generated
from netspec.ir import graph as g
from netspec.ir.resolve import resolve
from netspec.pipeline import analyse, parse_linked, parse_text
from netspec.frontends.printer import to_ns, to_yaml

ROOT = Path(__file__).resolve().parent.parent
ARCH = ROOT / "architectures"


def same_spec(a, b) -> bool:
    return a.model_dump(exclude={"name"}) == b.model_dump(exclude={"name"})


# The hand-written U-Net the benchmark runs against is the independent reference here too.
sys.path.insert(0, str(ROOT / "benchmarks"))
from flow_vs_handwritten import HandUNet  # noqa: E402


@pytest.mark.parametrize("suffix", [".yaml", ".ns"])
def test_unet_matches_a_hand_written_unet_and_its_static_shapes_hold_at_every_module(suffix):
    params = dict(in_channels=3, num_classes=5, width=8, depth=4)
    model = netspec.load(ARCH / f"unet{suffix}", input_shape=(3, 64, 48), seed=0, **params)
    hand = HandUNet(3, 5, 8, 4)
    assert [k for k in model.state_dict()] == [k for k in hand.state_dict()]
    model.load_state_dict(hand.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        torch.testing.assert_close(model(x), hand(x), rtol=0, atol=1e-5)
    graph = analyse(ARCH / f"unet{suffix}", params, input_shape=(3, 64, 48))
    static = {n.path: n.out_shape for n in graph.walk() if n.module and n.path}
    seen: dict[str, tuple] = {}
    for path, module in model.named_modules():
        if path:
            module.register_forward_hook(lambda m, i, o, path=path: seen.__setitem__(path, tuple(o.shape[1:])))
    with torch.no_grad():
        model(x)
    assert seen, "no module ran"
    assert {p: s for p, s in seen.items()} == {p: static[p] for p in seen}
    # every node that is a module and not traced through by generated code ran, with its static shape
    assert len(seen) >= 40
    assert sum(p.numel() for p in model.parameters()) == graph.root.params


def test_unet_paper_size_and_both_syntaxes():
    yaml_spec, ns_spec = parse_linked(ARCH / "unet.yaml").spec, parse_linked(ARCH / "unet.ns").spec
    assert same_spec(yaml_spec, ns_spec)
    # Ronneberger et al.'s widths, 64 to 1024, with 2 classes: the hand-written U-Net's parameter count
    graph = analyse(ARCH / "unet.yaml")
    assert graph.root.params == sum(p.numel() for p in HandUNet(1, 2, 64, 4).parameters())
    assert graph.root.out_shape == (2, 256, 256)
    assert len((ARCH / "unet.yaml").read_text().splitlines()) <= 45
    assert len((ARCH / "unet.ns").read_text().splitlines()) <= 40


def test_unet_recursion_follows_the_depth_param():
    for depth in (0, 1, 2, 5):
        graph = analyse(ARCH / "unet.yaml", {"depth": depth, "width": 4}, input_shape=(1, 64, 64))
        assert graph.root.params == sum(p.numel() for p in HandUNet(1, 2, 4, depth).parameters())


# ---- the FPN, against torchvision -------------------------------------------------------------------


def test_fpn_resnet50_is_torchvisions_resnet_fpn_backbone():
    detection = pytest.importorskip("torchvision.models.detection.backbone_utils")
    reference = detection.resnet_fpn_backbone(backbone_name="resnet50", weights=None, trainable_layers=5).eval()
    model = netspec.load(ARCH / "torchvision" / "fpn_resnet50.yaml").eval()
    assert list(model.state_dict()) == list(reference.state_dict())
    assert all(a.shape == b.shape for a, b in zip(model.state_dict().values(), reference.state_dict().values()))
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        got, want = model(x), reference(x)
    assert isinstance(got, dict) and list(got) == list(want) == ["0", "1", "2", "3", "pool"]
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=0, atol=1e-5)
    graph = analyse(ARCH / "torchvision" / "fpn_resnet50.yaml")
    assert graph.outputs == ["0", "1", "2", "3", "pool"] and graph.output_dict
    assert graph.root.params == sum(p.numel() for p in reference.parameters())
    assert graph.output_refs["pool"].source.out_shape == (256, 4, 4)


# ---- SE, a ShuffleNetV2 unit, an Inception module's taps -----------------------------------------------

SHUFFLE_YAML = """\
name: shuffle_unit
input: [58, 14, 14]
params:
  c: 58
blocks:
  unit:
    doc: ShuffleNetV2's stride-1 unit
    args: [c]
    flat:
      - halves: split(2)
      - concat:
          - $halves.0
          - branch2:
              - $halves.1
              - conv2d(c / 2, 1, bias=false)
              - batchnorm2d
              - relu
              - conv2d(c / 2, 3, padding=1, groups=c / 2, bias=false)
              - batchnorm2d
              - conv2d(c / 2, 1, bias=false)
              - batchnorm2d
              - relu
      - channel_shuffle(2)
layers:
  - unit: unit(c)
"""

SHUFFLE_NS = """\
network shuffle_unit
input 58x14x14
param c = 58

"ShuffleNetV2's stride-1 unit"
block unit(c) = flat [
  halves: split(2)
  concat {
    $halves.0
    branch2: [
      $halves.1 conv2d(c / 2, 1, bias=false) batchnorm2d relu
      conv2d(c / 2, 3, padding=1, groups=c / 2, bias=false) batchnorm2d
      conv2d(c / 2, 1, bias=false) batchnorm2d relu
    ]
  }
  channel_shuffle(2)
]

unit: unit(c)
"""


@pytest.mark.parametrize("text, fmt", [(SHUFFLE_YAML, "yaml"), (SHUFFLE_NS, "ns")])
def test_shufflenet_v2_unit_equals_torchvisions(text, fmt):
    shufflenet = pytest.importorskip("torchvision.models.shufflenetv2")
    reference = shufflenet.InvertedResidual(116, 116, 1).eval()  # 116 channels: 58 per half
    model = netspec.load(text, format=fmt, input_shape=(116, 14, 14), c=116).eval()
    assert list(model.unit.state_dict()) == list(reference.state_dict())
    model.unit.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 116, 14, 14)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=0, atol=1e-5)
    assert isinstance(model.unit, Generated) and "torch.chunk(x, 2, dim=1)" in model.unit.code


def test_shufflenet_unit_round_trips():
    yaml_spec, ns_spec = parse_text(SHUFFLE_YAML).spec, parse_text(SHUFFLE_NS, "u.ns", "ns").spec
    assert same_spec(yaml_spec, ns_spec)
    assert same_spec(parse_text(to_ns(yaml_spec), "u.ns", "ns").spec, yaml_spec)
    assert same_spec(parse_text(to_yaml(ns_spec)).spec, ns_spec)


def test_inception_module_taps_its_branches_by_reference():
    spec = ARCH / "googlenet.yaml"
    paths = [f"body.inception3a.branch{i}" for i in range(1, 5)]
    model = netspec.load(spec, outputs={f"b{i + 1}": p for i, p in enumerate(paths)} | {"logits": "main"}).eval()
    plain = netspec.load(spec).eval()
    plain.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        got = model(x)
        want = {}
        hooks = [plain.get_submodule(p).register_forward_hook(
            lambda m, i, o, k=f"b{n + 1}": want.__setitem__(k, o)) for n, p in enumerate(paths)]
        want["logits"] = plain(x)
    for hook in hooks:
        hook.remove()
    assert list(got) == ["b1", "b2", "b3", "b4", "logits"]
    for key in want:
        torch.testing.assert_close(got[key], want[key], rtol=0, atol=1e-5)
    assert [tuple(got[f"b{i}"].shape[1:]) for i in range(1, 5)] == [(64, 28, 28), (128, 28, 28), (32, 28, 28),
                                                                   (32, 28, 28)]
    # a tuple when a list is asked for, in its order
    model = netspec.load(spec, outputs=["$body.inception3b", "main"]).eval()
    with torch.no_grad():
        first, logits = model(x)
    assert first.shape == (1, 480, 28, 28) and logits.shape == (1, 1000)


def test_load_outputs_unknown_name_is_a_diagnostic_with_did_you_mean():
    with pytest.raises(SpecError) as err:
        netspec.load(ARCH / "resnet18.yaml", outputs=["layer9"], device="meta")
    assert "unknown-reference" in str(err.value) and "layer9" in str(err.value)
    with pytest.raises(SpecError) as err:
        netspec.load(ARCH / "resnet18.yaml", outputs=["$layer3.9"], device="meta")
    assert "has no entry '9'" in str(err.value)


# ---- references, merges, split and resize: semantics against torch ----------------------------------------

FLOW_YAML = """\
name: flow
input: [4, 8, 8]
layers:
  - enc: conv2d(6, 3, padding=1)
  - relu
  - wide: {concat: [$enc, "conv2d(2, 1)"]}
  - parts: split([6, 2])
  - gated: {mul: [$parts.0, $enc]}
  - down: maxpool2d(2)
  - up: resize($enc, mode=bilinear, align_corners=false)
  - rows: {concat: [$up, $input], dim: 2}
outputs: [main, $down, $wide]
"""

FLOW_NS = """\
network flow
input 4x8x8
outputs main, $down, $wide

enc: conv2d(6, 3, padding=1)
relu
wide: concat { $enc conv2d(2, 1) }
parts: split([6, 2])
gated: mul { $parts.0 $enc }
down: maxpool2d(2)
up: resize($enc, mode=bilinear, align_corners=false)
rows: concat(dim=2) { $up $input }
"""


def test_references_split_resize_and_concat_dim_compute_what_torch_computes():
    # `rows` joins (6, 8, 8) and the input (4, 8, 8) along rows: channels differ, so it is refused ...
    with pytest.raises(SpecError) as err:
        analyse(FLOW_YAML)
    message = str(err.value)
    assert "concat needs equal sizes apart from dim 2" in message and "'$up' (up, line 10) gives (6, 8, 8)" in message \
        and "'$input' (line 11) gives (4, 8, 8)" in message
    # ... and with 4 channels it runs, matching torch written by hand
    text = FLOW_YAML.replace("conv2d(6, 3", "conv2d(4, 3").replace("split([6, 2])", "split([4, 2])")
    model = netspec.load(text, seed=0)
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        main, down, wide = model(x)
        enc = model.enc(x)
        wide_ref = torch.cat([enc, getattr(model.wide, "0")(torch.relu(enc))], dim=1)
        gated = torch.split(wide_ref, [4, 2], dim=1)[0] * enc
        down_ref = F.max_pool2d(gated, 2)
        up = F.interpolate(down_ref, size=(8, 8), mode="bilinear", align_corners=False)
        torch.testing.assert_close(wide, wide_ref)
        torch.testing.assert_close(down, down_ref)
        torch.testing.assert_close(main, torch.cat([up, x], dim=2))
    graph = analyse(text)
    assert graph.root.out_shape == (4, 16, 8) and main.shape[1:] == graph.root.out_shape
    assert graph.outputs == ["main", "down", "wide"]


def test_flow_round_trips_between_the_syntaxes():
    yaml_spec, ns_spec = parse_text(FLOW_YAML).spec, parse_text(FLOW_NS, "f.ns", "ns").spec
    assert same_spec(yaml_spec, ns_spec)
    assert same_spec(parse_text(to_ns(yaml_spec), "f.ns", "ns").spec, yaml_spec)
    assert same_spec(parse_text(to_yaml(ns_spec)).spec, ns_spec)
    assert "$parts.0" in to_ns(yaml_spec) and "concat(dim=2)" in to_ns(yaml_spec)


def test_a_referenced_tensor_is_never_overwritten_in_place():
    # relu after `c` would run in place after a conv; `c` is read again, so it must not
    text = ("name: keep\ninput: [3, 6, 6]\nlayers:\n  - c: conv2d(3, 3, padding=1)\n  - relu\n"
            "  - add: [$c, identity]\n")
    model = netspec.load(text, seed=1)
    assert getattr(model, "1").inplace is False
    x = torch.randn(1, 3, 6, 6)
    with torch.no_grad():
        c = model.c(x)
        torch.testing.assert_close(model(x), c + torch.relu(c))
    # where nothing reads it again, the relu after a conv stays in place, as a hand-written net does it
    plain = netspec.load(text.replace("  - add: [$c, identity]\n", ""), seed=1)
    assert getattr(plain, "1").inplace is True


def test_input_reference_in_a_block_is_the_blocks_input():
    text = """\
name: gate
input: [8, 5, 5]
blocks:
  scaled:
    args: [c]
    layers:
      - conv2d(c, 1)
      - sigmoid
      - mul: [$input, identity]
layers:
  - conv2d(8, 3, padding=1)
  - g: scaled(8)
"""
    model = netspec.load(text, seed=2)
    x = torch.randn(2, 8, 5, 5)
    with torch.no_grad():
        h = model[0](x) if isinstance(model, nn.Sequential) else getattr(model, "0")(x)
        want = h * torch.sigmoid(getattr(model.g, "0")(h))
        torch.testing.assert_close(model(x), want)


# ---- the generated code is plain torch ----------------------------------------------------------------


def _small_unet():
    return netspec.load(ARCH / "unet.yaml", width=4, depth=2, input_shape=(1, 32, 32), seed=0)


def test_generated_modules_trace_export_pickle_and_copy():
    model = _small_unet().eval()
    x = torch.randn(1, 1, 32, 32)
    want = model(x)
    traced = torch.fx.symbolic_trace(model)
    torch.testing.assert_close(traced(x), want)
    exported = torch.export.export(model, (x,))
    torch.testing.assert_close(exported.module()(x), want)
    torch.testing.assert_close(pickle.loads(pickle.dumps(model))(x), want)
    torch.testing.assert_close(copy.deepcopy(model)(x), want)
    explained = torch._dynamo.explain(model)(x)
    assert explained.graph_break_count == 0
    assert "torch.cat([enc, skip_0], dim=1)" in model.unet.code


def test_fpn_runs_channels_last_and_under_autocast_as_torchvision_does():
    detection = pytest.importorskip("torchvision.models.detection.backbone_utils")
    reference = detection.resnet_fpn_backbone(backbone_name="resnet50", weights=None, trainable_layers=5).eval()
    model = netspec.load(ARCH / "torchvision" / "fpn_resnet50.yaml").eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64).to(memory_format=torch.channels_last)
    model, reference = model.to(memory_format=torch.channels_last), reference.to(memory_format=torch.channels_last)
    with torch.no_grad():
        got, want = model(x), reference(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low, low_want = model(x), reference(x)
    for key in want:
        torch.testing.assert_close(got[key], want[key], rtol=0, atol=1e-5)
        assert low[key].dtype == low_want[key].dtype == torch.bfloat16
        torch.testing.assert_close(low[key], low_want[key], rtol=0, atol=0)


def test_a_training_only_output_that_is_a_reference_alone_runs_and_is_returned_in_training_only():
    # found by the fuzzer: an output whose body emits no code (a reference) left an empty `if self.training:`
    text = ("input: [4, 6, 6]\nlayers:\n  - enc: conv2d(4, 1)\n  - stage:\n      - relu\n"
            "      - aux: {output: $enc, train_only: true}\n  - conv2d(4, 1)\noutputs: [main, aux]\n")
    model = netspec.load(text, seed=0)
    x = torch.randn(2, 4, 6, 6)
    with torch.no_grad():
        main, aux = model.train()(x)
        torch.testing.assert_close(aux, model.enc(x))
        alone = model.eval()(x)
    assert isinstance(alone, torch.Tensor)
    torch.testing.assert_close(alone, main)


def test_references_inside_an_entry_that_waits_for_the_incoming_width():
    # The block's defaults use in_channels, so it waits for infer (a g.Pending) and is resolved again there;
    # the references in its body ($input, $pool) must be linked in that second resolution too.
    text = """\
name: se_waiting
input: [12, 5, 5]
blocks:
  se:
    args: {c: in_channels, squeeze: in_channels // 4}
    layers:
      - pool: adaptive_avgpool2d(1)
      - squeeze: conv2d(squeeze, 1)
      - relu
      - conv2d(c, 1)
      - add: [$pool, identity]
      - sigmoid
      - mul: [$input, identity]
layers:
  - conv2d(12, 3, padding=1)
  - gate: se
"""
    untyped = resolve(parse_text(text))
    assert [type(n).__name__ for n in untyped.root.items] == ["Layer", "Pending"]  # it does wait
    assert isinstance(untyped.root.items[1], g.Pending)
    ns = to_ns(parse_text(text).spec)
    assert same_spec(parse_text(ns, format="ns").spec, parse_text(text).spec)
    for source, syntax in ((text, "yaml"), (ns, "ns")):
        model = netspec.load(source, format=syntax, seed=3)
        graph = analyse(source, format=syntax)
        gate = getattr(model, "gate")
        assert [n for n, _ in gate.named_children()] == ["pool", "squeeze", "2", "3", "4", "5", "6"]
        x = torch.randn(2, 12, 5, 5)
        with torch.no_grad():
            h = getattr(model, "0")(x)
            pooled = gate.pool(h)
            want = h * torch.sigmoid(getattr(gate, "3")(torch.relu(gate.squeeze(pooled))) + pooled)
            torch.testing.assert_close(model(x), want)
        assert graph.root.out_shape == (12, 5, 5)
        assert sum(p.numel() for p in model.parameters()) == graph.root.params


def test_generated_code_trains_under_distributed_data_parallel(tmp_path):
    model = _small_unet().train()
    reference = copy.deepcopy(model)
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        wrapped = nn.parallel.DistributedDataParallel(model)
        x, target = torch.randn(2, 1, 32, 32), torch.randn(2, 2, 32, 32)
        F.mse_loss(wrapped(x), target).backward()
        F.mse_loss(reference(x), target).backward()
    finally:
        dist.destroy_process_group()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert grads and all(g is not None for g in grads.values())
    for name, param in reference.named_parameters():
        torch.testing.assert_close(grads[name], param.grad)
