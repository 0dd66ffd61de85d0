"""Documentation that is generated or executed: the layer reference from the registry, and runnable examples.

    python -m netspec.docgen            # print the layer reference
    python -m netspec.docgen --check    # run every example in README.md and docs/*.md; list what differs
    python -m netspec.docgen --write    # rewrite the layer reference and the console outputs in place

The layer reference sits in docs/language.md between `<!-- layer-table:start -->` and
`<!-- layer-table:end -->`. `run_doc` walks a Markdown file in order, as a reader would follow it:
```yaml title="x.yaml"``` blocks are written to files, complete specs are checked (or, marked
`error`, must fail; marked `plugin=FILE`, with that plugin loaded first), other blocks with a title
(```python title="kinds.py"```, ```toml title="pyproject.toml"```) are written and not run, ```console``` blocks run their `$ netspec ...` commands and compare the output
(a line `...` stands for any lines), and ```python``` blocks run, with `>>>` blocks as doctests.
tests/test_docs.py runs all of it, so an example cannot rot. The layer reference needs no torch.
"""

from __future__ import annotations

import doctest
import io
import os
import re
import shlex
import shutil
import sys
import tempfile
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

from . import summarize
from .diagnostics import SpecError, UsageError
from .layers import REGISTRY, format_shape
from .yaml_source import read_yaml

START = "<!-- layer-table:start -->"
END = "<!-- layer-table:end -->"
ROOT = Path(__file__).resolve().parent.parent
LANGUAGE_MD = ROOT / "docs" / "language.md"

# Input shapes each kind's own example is run on, statically, to show its shape rule: an image and a
# feature vector; the fallbacks are tried, in order, only when neither of those fits.
EXAMPLE_INPUTS: tuple[tuple[int, ...], ...] = ((16, 32, 32), (64,))
FALLBACK_INPUTS: tuple[tuple[int, ...], ...] = ((3, 32, 32), (16, 10), (16, 8, 16, 16))
EXAMPLE_PARAMS = {"num_classes": 10}


# ---- type and value rendering ------------------------------------------------------------------


def _bound(constraint: Any) -> list[str]:
    """A constraint from pydantic's metadata (Gt, Ge, Lt, Le, Interval) as short text: `> 0`, `in [0, 1]`."""
    found = {op: getattr(constraint, attr, None) for op, attr in ((">", "gt"), (">=", "ge"), ("<", "lt"), ("<=", "le"))}
    low = [(op, v) for op, v in found.items() if op in (">", ">=") and v is not None]
    high = [(op, v) for op, v in found.items() if op in ("<", "<=") and v is not None]
    if low and high:
        (lo_op, lo), (hi_op, hi) = low[0], high[0]
        return [f"in {'[' if lo_op == '>=' else '('}{lo}, {hi}{']' if hi_op == '<=' else ')'}"]
    return [f"{op} {v}" for op, v in (*low, *high)]


def type_text(annotation: Any, metadata: list[Any] | tuple[Any, ...] = ()) -> str:
    """A field's type as a user writes values for it: `int > 0 | [int > 0, int > 0]`, `same | valid`."""
    bounds = [b for m in metadata for b in _bound(m)]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        return type_text(base, [*metadata, *extra])
    if origin in (Union, types.UnionType):
        parts = [type_text(a) for a in typing.get_args(annotation)]
        return " | ".join(dict.fromkeys(parts))
    if origin is Literal:
        return " | ".join(_value_text(v) for v in typing.get_args(annotation))
    if origin in (tuple, list):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        inner = ", ".join(type_text(a) for a in args)
        if origin is list or Ellipsis in typing.get_args(annotation):
            inner += ", ..."
        return f"[{inner}]"
    if annotation is type(None):
        return "none"
    name = getattr(annotation, "__name__", str(annotation))
    return " ".join([name, *bounds])


def _value_text(value: Any) -> str:
    """A default value as it would be written in a spec."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_value_text(v) for v in value) + "]"
    return str(value)


# ---- the registry, read ------------------------------------------------------------------------


def _fields(kind: Any) -> list[tuple[str, str, str, int | None]]:
    """(argument name as written, type text, default text, 1-based position or None) per argument."""
    out = []
    for name, info in kind.Args.model_fields.items():
        written = info.alias or name
        default = "required" if info.is_required() else _value_text(info.default)
        position = kind.positional.index(written) + 1 if written in kind.positional else None
        out.append((written, type_text(info.annotation, info.metadata), default, position))
    return out


def _call_form(kind: Any) -> str:
    if not kind.positional:
        return kind.name
    return f"{kind.name}({', '.join(kind.positional)})"


def _shape_example(kind: Any) -> str:
    """`(16, 32, 32) → (64, 16, 16), 50,176 params` for the kind's own example, computed statically."""
    if not kind.example:
        return ""
    params = "".join(f"\n  {k}: {v}" for k, v in EXAMPLE_PARAMS.items())
    quoted = "'" + kind.example.replace("'", "''") + "'"
    shapes: list[str] = []
    for shape in (*EXAMPLE_INPUTS, *FALLBACK_INPUTS):
        if shape in FALLBACK_INPUTS and shapes:
            break
        text = f"input: {list(shape)}\nparams:{params}\nlayers:\n  - {quoted}\n"
        try:
            result = summarize(text)
        except (SpecError, UsageError):
            continue
        counts = f", {result.total_params:,} params" if result.total_params else ""
        shapes.append(f"{format_shape(shape)} → {format_shape(result.output_shape)}{counts}")
    return "; ".join(shapes)


