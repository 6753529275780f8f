"""Can a listener's features tell the default path's songs from real OpenEWLD songs?

    python benchmarks/bench_realism.py [--model out/local_model] [--prompts 20] [-n 5] [--out out/bench_realism]

Generates 5 candidates for each of 20 invented title and band pairs (none an OpenEWLD title)
with what a user gets by default (the model `make demo` fine-tunes: the committed base plus
the demo's budget on CPU; default generation settings), and compares them with the 379
training songs on every song-level feature (`metrics.SONG_FEATURES`):
- per feature: the two medians and the overlap area of the two kernel densities;
- the mean and the smallest overlap;
- a classifier two-sample test: 5-fold cross-validated ROC AUC of gradient boosting on the
  features, with balanced classes (0.5: indistinguishable; 1.0: always told apart).

The AUC is the mean over 5 draws of the balanced subsample and folds, with the lowest and
highest (one draw alone moves by about ±0.04). Repeated bars and phrases are given for the
melody alone (the issue's definition: real medians 0.46 and 0.25) and with the chord symbols.

Baselines in the same run: real against real (two random halves of the training songs), the
last session's default (`last_stop`: every song ending on C over a tonic chord, no first and
second endings, aims drawn at the real spread, no chord-tone aims,
forms of at most 5 sections), the pipeline with every lever off (the meter rules alone), and
the defaults with one lever off (no balance, endings, voltas, widened aims, chord-tone
aims, long forms). `--configs` also runs each
lever alone, before (the stop before last), no_closing, no_rhythms, no_retune, no_motifs,
no_echo_alone, no_ranges, no_intervals, t075. Needs `out/songs.jsonl` (`python -m aitunes_lib prep --out out`) and a model
(`python -m aitunes_lib train --data out/songs.jsonl --out out/local_model`, what `make demo` runs).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aitunes_lib import abc, dataset, metrics, naming  # noqa: E402
from aitunes_lib.backends import local  # noqa: E402
from aitunes_lib.decoding.tables import load as load_tables  # noqa: E402
from aitunes_lib.generate import GenerateConfig, Request, SongShape, generate  # noqa: E402
from aitunes_lib.song import Song  # noqa: E402

# Every setting is a `SongShape` (or a sampling knob): ablations pass settings, and a table's
# ablation passes other tables (`SongShape.tables`); nothing is patched.
TABLES = load_tables()
TONIC_ENDINGS = {"C:C": 264, "C6:C": 32, "Cmaj7:C": 15, "C69:C": 2}  # the stop before last: every song lands on C over a tonic chord
SHORT_FORMS = dict(  # forms of at most 5 sections, and what follows them in those 317 songs
    forms={form: n for form, n in TABLES.forms.items() if len(form.split("*")[0]) <= 5},
    tails={0: 90, 1: 60, 2: 16, 3: 9, 4: 15, 5: 11, 6: 4, -1: 14},
    tails_repeated={0: 34, 1: 42, 2: 17, 3: 3, 4: 1, 6: 1}, pickups={True: 34, False: 283})
LAST_STOP = {"tables": dataclasses.replace(TABLES, endings=TONIC_ENDINGS, voltas={0: 1}, **SHORT_FORMS), "widen": 1.0,
             "echo_alone": SongShape().echo, "chord_tone_aims": False, "harmony": False}
SAMPLING = ("n", "temperature", "top_p", "seed", "max_tokens", "enforce")
LEVERS_OFF = dict(form=None, cadence=False, chord_tones=0.0, intervals=0.0, balance=0.0, motifs=False, ranges=False, retune=0.0,
                  closing=False, rhythms=False)  # each lever alone


def features_of(body: str) -> dict:
    return metrics.song_features(Song("t", "c", body))


def real_rows(records: list[dict]) -> list[dict]:
    with ProcessPoolExecutor(2) as pool:
        return list(pool.map(features_of, [abc.decode_body(r["completion"]) for r in records], chunksize=8))


def classifier_auc(a: list[dict], b: list[dict], seed: int = 0) -> float:
    """5-fold cross-validated ROC AUC of gradient boosting telling rows of a from rows of b (balanced)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    rng = np.random.default_rng(seed)
    k = min(len(a), len(b))
    a = [a[i] for i in rng.permutation(len(a))[:k]]
    b = [b[i] for i in rng.permutation(len(b))[:k]]
    x = np.array([[r.get(f, math.nan) for f in metrics.SONG_FEATURES] for r in a + b], dtype=float)
    y = np.array([0] * k + [1] * k)
    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=seed)
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    return float(cross_val_score(model, x, y, cv=folds, scoring="roc_auc").mean())


