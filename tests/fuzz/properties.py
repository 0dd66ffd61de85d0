"""The properties every generated spec keeps; `check_spec(text, syntax)` raises AssertionError naming the broken one.

(a) every input gives a Spec or located diagnostics, never another exception;
(b) a spec that checks builds, runs forward and backward on a small input (the meta device where it is large)
    and leaves the caller's input untouched;
(c) static shapes equal runtime shapes at every module (forward hooks), static params equal the module's (each
    module and the total), static mult-adds equal torchinfo's;
(d) the module as compiled (in-place activations where netspec chose them, or the spec asked) gives the same
    outputs and gradients as the same module with every in-place flag off;
(e) where the sample asks for it (strategies.Sample.checkpoint), a checkpoint of the module loads back as the
    same weights and outputs, and a damaged, tampered or over-budget one is refused with a UsageError or
    SpecError (a damage that changes nothing may load, as the original).

A Sample with other files (the family of an `extends`) is read from a temporary folder that holds them.
"""

from __future__ import annotations

import contextlib
import copy
import math
import tempfile
from pathlib import Path

import torch

from netspec.backends.compile import compile_graph
from netspec.diagnostics import SpecError, UsageError
from netspec.pipeline import DEFAULT_MAX_PARAMS, analyse, check_budget

SMALL_VALUES = 200_000  # values a forward pass writes, above which only the meta device is used
SMALL_PARAMS = 1_000_000
BATCH = 2  # batch norm needs more than one value per channel in training


def check_spec(text: str, syntax: str, mult_adds: bool = True) -> str:
    """'invalid' (located diagnostics), 'meta' or 'run' (which checks ran); AssertionError when a property fails."""
    files = getattr(text, "files", None)
    checkpoint = getattr(text, "checkpoint", None)
    if not files and not checkpoint:
        return _check(text, syntax, mult_adds, None, None)
    with tempfile.TemporaryDirectory(prefix="netspec-fuzz-") as folder:
        source: str | Path = str(text)
        if files:
            for name, body in files.items():
                (Path(folder) / name).write_text(body, encoding="utf-8", errors="surrogatepass")
            source = Path(folder) / f"main.{syntax}"
            source.write_text(text, encoding="utf-8", errors="surrogatepass")
        return _check(source, syntax, mult_adds, checkpoint, Path(folder))


def _check(source, syntax: str, mult_adds: bool, checkpoint: str | None, folder: Path | None) -> str:
    try:
        graph = analyse(source, format=syntax)
    except SpecError as exc:
        assert exc.diagnostics, "a SpecError without diagnostics"
        for d in exc.diagnostics:
            assert d.loc is not None and d.code, f"unlocated or uncoded diagnostic: {d}"
        exc.render()
        return "invalid"
    except UsageError:
        return "invalid"
    try:
        check_budget(graph, DEFAULT_MAX_PARAMS)
    except SpecError:
        return "invalid"
    values = math.prod(graph.input_shape) + sum(math.prod(n.out_shape) for n in graph.walk() if not n.children)
    small = values * BATCH <= SMALL_VALUES and graph.root.params <= SMALL_PARAMS
    static = {n.path: n for n in graph.walk() if n.path and not n.virtual}
    if not small:
        model = compile_graph(graph, device="meta")
        _shapes_and_counts(model, graph, static, torch.zeros(1, *graph.input_shape, device="meta"))
        return "meta"
    model = compile_graph(graph, seed=0).double()
    torch.manual_seed(1)
    x = torch.randn(BATCH, *graph.input_shape, dtype=torch.float64)
    _shapes_and_counts(model, graph, static, x)
    if mult_adds:
        _mult_adds(model, graph)
    # (b) and (d): forward and backward, as compiled and with every in-place flag off
    plain = copy.deepcopy(model)
    for m in plain.modules():
        if getattr(m, "inplace", False) is True:
            m.inplace = False
    got = _train_step(model, x)
    want = _train_step(plain, x)
    for name, (a, b) in zip(("outputs", "input gradient"), zip(got[:2], want[:2])):
        assert len(a) == len(b), f"in-place changes the number of {name}"
        for u, v in zip(a, b):
            assert u.shape == v.shape and torch.allclose(u, v, rtol=1e-6, atol=1e-8, equal_nan=True), \
                f"in-place changes the {name}"
    for (name, a), (_, b) in zip(got[2], want[2]):
        assert (a is None) == (b is None), f"in-place changes whether {name} gets a gradient"
        if a is not None:
            assert torch.allclose(a, b, rtol=1e-6, atol=1e-8, equal_nan=True), f"in-place changes the gradient of {name}"
    if checkpoint is not None:
        _checkpoint(graph, source, syntax, checkpoint, folder / "model.pt")
    return "run"


