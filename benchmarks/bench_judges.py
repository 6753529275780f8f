"""Two judges, side by side: can the songs' averages, or their sequences, tell candidates from real songs?

    python benchmarks/bench_judges.py [--model out/local_model] [--prompts 20] [-n 5] [--configs default,off]

For each setting, 5 candidates for each of 20 invented titles (as `bench_realism.py`), against
the 379 training songs:

- the feature judge: `bench_realism`'s gradient-boosting AUC on the song-level features;
- the sequence judge: a logistic regression on bags of sequences (`metrics.sequences.sequence_tokens`:
  1- to 3-grams of melodic intervals, each bar's rhythm, chord roots relative to the key with
  their motion and quality, the melody's degree over the chord on strong beats), each bag
  normalised to shares; 5-fold cross-validated ROC AUC over 5 draws of the balanced subsample,
  for every bag alone and all together;
- music-theory rates (`metrics.sequences.theory_rates`): dominants that resolve, root motion by a
  fifth, diatonic chord time, chord changes on strong beats, phrase endings that breathe.

Needs `out/songs.jsonl` (prep) and a fine-tuned model (what `make demo` trains).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_realism import LEVERS_OFF, TABLES, arguments, auc_over_seeds, run_config  # noqa: E402

from aitunes_lib import abc, dataset, metrics, naming  # noqa: E402
from aitunes_lib.backends import local  # noqa: E402
from aitunes_lib.metrics import sequences  # noqa: E402
from aitunes_lib.song import Song  # noqa: E402

BAGS = ("intervals", "rhythm", "roots", "degrees")
# levers_off: the chart, forms, returns, breaths and the cadence; no soft lever
SETTINGS_BASE = {"default": {}, "levers_off": {**LEVERS_OFF, "form": "auto", "cadence": True}}
SETTINGS = {**SETTINGS_BASE, "no_harmony": {"harmony": False}, "off": {"planned": False},
            **{f"no_{lever}": {lever: 0.0} for lever in ("chord_tones", "intervals", "balance", "range_penalty")},
            "no_motifs": {"motifs": False}, "no_rhythms": {"rhythms": False}, "no_ranges": {"ranges": False},
            "no_breaths": {"breaths": False},
            # every section's middle on V7 and bar 7 on I, as before phrases took the real blocks' chords there
            "fixed_phrases": {"tables": dataclasses.replace(TABLES, phrase_chords={})},
            # the model's own spread, narrowed: the nucleus, or a cooler temperature
            **{f"{base}_{knob}": {**SETTINGS_BASE[base], **value} for base in ("default", "levers_off")
               for knob, value in (("p09", {"top_p": 0.9}), ("p08", {"top_p": 0.8}), ("t08", {"temperature": 0.8}))}}


def read(body: str) -> dict:
    """Everything both judges need of one song, from one parse."""
    song = Song("t", "c", body)
    try:
        return {"features": metrics.song_features(song), "rates": sequences.theory_rates(song),
                "bags": {k: dict(v) for k, v in sequences.sequence_tokens(song).items()}}
    except Exception as error:  # noqa: BLE001 - a candidate music21 cannot read is left out, and counted
        return {"error": f"{type(error).__name__}: {error}"}


def read_all(bodies: list[str]) -> list[dict]:
    with ProcessPoolExecutor(2) as pool:
        return [r for r in pool.map(read, bodies, chunksize=8) if "error" not in r]


def sequence_auc(real: list[dict], other: list[dict], bags: tuple[str, ...], seed: int) -> float:
    """Cross-validated AUC of a logistic regression on the songs' bags (each bag as shares)."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    rng = np.random.default_rng(seed)
    k = min(len(real), len(other))
    a = [real[i] for i in rng.permutation(len(real))[:k]]
    b = [other[i] for i in rng.permutation(len(other))[:k]]

    def row(song: dict) -> dict:
        out = {}
        for bag in bags:
            counts = song["bags"][bag]
            total = sum(counts.values()) or 1
            out.update({f"{bag}:{key}": n / total for key, n in counts.items()})
        return out

    x = DictVectorizer().fit_transform([row(s) for s in a + b])
    y = np.array([0] * k + [1] * k)
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    return float(cross_val_score(LogisticRegression(C=1.0, max_iter=2000), x, y, cv=folds, scoring="roc_auc").mean())


def judge(real: list[dict], other: list[dict], draws: int = 5) -> dict:
    out = {"feature": auc_over_seeds([r["features"] for r in real], [r["features"] for r in other], draws)}
    for name, bags in [*((bag, (bag,)) for bag in BAGS), ("sequences", BAGS)]:
        aucs = [sequence_auc(real, other, bags, seed) for seed in range(draws)]
        out[name] = {"auc": float(np.mean(aucs)), "auc_low": min(aucs), "auc_high": max(aucs)}
    out["rates"] = rates(other)
    return out


def rates(rows: list[dict]) -> dict:
    return {name: float(np.nanmean([r["rates"][name] for r in rows])) if rows else math.nan for name in sequences.RATES}


def main() -> None:
    parser = arguments(__doc__.split("\n")[0])
    parser.add_argument("--configs", default="default,no_harmony,levers_off,off", help=f"any of {', '.join(SETTINGS)}")
    parser.add_argument("--out", default="out/bench_judges")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    records = dataset.read_jsonl(args.data)
    started = time.perf_counter()
    real = read_all([abc.decode_body(r["completion"]) for r in records])
    print(f"{len(real)} training songs read in {time.perf_counter() - started:.0f} s")
    titles = {abc.parse_prompt(r["prompt"])[0].lower() for r in records}
    pairs = [p for p in naming.invent(args.prompts * 3, seed=2026) if p[0].lower() not in titles][: args.prompts]
    backend = local.LocalBackend(args.model)
    training = metrics.TrainingBars(abc.decode_body(r["completion"]) for r in records)
    results = {"real": {"rates": rates(real)}}
    for name in args.configs.split(","):
        run = run_config(backend, pairs, args.n, SETTINGS[name], training)
        bodies = [row["body"] for row in run["rows"] if row["valid"]]
        other = read_all(bodies)
        results[name] = {"candidates": len(run["rows"]), "read": len(other), **judge(real, other)}
        (out / f"bodies_{name}.json").write_text(json.dumps(bodies))
        r = results[name]
        print(f"\n== {name}: {len(other)} of {len(run['rows'])} candidates read ==")
        for judge_name in ("feature", *BAGS, "sequences"):
            v = r[judge_name]
            print(f"  {judge_name:<10s} AUC {v['auc']:.3f} ({v['auc_low']:.2f}-{v['auc_high']:.2f})")
    (out / "results.json").write_text(json.dumps(results, indent=1))
    print("\n| rate | real | " + " | ".join(args.configs.split(",")) + " |")
    print("|---|---|" + "---|" * len(args.configs.split(",")))
    for rate in sequences.RATES:
        print(f"| {rate} | {results['real']['rates'][rate]:.2f} | "
              + " | ".join(f"{results[c]['rates'][rate]:.2f}" for c in args.configs.split(",")) + " |")
    print("\n| judge | " + " | ".join(args.configs.split(",")) + " |")
    print("|---|" + "---|" * len(args.configs.split(",")))
    for judge_name in ("feature", *BAGS, "sequences"):
        print(f"| {judge_name} | " + " | ".join(
            f"{results[c][judge_name]['auc']:.3f} ({results[c][judge_name]['auc_low']:.2f}-{results[c][judge_name]['auc_high']:.2f})"
            for c in args.configs.split(",")) + " |")


if __name__ == "__main__":
    main()
