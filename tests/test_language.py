"""Each language construct, checked against what torch does with the module it compiles to."""

from __future__ import annotations

import textwrap

import pytest
import torch
from torch import nn

import netspec
from netspec.pipeline import analyse


def spec(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


def keys(model: nn.Module) -> list[str]:
    return list(model.state_dict())


def test_entry_forms_compile_to_the_same_module():
    forms = [
        "layers: ['conv2d(8, 3, stride=2, padding=1)']",
        "layers: [{conv2d: {out: 8, kernel: 3, stride: 2, padding: 1}}]",
        "layers:\n  - conv2d(out=8, kernel=3, stride=2, padding=1)",
    ]
    shapes = set()
    for form in forms:
        model = netspec.load(f"input: [3, 16, 16]\n{form}\n")
        conv = model[0]
        assert isinstance(conv, nn.Conv2d)
        shapes.add((conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding))
    assert shapes == {(3, 8, (3, 3), (2, 2), (1, 1))}


def test_named_and_unnamed_entries_give_sequential_style_keys():
    model = netspec.load(spec("""
        input: [3, 8, 8]
        layers:
          - conv1: conv2d(4, 3)
          - relu
          - conv2d(4, 3)
          - head: [flatten, linear(2)]
    """))
    assert keys(model) == ["conv1.weight", "conv1.bias", "2.weight", "2.bias", "head.1.weight", "head.1.bias"]


def test_sections_are_named_submodules_in_order():
    model = netspec.load(spec("""
        input: [1, 8, 8]
        layers:
          stem: ["conv2d(2, 3)", relu]
          head: [flatten, linear(3)]
    """))
    assert [name for name, _ in model.named_children()] == ["stem", "head"]
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 3)


def test_params_expressions_and_overrides():
    text = spec("""
        input: [3, size, size]
        params: {size: 16, width: 4, wide: width * 2, classes: 10}
        layers: ["conv2d(wide if size > 8 else width, 3, padding=1)", flatten, linear(classes)]
    """)
    assert netspec.summarize(text).rows[0].output_shape == (8, 16, 16)
    small = netspec.summarize(text, size=8, classes=3)
    assert small.rows[0].output_shape == (4, 8, 8)
    assert small.output_shape == (3,)


def test_blocks_with_positional_keyword_and_default_args():
    model = netspec.load(spec("""
        input: [3, 16, 16]
        blocks:
          unit:
            args: {channels: int, stride: 1}
            layers: ["conv2d(channels, 3, stride=stride, padding=1)", batchnorm2d, relu]
        layers:
          - a: unit(8)
          - b: unit(16, stride=2)
          - c: unit(channels=16)
    """))
    assert model.a[0].stride == (1, 1) and model.b[0].stride == (2, 2)
    assert model(torch.randn(1, 3, 16, 16)).shape == (1, 16, 8, 8)


def test_concat_and_add_branches():
    model = netspec.load(spec("""
        input: [4, 8, 8]
        layers:
          - mix:
              concat:
                left: conv2d(2, 1)
                right: ["maxpool2d(3, stride=1, padding=1)", "conv2d(3, 1)"]
          - sum:
              add: ["conv2d(5, 3, padding=1)", identity]
    """))
    x = torch.randn(2, 4, 8, 8)
    expected = torch.cat([model.mix.left(x), model.mix.right(x)], dim=1)
    expected = model.sum["0"](expected) + expected
    assert torch.equal(model(x), expected)
    assert "mix.left.weight" in keys(model) and "mix.right.1.weight" in keys(model)


@pytest.mark.parametrize(
    "shortcut, channels, stride, projected",
    [("auto", 4, 1, False), ("auto", 8, 2, True), ("conv", 8, 2, True), ("identity", 4, 1, False)],
)
def test_residual_shortcut_modes(shortcut, channels, stride, projected):
    model = netspec.load(spec(f"""
        input: [4, 8, 8]
        layers:
          - block:
              residual:
                body: ["conv2d({channels}, 3, stride={stride}, padding=1, bias=false)", batchnorm2d]
                shortcut: {shortcut}
                after: relu
    """)).eval()
    block = model.block
    x = torch.randn(2, 4, 8, 8)
    body = block.get_submodule("1")(block.get_submodule("0")(x))
    if projected:
        proj = block.shortcut
        assert isinstance(proj[0], nn.Conv2d) and proj[0].stride == (stride, stride) and proj[0].kernel_size == (1, 1)
        assert [type(m).__name__ for m in proj] == (["Conv2d", "BatchNorm2d"] if shortcut == "auto" else ["Conv2d"])
        skip = proj(x)
    else:
        assert "shortcut" not in dict(block.named_children())
        skip = x
    assert torch.allclose(model(x), torch.relu(body + skip))


