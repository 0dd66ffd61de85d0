"""`python -m tests.fuzz --examples N [--seed S] [--syntax yaml|ns]`: a long local campaign; exit 1 on any failure."""

from __future__ import annotations

import argparse
import sys

from .campaign import campaign
from .strategies import shown


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--examples", type=int, default=2000, help="generated specs per syntax")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--syntax", choices=["yaml", "ns"], action="append", help="default: both")
    parser.add_argument("--show", type=int, default=5, help="failures printed in full per syntax")
    options = parser.parse_args()
    failed = 0
    for syntax in options.syntax or ["yaml", "ns"]:
        def progress(counts, failure=None, syntax=syntax):
            print(f"{syntax}: {sum(counts.values()):,} so far: {dict(counts)}", file=sys.stderr, flush=True)
            if failure is not None:
                print(f"--- {failure[0]}\n{shown(failure[1])}", file=sys.stderr, flush=True)

        counts, failures, seconds = campaign(syntax, options.examples, options.seed, progress=progress)
        valid = counts["run"] + counts["meta"] + counts["failure"]
        print(f"{syntax}: {sum(counts.values()):,} specs, {valid:,} valid ({counts['run']:,} run, {counts['meta']:,} "
              f"meta), {counts['invalid']:,} refused with diagnostics, {len(failures)} failures, {seconds:.0f} s")
        seen: set[str] = set()
        for message, text in failures:
            if message[:80] in seen or len(seen) >= options.show:
                continue
            seen.add(message[:80])
            print(f"--- {message}\n{shown(text)}")
        failed += len(failures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