def compare(real: list[dict], other: list[dict]) -> dict:
    per = {}
    for f in metrics.SONG_FEATURES:
        r = np.array([row.get(f, math.nan) for row in real], dtype=float)
        o = np.array([row.get(f, math.nan) for row in other], dtype=float)
        if f in metrics.BINARY_FEATURES:  # two shares: the overlap of two Bernoulli distributions
            pr, po = np.nanmean(r), np.nanmean(o)
            per[f] = {"real": float(pr), "other": float(po), "overlap": float(1 - abs(pr - po))}
            continue
        per[f] = {"real": float(np.nanmedian(r)) if np.isfinite(r).any() else math.nan,
                  "other": float(np.nanmedian(o)) if np.isfinite(o).any() else math.nan,
                  "overlap": metrics.overlap_area(r, o)}
    overlaps = [v["overlap"] for v in per.values() if v["overlap"] == v["overlap"]]
    return {"features": per, "mean_overlap": float(np.mean(overlaps)), "min_overlap": float(np.min(overlaps)),
            "min_feature": min(per, key=lambda f: per[f]["overlap"] if per[f]["overlap"] == per[f]["overlap"] else 9),
            **auc_over_seeds(real, other)}


def auc_over_seeds(a: list[dict], b: list[dict], seeds: int = 5) -> dict:
    """The classifier AUC averaged over `seeds` draws of the balanced subsample and folds (one
    draw alone moves by about ±0.04 on 100 candidates), with the lowest and highest."""
    aucs = [classifier_auc(a, b, seed) for seed in range(seeds)]
    return {"auc": float(np.mean(aucs)), "auc_low": min(aucs), "auc_high": max(aucs)}


def run_config(backend, pairs, n: int, settings: dict, training: metrics.TrainingBars) -> dict:
    """Candidates for every pair under these settings: sampling knobs and `SongShape` fields."""
    sampling = {k: v for k, v in settings.items() if k in SAMPLING}
    shape = SongShape(**{k: v for k, v in settings.items() if k not in SAMPLING})
    return _run_config(backend, pairs, n, {**sampling, "song": shape}, training)


def _run_config(backend, pairs, n: int, settings: dict, training: metrics.TrainingBars) -> dict:
    rows, seconds = [], []
    for i, (title, band) in enumerate(pairs):
        config = GenerateConfig(n=n, seed=1000 + i, **settings)
        started = time.perf_counter()
        songs = generate(backend, "song", Request(title, band), config)
        seconds.append(time.perf_counter() - started)
        for song in songs:
            scores = metrics.evaluate(song, training=training)
            features = metrics.song_features(song) if scores["valid"] else {}
            rows.append({**scores, **features, "form": song.context.get("form"), "body": song.body})
        print(f"  {i + 1}/{len(pairs)}", end="\r", flush=True)
    valid = [r for r in rows if r["valid"]]
    interior = sum(max(0, r.get("bars", 0) - 2) for r in valid)
    bad = sum(len(r.get("bad_bars", [])) for r in valid)
    return {"rows": rows, "valid": valid,
            "valid_8_bars_share": sum(r["valid"] and r.get("bars", 0) >= 8 for r in rows) / len(rows),
            "interior_exact": 1 - bad / interior if interior else math.nan,
            "longest_copy": max((r.get("longest_copy", 0) for r in valid), default=0),
            "seconds_per_5": statistics.median(seconds) * 5 / n}


def named(rows: list[dict]) -> dict:
    def med(f):
        values = [r[f] for r in rows if r.get(f) == r.get(f) and f in r]
        return statistics.median(values) if values else math.nan

    return {"repeated_bars": med("repeated_bars"), "repeated_phrases": med("repeated_phrases"),
            "melody_repeated_bars": med("melody_repeated_bars"), "melody_repeated_phrases": med("melody_repeated_phrases"),
            "ends_on_tonic": float(np.mean([r.get("ends_on_tonic", 0) == 1 for r in rows])) if rows else math.nan,
            "chord_tones": med("chord_tones"), "duration_entropy": med("duration_entropy"), "offbeat": med("offbeat"),
            "bars": med("bars")}


