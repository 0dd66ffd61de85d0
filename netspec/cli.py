"""The `netspec` command's entry point. The plain forms of the two commands run most often, `check SPEC...` and
`summary SPEC` with the options written out, run here without importing typer (about a sixth of a `summary`
process); anything else (help, --version, --plugin, a value typer would refuse, every other command) goes to
the typer app in netspec/cli_app.py, which reads the same forms the same way. Names of that app (`app`,
`progress`, ...) are reachable from here too, so `from netspec.cli import app` works."""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Any

# option -> (destination, kind); kind "int" is a whole number >= 1, a tuple the values typer accepts, "text" any
# text, "many" a repeatable text. Forms typer reads differently (a flag cluster, an abbreviation) are not here,
# so they go to typer.
_BUDGETS = {"--max-nodes": ("max_nodes", "int"), "--max-bytes": ("max_bytes", "int")}
_OPTIONS = {
    "check": {**_BUDGETS, "--max-params": ("max_params", "int")},
    "summary": {
        **_BUDGETS,
        "--set": ("set", "many"), "-s": ("set", "many"),
        "--input": ("input", "text"), "-i": ("input", "text"),
        "--depth": ("depth", "int"), "-d": ("depth", "int"),
        "--format": ("format", ("table", "json", "markdown", "csv")),
        "-f": ("format", ("table", "json", "markdown", "csv")),
        "--batch": ("batch", "int"), "-b": ("batch", "int"),
        "--dtype": ("dtype", ("float32", "float16", "bfloat16")),
        "--columns": ("columns", "text"), "-c": ("columns", "text"),
        "--freeze": ("freeze", "many"),
    },
}


def _plain(argv: list[str]) -> tuple[str, list[Path], dict[str, Any]] | None:
    """(command, spec paths, options) for a plain `check` or `summary` command line; None for anything else."""
    if not argv or argv[0] not in _OPTIONS:
        return None
    known = _OPTIONS[argv[0]]
    specs: list[Path] = []
    options: dict[str, Any] = {}
    args = iter(argv[1:])
    for arg in args:
        if arg and not arg.startswith("-"):
            specs.append(Path(arg))
            continue
        name, eq, value = arg.partition("=")
        if name not in known or (eq and not name.startswith("--")):
            return None
        if not eq:
            value = next(args, None)
            if value is None or value.startswith("-"):
                return None
        dest, kind = known[name]
        if kind == "int":
            if not (value.isascii() and value.isdigit()) or int(value) < 1:
                return None
            options[dest] = int(value)
        elif kind == "many":
            options.setdefault(dest, []).append(value)
        elif isinstance(kind, tuple) and value not in kind:
            return None
        else:
            options[dest] = value
    if not specs or (argv[0] == "summary" and len(specs) != 1):
        return None
    return argv[0], specs, options


def _quick(command: str, specs: list[Path], options: dict[str, Any]) -> int:
    """Run a plain `check` or `summary`, as the typer app would: plugins first, then the command's body."""
    from . import cli_run
    from .plugins import load_plugins

    code = cli_run.run(lambda: load_plugins(()))
    if code:
        return code
    get = options.get
    if command == "check":
        return cli_run.run(lambda: cli_run.check(specs, get("max_params"), get("max_nodes"), get("max_bytes")))
    return cli_run.run(lambda: cli_run.summary(
        specs[0], cli_run.overrides(get("set")), cli_run.input_shape(get("input")), get("depth"),
        get("format", "table"), get("max_nodes"), get("max_bytes"), get("batch", 1), get("dtype", "float32"),
        get("columns", "output,params,mult-adds"), get("freeze") or ()))


def main() -> None:
    """Console-script entry point."""
    from .plugins import forget_entry_points, look_up_entry_points, spare_pydantic_plugin_scan

    look_up_entry_points()  # one look at the installed packages for the plugins and for pydantic's loader
    try:
        spare_pydantic_plugin_scan()
        program = _is_program()
        if program:
            gc.freeze()  # what the imports made: left out of every later collection, the one at exit included
        plain = _plain(sys.argv[1:])
        if plain is not None:
            code = _quick(*plain)
            if program:  # the process ends now, and check and summary hold no file open but the standard streams
                gc.freeze()  # (flushed at exit as ever): the collection at exit need not walk their graphs either
            sys.exit(code)
        from .cli_app import main as typer_main

        typer_main()
    finally:
        forget_entry_points()


def _is_program() -> bool:
    """Is this call the process's own program: the `netspec` script, or `python -m netspec.cli`? Only then does
    main freeze the collector's objects (gc.freeze), which would be a leak in a program that calls main itself."""
    return getattr(sys.modules.get("__main__"), "main", None) is main


def __getattr__(name: str) -> Any:
    """The typer app's names (`app`, `progress`, `_printed`, ...), imported on first use."""
    if name.startswith("__"):
        raise AttributeError(name)
    from . import cli_app

    return getattr(cli_app, name)


if __name__ == "__main__":
    main()
