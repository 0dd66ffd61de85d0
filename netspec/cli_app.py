"""The `netspec` command line as a typer app: build, summary, check and the other commands, with their options
and help. Exit 0 ok, 1 spec errors, 2 usage errors. netspec/cli.py is the entry point: it runs the plain forms
of `check` and `summary` itself, without importing typer, and hands everything else to this app."""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer
from typer.core import TyperArgument, TyperGroup

from . import cli_run
from .diagnostics import SpecError, UsageError, escaped, plain_message

class _Argument(TyperArgument):
    """An argument shown as `SPEC` or `SPEC...` in usage and help (typer's own shows `{SPEC}` and `<path>`)."""

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        return name if self.required else f"[{name}]"

    def display_type_rich(self, ctx) -> None:
        return None


class _Group(TyperGroup):
    """The command group: readable arguments, and command-line mistakes reported in netspec's words."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for command in self.commands.values():
            for param in command.params:
                if type(param) is TyperArgument:
                    param.__class__ = _Argument

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args, prog_name or "netspec", complete_var, standalone_mode=False, **extra)
        except typer.Abort:
            typer.echo("Aborted.", err=True)
            code = 1
        except typer.TyperException as exc:  # click's usage errors (typer vendors click and exports only these names)
            if not hasattr(exc, "show"):
                raise
            cause = exc.__cause__
            if isinstance(exc, typer.BadParameter) and hasattr(cause, "errors") and cause.errors():
                exc.message = plain_message(cause.errors()[0])  # pydantic's words ("Input should be") -> ours
            exc.message = exc.message.removeprefix("Value error, ")
            exc.show()
            code = exc.exit_code
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    name="netspec",
    help="Validate, summarise and compile declarative CNN specs into PyTorch modules.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Format(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    csv = "csv"


class Dtype(str, Enum):
    float32 = "float32"
    float16 = "float16"
    bfloat16 = "bfloat16"


class Device(str, Enum):
    cpu = "cpu"
    cuda = "cuda"


SetOption = typer.Option(None, "--set", "-s", metavar="NAME=VALUE", help="Override a param; repeatable.")
InputOption = typer.Option(None, "--input", "-i", metavar="CxHxW", help="Input shape of one sample, e.g. 3x224x224.")
DepthOption = typer.Option(None, "--depth", "-d", min=1, metavar="N", help="Show rows down to this nesting depth only.")
MaxNodesOption = typer.Option(None, "--max-nodes", min=1, metavar="N",
                              help="Budget of entries after repeats and blocks are expanded (default 20,000); "
                                   "raises the limits on values and tokens in a file with it.")
MaxBytesOption = typer.Option(None, "--max-bytes", min=1, metavar="N",
                              help="Largest spec file read, in bytes (default 1,048,576).")
FormatOption = typer.Option(Format.table, "--format", "-f", metavar="table|json|markdown|csv",
                            help="How to print the summary.")
BatchOption = typer.Option(1, "--batch", "-b", min=1, metavar="N", help="Batch size for the memory figures.")
DtypeOption = typer.Option(Dtype.float32, "--dtype", metavar="float32|float16|bfloat16",
                           help="Value type for the memory figures.")
ColumnsOption = typer.Option("output,params,mult-adds", "--columns", "-c", metavar="COL,...",
                             help="Columns after Layer and Kind: input, output, kernel, params, trainable, "
                                  "mult-adds, percent.")
FreezeOption = typer.Option(None, "--freeze", metavar="PATH", help="Count this module (a path or glob such as "
                            "features.*) as non-trainable; repeatable.")


_overrides, _input_shape = cli_run.overrides, cli_run.input_shape  # --set NAME=VALUE and --input CxHxW


@contextmanager
def progress(what: str, after: float = 1.0):
    """On a terminal, tell on stderr what a step is doing once it has taken `after` seconds, and when it ends
    how long it took; elsewhere (a pipe, a file, CI) print nothing."""
    stream = sys.stderr
    if not stream.isatty():
        yield
        return
    start = time.perf_counter()
    timer = threading.Timer(after, lambda: print(f"{what}...", file=stream, flush=True))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        took = time.perf_counter() - start
        if took >= after:
            print(f"{what}: {took:.1f} s", file=stream, flush=True)


def _run(action) -> None:
    """Run a command body, turning our errors into messages and exit codes (never a traceback): netspec/cli_run.py."""
    code = cli_run.run(action, typer.echo, passthrough=(typer.Exit,))
    if code:
        raise typer.Exit(code)


@app.command()
def check(
    specs: List[Path] = typer.Argument(..., metavar="SPEC...", help="Spec files to validate."),
    max_params: int = typer.Option(None, "--max-params", min=1, metavar="N", help="Parameter budget (default 1,000,000,000)."),
    max_nodes: int = MaxNodesOption,
    max_bytes: int = MaxBytesOption,
) -> None:
    """Validate specs (syntax, names, arguments, every shape, the parameter budget) without building anything."""
    _run(lambda: cli_run.check(specs, max_params, max_nodes, max_bytes, typer.echo))


@app.command()
def summary(
    spec: Path = typer.Argument(..., metavar="SPEC", help="The spec file."),
    set_: Optional[List[str]] = SetOption,
    input: Optional[str] = InputOption,
    depth: Optional[int] = DepthOption,
    format: Format = FormatOption,
    max_nodes: int = MaxNodesOption,
    max_bytes: int = MaxBytesOption,
    batch: int = BatchOption,
    dtype: Dtype = DtypeOption,
    columns: str = ColumnsOption,
    freeze: Optional[List[str]] = FreezeOption,
) -> None:
    """Print each layer's output shape, parameters and mult-adds, and the totals, statically (no torch)."""
    _run(lambda: cli_run.summary(spec, _overrides(set_), _input_shape(input), depth, format.value, max_nodes,
                                 max_bytes, batch, dtype.value, columns, freeze or (), typer.echo))


