"""The documentation is checked like code: generated parts are current, every name is documented,
and every example in README.md and docs/*.md runs and prints what the page shows."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

import netspec
from netspec import docgen
from netspec.cli import app
from netspec.ir.expr import FUNCTIONS
from netspec.initializers import INITIALIZERS
from netspec.layers import REGISTRY
from netspec.ir.spec import SHORTCUT_MODES
from netspec.frontends.validate import _STRUCTURE_KEYS, TOP_KEYS, TYPE_WORDS

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
LANGUAGE = (DOCS / "language.md").read_text(encoding="utf-8")
CLI = (DOCS / "cli.md").read_text(encoding="utf-8")
README = (REPO / "README.md").read_text(encoding="utf-8")

REFRESH = "run `python -m netspec.docgen --write` and review the diff"


def test_layer_table_is_generated_from_the_registry():
    assert docgen.current_section(LANGUAGE) == docgen.layer_table_markdown(), (
        f"docs/language.md's layer table differs from the registry: {REFRESH}")


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_every_layer_kind_is_documented(kind):
    assert f"#### `{kind}`" in LANGUAGE, f"layer kind '{kind}' has no entry in docs/language.md: {REFRESH}"


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_every_initialiser_is_documented(name):
    assert f"| `{name}` |" in LANGUAGE, f"initialiser '{name}' is missing from the init table in docs/language.md"


def _language_words() -> list[str]:
    words = [*TOP_KEYS, *SHORTCUT_MODES, *TYPE_WORDS, *FUNCTIONS, "shortcut_name", "after", "body"]
    for op, keys in _STRUCTURE_KEYS.items():
        words += [op, *keys]
    return sorted(set(words))


@pytest.mark.parametrize("word", _language_words())
def test_every_key_structure_and_function_is_documented(word):
    assert f"`{word}`" in LANGUAGE or f"`{word}:" in LANGUAGE or f" {word} " in LANGUAGE, (
        f"'{word}' is part of the language but docs/language.md does not mention it")


def _cli_names() -> list[str]:
    root = typer.main.get_command(app)
    names = []
    for command_name, command in root.commands.items():
        names.append(f"netspec {command_name}")
        for param in command.params:
            names += [o for o in (*param.opts, *param.secondary_opts) if o.startswith("-")]
    return sorted(set(names))


@pytest.mark.parametrize("name", _cli_names())
def test_every_command_and_option_is_in_cli_md(name):
    assert re.search(rf"`{re.escape(name)}[` ]", CLI), f"docs/cli.md does not document `{name}`"


def test_cli_md_gives_every_exit_status():
    for status in ("0", "1", "2", "3"):
        assert f"\n| {status} |" in CLI


@pytest.mark.parametrize("path", docgen.doc_files(), ids=lambda p: p.name)
def test_examples_run_as_shown(path):
    """Console blocks print what the page shows, complete specs check, Python examples pass as doctests."""
    before = dict(REGISTRY)
    problems = docgen.run_doc(path).problems
    assert dict(REGISTRY) == before, "running the examples left layer kinds registered"
    assert not problems, f"{path.name}: examples differ ({REFRESH} for console output):\n\n" + "\n\n".join(problems)


def test_output_matching_allows_elided_lines_only_where_marked():
    assert docgen.output_matches("a\n...\nd", "a\nb\nc\nd\n")
    assert docgen.output_matches("a\n...\nd", "a\nd\n")
    assert not docgen.output_matches("a\nd", "a\nb\nd\n")
    assert not docgen.output_matches("a\n...", "b\nc\n")


def test_every_doc_has_runnable_examples_and_console_blocks_run_only_netspec():
    for path in docgen.doc_files():
        blocks = docgen.code_blocks(path.read_text(encoding="utf-8"))
        assert any(b.lang in ("console", "python", "yaml") for b in blocks), f"{path.name} has no checked example"
        for block in blocks:
            if block.lang == "console":
                commands = [line[2:] for line in block.body.splitlines() if line.startswith("$ ")]
                assert commands and all(c.startswith("netspec ") or c == "echo $?" for c in commands), (
                    f"{path.name}:{block.line}: a console block runs only `netspec ...` and `echo $?`")


def _setup_commands() -> list[str]:
    """The README's one set-up block: the install command and the test command, in that order."""
    section = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    bash = [b for b in docgen.code_blocks(section) if b.lang == "bash"]
    assert len(bash) == 1, "README's Set up section must hold exactly one ```bash block"
    return [line.strip() for line in bash[0].body.splitlines() if line.strip()]


def test_readme_setup_is_install_then_test_and_ci_runs_exactly_those():
    commands = _setup_commands()
    assert commands == ['pip install -e ".[test]"', "python -m pytest -n 2"]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    ci_lines = [line.strip() for line in ci.splitlines()]
    for command in commands:
        assert command in ci_lines, f".ci/run must run the README's command as written: {command}"
    assert ci_lines.index(commands[0]) < ci_lines.index(commands[1])
    assert "set -euo pipefail" in ci
    assert "|| true" not in ci, ".ci/run must not hide a failing (or empty) test run"


def test_readme_architecture_table_matches_the_specs():
    rows = re.findall(r"^\| \[(\w+)\]\(architectures/(\w+)\.yaml\) \| ([\dx]+) \| ([\d,]+) \| ([\d,]+) \|$",
                      README, re.MULTILINE)
    assert sorted(r[1] for r in rows) == sorted(p.stem for p in (REPO / "architectures").glob("*.yaml"))
    for name, stem, shape, params, mult_adds in rows:
        summary = netspec.summarize(REPO / "architectures" / f"{stem}.yaml")
        assert name == stem == summary.name
        assert shape == "x".join(map(str, summary.input_shape))
        assert (params, mult_adds) == (f"{summary.total_params:,}", f"{summary.total_mult_adds:,}"), name


def test_console_commands_parse_like_a_shell():
    # run_netspec splits with shlex, as a POSIX shell would: quoted values stay whole
    assert shlex.split('netspec summary x.yaml --set "depths=[1, 2]"')[-1] == "depths=[1, 2]"
