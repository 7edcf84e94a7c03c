"""dl4py's benchmark suite (``python -m benchmarks``; see benchmarks/README.md). Not part of the dl4py package."""
