"""Golden diagnostics: every spec in tests/errors/ beside the exact stderr `netspec` must print for it.

`tests/errors/<code>.yaml` (or `<code>--<variant>.yaml`) causes error `<code>`; `<code>.err` holds the
whole stderr of `netspec check <code>.yaml` run inside tests/errors/: `file:line:col: error[code]: path:
message`, the quoted source line with its caret, and the closing count. Each .err was written by hand
and checked against the spec: where netspec prints something else, netspec is wrong, not the golden.

The other tests here check that one run reports every independent error, and that every error code
the package can emit has a golden (so a new code cannot ship without one).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest

from netspec.diagnostics import Diagnostic, SpecError
from netspec.layers import REGISTRY
from netspec.pipeline import DEFAULT_MAX_ACTIVATIONS, analyse, build, check_activations, parse_linked
from netspec.plugins import load_plugin

REPO = Path(__file__).resolve().parent.parent
ERRORS = Path(__file__).resolve().parent / "errors"
PACKAGE = REPO / "netspec"

# Specs too big to keep in the repository: written into a temporary folder by the test.
MAX_BYTES = 1 << 20
_HEAD = b"name: big\ninput: [3, 32, 32]\nlayers: [relu]\n"
GENERATED = {
    # one byte over the 1 MiB limit
    "file-too-large": _HEAD + b"#" * (MAX_BYTES + 1 - len(_HEAD) - 1) + b"\n",
}
# The command that shows each golden's error; `check` unless named here.
COMMANDS = {
    "param-budget": "build",  # the budget guards allocation, so `build` is where it is enforced
    "activation-budget": "build",  # only `build` runs a forward pass
}

# Goldens whose spec uses a plugin's kinds: the plugin file (in tests/errors) given with --plugin.
PLUGINS = {"unknown-layer--plugin-kind": "plugin_kinds.py"}


def _forward_pass_check(path: str) -> None:
    check_activations(analyse(path), DEFAULT_MAX_ACTIVATIONS, parse_linked(path))


# The pipeline call that shows each golden's error through the Python API; `analyse` unless named here.
API_CALLS = {"param-budget": build, "activation-budget": _forward_pass_check}

# Every stable code, as the issue lists them. test_scan_finds_every_known_code keeps this list honest.
KNOWN_CODES = {
    "yaml-syntax", "yaml-split-call", "yaml-tag", "duplicate-key", "alias-limit", "too-deep", "too-large", "file-too-large",
    "encoding", "invalid-key", "unknown-key", "missing-key", "invalid-value", "invalid-entry", "invalid-block",
    "invalid-spec", "invalid-name", "bad-expression", "eval-error", "unknown-name", "unknown-layer",
    "unknown-arg", "missing-arg", "too-many-args", "duplicate-arg", "duplicate-name", "recursive-block",
    "unknown-init", "shape-mismatch", "rank-mismatch", "spatial-too-small", "param-budget", "extends",
    "activation-budget", "unknown-function", "too-many-errors", "unknown-structure",
}

GOLDENS = sorted(p.stem for p in ERRORS.glob("*.err"))
_LOCATED = re.compile(r"^(?P<file>[^\s:]+):(?P<line>\d+):(?P<col>\d+): error\[(?P<code>[a-z-]+)\]: ")


def code_of(name: str) -> str:
    return name.split("--")[0]


def diff(expected: str, got: str) -> str:
    lines = difflib.unified_diff(expected.splitlines(True), got.splitlines(True), "expected (.err)", "netspec printed")
    return "".join(lines) or f"(no line differs; expected {expected!r}, got {got!r})"


def spec_folder(name: str, tmp_path: Path) -> Path:
    """The folder holding `<name>.yaml`: tests/errors, or a temporary one for a generated spec."""
    if name in GENERATED:
        (tmp_path / f"{name}.yaml").write_bytes(GENERATED[name])
        return tmp_path
    return ERRORS


# ---- the goldens ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", GOLDENS)
def test_cli_prints_the_golden_diagnostic(name, tmp_path, cli):
    expected = (ERRORS / f"{name}.err").read_text(encoding="utf-8")
    folder = spec_folder(name, tmp_path)
    plugin = ["--plugin", PLUGINS[name]] if name in PLUGINS else []
    registry = dict(REGISTRY)
    try:
        run = cli(COMMANDS.get(name, "check"), *plugin, f"{name}.yaml", cwd=folder)
    finally:  # the plugin's kinds were registered in this process: forget them
        REGISTRY.clear()
        REGISTRY.update(registry)
    assert "Traceback" not in run.output, f"netspec printed a traceback for {name}.yaml:\n{run.output}"
    assert run.stderr == expected, f"stderr of `netspec check {name}.yaml` differs from {name}.err:\n" + diff(
        expected, run.stderr
    )
    assert run.rc == 1, f"a spec error must exit with status 1, got {run.rc}"
    assert run.stdout == "", f"a failing spec printed to stdout: {run.stdout!r}"


@pytest.mark.parametrize("name", GOLDENS)
def test_python_api_raises_the_same_diagnostics(name, tmp_path, monkeypatch):
    """`netspec.pipeline` raises a SpecError whose rendering is the golden without its count line."""
    expected = (ERRORS / f"{name}.err").read_text(encoding="utf-8")
    monkeypatch.chdir(spec_folder(name, tmp_path))
    call = API_CALLS.get(code_of(name), analyse)
    registry = dict(REGISTRY)
    try:
        if name in PLUGINS:
            load_plugin(PLUGINS[name])
        with pytest.raises(SpecError) as caught:
            call(f"{name}.yaml")
    finally:
        REGISTRY.clear()
        REGISTRY.update(registry)
    body = "\n".join(expected.rstrip("\n").splitlines()[:-1])  # drop "N error(s)"
    assert caught.value.render() == body, diff(body, caught.value.render())
    assert all(isinstance(d, Diagnostic) for d in caught.value.diagnostics)
    assert caught.value.diagnostics[_SHOWN_AT.get(code_of(name), 0)].code == code_of(name)


# The diagnostic a golden is named after is the first one, except where the code closes a run.
_SHOWN_AT = {"too-many-errors": -1}


@pytest.mark.parametrize("name", GOLDENS)
def test_golden_is_named_after_the_code_it_shows(name):
    located = [line for line in (ERRORS / f"{name}.err").read_text(encoding="utf-8").splitlines() if _LOCATED.match(line)]
    first = located[_SHOWN_AT.get(code_of(name), 0)] if located else ""
    match = _LOCATED.match(first)
    assert match, f"{name}.err must open with `file:line:col: error[code]: `, got {first!r}"
    assert match["file"] == f"{name}.yaml", f"{name}.err names {match['file']!r}, not its own spec"
    assert match["code"] == code_of(name), f"{name}.err shows error[{match['code']}], not error[{code_of(name)}]"


def test_every_spec_has_a_golden_and_every_golden_a_spec():
    specs = {p.stem for p in ERRORS.glob("*.yaml")} | set(GENERATED)
    goldens = set(GOLDENS)
    assert not specs - goldens, f"specs without a .err golden: {sorted(specs - goldens)}"
    assert not goldens - specs, f".err goldens without a spec: {sorted(goldens - specs)}"


def test_every_error_line_of_every_golden_is_located():
    """No golden may accept an error without file:line:col (the design says every error names its line)."""
    for name in GOLDENS:
        for line in (ERRORS / f"{name}.err").read_text(encoding="utf-8").splitlines():
            if "error[" in line:
                assert _LOCATED.match(line), f"{name}.err has an unlocated error line: {line!r}"


# ---- every code has a golden ---------------------------------------------------------------------

_CODE_SITES = [
    re.compile(r'(?:\.error|\bDiagnostic|\bfail)\(\s*"([a-z]+(?:-[a-z]+)*)"'),  # errors.error("code", ...)
    re.compile(r'\bcode(?:\s*:\s*str)?\s*=\s*"([a-z]+(?:-[a-z]+)*)"'),  # ShapeError(..., code="...")
]


def emitted_codes() -> set[str]:
    """Every error code written literally in the package's source."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for pattern in _CODE_SITES:
            found.update(pattern.findall(text))
    return found