def test_residual_identity_shortcut_that_cannot_fit_is_a_located_error():
    with pytest.raises(netspec.SpecError) as info:
        analyse(spec("""
            input: [4, 8, 8]
            layers:
              - residual: {body: ["conv2d(8, 3, padding=1)"], shortcut: identity}
        """))
    diag = info.value.diagnostics[0]
    assert diag.code == "shape-mismatch" and diag.loc.line == 3
    assert "shortcut: auto" in diag.message


def test_residual_when_same_adds_only_when_shapes_agree():
    model = netspec.load(spec("""
        input: [4, 8, 8]
        blocks:
          maybe:
            args: [c]
            residual: {body: [conv: "conv2d(c, 3, padding=1)"], shortcut: when_same}
        layers: [keep: maybe(4), change: maybe(6)]
    """))
    x = torch.randn(1, 4, 8, 8)
    assert torch.allclose(model.keep(x), model.keep.conv(x) + x)
    assert isinstance(model.change, nn.Sequential)  # no residual connection: just the body
    assert keys(model) == ["keep.conv.weight", "keep.conv.bias", "change.conv.weight", "change.conv.bias"]


def test_repeat_with_first_override_index_and_names():
    model = netspec.load(spec("""
        input: [2, 16, 16]
        layers:
          - stage: {repeat: 3, block: "conv2d(4 * (i + 1), 3, padding=1)", first: {stride: 2}, names: "conv{i + 1}"}
    """))
    convs = [model.stage.conv1, model.stage.conv2, model.stage.conv3]
    assert [c.stride for c in convs] == [(2, 2), (1, 1), (1, 1)]
    assert [c.out_channels for c in convs] == [4, 8, 12]


def test_dense_block_concatenates_every_layer_output():
    model = netspec.load(spec("""
        input: [3, 8, 8]
        layers:
          - block: {dense: 3, layer: "conv2d(2, 3, padding=1)", names: "layer{i + 1}"}
    """))
    assert [m.in_channels for m in model.block.values()] == [3, 5, 7]
    x = torch.randn(1, 3, 8, 8)
    expected = x
    for layer in model.block.values():
        expected = torch.cat([expected, layer(expected)], 1)
    assert torch.equal(model(x), expected)
    assert netspec.summarize(spec("""
        input: [3, 8, 8]
        layers: [{dense: 3, layer: "conv2d(2, 3, padding=1)"}]
    """)).output_shape == (9, 8, 8)


def test_if_and_splice_shift_indices_like_torch():
    text = spec("""
        input: [3, 8, 8]
        params: {bn: true}
        blocks:
          unit:
            args: [c]
            layers: ["conv2d(c, 3, padding=1)", {if: bn, then: batchnorm2d}, relu]
        layers:
          - features:
              - splice: unit(4)
              - splice: {repeat: 2, block: {splice: unit(8)}}
    """)
    with_bn = netspec.load(text)
    assert [type(m).__name__ for m in with_bn.features] == ["Conv2d", "BatchNorm2d", "ReLU"] * 3
    without = netspec.load(text, bn=False)
    assert [type(m).__name__ for m in without.features] == ["Conv2d", "ReLU"] * 3
    assert "features.2.weight" in keys(without) and "features.3.weight" in keys(with_bn)