def arguments(description: str) -> argparse.ArgumentParser:
    """The options every judging benchmark takes: the training file, the model, and how many titles and candidates."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", default="out/songs.jsonl")
    parser.add_argument("--model", default="out/local_model")
    parser.add_argument("--prompts", type=int, default=20)
    parser.add_argument("-n", type=int, default=5)
    return parser


def main() -> None:
    parser = arguments(__doc__.split("\n")[0])
    parser.add_argument("--configs", default="default,last_stop,off,no_balance,no_endings,no_voltas,no_widen,no_tone_aims,no_harmony,"
                        "no_long_forms",
                        help="which settings to run (also: form, cadence, tones, intervals, balance: each lever alone; p095)")
    parser.add_argument("--out", default="out/bench_realism")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    records = dataset.read_jsonl(args.data)
    titles = {abc.parse_prompt(r["prompt"])[0].lower() for r in records}
    pairs = [p for p in naming.invent(args.prompts * 3, seed=2026) if p[0].lower() not in titles][: args.prompts]
    print(f"reference: {len(records)} training songs; {len(pairs)} invented titles x {args.n} candidates")
    started = time.perf_counter()
    real = real_rows(records)
    print(f"features of the real songs in {time.perf_counter() - started:.0f} s")
    halves = np.random.default_rng(0).permutation(len(real))
    results: dict = {"real_vs_real": compare([real[i] for i in halves[: len(real) // 2]], [real[i] for i in halves[len(real) // 2:]]),
                     "real": named(real)}
    print(f"real vs real: AUC {results['real_vs_real']['auc']:.3f}, mean overlap {results['real_vs_real']['mean_overlap']:.3f}")

    backend = local.LocalBackend(args.model)
    training = metrics.TrainingBars(abc.decode_body(r["completion"]) for r in records)
    default = SongShape()
    settings = {
        "default": {},
        "before": {"closing": False, "rhythms": False, "retune": 0.0},  # the last stop's default, less what the balance changed
        "off": {"planned": False},
        "form": {**LEVERS_OFF, "form": default.form},
        "cadence": {**LEVERS_OFF, "cadence": True},
        "tones": {**LEVERS_OFF, "chord_tones": default.chord_tones},
        "intervals": {**LEVERS_OFF, "intervals": default.intervals},
        "balance": {**LEVERS_OFF, "balance": default.balance},
        "no_balance": {"balance": 0.0},
        "no_ranges": {"ranges": False},
        "no_intervals": {"intervals": 0.0},
        "t075": {"temperature": 0.75},
        "p095": {"top_p": 0.95},
        "no_motifs": {"motifs": False},
        "no_closing": {"closing": False},
        "no_rhythms": {"rhythms": False},
        "no_retune": {"retune": 0.0},
        "ranges": {"ranges": True},
        "intervals1": {"intervals": 1.0},
        "last_stop": LAST_STOP,  # the stop before last: before endings, voltas, widened aims, chord-tone aims
        "no_endings": {"tables": dataclasses.replace(TABLES, endings=TONIC_ENDINGS)},
        "no_voltas": {"tables": dataclasses.replace(TABLES, voltas={0: 1})},
        "no_widen": {"widen": 1.0},
        "no_tone_aims": {"chord_tone_aims": False},
        "no_long_forms": {"tables": dataclasses.replace(TABLES, **SHORT_FORMS)},
        "no_echo_alone": {"echo_alone": SongShape().echo},
        "no_harmony": {"harmony": False},
        "no_range_penalty": {"range_penalty": 0.0},
    }
    for name in args.configs.split(","):
        shown = {k: ("other tables" if k == "tables" else v) for k, v in settings[name].items()}
        print(f"\n== {name}: {shown or 'the defaults'} ==")
        run = run_config(backend, pairs, args.n, settings[name], training)
        report = compare(real, run["valid"])
        results[name] = {**{k: v for k, v in run.items() if k not in ("rows", "valid")}, **report, **named(run["valid"])}
        (out / f"candidates_{name}.json").write_text(json.dumps(run["rows"], default=str))
        r = results[name]
        print(f"  AUC {r['auc']:.3f} ({r['auc_low']:.3f}-{r['auc_high']:.3f})   mean overlap {r['mean_overlap']:.3f}   "
              f"lowest {r['min_overlap']:.3f} ({r['min_feature']})")
        print(f"  melody alone: repeated bars {r['melody_repeated_bars']:.2f}  repeated 4-bar phrases {r['melody_repeated_phrases']:.2f};  "
              f"with chords: {r['repeated_bars']:.2f}, {r['repeated_phrases']:.2f}")
        print(f"  "
              f"ends on tonic {r['ends_on_tonic']:.0%}  chord tones {r['chord_tones']:.2f}  bars {r['bars']:.0f}")
        print(f"  valid with >= 8 bars {r['valid_8_bars_share']:.1%}  interior bars exact {r['interior_exact']:.1%}  "
              f"longest copy {r['longest_copy']}  5 candidates in {r['seconds_per_5']:.1f} s")
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))

    print("\nper feature (median real | median candidates | overlap), default settings:")
    shown = results.get("default") or results[args.configs.split(",")[0]]
    for f, v in shown["features"].items():
        print(f"  {f:<20s} {v['real']:8.3f} {v['other']:8.3f}   {v['overlap']:.2f}")
    print("\nrepeated bars and phrases: the melody alone (the issue's figures: real medians 0.46 and 0.25), then with chords")
    print("| settings | AUC (5 draws) | mean overlap | lowest overlap | repeated bars | repeated phrases | ends on tonic | chord tones |")
    print("|---|---|---|---|---|---|---|---|")
    for name in ["real_vs_real", *args.configs.split(",")]:
        r = results[name]
        n = results["real"] if name == "real_vs_real" else r
        extra = (f"{n['melody_repeated_bars']:.2f} / {n['repeated_bars']:.2f} | {n['melody_repeated_phrases']:.2f} / {n['repeated_phrases']:.2f} | "
                 f"{n['ends_on_tonic']:.0%} | {n['chord_tones']:.2f}")
        print(f"| {name} | {r['auc']:.3f} ({r['auc_low']:.2f}-{r['auc_high']:.2f}) | {r['mean_overlap']:.3f} | "
              f"{r['min_overlap']:.2f} ({r['min_feature']}) | {extra} |")


if __name__ == "__main__":
    main()
