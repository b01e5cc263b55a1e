"""Benchmarks (``bench_*.py``), their harness and the runner; see ``bench/README.md``."""
