"""Benchmarks: scripts that measure the engine and its models and print their figures.

Run each from the repository root as a module, e.g. ``python -m benchmarks.speed --stage ser``;
README.md in this folder lists them, what each measures and its last figures.
"""
