"""``python -m benchmarks``: run the benchmark suite (see benchmarks/run.py and benchmarks/README.md)."""
import sys

from benchmarks.run import main

sys.exit(main())
