"""FlexiCodec (amphionspace/FlexiCodec, PyPI ``flexicodec``), the dynamic-frame-rate peer of DyCAST: the in-tree,
key-compatible implementation is being built (issue 29). What is here so far: the seeded weights its parity
fixtures are recorded with (``seeded.py``). No codec is registered yet."""
