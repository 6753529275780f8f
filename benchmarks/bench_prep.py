"""Prepare all 502 OpenEWLD songs: serial cold, parallel cold, parallel warm (content-hash cache).

Prints seconds and ratios, all measured in this one run, plus music21's parsing alone as
the floor of a cold run. Usage: python benchmarks/bench_prep.py [--data PATH] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import music21 as m21

from aitunes_lib import data, prep

ARTICLE_SERIAL_SECONDS = 185.0  # the article's serial pipeline, as measured on this machine (issue #2)


def timed(label: str, fn):
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    print(f"{label:<44s} {seconds:8.2f} s", flush=True)
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=None)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    args = parser.parse_args()
    root = data.find_openewld(args.data)
    paths = data.song_paths(root)
    print(f"{len(paths)} songs from {root}; {os.cpu_count()} cores, {args.workers} workers; music21 {m21.__version__}")

    parse_only, _ = timed("music21 parsing alone, serial", lambda: [m21.converter.parse(p, forceSource=True) for p in paths])
    serial, records = timed("prep, serial, cold (same code, this process)",
                            lambda: prep.run_batch(paths, prep.PrepConfig(cache=False, workers=1), progress=False))
    with tempfile.TemporaryDirectory() as cache:
        config = prep.PrepConfig(cache_dir=Path(cache), workers=args.workers)
        cold, parallel_records = timed(f"prep, {args.workers} processes, cold (fills the cache)",
                                       lambda: prep.run_batch(paths, config, progress=False))
        warm, warm_records = timed("prep, warm (content-hash cache)", lambda: prep.run_batch(paths, config, progress=False))
    assert parallel_records == records == warm_records, "the three runs must write the same songs"
    kept = sum(r["status"] == "kept" for r in records)
    print(f"\nkept {kept} songs; all three runs wrote identical records")
    print(f"parallel cold vs serial cold      {serial / cold:6.2f}x")
    print(f"warm vs serial cold               {serial / warm:6.1f}x   (goal: warm < 2 s: {'met' if warm < 2 else 'NOT met'})")
    print(f"serial cold vs parsing alone      {serial / parse_only:6.2f}x   (our work on top of music21's parse)")
    print(f"parallel cold vs the article's ~{ARTICLE_SERIAL_SECONDS:.0f} s  {ARTICLE_SERIAL_SECONDS / cold:6.2f}x   "
          f"(goal: >= 5x: {'met' if ARTICLE_SERIAL_SECONDS / cold >= 5 else 'NOT met'})")


if __name__ == "__main__":
    main()
