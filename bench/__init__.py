"""Benchmarks (run as scripts: `python bench/<name>.py`); a package so that bench/load/ imports as bench.load."""
