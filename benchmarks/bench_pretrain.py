"""Which base model to pretrain: model sizes compared at the same CPU time, against the committed base.

    python benchmarks/bench_pretrain.py [--minutes 6] [--presets tiny mini] [--out out/bench_pretrain]

Each preset is trained for the same wall time on the pretraining text that `make pretrain`
uses (`local.pretraining_texts`: music21's tunes in every meter and mode, plus OpenEWLD's
training songs), then every model, the committed base included, is measured on the same
held-out texts. Tokenizers differ from model to model, so the figure is bits per character
over the first `--chars` characters of each text, which every model reads whole:

- the benchmark's held-out OpenEWLD songs (no model here has seen them);
- folk tunes held out of this pretraining, those in 4/4 in C (the only ones the committed
  base was trained on; it may have seen some of them, which favours it), and those in the
  other meters and in minor.

Needs `out/songs.jsonl` (`python -m aitunes_lib prep --out out`). Every figure is from this run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aitunes_lib.backends import local  # noqa: E402


def bits_per_char(model: str | Path, texts: list[str], chars: int) -> float:
    """Bits per character of `texts` cut to `chars` characters (each read whole by the model)."""
    backend = local.LocalBackend(model)
    return backend.loss([text[:chars] for text in texts])["bits_per_char"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=6.0, help="training time per preset")
    parser.add_argument("--presets", nargs="+", default=["tiny", "mini"])
    parser.add_argument("--data", default="out/songs.jsonl")
    parser.add_argument("--folk", default=None, help="the folk tunes `corpus.prepare_folk(out=...)` wrote (default: prepare them)")
    parser.add_argument("--chars", type=int, default=900)
    parser.add_argument("--held", type=int, default=150, help="held-out texts of each kind")
    parser.add_argument("--out", default="out/bench_pretrain")
    args = parser.parse_args()

    texts = local.pretraining_texts(args.data, progress=False, folk_jsonl=args.folk)
    train_texts, val_texts = local.split_songs(texts, local.PRETRAIN.val_fraction, local.PRETRAIN.seed)
    openewld_texts = set(local.training_texts(args.data))
    folk = [t for t in val_texts if t not in openewld_texts]
    plain = [t for t in folk if " $ M: " not in t and " $ K: " not in t][: args.held]
    other = [t for t in folk if " $ M: " in t or " $ K: " in t][: args.held]
    openewld = local.holdout(local.training_texts(args.data))[1][: args.held]
    held = {"OpenEWLD held out": openewld, "folk, 4/4 in C": plain, "folk, other meters and minor": other}
    print(f"{len(texts)} pretraining texts ({len(train_texts)} to train on); held out: "
          + ", ".join(f"{name} {len(group)}" for name, group in held.items()))

    rows = [{"model": "committed base (folk-tiny)", "steps": "", "parameters": "",
             **{name: bits_per_char(local.BASE_CHECKPOINT, group, args.chars) for name, group in held.items()}}]
    for preset in args.presets:
        out = Path(args.out) / preset
        config = dataclasses.replace(local.PRETRAIN, preset=preset, max_steps=10**6, max_minutes=args.minutes,
                                     eval_every=10**6, save_every=10**6, resume=False)
        started = time.perf_counter()
        result = local.train(train_texts, out, config, progress=False)
        details = json.loads((out / "handle.json").read_text())["details"]
        rows.append({"model": f"{preset}, {args.minutes:g} min", "steps": len(result.history),
                     "parameters": details["parameters"],
                     **{name: bits_per_char(out, group, args.chars) for name, group in held.items()}})
        print(f"  {preset}: {len(result.history)} steps in {time.perf_counter() - started:.0f} s")

    names = list(held)
    print("\n| model | steps | parameters | " + " | ".join(f"{n} (bits/char)" for n in names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    for row in rows:
        print(f"| {row['model']} | {row['steps']} | {row['parameters']} | " + " | ".join(f"{row[n]:.3f}" for n in names) + " |")


if __name__ == "__main__":
    main()
