"""The properties every generated spec keeps; `check_spec(text, syntax)` raises AssertionError naming the broken one.

(a) every input gives a Spec or located diagnostics, never another exception;
(b) a spec that checks builds, runs forward and backward on a small input (the meta device where it is large)
    and leaves the caller's input untouched;
(c) static shapes equal runtime shapes at every module (forward hooks), static params equal the module's (each
    module and the total), static mult-adds equal torchinfo's;
(d) the module as compiled (in-place activations where netspec chose them, or the spec asked) gives the same
    outputs and gradients as the same module with every in-place flag off.
"""

from __future__ import annotations

import copy
import math

import torch

from netspec.compile import compile_graph
from netspec.diagnostics import SpecError, UsageError
from netspec.pipeline import DEFAULT_MAX_PARAMS, analyse, check_budget

SMALL_VALUES = 200_000  # values a forward pass writes, above which only the meta device is used
SMALL_PARAMS = 1_000_000
BATCH = 2  # batch norm needs more than one value per channel in training


def check_spec(text: str, syntax: str, mult_adds: bool = True) -> str:
    """'invalid' (located diagnostics), 'meta' or 'run' (which checks ran); AssertionError when a property fails."""
    try:
        graph = analyse(text, format=syntax)
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
    return "run"


def _outputs(out) -> list[torch.Tensor]:
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