def test_scan_finds_every_known_code():
    """If this fails, a code was renamed or dropped: update KNOWN_CODES and the goldens with it."""
    missing = KNOWN_CODES - emitted_codes()
    assert not missing, f"codes listed in KNOWN_CODES that netspec/ no longer emits: {sorted(missing)}"


def test_every_emitted_code_has_a_golden():
    # the text syntax's own codes (`syntax`) have their goldens beside the .ns files that cause them
    dsl_goldens = {code_of(p.stem) for p in (Path(__file__).parent / "dsl_errors").glob("*.err")}
    covered = {code_of(name) for name in GOLDENS} | dsl_goldens
    missing = (emitted_codes() | KNOWN_CODES) - covered
    assert not missing, (
        f"error codes with no golden in tests/errors/: {sorted(missing)}; "
        "add <code>.yaml causing it and <code>.err with the exact message"
    )


def test_no_golden_for_a_code_that_does_not_exist():
    stale = {code_of(name) for name in GOLDENS} - emitted_codes() - KNOWN_CODES
    assert not stale, f"goldens for codes netspec does not emit: {sorted(stale)}"


# ---- one run reports every independent error -----------------------------------------------------


def diagnostics(text: str, tmp_path: Path, monkeypatch) -> list[tuple[str, int]]:
    (tmp_path / "multi.yaml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as caught:
        analyse("multi.yaml")
    return [(d.code, d.loc.line if d.loc else 0) for d in caught.value.diagnostics]


def test_all_structural_errors_of_a_spec_are_reported_together(tmp_path, monkeypatch):
    text = """\
name: multi
input: [3, 32, 32]
parms: {width: 8}
layers:
  - conv2d(8 +, 3)
  - 42
  - repeat: 2
    blok: relu
"""
    got = diagnostics(text, tmp_path, monkeypatch)
    expected = [("unknown-key", 3), ("bad-expression", 5), ("invalid-entry", 6), ("missing-key", 7), ("unknown-key", 8)]
    assert sorted(got, key=lambda d: d[1]) == expected, f"one run must list every structural error; got {got}"


def test_all_name_and_argument_errors_of_a_spec_are_reported_together(tmp_path, monkeypatch):
    text = """\
name: multi
input: [3, 32, 32]
params:
  width: 16
layers:
  - conv2d(width, 3, padding=1)
  - reluu
  - conv2d(width, 3, strde=2)
  - conv2d(width)
  - conv2d(16, 3, 1, 1, 2)
  - maxpool2d(kernel=widht)
"""
    got = diagnostics(text, tmp_path, monkeypatch)
    expected = [("unknown-layer", 7), ("unknown-arg", 8), ("missing-arg", 9), ("too-many-args", 10), ("unknown-name", 11)]
    assert sorted(got, key=lambda d: d[1]) == expected, f"one run must list every bad name and argument; got {got}"


def test_shape_errors_in_independent_branches_are_all_reported(tmp_path, monkeypatch):
    text = """\
name: multi
input: [3, 32, 32]
layers:
  - concat:
      a: [flatten, "conv2d(8, 3)"]
      b: ["conv2d(8, 3, in=4)"]
      c: ["conv2d(8, 3, padding=1)"]
      d: [maxpool2d(16), "conv2d(8, 5)"]
"""
    got = diagnostics(text, tmp_path, monkeypatch)
    expected = [("rank-mismatch", 5), ("shape-mismatch", 6), ("spatial-too-small", 8)]
    assert sorted(got, key=lambda d: d[1]) == expected, (
        f"a shape error in one branch must not hide the others; got {got}"
    )


def test_check_reports_the_errors_of_every_file(tmp_path, cli):
    (tmp_path / "good.yaml").write_text("name: good\ninput: [3, 8, 8]\nlayers: [relu]\n")
    (tmp_path / "bad1.yaml").write_text("name: bad1\ninput: [3, 8, 8]\nlayers: [reluu]\n")
    (tmp_path / "bad2.yaml").write_text("name: bad2\ninput: [3, 8, 8]\nlayers: [flatten, 'conv2d(8, 3)']\n")
    run = cli("check", "bad1.yaml", "good.yaml", "bad2.yaml", cwd=tmp_path)
    assert run.rc == 1
    assert "good.yaml: ok" in run.stdout
    located = [line for line in run.stderr.splitlines() if _LOCATED.match(line)]
    assert [line.split(": error")[0] for line in located] == ["bad1.yaml:3:10", "bad2.yaml:3:19"], run.stderr
    assert run.stderr.splitlines()[-1] == "2 errors"


def test_a_bad_param_is_reported_once_not_again_at_every_use(tmp_path, monkeypatch):
    """Errors that only follow from an earlier one are noise: `b: a * 2` is not wrong when `a` is."""
    text = """\
name: cascade
input: [3, 8, 8]
params:
  a: 1 / 0
  b: a * 2
layers:
  - flatten
  - linear(b)
"""
    got = diagnostics(text, tmp_path, monkeypatch)
    assert got == [("eval-error", 4)], f"only the division by zero is an error; got {got}"
