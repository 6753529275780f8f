"""`python -m aitunes_lib <command>`: the pipeline without a notebook."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from aitunes_lib import data, dataset, metrics, prep


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
    except (data.DatasetError, dataset.DatasetError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
