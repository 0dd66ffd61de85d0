"""The syntaxes: reading YAML and `.ns` text into the Spec IR (with source positions), and writing it back.

yaml_source reads standard YAML with positions, validate turns it into the IR; dsl does both for `.ns`;
printer writes the IR as either syntax (`netspec fmt`, `netspec convert`); comments carries a file's comments
across a rewrite.
"""
