"""The size budgets a parse runs under (file bytes, nodes), and the front ends' caps derived from them.

Every cap on the size of a spec is enforced before any work that grows faster than the spec: the file's
bytes when it is read, the YAML reader's values and the `.ns` tokens before anything is parsed as an
expression, and the expanded nodes while resolve expands blocks and repeats. Two of them are budgets a user
raises on purpose, as `--max-params` raises the parameter budget:

    max_bytes   the largest spec file read (default 1 MiB)                    --max-bytes / max_bytes=
    max_nodes   entries after blocks and repeats are expanded (default 20,000)   --max-nodes / max_nodes=

The front ends' own caps (YAML values, values written, `.ns` tokens) are sized for the default node budget,
so a hostile file is refused in milliseconds; each node of budget above the default admits a fixed number more
(16 YAML values, 64 `.ns` tokens: a layer written out with many arguments), so a 100,000-layer spec is analysed
when asked for with max_nodes=100_000 or a little more, whatever its layers look like.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Iterator

from .records import FrozenRecord

DEFAULT_MAX_NODES = 20_000  # ResNet-1202 expands to about 4,200, RegNetY-128GF to a few hundred
DEFAULT_MAX_BYTES = 1 << 20  # 1 MiB: the largest bundled spec is under 20 KB
VALUES_PER_NODE = 16  # YAML values (and values written) admitted per node of budget above the default
TOKENS_PER_NODE = 64  # .ns tokens admitted per node of budget above the default


class Budget(FrozenRecord):
    """The budgets of one parse: None means the default. (A Record, as a frozen dataclass: netspec/records.py.)"""

    _fields = ("max_nodes", "max_bytes")
    max_nodes: int | None
    max_bytes: int | None

    def __init__(self, max_nodes: int | None = None, max_bytes: int | None = None) -> None:
        object.__setattr__(self, "max_nodes", max_nodes)
        object.__setattr__(self, "max_bytes", max_bytes)

    def bytes(self, default: int) -> int:
        """The file-size cap: the budget when one was given, else the front end's default."""
        return self.max_bytes if self.max_bytes is not None else default

    def cap(self, default: int, per_node: int) -> int:
        """A front end's cap sized for the default node budget, `per_node` more for each node of a larger one."""
        if self.max_nodes is None or self.max_nodes <= DEFAULT_MAX_NODES:
            return default
        return default + per_node * (self.max_nodes - DEFAULT_MAX_NODES)

    def key(self) -> tuple:
        """What a cached parse depends on (a text admitted under a large budget is refused under a small one)."""
        return (self.max_nodes, self.max_bytes)


_current: contextvars.ContextVar[Budget] = contextvars.ContextVar("netspec_budget", default=Budget())


def current() -> Budget:
    """The budget of the parse running now (the defaults outside any `within`)."""
    return _current.get()


@contextlib.contextmanager
def within(max_nodes: int | None = None, max_bytes: int | None = None) -> Iterator[Budget]:
    """Run the enclosed parses under these budgets; None keeps the one in force (an outer call's, or the default)."""
    outer = _current.get()
    budget = Budget(max_nodes if max_nodes is not None else outer.max_nodes,
                    max_bytes if max_bytes is not None else outer.max_bytes)
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


def check_budget_value(name: str, value: Any) -> None:
    """A size budget is None (the default) or a positive whole number."""
    if value is None:  # the usual answer, before any import
        return
    from .diagnostics import UsageError
    from .usage import _what

    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UsageError(f"{name} is a positive whole number (or None for the default); got {_what(value)}")
