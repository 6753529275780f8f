"""The studio's Generate click, timed stage by stage (no browser: the click's method itself).

    python benchmarks/bench_studio.py [--model out/local_model] [--stats out/stats.json] [--clicks 5]

Two fresh Python processes, one per way of building the studio, in the same run:
- **lazy** (before): the studio is built without loading the model, so the first click pays for
  importing torch and transformers, reading the weights and building the meter rules;
- **preloaded** (now, the default): the model is loaded when the studio is built.

Each prints the seconds of building the studio and of each click (5 candidates, the song task),
split into the studio's stages: loading the model, sampling, scoring, showing the best (piano
roll, sheet music, audio, downloads). Goal (issue #15): a click returns in at most 10 s for 5
candidates on 2 cores with the model loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_S = 10.0

CHILD = """
import json, sys, tempfile, time
started = time.perf_counter()
from aitunes_lib import metrics
from aitunes_lib.studio import Studio, default_backends
model, stats_path, preload, clicks = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4])
stats = metrics.load_stats(stats_path) if stats_path else {"article": metrics.ARTICLE_STATS, "realism": None}
studio = Studio(default_backends(), model=model, folder=tempfile.mkdtemp(), stats=stats["article"],
                reference=stats.get("realism"), n=5, seed=0, preload=preload)
built = time.perf_counter() - started
rows = []
for click in range(clicks):
    studio.sampling_seed = click
    start = time.perf_counter()
    table = studio.generate()
    rows.append({"seconds": time.perf_counter() - start, **studio.timings, "valid": int(table["valid"].sum()) if table is not None else 0})
print(json.dumps({"built": built, "clicks": rows}))
"""


def run(model: str, stats: str, preload: bool, clicks: int) -> dict:
    """One fresh process: build the studio, click Generate `clicks` times."""
    done = subprocess.run([sys.executable, "-c", CHILD, model, stats, "1" if preload else "0", str(clicks)],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode:
        raise SystemExit(f"the studio run failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "out" / "local_model"),
                        help="a model folder (default: the demo's out/local_model; empty: the committed base)")
    parser.add_argument("--stats", default=str(ROOT / "out" / "stats.json"), help="prep's stats.json (realism ranking)")
    parser.add_argument("--clicks", type=int, default=5)
    args = parser.parse_args()
    model = args.model if args.model and Path(args.model, "config.json").is_file() else ""
    stats = args.stats if Path(args.stats).is_file() else ""
    print(f"model: {model or 'the committed base'}; ranking by {'realism' if stats else 'NDM'}; 5 candidates per click")
    results = {}
    for name, preload in (("lazy (before)", False), ("preloaded (now)", True)):
        result = results[name] = run(model, stats, preload, args.clicks)
        print(f"\n{name}: studio built in {result['built']:.1f} s")
        print(f"  {'click':>5} {'total':>7} {'load':>6} {'sample':>7} {'score':>6} {'show':>6} {'valid':>6}")
        for i, row in enumerate(result["clicks"], 1):
            print(f"  {i:>5} {row['seconds']:>6.1f}s {row.get('loading the model', 0):>5.1f}s {row.get('sampling', 0):>6.1f}s "
                  f"{row.get('scoring', 0):>5.1f}s {row.get('showing the best', 0):>5.1f}s {row['valid']:>6}")
    lazy, now = (results[k]["clicks"] for k in results)
    first_ratio = lazy[0]["seconds"] / now[0]["seconds"]
    worst = max(row["seconds"] for row in now)
    middle = sorted(row["seconds"] for row in now)[len(now) // 2]
    print(f"\nfirst click: {lazy[0]['seconds']:.1f} s lazy, {now[0]['seconds']:.1f} s preloaded ({first_ratio:.1f}x faster)")
    print(f"median click with the model loaded: {middle:.1f} s; slowest: {worst:.1f} s (goal <= {GOAL_S:.0f} s: {'met' if worst <= GOAL_S else 'NOT met'})")


if __name__ == "__main__":
    main()