# One sample of each rank, to probe which ranks a kind's shape rule takes (the sizes fit most examples).
RANK_PROBES: tuple[tuple[int, ...], ...] = ((16,), (16, 16), (16, 16, 16), (16, 8, 16, 16))
RANK_NAMES = {1: "(F,)", 2: "(C, L)", 3: "(C, H, W)", 4: "(C, D, H, W)"}


def rank_rule(kind: Any) -> str:
    """The input ranks the kind's shape rule takes, found by running its example on one sample of each rank:
    `(C, H, W)`, `(C, L) or (C, H, W)`, or `any rank` (a rank counts unless the rule says rank-mismatch)."""
    if not kind.example:
        return ""
    params = "".join(f"\n  {k}: {v}" for k, v in EXAMPLE_PARAMS.items())
    quoted = "'" + kind.example.replace("'", "''") + "'"
    taken = []
    for shape in RANK_PROBES:
        try:
            summarize(f"input: {list(shape)}\nparams:{params}\nlayers:\n  - {quoted}\n")
            taken.append(len(shape))
        except SpecError as exc:
            if not any(d.code == "rank-mismatch" for d in exc.diagnostics):
                taken.append(len(shape))
        except UsageError:
            continue
    if len(taken) == len(RANK_PROBES):
        return "any rank"
    return " or ".join(RANK_NAMES[r] for r in taken) or "no rank tried (see its shape rule)"


def _origin(kind: Any) -> str:
    """`built-in`, or the module that registered a plugin kind."""
    module = type(kind).__module__
    return "built-in" if module.startswith("netspec.") else f"plugin {module}"


def kinds_listing() -> str:
    """`netspec layers`: every registered kind, its call form and its one line; plugin kinds say where from."""
    rows = [(_call_form(k), k.summary + ("" if _origin(k) == "built-in" else f" [{_origin(k)}]"))
            for k in REGISTRY.values()]
    width = min(max(len(form) for form, _ in rows), 40)
    plugins = sum(1 for k in REGISTRY.values() if _origin(k) != "built-in")
    lines = [f"{form:<{width}}  {text}" if len(form) <= width else f"{form}\n{'':<{width}}  {text}" for form, text in rows]
    lines.append(f"{len(rows)} layer kinds ({plugins} from plugins); `netspec layers NAME` describes one")
    return "\n".join(lines) + "\n"


