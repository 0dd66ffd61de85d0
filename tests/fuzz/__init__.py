"""The generated-spec fuzzer: hypothesis strategies for random valid-ish specs (strategies.py), rendered in
both syntaxes, and the properties every spec must keep (properties.py).

`python -m tests.fuzz --examples N` runs a campaign; tests/test_fuzz.py runs a fixed-seed budget in CI.
"""
