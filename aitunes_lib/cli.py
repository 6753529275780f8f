"""`python -m aitunes_lib <command>`: the pipeline without a notebook."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from aitunes_lib import config, data, dataset, metrics, prep
from aitunes_lib.backends.openai_backend import OpenAIBackendError


def _prep(args: argparse.Namespace) -> int:
    root = data.find_openewld(args.data)
    config = prep.PrepConfig(
        modes=("major", "minor") if args.minor else ("major",),
        workers=args.workers,
        cache=not args.no_cache,
        verify=args.verify,
    )
    print(f"OpenEWLD: {root}")
    result = prep.prepare(root, config, progress=not args.quiet)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    records = [dataset.seed_record(song) for song in result.songs]
    dataset.write_jsonl(records, out / "songs.jsonl")
    dataset.write_jsonl([dataset.chat_record(song) for song in result.songs], out / "songs_chat.jsonl")
    result.index.drop(columns=["body", "note_arrays", "events", "features"], errors="ignore").to_csv(out / "index.csv", index=False)
    report = dict(result.report)
    report["validation"] = dataset.validation_report(records, show=False)
    if args.verify:
        report["round_trip_failures"] = {
            row.path: row.round_trip for row in result.index.itertuples() if isinstance(row.round_trip, list) and row.round_trip
        }
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    kept = result.index[result.index["status"] == "kept"]
    stats = {v: metrics.training_stats(f[v] for f in kept["features"]) for v in metrics.VARIANTS}
    metrics.save_stats(stats, out / "stats.json")
    print(prep.summary(report))
    print(dataset.format_validation(report["validation"]))
    if args.verify:
        print(f"round trip: {report['converted'] - len(report['round_trip_failures'])} of {report['converted']} songs exact")
    print(metrics.format_stats(stats["article"]))
    print(f"wrote {out / 'songs.jsonl'}, {out / 'songs_chat.jsonl'}, {out / 'index.csv'}, {out / 'report.json'}, {out / 'stats.json'}")
    return 0


def _score(args: argparse.Namespace) -> int:
    stats_file = Path(args.stats)
    stats = metrics.load_stats(stats_file)[args.variant] if stats_file.is_file() or not args.article else metrics.ARTICLE_STATS
    candidates = [Path(p).read_text(encoding="utf-8") for p in args.files]
    table = metrics.rank(candidates, stats, variant=args.variant)
    table.insert(1, "file", [args.files[i] for i in table["candidate"]])
    columns = ["file", "valid", "NDM", *metrics.FEATURES, "rhythm_ok", "distinct_bars", "reason"]
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(table[[c for c in columns if c in table]].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


def _openai(**settings: Any):
    from aitunes_lib.backends.openai_backend import OpenAIBackend, OpenAIConfig

    return OpenAIBackend(settings=OpenAIConfig(**settings))


def _no_local() -> int:
    print("error: the local backend is not built yet (issue #4); use --backend openai with an API key", file=sys.stderr)
    return 2


def _train(args: argparse.Namespace) -> int:
    from aitunes_lib.backends.openai_backend import state_path

    if args.backend == "local":
        return _no_local()
    backend = _openai(base_model=args.base_model, n_epochs=args.epochs, suffix=args.suffix)
    if args.cancel:
        backend.cancel(args.data)
        return 0
    handle = backend.fine_tune(args.data, confirm=True if args.yes else None)
    out = Path(args.out) if args.out else Path(args.data).parent / "openai_model"
    out.mkdir(parents=True, exist_ok=True)
    handle.save(out / "handle.json")
    print(f"model {handle.model}; handle in {out / 'handle.json'}; job state in {state_path(args.data)}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from aitunes_lib import abc, naming
    from aitunes_lib.backends.base import ModelHandle

    if args.backend == "local":
        return _no_local()
    model = Path(args.model)
    model_id = ModelHandle.load(model / "handle.json").model if (model / "handle.json").is_file() else args.model
    backend = _openai()
    backend.use(model_id)
    invented_title, invented_band = naming.invent(1, seed=args.seed)[0]
    prompt = abc.seed_prompt(args.title or invented_title, args.band or invented_band)
    completions = backend.generate(prompt, n=args.n, temperature=args.temperature, top_p=args.top_p, seed=args.seed)
    stats_file = Path(args.stats)
    stats = metrics.load_stats(stats_file)["article"] if stats_file.is_file() else metrics.ARTICLE_STATS
    tunes = [abc.decode_seed(prompt, c) for c in completions]
    table = metrics.rank(tunes, stats).set_index("candidate")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    records = []
    for i, (completion, tune) in enumerate(zip(completions, tunes)):
        (out / f"candidate_{i}.abc").write_text(tune, encoding="utf-8")
        row = table.loc[i]
        if row["valid"]:
            abc.parse_abc(tune).write("midi", fp=out / f"candidate_{i}.mid")
        records.append({"prompt": prompt, "completion": completion, "abc": f"candidate_{i}.abc",
                        "valid": bool(row["valid"]), "NDM": None if pd.isna(row["NDM"]) else float(row["NDM"]),
                        "reason": row["reason"]})
    dataset.write_jsonl(records, out / "candidates.jsonl")
    print(f"{prompt}\n" + table[["valid", "NDM", "CMM", "LM", "CENT", "reason"]].to_string(float_format=lambda v: f"{v:.4f}"))
    print(f"wrote {len(records)} candidates to {out}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    print("== AI-Tunes demo: prepare OpenEWLD (local backend, no API key needed) ==")
    return _prep(args)


def parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    root = argparse.ArgumentParser(prog="python -m aitunes_lib", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    for name, handler, text in (
        ("prep", _prep, "OpenEWLD → songs.jsonl, songs_chat.jsonl, index.csv, report.json"),
        ("demo", _demo, "the main job end to end on the defaults"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("--data", help="OpenEWLD folder (default: $AITUNES_OPENEWLD, ../shared/OpenEWLD, cache, download)")
        command.add_argument("--out", default="out" if name == "demo" else None, required=name == "prep", help="output folder")
        command.add_argument("--workers", type=int, default=None, help="processes (default: every core)")
        command.add_argument("--no-cache", action="store_true", help="ignore the content-hash cache")
        command.add_argument("--verify", action="store_true", help="re-parse every written song and compare it with the source")
        command.add_argument("--minor", action="store_true", help="also keep minor songs (written in A minor)")
        command.add_argument("--quiet", action="store_true", help="no progress bar")
        command.set_defaults(handler=handler)
    train = commands.add_parser("train", help="fine-tune a model on songs.jsonl",
                                description="Fine-tune on the article's JSONL (the OpenAI backend needs OPENAI_API_KEY).")
    train.add_argument("--backend", choices=("local", "openai"), default="local")
    train.add_argument("--data", required=True, help="the training file (songs.jsonl from prep)")
    train.add_argument("--out", help="where the model handle goes (default: beside the data)")
    train.add_argument("--base-model", default="davinci-002", help="OpenAI base model (davinci-002, babbage-002, gpt-4o-mini, gpt-3.5-turbo)")
    train.add_argument("--epochs", type=int, default=5)
    train.add_argument("--suffix", default="aitunes")
    train.add_argument("--yes", action="store_true", help="start without asking to confirm the cost")
    train.add_argument("--cancel", action="store_true", help="cancel the job started for this training file")
    train.set_defaults(handler=_train)

    generate = commands.add_parser("generate", help="generate candidate songs for a title and band",
                                   description="Generate n candidates, write .abc, .mid and candidates.jsonl, ranked by NDM.")
    generate.add_argument("--backend", choices=("local", "openai"), default="local")
    generate.add_argument("--model", required=True, help="a model folder (with handle.json) or a fine-tuned model id")
    generate.add_argument("--title", help="song title (default: invented offline)")
    generate.add_argument("--band", help="band name (default: invented offline)")
    generate.add_argument("-n", type=int, default=5)
    generate.add_argument("--temperature", type=float, default=0.75)
    generate.add_argument("--top-p", type=float, default=1.0)
    generate.add_argument("--seed", type=int, default=None)
    generate.add_argument("--stats", default="out/stats.json")
    generate.add_argument("--out", required=True)
    generate.set_defaults(handler=_generate)

    score = commands.add_parser("score", help="rank ABC files by the tonality features",
                                description="Rank ABC files by NDM, with every feature and check.")
    score.add_argument("files", nargs="+", help="ABC files (whole tunes or bodies)")
    score.add_argument("--stats", default="out/stats.json", help="training statistics written by prep")
    score.add_argument("--variant", choices=metrics.VARIANTS, default="article")
    score.add_argument("--article", action="store_true", help="use the article's published table if --stats is missing")
    score.set_defaults(handler=_score)
    return root


def main(argv: list[str] | None = None) -> int:
    """Run one command; user errors print one line and exit 2."""
    args = parser().parse_args(argv)
    try:
        return args.handler(args)
    except (data.DatasetError, dataset.DatasetError, FileNotFoundError, config.MissingApiKey, OpenAIBackendError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