@app.command()
def build(
    spec: Path = typer.Argument(..., metavar="SPEC", help="The spec file."),
    set_: Optional[List[str]] = SetOption,
    input: Optional[str] = InputOption,
    device: Device = typer.Option(Device.cpu, "--device", metavar="cpu|cuda", help="Where to build the module."),
    seed: Optional[int] = typer.Option(None, "--seed", metavar="N", help="Seed for weight initialisation (deterministic)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="FILE", help="Write a checkpoint (weights + the linked spec)."),
    max_params: int = typer.Option(None, "--max-params", min=1, metavar="N", help="Parameter budget (default 1,000,000,000)."),
    max_activations: int = typer.Option(
        None, "--max-activations", min=1, metavar="N", help="Budget of values the check forward pass may write (default 1e9)."
    ),
    depth: Optional[int] = DepthOption,
    format: Format = FormatOption,
    max_nodes: int = MaxNodesOption,
    max_bytes: int = MaxBytesOption,
    batch: int = BatchOption,
    dtype: Dtype = DtypeOption,
    columns: str = ColumnsOption,
    freeze: Optional[List[str]] = FreezeOption,
) -> None:
    """Validate, compile into an nn.Module, run one forward pass on zeros, and print the summary."""
    from .pipeline import (
        DEFAULT_MAX_ACTIVATIONS,
        DEFAULT_MAX_PARAMS,
        check_activations,
        check_budget,
        parse_linked,
        typed_graph,
    )
    from .backends.summary import summarize_graph
    from .usage import check_seed

    def action() -> None:
        check_seed(seed)
        overrides = _overrides(set_)
        parsed = parse_linked(spec, max_nodes=max_nodes, max_bytes=max_bytes)
        graph = typed_graph(parsed, overrides, _input_shape(input), max_nodes)
        check_budget(graph, max_params or DEFAULT_MAX_PARAMS, parsed.locations.sources)
        check_activations(graph, max_activations or DEFAULT_MAX_ACTIVATIONS, parsed)
        summary = summarize_graph(graph, batch_size=batch, dtype=dtype.value, columns=columns, freeze=freeze or ())
        with progress(f"building {graph.name} on {device.value}"):
            import torch

            if device is Device.cuda and not torch.cuda.is_available():
                raise UsageError("--device cuda: no CUDA device is available here")
            from .backends.compile import compile_graph

            module = compile_graph(graph, device=device.value, seed=seed).eval()
            with torch.no_grad():
                out = module(torch.zeros((1, *graph.input_shape), device=device.value))
        if isinstance(out, tuple):  # extra outputs that also run in eval mode: check the main one
            returned = [n for n in module.output_names if n == "main" or not module.taps.get(n)]
            out = out[returned.index("main")]
        counted = sum(p.numel() for p in module.parameters())
        assert counted == graph.root.params, f"static params {graph.root.params} != built {counted}"
        assert tuple(out.shape[1:]) == graph.root.out_shape, "static output shape differs from the built one"
        typer.echo(summary.render(format.value, depth))
        if format is Format.table:
            typer.echo(f"Built on {device.value}: forward pass {tuple(out.shape)} ok")
        if output is not None:
            from .checkpoint import save_checkpoint

            try:
                save_checkpoint(output, module, parsed, params=overrides, input_shape=graph.input_shape, seed=seed)
            except OSError as exc:
                from .files import reason

                raise UsageError(f"cannot write {escaped(str(output))}: {reason(exc)}") from None
            typer.echo(f"Wrote {escaped(str(output))}", err=True)

    _run(action)


@app.command()
def models(
    pattern: Optional[str] = typer.Argument(None, metavar="[PATTERN]", help="Shell-style pattern, e.g. 'resnet*'."),
    format: Format = FormatOption,
) -> None:
    """List the model library that comes with netspec: each model's params, mult-adds and input (no torch)."""
    from . import catalog

    _run(lambda: typer.echo(catalog.render(catalog.rows(pattern), format.value)))


# ---- fmt and convert: printing a spec in either syntax (netspec/frontends/printer.py) -------------------------


def _write(path: Path, text: str | bytes) -> None:
    """Replace `path` with `text` (or bytes) atomically (netspec/files.py); a file that cannot be written is a usage error."""
    from .files import FileProblem, atomic_write

    try:
        atomic_write(path, text)
    except FileProblem as exc:
        raise UsageError(f"cannot write {path}: {exc}") from None


class Syntax(str, Enum):
    yaml = "yaml"
    ns = "ns"


def _printed(parsed, syntax: str) -> str:
    """The spec in `syntax`, its comments kept, after checking that it reads back as the same Spec (a printer
    bug must not write)."""
    from .frontends.comments import carry, line_breaks
    from .pipeline import parse_text
    from .frontends.printer import to_ns, to_yaml

    text = to_ns(parsed.spec, line_breaks(parsed) if parsed.text else ()) if syntax == "ns" else to_yaml(parsed.spec)
    again = parse_text(text, parsed.file, syntax)
    if again.spec != parsed.spec:
        raise AssertionError(f"the {syntax} printer wrote text that reads back as a different spec")
    if parsed.text:
        text = carry(parsed, again)
        if parse_text(text, parsed.file, syntax).spec != parsed.spec:
            raise AssertionError(f"putting the comments back into the {syntax} text changed the spec")
    return text


def _parse_for_fmt(spec: Path) -> tuple[object, str, bool]:
    """(ParsedSpec, the file's text, migrated). A YAML file whose only errors are calls that its flow
    collections split (written for netspec's older reading) is read with those calls quoted, so that fmt
    migrates it to standard YAML."""
    from .pipeline import parse_text, read_source
    from .frontends.yaml_source import quote_split_calls

    text, file, syntax = read_source(spec)
    try:
        return parse_text(text, file, syntax), text, False
    except SpecError as exc:
        if syntax != "yaml" or any(d.code != "yaml-split-call" for d in exc.diagnostics):
            raise
        return parse_text(quote_split_calls(text), file, syntax), text, True


@app.command()
def fmt(
    specs: List[Path] = typer.Argument(..., metavar="SPEC...", help="The spec files (.ns or .yaml)."),
    write: bool = typer.Option(False, "--write", "-w", help="Rewrite the files in place instead of printing."),
    check: bool = typer.Option(False, "--check", help="Print nothing; exit 1 if a file is not in canonical form."),
) -> None:
    """Print a spec in canonical form, in its own syntax, keeping its comments and blank-line grouping."""

    def action() -> None:
        if len(specs) > 1 and not (write or check):
            raise UsageError("fmt prints one spec; give several files only with --write or --check")
        untidy = 0
        for spec in specs:
            parsed, original, migrated = _parse_for_fmt(spec)
            text = _printed(parsed, parsed.format)
            if check:
                if text != original:
                    why = ": calls in flow lists need quotes" if migrated else ""
                    typer.echo(f"{spec}: not in canonical form{why} (netspec fmt --write {spec})", err=True)
                    untidy += 1
            elif not write:
                typer.echo(text, nl=False)
            elif text != original:
                _write(spec, text)
        if untidy:
            raise typer.Exit(1)

    _run(action)


@app.command()
def convert(
    spec: Path = typer.Argument(..., metavar="SPEC", help="The spec file (.ns or .yaml)."),
    to: Syntax = typer.Option(..., "--to", "-t", metavar="yaml|ns", help="The syntax to write."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="FILE", help="Write here instead of printing."),
) -> None:
    """Convert a spec to the other syntax, losslessly (the result reads back as the same Spec), comments kept."""
    from .pipeline import parse

    def action() -> None:
        text = _printed(parse(spec), to.value)
        if output is None:
            typer.echo(text, nl=False)
        else:
            _write(output, text)
            typer.echo(f"Wrote {escaped(str(output))}", err=True)

    _run(action)


# ---- end of fmt and convert -------------------------------------------------------------------------


@app.command()
def diff(
    spec_a: Path = typer.Argument(..., metavar="A", help="The spec to compare from."),
    spec_b: Path = typer.Argument(..., metavar="B", help="The spec to compare to (may be A again, with other params)."),
    set_a: Optional[List[str]] = typer.Option(None, "--set-a", metavar="NAME=VALUE", help="Override a param of A."),
    set_b: Optional[List[str]] = typer.Option(None, "--set-b", metavar="NAME=VALUE", help="Override a param of B."),
    input: Optional[str] = InputOption,
    depth: Optional[int] = DepthOption,
    everything: bool = typer.Option(False, "--all", help="Show unchanged modules too."),
    format: Format = FormatOption,
    exit_code: bool = typer.Option(False, "--exit-code", help="Exit with status 1 when the specs differ (as git diff)."),
) -> None:
    """Compare two specs statically: modules added (+), removed (-) or changed (~), and the totals (no torch)."""
    from .backends.compare import diff_summaries
    from .pipeline import analyse
    from .backends.summary import summarize_graph

    def action() -> None:
        shape = _input_shape(input)
        a = summarize_graph(analyse(spec_a, _overrides(set_a), shape))
        b = summarize_graph(analyse(spec_b, _overrides(set_b), shape))
        if format is Format.csv:
            raise UsageError("diff prints table, markdown or json, not csv")
        compared = diff_summaries(a, b)
        typer.echo(compared.render(format.value, depth, everything))
        if exit_code and compared.changed:
            raise typer.Exit(1)

    _run(action)


class Direction(str, Enum):
    TB = "TB"
    LR = "LR"


@app.command()
def draw(
    spec: Path = typer.Argument(..., metavar="SPEC", help="The spec file."),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", metavar="FILE",
        help="Write here; the extension picks the format: .svg .png .pdf .dot .mmd (Mermaid) .html. "
             "Without it, DOT (or --format) goes to stdout."),
    to: Optional[str] = typer.Option(None, "--format", "-f", metavar="dot|mmd",
                                     help="What to print on stdout when there is no -o (default dot)."),
    set_: Optional[List[str]] = SetOption,
    input: Optional[str] = InputOption,
    depth: Optional[int] = typer.Option(None, "--depth", "-d", min=1, metavar="N",
                                        help="Expand blocks down to this nesting depth; deeper ones are one box."),
    direction: Direction = typer.Option(Direction.TB, "--direction", metavar="TB|LR", help="Top to bottom (TB) or left to right (LR)."),
) -> None:
    """Draw the architecture as a block diagram (DOT, Mermaid, or SVG/PNG/PDF/HTML through Graphviz), statically."""
    from .backends.diagram import diagram
    from .pipeline import analyse

    def action() -> None:
        if output is not None:
            if output.is_dir():
                raise UsageError(f"cannot write {escaped(str(output))}: is a directory, not a regular file")
            if not output.suffix:
                raise UsageError(f"cannot draw to {escaped(str(output))}: its extension picks the format; use one of "
                                 ".dot, .mmd, .svg, .png, .pdf, .html")
            fmt = output.suffix.lower().lstrip(".")
        else:
            fmt = (to or "dot").lower()
            if fmt not in ("dot", "mmd"):
                raise UsageError(f"--format takes dot or mmd for stdout, got '{to}'; write other formats with -o FILE")
        graph = analyse(spec, _overrides(set_), _input_shape(input))
        with progress(f"drawing {graph.name}"):
            data = diagram(graph, fmt, depth, direction.value)
        if output is None:
            typer.echo(data.decode("utf-8"), nl=False)
            return
        _write(output, data)  # atomically; links, devices and missing folders refused
        typer.echo(f"Wrote {escaped(str(output))}", err=True)

    _run(action)


