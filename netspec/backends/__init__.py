"""What a typed graph becomes: torch modules (compile, codegen, modules), checkpoints and weight transfer,
the shape table (summary, compare), diagrams, and the JSON schema of the YAML syntax.
"""