def _checkpoint(graph, source, syntax: str, how: str, path: Path) -> None:
    """(e): save the module (float32, seed 0) with its spec, damage the file as `how` says, load it back."""
    from netspec.checkpoint import load_checkpoint, save_checkpoint

    model = compile_graph(graph, seed=0)
    save_checkpoint(path, model, source, format=syntax, input_shape=graph.input_shape, seed=0)
    refused = (UsageError, SpecError)
    if how == "budget":  # the budget is checked from the static count, before the module is allocated
        if graph.root.params:
            with contextlib.suppress(*refused):
                load_checkpoint(path, max_params=graph.root.params - 1)
                raise AssertionError("a checkpoint over the parameter budget loaded")
        return
    if how == "tamper":  # the file rewritten as torch.save writes it, one value changed: only the digest can tell
        payload = torch.load(path, weights_only=True)
        tensors = [t for t in payload["state_dict"].values() if t.numel() and t.is_floating_point()]
        if not tensors:
            return
        tensors[0].view(-1)[0] += 1.0
        torch.save(payload, path)
        with contextlib.suppress(UsageError):
            load_checkpoint(path)
            raise AssertionError("a checkpoint whose weights were changed loaded")
        return
    if "@" in how:
        kind, at = how.split("@")
        data = bytearray(path.read_bytes())
        index = min(int(float(at) * len(data)), len(data) - 1)
        if kind == "flip":
            data[index] ^= 0xFF
        else:
            del data[index:]
        path.write_bytes(bytes(data))
        try:
            loaded = load_checkpoint(path)
        except refused:
            return
    else:
        loaded = load_checkpoint(path)
    want, got = model.state_dict(), loaded.state_dict()
    assert list(got) == list(want), "a checkpoint loads other tensor names"
    for key in want:
        assert got[key].dtype == want[key].dtype and torch.equal(got[key], want[key]), f"a checkpoint loads another {key}"
    torch.manual_seed(4)
    x = torch.randn(BATCH, *graph.input_shape)
    model.eval(), loaded.eval()
    with torch.no_grad():
        for a, b in zip(_outputs(model(x)), _outputs(loaded(x)), strict=True):
            assert torch.allclose(a, b, rtol=1e-6, atol=1e-7, equal_nan=True), "a checkpoint gives other outputs"


def _outputs(out) -> list[torch.Tensor]:
    if isinstance(out, dict):
        return list(out.values())
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _train_step(model: torch.nn.Module, x: torch.Tensor):
    """Outputs, input gradient and parameter gradients of one forward and backward in training mode."""
    model.train()
    given = x.clone().requires_grad_(True)
    before = given.detach().clone()
    torch.manual_seed(2)  # dropout & co draw the same masks in both modules
    outs = _outputs(model(given))
    assert torch.equal(given.detach(), before), "the forward pass modified the caller's input"
    generator = torch.Generator().manual_seed(3)
    loss = sum((o * torch.randn(o.shape, generator=generator, dtype=o.dtype)).sum() for o in outs)
    loss.backward()
    grads = [(n, None if p.grad is None else p.grad.clone()) for n, p in model.named_parameters()]
    return [o.detach() for o in outs], [given.grad if given.grad is not None else torch.zeros_like(given)], grads


def _shapes_and_counts(model, graph, static, x) -> None:
    """(c) without mult-adds: every module's runtime output shape, and every module's parameter count."""
    seen: dict[str, tuple] = {}
    modules = dict(model.named_modules())

    def hook(path):
        def record(module, inputs, out) -> None:  # returns None: a hook that returns a value replaces the output
            seen.setdefault(path, tuple(out.shape[1:]))
        return record

    hooks = [m.register_forward_hook(hook(p)) for p, m in modules.items() if p in static and not static[p].tap]
    model.train()
    with torch.no_grad():
        _outputs(model(x))
    for h in hooks:
        h.remove()
    for path, shape in seen.items():
        assert shape == tuple(static[path].out_shape), \
            f"{path}: static shape {static[path].out_shape}, runtime {shape}"
    total = sum(p.numel() for p in model.parameters())
    assert total == graph.root.params, f"static params {graph.root.params:,}, module {total:,}"
    for path, node in static.items():
        if path in modules:
            built = sum(p.numel() for p in modules[path].parameters())
            assert built == node.params, f"{path}: static params {node.params:,}, module {built:,}"


def _mult_adds(model, graph) -> None:
    import torchinfo

    try:
        stats = torchinfo.summary(copy.deepcopy(model).eval(), (1, *graph.input_shape), dtypes=[torch.float64],
                                  verbose=0, mode="eval")
    except RuntimeError:  # torch's own limits at batch 1 (group norm of one value); batch 2 ran already
        return
    assert stats.total_mult_adds == graph.root.mult_adds, \
        f"static mult-adds {graph.root.mult_adds:,}, torchinfo {stats.total_mult_adds:,}"


def outcome(text: str, syntax: str, mult_adds: bool = True) -> str:
    """check_spec, with an exception other than AssertionError reported as a property failure too."""
    try:
        return check_spec(text, syntax, mult_adds)
    except AssertionError:
        raise
    except Exception as exc:  # noqa: BLE001 - any other exception is the finding
        raise AssertionError(f"{type(exc).__name__}: {exc}") from exc
