"""Benchmarks: per-stage costs, detector settings against the paper's, the `fer` library.

Run them as modules from the repository root, e.g. ``python -m benchmarks.stages``.
"""
