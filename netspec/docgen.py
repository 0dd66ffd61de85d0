"""Documentation that is generated or executed: the layer reference table (rendered by netspec/reference.py) and runnable examples.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import summarize
from .diagnostics import SpecError
from .frontends.yaml_source import read_yaml
from .layers import REGISTRY
from .reference import layer_table_markdown

START = "<!-- layer-table:start -->"
END = "<!-- layer-table:end -->"
ROOT = Path(__file__).resolve().parent.parent
LANGUAGE_MD = ROOT / "docs" / "language.md"

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
