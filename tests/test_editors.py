"""What editors and hooks are given: the pre-commit hooks run real netspec commands, and the TextMate grammar
for .ns gives keywords, names, numbers, strings and comments their scopes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from netspec.frontends.dsl import KEYWORDS

REPO = Path(__file__).resolve().parent.parent
GRAMMAR = json.loads((REPO / "editors" / "netspec.tmLanguage.json").read_text(encoding="utf-8"))


def _scopes(line: str) -> list[tuple[str, str]]:
    """(text, scope) for each token of a line, the way a TextMate engine picks them: at each position the
    earliest match of the top-level patterns, the first pattern winning a tie."""
    rules = [GRAMMAR["repository"][p["include"][1:]] for p in GRAMMAR["patterns"]]
    compiled = [(re.compile(r.get("match") or r["begin"] + r'(?:[^"\\]|\\.)*(?:"|$)'), r) for r in rules]
    out, i = [], 0
    while i < len(line):
        best = None
        for regex, rule in compiled:
            m = regex.search(line, i)
            if m and m.end() > m.start() and (best is None or m.start() < best[0].start()):
                best = (m, rule)
        if best is None:
            break
        m, rule = best
        scope = rule.get("name") or rule["captures"]["1"]["name"]
        text = m.group(1) if "captures" in rule else m.group(0)
        out.append((text, scope))
        i = m.end()
    return out


def test_the_grammar_scopes_each_kind_of_token():
    found = dict(_scopes('network tiny "a net"  # small'))
    assert found["network"].startswith("keyword") and found['"a net"'].startswith("string")
    assert found["# small"].startswith("comment")
    found = dict(_scopes("stem: repeat 2 [conv2d(64, 3, padding=1) relu `bn`]"))
    assert found["stem"].startswith("entity.name.tag") and found["repeat"].startswith("keyword")
    assert found["conv2d"].startswith("entity.name.function") and found["64"].startswith("constant.numeric")
    assert found["relu"].startswith("variable") and found["`bn`"].startswith("string")
    assert dict(_scopes("input 3x224x224"))["3x224x224"].startswith("constant.numeric")


def test_the_grammar_knows_every_keyword():
    words = set()
    for rule in GRAMMAR["repository"].values():
        if rule.get("name", "").startswith("keyword") and rule.get("match", "").startswith("\\b("):
            words |= set(re.findall(r"[a-z_]+", rule["match"].split("(", 1)[1]))
    assert set(KEYWORDS) <= words


def test_every_pre_commit_hook_runs_a_netspec_command(cli):
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert {h["id"] for h in hooks} == {"netspec-check", "netspec-fmt"}
    specs = [REPO / "architectures" / "lenet5.yaml", REPO / "architectures" / "vgg11.yaml"]
    for hook in hooks:
        assert re.search(hook["files"], "models/net.ns") and re.search(hook["files"], "a.yaml")
        program, *arguments = hook["entry"].split()
        assert program == "netspec"
        run = cli(*arguments, *specs)  # pre-commit passes every staged file at once
        assert run.rc == 0, run.output