def test_extra_outputs_run_in_training_only_and_follow_outputs_order():
    text = spec("""
        input: [3, 8, 8]
        outputs: [main, late, early]
        layers:
          - conv2d(4, 3, padding=1)
          - early: {output: [flatten, linear(2)], train_only: true}
          - relu
          - late: {output: [flatten, linear(5)], train_only: true}
          - flatten
          - linear(3)
    """)
    model = netspec.load(text)
    main, late, early = model.train()(torch.randn(2, 3, 8, 8))
    assert (main.shape, late.shape, early.shape) == ((2, 3), (2, 5), (2, 2))
    assert model.eval()(torch.randn(2, 3, 8, 8)).shape == (2, 3)
    summary = netspec.summarize(text)
    head_params = (4 * 64 * 2 + 2) + (4 * 64 * 5 + 5)
    assert summary.total_params == (3 * 4 * 9 + 4) + head_params + (256 * 3 + 3)
    # training-only heads do not run in eval mode, so their mult-adds are not in the total
    assert summary.total_mult_adds == (3 * 4 * 9 + 4) * 64 + (256 * 3 + 3)


def test_flat_module_registers_named_entries_directly():
    model = netspec.load(spec("""
        input: [4, 8, 8]
        layers:
          - fire:
              flat:
                - squeeze: conv2d(2, 1)
                - relu
                - concat:
                    - e1: conv2d(3, 1)
                    - e3: conv2d(3, 3, padding=1)
    """))
    assert keys(model) == ["fire.squeeze.weight", "fire.squeeze.bias", "fire.e1.weight", "fire.e1.bias",
                           "fire.e3.weight", "fire.e3.bias"]
    x = torch.randn(1, 4, 8, 8)
    s = torch.relu(model.fire.squeeze(x))
    assert torch.allclose(model(x), torch.cat([model.fire.e1(s), model.fire.e3(s)], 1))


def test_extends_merges_params_blocks_and_keeps_locations(tmp_path):
    (tmp_path / "family.yaml").write_text(spec("""
        input: [3, 16, 16]
        params: {width: 4, classes: 10}
        blocks:
          unit: {args: [c], layers: ["conv2d(c, 3, padding=1)", relu]}
        layers: [unit(width), unit(width * 2), adaptive_avgpool2d(1), flatten, linear(classes)]
    """))
    (tmp_path / "preset.yaml").write_text("extends: family.yaml\nparams: {width: 16}\n")
    summary = netspec.summarize(tmp_path / "preset.yaml")
    assert summary.name == "preset"
    assert [r.output_shape for r in summary.rows if r.depth == 1][:2] == [(16, 16, 16), (32, 16, 16)]
    (tmp_path / "broken.yaml").write_text("extends: family.yaml\nparams: {width: 0}\n")
    with pytest.raises(netspec.SpecError) as info:
        analyse(tmp_path / "broken.yaml")
    # the error sits in the family file, where the layer is written
    assert info.value.diagnostics[0].loc.file.endswith("family.yaml")


def _two_backbones(tmp_path):
    """Two complete families with blocks of their own, a shared param and a shared init kind."""
    (tmp_path / "convs.yaml").write_text(spec("""
        input: [3, 16, 16]
        params: {width: 4, classes: 10, act: relu}
        blocks:
          conv_unit: {args: [c], layers: ["conv2d(c, 3, padding=1)", act]}
        layers: [conv_unit(width), flatten, linear(classes)]
        init:
          conv2d: {weight: "constant(1)", bias: zeros}
    """))
    (tmp_path / "pools.yaml").write_text(spec("""
        input: [3, 32, 32]
        params: {classes: 5, pool: 2}
        blocks:
          pool_unit: {args: [], layers: ["maxpool2d(pool)"]}
        layers: [pool_unit, flatten, linear(classes)]
        init:
          conv2d: {weight: "constant(2)"}
    """))


def test_extends_a_list_merges_the_bases_in_order(tmp_path):
    """Blocks and params of every base are the spec's own; a later base's params and init win, then the spec's."""
    _two_backbones(tmp_path)
    (tmp_path / "both.yaml").write_text(spec("""
        extends: [convs.yaml, pools.yaml]
        params: {width: 6}
        layers: [conv_unit(width), pool_unit, adaptive_avgpool2d(1), flatten, linear(classes)]
    """))
    summary = netspec.summarize(tmp_path / "both.yaml")
    assert summary.input_shape == (3, 32, 32)  # the last base's input
    assert summary.output_shape == (5,)  # classes from pools.yaml, the later base
    assert [r.output_shape for r in summary.rows if r.depth == 1][:2] == [(6, 32, 32), (6, 16, 16)]
    model = netspec.load(tmp_path / "both.yaml")
    conv = model.get_submodule("0.0")
    assert torch.all(conv.weight == 2) and torch.all(conv.bias == 0)  # init per tensor: pools' weight, convs' bias
    # a preset on the two-base family is an ordinary one-base preset
    (tmp_path / "preset.yaml").write_text("extends: both.yaml\nparams: {classes: 3, pool: 4}\n")
    preset = netspec.summarize(tmp_path / "preset.yaml")
    assert preset.output_shape == (3,) and [r.output_shape for r in preset.rows if r.depth == 1][1] == (6, 8, 8)
    # a list of one is the same as the bare name
    (tmp_path / "one.yaml").write_text("extends: [convs.yaml]\n")
    assert netspec.parse(tmp_path / "one.yaml", link=False).extends == "convs.yaml"