@app.command()
def schema(
    output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="FILE", help="Write the schema to this file."),
) -> None:
    """Print the JSON Schema of YAML specs (every layer kind and its arguments), for editor completion."""
    from .backends.schema import schema_text

    def action() -> None:
        text = schema_text()
        if output is None:
            typer.echo(text, nl=False)
            return
        _write(output, text)
        typer.echo(f"Wrote {escaped(str(output))}", err=True)

    _run(action)


@app.command()
def layers(
    name: Optional[str] = typer.Argument(None, metavar="[NAME]", help="A layer kind to describe."),
) -> None:
    """List every layer kind (built-in and plugin) with its call form and one line; with NAME, describe that kind."""
    from .reference import kind_help, kinds_listing

    def action() -> None:
        typer.echo(kinds_listing() if name is None else kind_help(name), nl=False)

    _run(action)


# ---- plugins: `--plugin` on every command, NETSPEC_PLUGINS and entry points (netspec/plugins.py) ----

PluginOption = typer.Option(None, "--plugin", metavar="MODULE_OR_FILE",
                            help="Import layer kinds from a module or .py file first; repeatable.")


def _with_plugins(command):
    """The command, taking --plugin, with every plugin loaded before its body runs."""
    import functools
    import inspect

    signature = inspect.signature(command)

    @functools.wraps(command)
    def run(*args, plugin: Optional[List[str]] = None, **kwargs):
        from .plugins import load_plugins

        _run(lambda: load_plugins(plugin or ()))
        return command(*args, **kwargs)

    extra = inspect.Parameter("plugin", inspect.Parameter.KEYWORD_ONLY, default=PluginOption,
                              annotation=Optional[List[str]])
    run.__signature__ = signature.replace(parameters=[*signature.parameters.values(), extra])
    return run


for _command in app.registered_commands:
    _command.callback = _with_plugins(_command.callback)


def _version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"netspec {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Validate, summarise and compile declarative CNN specs into PyTorch modules."""


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except SystemExit as exc:  # click exits 2 on usage errors, as we want
        sys.exit(exc.code)


if __name__ == "__main__":
    main()
