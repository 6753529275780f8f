"""The phrase and chord tasks, measured on held-out songs (tiny preset, CPU).

    python benchmarks/bench_tasks.py [--minutes 8] [--prompts 0] [-n 3] [--out out/bench_tasks]

Holds out 10% of the OpenEWLD songs (`dataset.holdout_records`, by a hash of each header),
fine-tunes the `tiny` preset from the committed folk-tune base on the three tasks mixed
(song ×1, phrase ×2, chords ×2 per kept song), then, for every held-out song:
- song:   n whole songs from its title and composer (the baseline for NDM);
- phrase: its first 4 bars as the prefix, n continuations;
- chords: the chart of its first 16 bars, n melodies, with the chord-tone bonus
  (`SongShape.chord_tones`) and without it (the model alone).
The real held-out songs are scored the same way, for scale. Needs `out/songs.jsonl` and
`out/stats.json` (`python -m aitunes_lib prep --out out`).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aitunes_lib import abc, dataset, metrics, tasks  # noqa: E402
from aitunes_lib.backends import local  # noqa: E402
from aitunes_lib.generate import GenerateConfig, Request, SongShape, generate  # noqa: E402
from aitunes_lib.abc import bar_lengths  # noqa: E402

CHORD_TONE_BIAS = SongShape().chord_tones

PREFIX_BARS, MIXTURE = 4, {"song": 1, "phrase": 2, "chords": 2}


def median(values) -> float:
    values = [v for v in values if v == v and v is not None]
    return statistics.median(values) if values else math.nan


def interior_exact(rows: list[dict]) -> tuple[int, float]:
    """(interior bars, share of them exactly 4 quarters) over valid candidates."""
    interior = sum(max(0, r.get("bars", 0) - 2) for r in rows if r["valid"])
    bad = sum(len(r.get("bad_bars", [])) for r in rows if r["valid"])
    return interior, (1 - bad / interior) if interior else math.nan


def chords_run(backend: local.LocalBackend, held: list[dict], stats, n: int, bias: float) -> dict:
    """n melodies over the first 16 bars' chart of each held-out song, scored."""
    rows, real_fits, started = [], [], time.perf_counter()
    for i, record in enumerate(held):
        section = tasks.CHORDS.record(record, 0)["completion"]
        chart = tasks.ChordChart.from_body(section)
        source = metrics.TrainingBars([abc.decode_body(section)])
        melodies = generate(backend, "chords", Request("t", "c", chart), GenerateConfig(n=n, seed=i, song=SongShape(chord_tones=bias)))
        for melody in melodies:
            row = metrics.evaluate(melody, stats, source)
            row["chart_exact"] = not melody.violations and tasks.chart_violations(chart, abc.encode_body(melody.body)) == []
            rows.append(row)
        real_fits.append(metrics.chord_fit(abc.decode_body(section)))
        print(f"  {i + 1}/{len(held)}", end="\r", flush=True)
    valid = [r for r in rows if r["valid"]]
    return {
        "chord_tone_bias": bias, "candidates": len(rows), "seconds": time.perf_counter() - started,
        "chart_exact_share": sum(r["chart_exact"] for r in rows) / len(rows),
        "valid_share": len(valid) / len(rows),
        "median_chord_fit": median(r["chord_fit"] for r in valid),
        "real_median_chord_fit": median(real_fits),
        "longest_copy_max": max((r.get("longest_copy", 0) for r in valid), default=0),
        "median_ndm": median(r.get("NDM") for r in valid),
        "interior_bars_exact": interior_exact(rows)[1],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT / "out" / "songs.jsonl"))
    parser.add_argument("--stats", default=str(ROOT / "out" / "stats.json"))
    parser.add_argument("--minutes", type=float, default=8.0, help="CPU budget of the fine-tuning")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--prompts", type=int, default=0, help="held-out songs to use (0: all)")
    parser.add_argument("-n", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "out" / "bench_tasks"))
    parser.add_argument("--model", default=None, help="a model folder from an earlier run: skip the fine-tuning")
    args = parser.parse_args()

    import torch

    torch.manual_seed(0)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    songs = dataset.read_jsonl(args.data)
    kept, held = dataset.holdout_records(songs)
    stats = metrics.load_stats(args.stats)["article"]
    mixed = tasks.training_records(kept, MIXTURE, seed=0)
    counts = {t: sum(tasks.task_of(r["prompt"]) == t for r in mixed) for t in tasks.names()}
    held = [r for r in held if tasks.PHRASE.record(r, PREFIX_BARS) and tasks.CHORDS.record(r, 0)][: args.prompts or None]
    print(f"{len(songs)} songs: {len(kept)} kept -> {len(mixed)} records {counts}; {len(held)} held-out songs x {args.n} candidates")
    results: dict = {"songs": len(songs), "kept": len(kept), "held_out": len(held), "records": tasks, "n": args.n}

    model = Path(args.model) if args.model else out / "model"
    if not args.model:
        print(f"\n== fine-tune tiny from the folk base on the mixture, budget {args.minutes} min ==")
        config = local.TrainConfig(preset="tiny", base=str(local.BASE_CHECKPOINT), max_steps=args.steps,
                                   max_minutes=args.minutes, resume=False)
        result = local.train([r["prompt"] + r["completion"] for r in mixed], model, config, progress=True)
        results["tokens_per_s"] = result.tokens_per_second
    backend = local.LocalBackend(model)
    last = backend.history.dropna(subset=["val_loss"]).iloc[-1]
    results["training"] = {"model": str(model), "steps": int(last["step"]), "val_loss": float(last["val_loss"])}
    print(f"model {model}: {int(last['step'])} steps, validation loss {last['val_loss']:.3f} nats/token")

    # ------------------------------------------------------------------ song (the baseline)
    print("\n== song: whole songs from held-out titles ==")
    song_rows = []
    for i, record in enumerate(held):
        for song in generate(backend, "song", Request(*abc.parse_prompt(record["prompt"])), GenerateConfig(n=args.n, seed=i, song=SongShape(planned=False))):
            song_rows.append(metrics.evaluate(song, stats))
        print(f"  {i + 1}/{len(held)}", end="\r", flush=True)
    song_ndm = median(r.get("NDM") for r in song_rows if r["valid"])
    real_rows = [metrics.evaluate(abc.decode_seed(r["prompt"], r["completion"]), stats) for r in held]
    results["song"] = {"median_ndm": song_ndm, "real_median_ndm": median(r.get("NDM") for r in real_rows)}
    print(f"  median NDM {song_ndm:.2f} (the held-out songs themselves: {results['song']['real_median_ndm']:.2f})")

    # ------------------------------------------------------------------ phrase
    print(f"\n== phrase: the first {PREFIX_BARS} bars of each held-out song, continued ==")
    phrase_rows, real_joins, started = [], [], time.perf_counter()
    for i, record in enumerate(held):
        task = tasks.PHRASE.record(record, PREFIX_BARS)
        prefix = task["prompt"].split(tasks.PHRASE.marker, 1)[1]
        phrase = tasks.phrase_input(prefix)
        for candidate in generate(backend, "phrase", Request("t", "c", phrase), GenerateConfig(n=args.n, seed=i)):
            encoded = abc.encode_body(candidate.body)
            row = metrics.evaluate(candidate, stats)  # with the continuation's columns: its context says where the prefix ends
            row["verbatim"] = encoded.startswith(prefix) and not candidate.violations
            row["exact_after_prefix"] = all(length == 4 for length in bar_lengths(encoded)[PREFIX_BARS:])
            phrase_rows.append(row)
        real_joins.append(metrics.continuation(abc.decode_seed(record["prompt"], record["completion"]), phrase.quarters))
        print(f"  {i + 1}/{len(held)}", end="\r", flush=True)
    valid = [r for r in phrase_rows if r["valid"]]
    interior, exact = interior_exact(phrase_rows)
    results["phrase"] = {
        "candidates": len(phrase_rows), "seconds": time.perf_counter() - started,
        "verbatim_share": sum(r["verbatim"] for r in phrase_rows) / len(phrase_rows),
        "valid_share": sum(r["valid"] and r.get("bars", 0) >= 8 for r in phrase_rows) / len(phrase_rows),
        "interior_bars": interior, "interior_bars_exact": exact,
        "bars_after_prefix_exact_share": sum(r["exact_after_prefix"] for r in phrase_rows) / len(phrase_rows),
        "median_ndm": median(r.get("NDM") for r in valid),
        "median_join_interval": median(r["join_interval"] for r in valid),
        "same_key_share": sum(bool(r["same_key"]) for r in valid) / len(valid) if valid else math.nan,
        "median_key_r": median(r["key_r"] for r in valid),
        "real_median_join_interval": median(r["join_interval"] for r in real_joins),
        "real_same_key_share": sum(bool(r["same_key"]) for r in real_joins) / len(real_joins),
        "real_median_key_r": median(r["key_r"] for r in real_joins),
    }

    # ------------------------------------------------------------------ chords, with the chord-tone bonus and without
    for bias in (CHORD_TONE_BIAS, 0.0):
        print(f"\n== chords: a melody over the chart of each held-out song's first 16 bars, chord-tone bonus {bias} ==")
        results[f"chords_bias_{bias:g}"] = chords_run(backend, held, stats, args.n, bias)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=float))

    p, c, alone = results["phrase"], results[f"chords_bias_{CHORD_TONE_BIAS:g}"], results["chords_bias_0"]
    print("\n== against the goals ==")
    print(f"phrase: prefix verbatim         {p['verbatim_share']:.1%} of {p['candidates']} (goal 100%)")
    print(f"phrase: interior bars exact     {p['interior_bars_exact']:.1%} of {p['interior_bars']}; every bar after the prefix "
          f"exact in {p['bars_after_prefix_exact_share']:.1%} of candidates (goal: as for songs, 100%)")
    print(f"phrase: valid, >= 8 bars        {p['valid_share']:.1%}")
    print(f"phrase: median NDM              {p['median_ndm']:.2f} vs whole songs {song_ndm:.2f} from the same model "
          f"(goal: no worse; ratio {p['median_ndm'] / song_ndm:.2f})")
    print(f"phrase: join                    median interval {p['median_join_interval']:.1f} semitones (real songs at the same "
          f"bar: {p['real_median_join_interval']:.1f}); same key {p['same_key_share']:.0%} (real {p['real_same_key_share']:.0%}); "
          f"key profile r {p['median_key_r']:.2f} (real {p['real_median_key_r']:.2f})")
    print(f"chords: chart exact             {c['chart_exact_share']:.1%} of {c['candidates']} (goal 100%)")
    print(f"chords: median chord fit        {c['median_chord_fit']:.3f} with the chord-tone bonus {CHORD_TONE_BIAS:g}, "
          f"{alone['median_chord_fit']:.3f} from the model alone; real held-out melodies {c['real_median_chord_fit']:.3f} "
          f"(goal >= {c['real_median_chord_fit'] - 0.05:.3f})")
    print(f"chords, model alone             chart exact {alone['chart_exact_share']:.1%}, longest copy {alone['longest_copy_max']}, "
          f"median NDM {alone['median_ndm']:.2f}")
    print(f"chords: longest copy of source  {c['longest_copy_max']} bars (goal <= 4)")
    print(f"chords: median NDM              {c['median_ndm']:.2f}; interior bars exact {c['interior_bars_exact']:.1%}")
    print(f"generation: phrase {p['seconds']:.0f} s, chords {c['seconds']:.0f} s")
    print(f"wrote {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
