"""All five features for the 379 training songs, from cached note arrays: NumPy vs the
plain-Python reference loop (the tests' oracle), measured in the same run.

Usage: python benchmarks/bench_metrics.py [--data PATH] [--repeat N]
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import reference_metrics as ref  # noqa: E402

from aitunes_lib import data, metrics, prep  # noqa: E402


def best_of(repeat: int, fn) -> float:
    """The fastest of `repeat` runs, with the garbage collector paused, as `timeit` does."""
    times = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=None)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    records = prep.run_batch(data.song_paths(data.find_openewld(args.data)), prep.PrepConfig(), progress=False)
    kept = [r for r in records if r["status"] == "kept"]
    arrays = [np.array(r["note_arrays"]["article"], dtype=np.int64).reshape(-1, 2) for r in kept]
    lists = [r["note_arrays"]["article"] for r in kept]
    events = [metrics.NoteEvents.from_json(r["events"]) for r in kept]
    raw_events = [r["events"] for r in kept]
    start = time.perf_counter()
    metrics._set_classes()
    table = time.perf_counter() - start
    print(f"{len(kept)} songs, {sum(len(a) for a in arrays):,} notes; set-class table built once in {table * 1000:.0f} ms")
    for variant in metrics.VARIANTS:
        theirs = best_of(3,
                         lambda: [ref.features(a, e, variant) for a, e in zip(lists, raw_events)])
        batch = best_of(args.repeat, lambda: metrics.features_batch(arrays, events, variant))
        one_by_one = best_of(args.repeat, lambda: [metrics.features(a, e, variant) for a, e in zip(arrays, events)])
        print(f"{variant:<10s} reference loop {theirs:7.3f} s   NumPy batch {batch * 1000:6.1f} ms "
              f"({theirs / batch:5.1f}x, goal >= 50x: {'met' if theirs / batch >= 50 else 'NOT met'})   "
              f"NumPy song by song {one_by_one * 1000:6.1f} ms ({theirs / one_by_one:4.1f}x)")
    per_feature = {
        "CMM": (lambda: metrics.conjunct_melodic_motion_batch(arrays), lambda: [ref.cmm(a) for a in lists]),
        "LM": (lambda: metrics.limited_macroharmony_batch(arrays), lambda: [ref.lm(a) for a in lists]),
        "CENT": (lambda: metrics.centricity_batch(arrays), lambda: [ref.cent(a) for a in lists]),
        "CONS": (lambda: metrics.acoustic_consonance_batch(events), lambda: [ref.consonance(e) for e in raw_events]),
        "HC": (lambda: metrics.harmonic_consistency_batch(events),
               lambda: [ref.harmonic_consistency(e) for e in raw_events]),
    }
    for name, (fast, slow) in per_feature.items():
        a, b = best_of(args.repeat, fast), best_of(3, slow)
        print(f"  {name:<5s} reference {b * 1000:8.1f} ms   NumPy {a * 1000:7.1f} ms   {b / a if a else math.inf:6.1f}x")


if __name__ == "__main__":
    main()
