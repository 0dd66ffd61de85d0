"""The IR and the passes over it, in pipeline order: spec (the IR) -> link (`extends`) -> resolve (params,
blocks, expressions; expr is their evaluator) -> graph (the resolved tree) -> flow (references, last uses)
-> infer (shapes and counts, without tensors).
"""
