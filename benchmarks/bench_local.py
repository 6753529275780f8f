"""The local backend, measured: throughput and MFU, validity, rhythm, tonality, novelty, held-out loss.

    python benchmarks/bench_local.py [--minutes 5] [--prompts 0] [--out out/bench_local]

Holds out 10% of the OpenEWLD songs (`local.holdout`, by a hash of each prompt), fine-tunes
the `tiny` preset on the rest twice under the same CPU budget, once from the committed
folk-tune base and once from scratch, and prompts with the held-out titles and composers.
Every figure comes from this run; the matmul peak that MFU is measured against is taken in
the same process. Needs `out/songs.jsonl` and `out/stats.json` (`python -m aitunes_lib prep --out out`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aitunes_lib import abc, dataset, metrics  # noqa: E402
from aitunes_lib.backends import local  # noqa: E402
from aitunes_lib.generate import GenerateConfig, Request, SongShape, generate  # noqa: E402

ARTICLE_MEDIAN, ARTICLE_BEST = 7.06, 3.90  # the article's five NDMs: 8.17, 10.72, 3.90, 7.06, 5.55


def candidates_table(backend: local.LocalBackend, prompts: list[str], stats, training, n: int, enforce: bool, seed: int):
    """Generate n candidates per prompt and score each one."""
    rows, started, tokens = [], time.perf_counter(), 0
    for p, prompt in enumerate(prompts):
        songs = generate(backend, "song", Request(*abc.parse_prompt(prompt)), GenerateConfig(n=n, seed=seed + p, enforce=enforce, song=SongShape(planned=False)))
        tokens += sum(len(backend.tokenizer.encode(abc.encode_body(s.body))) for s in songs)
        for song in songs:
            rows.append({"prompt": p, "candidate": song.candidate, **metrics.evaluate(song, stats, training)})
        print(f"  {p + 1}/{len(prompts)} prompts", end="\r", flush=True)
    seconds = time.perf_counter() - started
    print(f"  generated {len(rows)} candidates, {tokens} tokens in {seconds:.0f} s ({tokens / seconds:.0f} tokens/s)")
    return rows


def summarize(rows: list[dict]) -> dict:
    valid = [r for r in rows if r["valid"] and r.get("bars", 0) >= 8]
    interior = sum(max(0, r.get("bars", 0) - 2) for r in rows if r["valid"])
    bad = sum(len(r.get("bad_bars", [])) for r in rows if r["valid"])
    ndms = [r["NDM"] for r in valid if r.get("NDM") == r.get("NDM") and "NDM" in r]
    best = {}
    for r in valid:
        if "NDM" in r and r["NDM"] == r["NDM"]:
            best[r["prompt"]] = min(best.get(r["prompt"], float("inf")), r["NDM"])
    copies = [r.get("longest_copy", 0) for r in rows if r["valid"]]
    return {
        "candidates": len(rows),
        "valid_share": len(valid) / len(rows) if rows else float("nan"),
        "interior_bars": interior,
        "interior_bars_exact": 1 - bad / interior if interior else float("nan"),
        "median_ndm": statistics.median(ndms) if ndms else float("nan"),
        "median_best_of_n": statistics.median(best.values()) if best else float("nan"),
        "longest_copy_max": max(copies, default=0),
        "longest_copy_median": statistics.median(copies) if copies else float("nan"),
        "shared_4bar_mean": statistics.mean(r["shared_4bar"] for r in rows if r["valid"] and r.get("shared_4bar") == r.get("shared_4bar")),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT / "out" / "songs.jsonl"))
    parser.add_argument("--stats", default=str(ROOT / "out" / "stats.json"))
    parser.add_argument("--minutes", type=float, default=5.0, help="CPU budget of each fine-tuning")
    parser.add_argument("--steps", type=int, default=local.TrainConfig().max_steps)
    parser.add_argument("--prompts", type=int, default=0, help="held-out prompts to use (0: all)")
    parser.add_argument("-n", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "out" / "bench_local"))
    args = parser.parse_args()

    import torch

    torch.manual_seed(0)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    texts = local.training_texts(args.data)
    kept, held = local.holdout(texts)
    train_file = dataset.write_jsonl([{"prompt": t[: t.index("<song>") + 6], "completion": t[t.index("<song>") + 6 :]} for t in kept],
                                     out / "train.jsonl")
    stats = metrics.load_stats(args.stats)["article"]
    training = metrics.TrainingBars(abc.decode_body(t.split("<song>", 1)[1]) for t in kept)
    prompts = [t[: t.index("<song>") + 6] for t in held][: args.prompts or None]
    print(f"{len(texts)} songs: {len(kept)} to train on, {len(held)} held out; {len(prompts)} prompts x {args.n} candidates")
    print(f"device: {local.pick_device()}, torch threads: {torch.get_num_threads()}")

    results: dict = {"songs": len(texts), "train_songs": len(kept), "held_out": len(held), "minutes": args.minutes}
    has_base = local.is_model_folder(local.BASE_CHECKPOINT)
    base_loss = local.LocalBackend(local.BASE_CHECKPOINT).loss(held) if has_base else None
    if base_loss:
        print(f"folk base, before fine-tuning: {base_loss['bits_per_token']:.3f} bits/token, {base_loss['bits_per_char']:.3f} bits/char")
    results["base_only_loss"] = base_loss
    runs = {}
    for name, base in (("pretrained", str(local.BASE_CHECKPOINT) if has_base else None), ("scratch", None)):
        if name == "pretrained" and base is None:
            print("no committed base checkpoint: skipping the pretrained run")
            continue
        print(f"\n== fine-tune tiny ({name}), budget {args.minutes} min ==")
        config = local.TrainConfig(preset="tiny", base=base, max_steps=args.steps, max_minutes=args.minutes, resume=False)
        result = local.train(kept, out / f"model_{name}", config, progress=True, measure_peak=True)
        backend = local.LocalBackend(out / f"model_{name}")
        loss = backend.loss(held)
        runs[name] = {
            "steps": int(result.history["step"].iloc[-1]), "stopped": result.stopped,
            "tokens_per_s": result.tokens_per_second, "matmul_peak_gflops": result.peak / 1e9, "mfu": result.mfu,
            "held_out": loss,
        }
        print(f"{runs[name]['steps']} steps ({result.stopped}); {result.tokens_per_second:.0f} tokens/s; "
              f"matmul peak {result.peak / 1e9:.0f} GFLOP/s; MFU {result.mfu:.1%}")
        print(f"held-out: {loss['bits_per_token']:.3f} bits/token, {loss['bits_per_char']:.3f} bits/char")
    results["runs"] = runs

    # for scale: the held-out songs themselves, scored the same way
    real = [metrics.evaluate(abc.decode_seed(t[: t.index("<song>") + 6], t[t.index("<song>") + 6 :]), stats, training) for t in held]
    results["held_out_songs"] = {"median_ndm": statistics.median(r["NDM"] for r in real if "NDM" in r),
                                 "longest_copy_max": max(r.get("longest_copy", 0) for r in real)}
    print(f"\nthe held-out songs themselves: median NDM {results['held_out_songs']['median_ndm']:.2f}")

    best_model = "pretrained" if "pretrained" in runs else "scratch"
    backend = local.LocalBackend(out / f"model_{best_model}")
    for enforce in (True, False):
        label = "with the meter rules" if enforce else "without them"
        print(f"\n== generate from the {best_model} model, {label} ==")
        rows = candidates_table(backend, prompts, stats, training, args.n, enforce, seed=1000)
        summary = summarize(rows)
        results["enforced" if enforce else "free"] = summary
        (out / f"candidates_{'enforced' if enforce else 'free'}.json").write_text(json.dumps(rows, default=str, indent=1))
        for key, value in summary.items():
            print(f"  {key:22s} {value:.4f}" if isinstance(value, float) else f"  {key:22s} {value}")

    enforced = results["enforced"]
    print("\n== against the goals ==")
    print(f"MFU                      {runs[best_model]['mfu']:.1%} (goal >= 35%)")
    print(f"valid, >= 8 bars         {enforced['valid_share']:.1%} (goal >= 95%)")
    print(f"interior bars exact      {enforced['interior_bars_exact']:.1%} with the rules, "
          f"{results['free']['interior_bars_exact']:.1%} without (goal 100% with)")
    print(f"median NDM               {enforced['median_ndm']:.2f} (goal <= 5.55; the article's median {ARTICLE_MEDIAN}; "
          f"held-out real songs {results['held_out_songs']['median_ndm']:.2f})")
    print(f"median best-of-{args.n}        {enforced['median_best_of_n']:.2f} (goal <= {ARTICLE_BEST})")
    print(f"longest copied run       {enforced['longest_copy_max']} bars (goal <= 4)")
    if "pretrained" in runs and "scratch" in runs:
        a, b = runs["scratch"]["held_out"], runs["pretrained"]["held_out"]
        print(f"held-out bits/char       {a['bits_per_char']:.3f} from scratch -> {b['bits_per_char']:.3f} pretrained "
              f"({b['bits_per_char'] / a['bits_per_char']:.2f}x)")
        print(f"held-out bits/token      {a['bits_per_token']:.3f} from scratch -> {b['bits_per_token']:.3f} pretrained "
              "(different vocabularies: compare bits/char)")
    (out / "results.json").write_text(json.dumps(results, indent=2, default=float))
    print(f"wrote {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
