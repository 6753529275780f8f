"""Time a full small-parameter run of every notebook, in order, each in a fresh Jupyter kernel.

    python benchmarks/bench_notebooks.py [--steps 4] [--candidates 2]

The goal is under 15 minutes on the 2-core machine, cold caches included (a fresh cache and
output folder are used, so the first notebook prepares OpenEWLD from scratch).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aitunes_lib import workbook  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--candidates", type=int, default=2)
    args = parser.parse_args()
    small = {"steps": args.steps, "candidates": args.candidates, "temperatures": [0.5, 1.0]}
    with tempfile.TemporaryDirectory() as folder:
        os.environ["AITUNES_CACHE"] = str(Path(folder) / "cache")
        os.environ.pop("OPENAI_API_KEY", None)
        times = {}
        for name in workbook.NOTEBOOKS:
            started = time.perf_counter()
            workbook.run_notebook(name, Path(folder) / "out", small)
            times[name] = time.perf_counter() - started
            print(f"{name:24s} {times[name]:6.1f} s", flush=True)
    total = sum(times.values())
    print(f"{'all notebooks':24s} {total:6.1f} s = {total / 60:.1f} min (goal < 15 min: {'met' if total < 900 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