def test_extends_a_list_refuses_a_block_two_bases_define_differently(tmp_path):
    _two_backbones(tmp_path)
    (tmp_path / "other.yaml").write_text(spec("""
        input: [3, 8, 8]
        blocks:
          conv_unit: {args: [c], layers: ["conv2d(c, 1)"]}
        layers: [conv_unit(2), flatten, linear(2)]
    """))
    (tmp_path / "clash.yaml").write_text("name: clash\nextends:\n  - convs.yaml\n  - other.yaml\n")
    with pytest.raises(netspec.SpecError) as info:
        analyse(tmp_path / "clash.yaml")
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.code == "extends" and (diagnostic.loc.line, diagnostic.loc.col) == (4, 5)
    assert "block 'conv_unit' is defined both by 'convs.yaml' and by 'other.yaml'" in diagnostic.message
    # the spec settles it by defining the block itself; two bases sharing one family do not clash
    (tmp_path / "settled.yaml").write_text(spec("""
        extends: [convs.yaml, other.yaml]
        blocks:
          conv_unit: {args: [c], layers: ["conv2d(c, 3, padding=1)"]}
    """))
    assert netspec.summarize(tmp_path / "settled.yaml").output_shape == (2,)
    (tmp_path / "wide.yaml").write_text("extends: convs.yaml\nparams: {width: 8}\n")
    (tmp_path / "diamond.yaml").write_text("extends: [convs.yaml, wide.yaml]\n")
    assert netspec.summarize(tmp_path / "diamond.yaml").rows[0].output_shape == (8, 16, 16)


@pytest.mark.parametrize("text, message", [
    ("extends: []\n", "the list names no spec"),
    ("extends: [convs.yaml, 3]\n", "each item names a spec file, got 3"),
    ("extends: {a: convs.yaml}\n", "must name a spec file, or a list of them"),
    ("extends: [convs.yaml, missing.yaml]\n", "'missing.yaml' does not exist"),
])
def test_extends_a_list_errors(tmp_path, text, message):
    _two_backbones(tmp_path)
    (tmp_path / "bad.yaml").write_text("name: bad\n" + text)
    with pytest.raises(netspec.SpecError) as info:
        analyse(tmp_path / "bad.yaml")
    assert any(message in d.message for d in info.value.diagnostics), [d.message for d in info.value.diagnostics]


def test_extends_cannot_leave_the_spec_folder(tmp_path):
    inner = tmp_path / "inner"
    inner.mkdir()
    (tmp_path / "outside.yaml").write_text("input: [1]\nlayers: [identity]\n")
    (inner / "preset.yaml").write_text("extends: ../outside.yaml\n")
    with pytest.raises(netspec.SpecError) as info:
        analyse(inner / "preset.yaml")
    assert info.value.diagnostics[0].code == "extends"


def test_init_is_applied_per_kind_and_deterministic():
    text = spec("""
        input: [3, 8, 8]
        layers: ["conv2d(16, 3)", batchnorm2d, flatten, linear(4)]
        init:
          conv2d: {weight: "constant(0.5)", bias: zeros}
          batchnorm2d: {weight: "constant(2)"}
          linear: {weight: "normal(0, 0.01)", bias: "constant(value=1)"}
    """)
    model = netspec.load(text, seed=3)
    assert torch.all(model[0].weight == 0.5) and torch.all(model[0].bias == 0)
    assert torch.all(model[1].weight == 2)
    assert torch.all(model[3].bias == 1)
    assert torch.equal(model[3].weight, netspec.load(text, seed=3)[3].weight)


