"""What the command line does around a command's body, shared by the typer app (netspec/cli_app.py) and the
quick path of netspec/cli.py: errors turned into messages and exit codes, and the bodies of `check` and
`summary`. Nothing here imports typer, so the quick path can use it all."""

from __future__ import annotations

import os
import sys
from typing import Callable, Sequence

from .diagnostics import SpecError, UsageError, escaped


def echo(text: str, err: bool = False) -> None:
    """Print a line to stdout (or stderr) and flush it, as click's echo does for plain text."""
    stream = sys.stderr if err else sys.stdout
    stream.write(f"{text}\n")
    stream.flush()


def overrides(pairs: Sequence[str] | None) -> dict[str, str]:
    """--set NAME=VALUE options -> {name: value text}."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UsageError(f"--set takes NAME=VALUE, got '{pair}'")
        out[key.strip()] = value.strip()
    return out


def input_shape(text: str | None) -> tuple[int, ...] | None:
    """--input 3x224x224 -> (3, 224, 224)."""
    if text is None:
        return None
    parts = text.replace(",", "x").lower().split("x")
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise UsageError(f"--input takes sizes like 3x224x224, got '{text}'") from None
    if not dims or any(d <= 0 for d in dims):
        raise UsageError(f"--input sizes must be positive, got '{text}'")
    return dims


def run(action: Callable[[], None], echo: Callable[..., None] = echo, passthrough: tuple = ()) -> int:
    """Run a command body; 0 if it succeeded, else the exit code after its message went to stderr:
    1 spec errors, 2 usage errors and refusals of the file system, 3 a bug in netspec, 130 an interrupt.
    Exceptions of the `passthrough` types (typer's Exit) propagate untouched."""
    try:
        action()
    except SpecError as exc:
        echo(exc.render(), err=True)
        count = len(exc.diagnostics)
        echo(f"{count} error{'s' if count != 1 else ''}", err=True)
        return 1
    except UsageError as exc:
        echo(f"netspec: error: {escaped(str(exc))}", err=True)
        return 2
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # the file system said no (a full disk, a read-only folder): not a bug in netspec
        echo(f"netspec: error: {exc.filename + ': ' if exc.filename else ''}{exc.strerror or exc}", err=True)
        return 2
    except passthrough:
        raise
    except Exception as exc:  # a bug in netspec, not in the spec: say so plainly
        if os.environ.get("NETSPEC_DEBUG"):
            raise
        echo(f"netspec: internal error: {type(exc).__name__}: {exc}\n"
             "This is a bug in netspec; rerun with NETSPEC_DEBUG=1 for the traceback.", err=True)
        return 3
    return 0


def check(specs: Sequence[os.PathLike | str], max_params: int | None, max_nodes: int | None,
          max_bytes: int | None, echo: Callable[..., None] = echo) -> None:
    """The body of `netspec check`: one line per good spec, every spec's errors together at the end."""
    from .pipeline import DEFAULT_MAX_PARAMS, check_budget, parse_linked, typed_graph

    failures: list[SpecError] = []
    for spec in specs:
        try:
            parsed = parse_linked(spec, max_nodes=max_nodes, max_bytes=max_bytes)
            graph = typed_graph(parsed, max_nodes=max_nodes)
            check_budget(graph, max_params or DEFAULT_MAX_PARAMS, parsed.locations.sources)
            echo(f"{escaped(str(spec))}: ok ({graph.root.params:,} params, output {graph.root.out_shape})")
        except SpecError as exc:
            failures.append(exc)
    if failures:
        raise SpecError([d for f in failures for d in f.diagnostics],
                        {k: v for f in failures for k, v in f.sources.items()})


def summary(spec: os.PathLike | str, overrides: dict[str, str], input_shape: tuple[int, ...] | None,
            depth: int | None, format: str, max_nodes: int | None, max_bytes: int | None, batch: int, dtype: str,
            columns: str, freeze: Sequence[str], echo: Callable[..., None] = echo) -> None:
    """The body of `netspec summary`: the static table (or JSON, Markdown, CSV) of one spec."""
    from .backends.summary import summarize_graph
    from .pipeline import analyse

    graph = analyse(spec, overrides, input_shape, max_nodes=max_nodes, max_bytes=max_bytes)
    table = summarize_graph(graph, batch_size=batch, dtype=dtype, columns=columns, freeze=freeze)
    echo(table.render(format, depth))