def kind_help(name: str) -> str:
    """`netspec layers NAME`: the kind's arguments with their types and defaults, rank rule, example and origin."""
    from .diagnostics import did_you_mean

    kind = REGISTRY.get(name)
    if kind is None:
        raise UsageError(f"unknown layer kind '{name}'{did_you_mean(name, list(REGISTRY))}; "
                         "`netspec layers` lists them all")
    lines = [_call_form(kind), f"  {kind.summary}", ""]
    fields = _fields(kind)
    if fields:
        rows = [(w, str(pos) if pos else "-", t, d) for w, t, d, pos in fields]
        widths = [max(len(r[i]) for r in rows + [("argument", "position", "type", "default")]) for i in range(4)]
        header = ("argument", "position", "type", "default")
        lines += ["  " + "  ".join(h.ljust(widths[i]) for i, h in enumerate(header)).rstrip()]
        lines += ["  " + "  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows]
    else:
        lines.append("  no arguments")
    lines.append("")
    rule = rank_rule(kind)
    if rule:
        lines.append(f"Input: {rule}")
    if kind.example:
        shown = _shape_example(kind)
        lines.append(f"Example: {kind.example}" + (f"  {shown}" if shown else ""))
    if kind.param_names:
        lines.append("init: may name: " + ", ".join(kind.param_names))
    if kind.torch_class:
        lines.append(f"Builds: {kind.torch_class}")
    lines.append(f"Defined by: {_origin(kind)} ({type(kind).__module__}.{type(kind).__qualname__})")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def layer_table_markdown() -> str:
    """The layer-kind reference (Markdown), from `netspec.layers.REGISTRY`, in registration order."""
    lines = [
        "<!-- generated by `python -m netspec.docgen --write` from netspec.layers.REGISTRY; do not edit by hand -->",
        "",
        "| Kind | Positional form | What it does | Builds |",
        "|---|---|---|---|",
    ]
    for name, kind in REGISTRY.items():
        anchor = re.sub(r"[^a-z0-9_-]", "", name.lower())
        lines.append(
            f"| [`{name}`](#{anchor}) | `{_cell(_call_form(kind))}` | {_cell(kind.summary)} | `{kind.torch_class or '-'}` |"
        )
    for name, kind in REGISTRY.items():
        lines += ["", f"#### `{name}`", "", kind.summary or "(no summary)", ""]
        fields = _fields(kind)
        if fields:
            lines += ["| Argument | Position | Type | Default |", "|---|---|---|---|"]
            for written, typ, default, position in fields:
                lines.append(f"| `{written}` | {position or '-'} | `{_cell(typ)}` | {_cell(default)} |")
        else:
            lines.append("No arguments.")
        facts = []
        rule = rank_rule(kind)
        if rule:
            facts.append(f"Input: {rule}.")
        if kind.example:
            example = _shape_example(kind)
            facts.append(f"Example: `{kind.example}`" + (f": {example}." if example else "."))
        if kind.param_names:
            facts.append("Tensors `init:` may name: " + ", ".join(f"`{p}`" for p in kind.param_names) + ".")
        if kind.torch_class:
            facts.append(f"Builds `{kind.torch_class}`.")
        lines += ["", " ".join(facts)]
    return "\n".join(lines) + "\n"


# ---- docs/language.md ----------------------------------------------------------------------------


def current_section(text: str) -> str:
    """What stands between the markers in `text` (ValueError when they are missing)."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the markers {START} ... {END} are missing")
    return text[start + len(START) : end].strip("\n") + "\n"


def replace_section(text: str, section: str) -> str:
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the markers {START} ... {END} are missing")
    return text[: start + len(START)] + "\n" + section.strip("\n") + "\n" + text[end:]


# ---- runnable examples --------------------------------------------------------------------------

_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_TITLE = re.compile(r'title="([^"]+)"')


@dataclass
class Block:
    """One fenced code block: its language, the words after it, its body and where the body starts."""

    lang: str
    info: str
    body: str
    line: int  # 1-based line of the body's first line
    start: int  # offsets of the body in the file's text
    end: int

    @property
    def title(self) -> str | None:
        found = _TITLE.search(self.info)
        return found.group(1) if found else None

    @property
    def words(self) -> set[str]:
        return set(_TITLE.sub("", self.info).split()[1:])


def code_blocks(text: str) -> list[Block]:
    out = []
    for match in _FENCE.finditer(text):
        info = match.group(1).strip()
        out.append(Block(info.split()[0] if info else "", info, match.group(2), text.count("\n", 0, match.start(2)) + 1,
                         match.start(2), match.end(2)))
    return out


def is_complete_spec(body: str) -> bool:
    """Does a YAML block hold a whole spec (a mapping with `input` and `layers`)?"""
    tree = read_yaml(body).tree
    return isinstance(tree, dict) and "input" in tree and "layers" in tree


def run_netspec(command: str) -> tuple[str, int]:
    """Run one `netspec ...` command line in this process, as a terminal shows it: (stdout and stderr, exit code)."""
    from typer.testing import CliRunner

    from .cli import app

    args = shlex.split(command)
    assert args[0] == "netspec", command
    result = CliRunner().invoke(app, args[1:], env={"NETSPEC_DEBUG": None, "COLUMNS": "100"})
    return result.output, result.exit_code


def _console(body: str) -> list[tuple[str, str]]:
    """A console block as (command, expected output) pairs."""
    pairs: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            pairs.append((line[2:], []))
        elif pairs:
            pairs[-1][1].append(line)
        elif line.strip():
            raise ValueError(f"a console block must start with a `$ ` command line, not {line!r}")
    return [(cmd, "\n".join(out)) for cmd, out in pairs]


def output_matches(expected: str, actual: str) -> bool:
    """Exact, line by line, except that a line `...` in `expected` stands for any number of lines."""
    pattern = "".join(r"(?:[^\n]*\n)*?" if line == "..." else re.escape(line) + r"\n"
                      for line in expected.splitlines())
    return re.fullmatch(pattern, actual.rstrip("\n") + "\n" if actual.strip() else "") is not None


@dataclass
class DocRun:
    """What running one document found: problems (empty when all is well) and its refreshed text."""

    problems: list[str]
    text: str


def run_doc(path: str | os.PathLike, refresh: bool = False) -> DocRun:
    """Run every example of one Markdown file, in order, in a scratch folder holding a copy of architectures/."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    problems: list[str] = []
    edits: list[tuple[int, int, str]] = []
    registry = dict(REGISTRY)
    globs: dict[str, Any] = {"__name__": f"docs_{path.stem}"}
    here = os.getcwd()
    scratch = Path(tempfile.mkdtemp(prefix="netspec-docs-"))
    try:
        shutil.copytree(ROOT / "architectures", scratch / "architectures")
        os.chdir(scratch)
        for block in code_blocks(text):
            where = f"{path.name}:{block.line}"
            if block.title and block.lang != "yaml":  # a file the reader would save (a plugin, pyproject.toml)
                Path(block.title).parent.mkdir(parents=True, exist_ok=True)
                Path(block.title).write_text(block.body, encoding="utf-8")
                continue
            if block.lang == "yaml":
                for word in block.words:  # `plugin=FILE`: the spec uses kinds that FILE registers
                    if word.startswith("plugin="):
                        from .plugins import load_plugin

                        load_plugin(word.removeprefix("plugin="))
                if block.title:
                    Path(block.title).write_text(block.body, encoding="utf-8")
                try:
                    complete = is_complete_spec(block.body)
                except SpecError as exc:
                    if "error" not in block.words:  # a spec marked `error` may fail as early as reading
                        problems.append(f"{where}: YAML block does not read:\n{exc}")
                    continue
                if not complete:
                    continue
                source = block.title or block.body
                try:
                    summarize(source)
                    if "error" in block.words:
                        problems.append(f"{where}: spec marked `error` has no error")
                except SpecError as exc:
                    if "error" not in block.words:
                        problems.append(f"{where}: spec fails:\n{exc}")
            elif block.lang == "console":
                lines = []
                status = 0
                for command, expected in _console(block.body):
                    if command == "echo $?":
                        output = f"{status}\n"
                    elif command.startswith("netspec "):
                        output, status = run_netspec(command)
                    else:
                        problems.append(f"{where}: console blocks run only `netspec ...` and `echo $?`, not {command!r}")
                        continue
                    if not output_matches(expected, output):
                        problems.append(f"{where}: `{command}` printed:\n{output}\nbut the doc shows:\n{expected}")
                    keep = "..." in expected.splitlines()
                    lines += [f"$ {command}", *((expected if keep else output.rstrip("\n")).splitlines())]
                edits.append((block.start, block.end, "\n".join(lines) + "\n"))
            elif block.lang == "python":
                if ">>> " in block.body:
                    test = doctest.DocTestParser().get_doctest(block.body, globs, where, str(path), block.line - 1)
                    report = io.StringIO()
                    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
                    runner.run(test, out=report.write, clear_globs=False)
                    globs.update(test.globs)  # DocTest works on a copy: carry names on to the next block
                    if runner.failures:
                        problems.append(report.getvalue())
                else:
                    exec(compile(block.body, where, "exec", dont_inherit=True), globs)  # noqa: S102 - the docs' own example code
    finally:
        os.chdir(here)
        shutil.rmtree(scratch, ignore_errors=True)
        REGISTRY.clear()
        REGISTRY.update(registry)
    if path.resolve() == LANGUAGE_MD and current_section(text) != layer_table_markdown():
        problems.append(f"{path.name}: the layer table is out of date with the registry; "
                        "run `python -m netspec.docgen --write`")
    new_text = text
    if refresh:
        for start, end, body in reversed(edits):
            new_text = new_text[:start] + body + new_text[end:]
        if path.resolve() == LANGUAGE_MD:
            new_text = replace_section(new_text, layer_table_markdown())
    return DocRun(problems, new_text)


def doc_files() -> list[Path]:
    """README.md and docs/*.md, less pages another generator writes whole (they say so in a
    `<!-- Generated by ... -->` comment at the top, and that generator's own test keeps them current)."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [p for p in pages if "<!-- Generated by" not in p.read_text(encoding="utf-8")[:1000]]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv not in ([], ["--check"], ["--write"]):
        print("usage: python -m netspec.docgen [--check | --write]", file=sys.stderr)
        return 2
    if not argv:
        sys.stdout.write(layer_table_markdown())
        return 0
    failed = False
    for path in doc_files():
        if argv == ["--write"]:
            text = run_doc(path, refresh=True).text
            if text != path.read_text(encoding="utf-8"):
                path.write_text(text, encoding="utf-8")
                print(f"rewrote {path.relative_to(ROOT)}")
        for problem in run_doc(path).problems:
            failed = True
            print(problem, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