def test_calls_in_flow_lists_keep_their_commas_and_positions():
    with pytest.raises(netspec.SpecError) as info:
        analyse("input: [3, 8, 8]\nlayers: ['conv2d(4, 3, padding=1)', 'convv2d(4, 3)']\n")
    diag = info.value.diagnostics[0]
    assert diag.code == "unknown-layer" and "did you mean 'conv2d'" in diag.message
    assert (diag.loc.line, diag.loc.col) == (2, 37)  # the quote that opens convv2d's string


def test_yaml_12_scalars_do_not_surprise():
    summary = netspec.summarize(spec("""
        input: [1, 8, 8]
        params: {rate: 1e-1, flag: on}
        layers: [dropout(rate), flatten]
    """))
    assert summary.output_shape == (64,)


def test_layer_arguments_may_use_the_incoming_sizes():
    text = spec("""
        input: [3, 16, 16]
        blocks:
          transition:
            layers: [batchnorm2d, relu, "conv2d(in_channels // 2, 1, bias=false)", avgpool2d(2)]
          depthwise:
            args: {stride: 1}
            layers: ["conv2d(in_channels, 3, stride=stride, padding=1, groups=in_channels)", "conv2d(in_channels * 2, 1)"]
        layers:
          - conv2d(12, 3, padding=1)
          - transition
          - depthwise(stride=2)
          - flatten
          - linear(in_channels // 4)
    """)
    model = netspec.load(text)
    assert model[1][2].out_channels == 6                          # half of the 12 channels reaching it
    assert (model[2][0].groups, model[2][1].out_channels) == (6, 12)
    assert model[4].out_features == 12 * 4 * 4 // 4
    assert model(torch.randn(1, 3, 16, 16)).shape == (1, 48)
    # the same spec in the text syntax is the same Spec
    from netspec.frontends.printer import same, to_ns

    assert same(netspec.parse(to_ns(netspec.parse(text)), format="ns"), netspec.parse(text))


@pytest.mark.parametrize("where, says", [
    ("params: {c: in_channels * 2}\nlayers: ['conv2d(c, 3)']", "not in params"),
    ("layers: [{repeat: 2, names: 'u{in_channels}', block: relu}]", "names are given before shapes are known"),
    ("layers: [flatten, 'linear(in_height)']", "has no height or width (it has only in_channels)"),
])
def test_incoming_sizes_are_refused_where_no_tensor_has_them(where, says):
    """Params and copy names are settled before any shape is known; a flat tensor has no height."""
    with pytest.raises(netspec.SpecError) as info:
        analyse(f"input: [3, 8, 8]\n{where}\n")
    assert [d.code for d in info.value.diagnostics] == ["unknown-name"]
    assert says in str(info.value)


def test_init_by_module_path_overrides_init_by_kind():
    text = spec("""
        input: [3, 8, 8]
        layers:
          - features: ["conv2d(4, 3)", relu, "conv2d(4, 3)"]
          - classifier: [flatten, linear(5), relu, linear(2)]
        init:
          conv2d: {weight: "constant(1)", bias: zeros}
          features.2: {weight: "constant(3)"}
          "classifier.*": {bias: "constant(7)"}
    """)
    model = netspec.load(text)
    assert torch.all(model.features[0].weight == 1) and torch.all(model.features[2].weight == 3)
    assert torch.all(model.classifier[1].bias == 7) and torch.all(model.classifier[3].bias == 7)
    # the text syntax writes a path key in backticks and reads it back the same
    from netspec.frontends.printer import same, to_ns

    ns = to_ns(netspec.parse(text))
    assert "`features.2`" in ns and same(netspec.parse(ns, format="ns"), netspec.parse(text))


def test_init_path_that_matches_nothing_is_located_with_a_suggestion():
    with pytest.raises(netspec.SpecError) as info:
        analyse("input: [3, 8, 8]\nlayers:\n  - fc: [flatten, linear(2)]\ninit:\n  fc.2: {weight: zeros}\n")
    diag = info.value.diagnostics[0]
    assert (diag.code, diag.loc.line) == ("unknown-layer", 5) and "did you mean 'fc.1'" in diag.message
