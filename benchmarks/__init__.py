"""Benchmarks of celib against PyTorch; each module is also a script (``python -m benchmarks.<name>``).

Installed with celib (``pip install -e .``), so that a chapter can import a benchmark's helpers
(``from benchmarks.linear_cross_entropy import measure_in_child``) instead of copying them.
"""
