"""`python -m aitunes_lib <command>`: the pipeline without a notebook."""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from aitunes_lib import config, data, dataset, files, metrics, prep, tasks
from aitunes_lib.backends.base import ModelFileError
from aitunes_lib.backends.local import LocalBackendError
from aitunes_lib.backends.openai_backend import OpenAIBackendError
from aitunes_lib.generate import GenerateConfig, SongShape

DEFAULTS = GenerateConfig()  # the sampling defaults the CLI offers, from the one place that sets them


def writable(folder: str | Path, flag: str = "--out") -> Path:
    """`folder`, created if needed, once a file can be written there; else a one-line UsageError (before any work)."""
    folder = Path(folder)
    reason = files.unwritable(folder)
    if reason == files.IS_A_FILE:
        raise UsageError(f"{flag} {folder} is a file: choose a folder")
    if reason:
        raise UsageError(f"{flag} {folder}: cannot write there ({reason}); choose another folder")
    return folder


def read_input(path: str | Path, flag: str) -> str:
    """A text file a user names, or a one-line UsageError (a folder, a binary file, not UTF-8)."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a folder: give a file")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    raw = path.read_bytes()
    if b"\0" in raw[:4096]:
        raise UsageError(f"{path}: a binary file, not ABC text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UsageError(f"{path}: not UTF-8 text (byte {error.start}); save it as UTF-8") from error


def _prep(args: argparse.Namespace) -> int:
    writable(args.out)
    root = data.find_openewld(args.data)
    config = prep.PrepConfig(
        modes=("major", "minor") if args.minor else ("major",),
        workers=args.workers,
        cache=not args.no_cache,
        verify=args.verify,
    )
    print(f"OpenEWLD: {root}")
    out = Path(args.out)
    result = prep.prepare_to(out, root, config, progress=not args.quiet)
    report = result.report
    print(prep.summary(report))
    print(dataset.format_validation(report["validation"]))
    if args.verify:
        print(f"round trip: {report['converted'] - len(report['round_trip_failures'])} of {report['converted']} songs exact")
    print(metrics.format_stats(metrics.load_stats(out / "stats.json")["article"]))
    print(f"wrote {out / 'songs.jsonl'}, {out / 'songs_chat.jsonl'}, {out / 'index.csv'}, {out / 'report.json'}, {out / 'stats.json'}")
    return 0


def _tables(args: argparse.Namespace) -> int:
    from aitunes_lib import measure
    from aitunes_lib.decoding import tables

    path = Path(args.out) if args.out else tables.PATH
    if args.out:
        writable(path.parent)
    root = data.find_openewld(args.data)
    result = prep.prepare(root, prep.PrepConfig(workers=args.workers, cache=not args.no_cache), progress=not args.quiet)
    measured = measure.measure(result.songs, result.index, measure.provenance(result.songs, "OpenEWLD"))
    if args.check:
        written = tables.load(path)
        same = dataclasses.replace(measured, provenance={}) == dataclasses.replace(written, provenance={})
        print(f"{path}: {'the same as measured' if same else 'differs from what the songs measure now'} ({len(result.songs)} songs)")
        return 0 if same else 1
    measure.write(measured, path)
    print(f"wrote {path}: {measured.provenance['data']}")
    return 0


def _score(args: argparse.Namespace) -> int:
    candidates = [read_input(p, "score") for p in args.files]  # the user's files first: their mistakes come first
    stats_file = Path(args.stats)
    stats = metrics.load_stats(stats_file)[args.variant] if stats_file.is_file() or not args.article else metrics.ARTICLE_STATS
    table = metrics.rank(candidates, stats, variant=args.variant)
    table.insert(1, "file", [args.files[i] for i in table["candidate"]])
    columns = ["file", "valid", "NDM", *metrics.FEATURES, "rhythm_ok", "distinct_bars", "reason"]
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(table[[c for c in columns if c in table]].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


def _openai(**settings: Any):
    from aitunes_lib.backends.openai_backend import OpenAIBackend, OpenAIConfig

    return OpenAIBackend(settings=OpenAIConfig(**settings))


def _train_config(args: argparse.Namespace):
    from aitunes_lib.backends.local import BASE_CHECKPOINT, TrainConfig, hardware_settings, is_model_folder

    base = args.base
    if base == "auto":  # the committed base checkpoint, when there is one
        base = str(BASE_CHECKPOINT) if is_model_folder(BASE_CHECKPOINT) else None
    elif base in ("none", "scratch", ""):
        base = None
    try:
        hardware = hardware_settings(getattr(args, "hardware", "auto"))
    except (ValueError, LocalBackendError) as error:
        raise UsageError(f"--hardware: {error}") from error
    if getattr(args, "lora", 0) and not base:
        raise UsageError("--lora needs --base: a pretrained model to adapt (a hub id such as gpt2, or a model folder)")
    settings = {**hardware, "preset": args.preset, "base": base, "max_minutes": args.max_minutes, "seed": args.seed,
                "resume": not args.restart, "lora_rank": getattr(args, "lora", 0)}
    if args.device:
        settings["device"] = args.device
    if args.steps:
        settings["max_steps"] = args.steps
    return TrainConfig(**settings)


def _train_local(args: argparse.Namespace) -> int:
    from aitunes_lib.backends.local import LocalBackend

    settings = _train_config(args)
    out = Path(args.out) if args.out else Path(args.data).parent / "local_model"
    print(f"training {settings.preset} on {args.data} from {settings.base or 'scratch'} → {out}")
    backend = LocalBackend()
    handle = backend.fine_tune(args.data, settings, out=out, progress=not args.quiet)
    history = backend.history
    last = history.dropna(subset=["val_loss"]).iloc[-1] if history is not None and history["val_loss"].notna().any() else None
    if last is not None:
        print(f"step {int(last['step'])}: train loss {last['train_loss']:.3f}, validation loss {last['val_loss']:.3f} nats/token")
    print(f"stopped at {handle.details['stopped']}; model in {out}")
    return 0


class UsageError(ValueError):
    """Flags that do not fit together, or a value the command cannot use."""


def whole(low: int, high: int | None = None) -> Any:
    """An argparse type: a whole number in [low, high]; the message gives the range."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is out of range: use {low} to {high}" if high is not None
                                             else f"{value} is out of range: use {low} or more")
        return value

    return parse


def number(low: float, high: float | None = None, above: bool = False) -> Any:
    """An argparse type: a finite number in [low, high] (or above low); the message gives the range."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        wrong = not math.isfinite(value) or value < low or (above and value == low) or (high is not None and value > high)
        if wrong:
            side = f"above {low:g}" if above else f"{low:g}"
            raise argparse.ArgumentTypeError(f"{text} is out of range: use {side} to {high:g}" if high is not None
                                             else f"{text} is out of range: use {side} or more")
        return value

    return parse


def device(text: str) -> str:
    """An argparse type: cpu, cuda, cuda:N or mps."""
    if text in ("cpu", "cuda", "mps") or (text.startswith("cuda:") and text[5:].isdigit()):
        return text
    raise argparse.ArgumentTypeError(f"{text!r} is not a device: use cpu, cuda, cuda:0 (a GPU's number) or mps")


def candidates(text: str) -> int:
    """An argparse type: how many candidates, from 1 to what this machine's memory allows."""
    from aitunes_lib.decoding.settings import CANDIDATE_MB, max_candidates

    value = whole(1)(text)
    if value > max_candidates():
        raise argparse.ArgumentTypeError(f"{value} is too many at once: at most {max_candidates()} on this machine "
                                         f"(about {CANDIDATE_MB} MB of memory each); generate in several runs")
    return value


SEED = whole(0, 2**32 - 1)


def parse_mix(text: str) -> dict[str, int]:
    """`song=1,phrase=2,chords=2` → {"song": 1, "phrase": 2, "chords": 2} (records per song)."""
    mix = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        task, _, count = part.partition("=")
        if task not in tasks.names() or not count.strip().isdigit():
            raise UsageError(f"--mix {text!r}: write task=count pairs with tasks from {', '.join(tasks.names())}, e.g. song=1,phrase=2,chords=2")
        mix[task] = int(count)
    return mix


def _mixed_file(args: argparse.Namespace) -> None:
    """With --mix, write the mixed-task file beside the song file and train on it."""
    if not getattr(args, "mix", None):
        return
    mix = parse_mix(args.mix)
    records = [r for r in dataset.read_jsonl(args.data) if tasks.task_of(r.get("prompt", "")) == "song"]
    path = Path(args.data).with_name(Path(args.data).stem + "_" + "_".join(f"{k}{v}" for k, v in mix.items()) + ".jsonl")
    mixed = tasks.training_records(records, mix, seed=args.seed)
    dataset.write_jsonl(mixed, path)
    print(f"{len(mixed)} records ({', '.join(f'{k} ×{v}' for k, v in mix.items())} per song) → {path}")
    args.data = str(path)


def _train(args: argparse.Namespace) -> int:
    from aitunes_lib.backends.openai_backend import state_path

    _mixed_file(args)
    if args.backend == "local":
        return _train_local(args)
    from aitunes_lib.backends.openai_backend import DEFAULT_BASE_MODEL

    backend = _openai(base_model=args.base_model or DEFAULT_BASE_MODEL, n_epochs=args.epochs, suffix=args.suffix)
    if args.cancel:
        backend.cancel(args.data)
        return 0
    handle = backend.fine_tune(args.data, confirm=True if args.yes else None)
    out = Path(args.out) if args.out else Path(args.data).parent / "openai_model"
    out.mkdir(parents=True, exist_ok=True)
    handle.save(out / "handle.json")
    print(f"model {handle.model}; handle in {out / 'handle.json'}; job state in {state_path(args.data)}")
    return 0


def _backend(args: argparse.Namespace) -> Any:
    """The backend a command names, ready to sample."""
    from aitunes_lib.backends.base import ModelHandle

    few_shot = getattr(args, "few_shot", None)
    if args.backend == "local":
        from aitunes_lib.backends.local import LocalBackend

        if few_shot:
            raise UsageError("--few-shot is for --backend openai (a chat model); the local model is trained on the songs")
        if not args.model:
            raise UsageError("--model: give a local model folder (such as out/local_model, made by `train`)")
        return LocalBackend(Path(args.model), device=args.device)
    from aitunes_lib import fewshot
    from aitunes_lib.backends.openai_backend import DEFAULT_CHAT_MODEL

    if few_shot:
        data = Path(args.data)
        if not data.is_file():
            raise UsageError(f"--data {data}: no training file to take examples from; run `python -m aitunes_lib prep --out out`")
        try:
            examples = fewshot.choose(dataset.read_jsonl(data), few_shot, seed=args.seed,
                                      form=None if args.form in ("auto", "none") else args.form)
        except fewshot.FewShotError as error:
            raise UsageError(f"--few-shot: {error}") from error
        backend = _openai()
        backend.examples = examples
        backend.use(args.model or DEFAULT_CHAT_MODEL)
        return backend
    if not args.model:
        raise UsageError(f"--model: give a fine-tuned model id (or its folder with handle.json), or use --few-shot K "
                         f"with a chat model (default {DEFAULT_CHAT_MODEL})")
    model = Path(args.model)
    model_id = ModelHandle.load(model / "handle.json").model if (model / "handle.json").is_file() else args.model
    backend = _openai()
    backend.use(model_id)
    return backend


def _generate(args: argparse.Namespace) -> int:
    from aitunes_lib import naming
    from aitunes_lib.generate import Request, generate, save_candidates

    task = tasks.get(args.task)
    source = args.input
    if task.example and not source:
        raise UsageError(f"--task {task.name} needs --input FILE.abc: {task.input_help}")
    text = read_input(source, "--input") if source else None
    writable(args.out)
    try:
        shape = SongShape(planned=not args.no_shape, form=None if args.form == "none" else args.form, cadence=not args.no_cadence,
                          **({} if args.chord_tones is None else {"chord_tones": args.chord_tones}))
        settings = GenerateConfig(n=args.n, temperature=args.temperature, top_p=args.top_p, seed=args.seed,
                                  enforce=not args.free_meter, song=shape)
    except ValueError as error:
        raise UsageError(str(error)) from error
    invented_title, invented_band = naming.invent(1, seed=args.seed)[0]
    request = Request(args.title or invented_title, args.band or invented_band, text)
    backend = _backend(args)
    songs = generate(backend, task, request, settings)
    stats_file = Path(args.stats)
    known = metrics.load_stats(stats_file) if stats_file.is_file() else {}
    table = metrics.rank(songs, known.get("article", metrics.ARTICLE_STATS), reference=known.get("realism"))
    save_candidates(list(table["song"]), args.out)
    moved = songs[0].context.get("transposed_from") if songs else None
    print(f"{task.name}: {request.title!r} by {request.composer}" + (f" (your input moved from {moved} to C)" if moved else ""))
    columns = ["candidate", "valid", "realism", "NDM", "form", "bars", "repeated_bars", "ends_on_tonic", "chord_fit",
               "join_interval", "same_key", "task_kept", "reason"]
    print(table[[c for c in columns if c in table]].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    order = "realism (most like the real songs first; NDM is a column)" if "realism" in table else "NDM (no realism reference: run prep)"
    print(f"wrote {len(songs)} candidates to {args.out}, ranked by {order}")
    return 0


def _pretrain(args: argparse.Namespace) -> int:
    from aitunes_lib.backends import local

    config = dataclasses.replace(local.PRETRAIN, **({"max_steps": args.steps} if args.steps else {}),
                                 max_minutes=args.max_minutes, device=args.device, resume=not args.restart)
    openewld = Path(args.openewld)
    if not openewld.is_file():
        raise FileNotFoundError(f"{openewld}: run `python -m aitunes_lib prep --out {openewld.parent}` first (its vocabulary is shared)")
    result = local.pretrain(args.out, openewld, config, progress=not args.quiet)
    last = result.history.dropna(subset=["val_loss"]).iloc[-1]
    print(f"pretrained {int(last['step'])} steps ({result.stopped}): validation loss {last['val_loss']:.3f} nats/token, "
          f"{result.tokens_per_second:.0f} tokens/s; model in {result.folder}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from aitunes_lib import naming

    print("== AI-Tunes demo 1/3: prepare OpenEWLD (local backend, no API key needed) ==")
    status = _prep(args)
    if status:
        return status
    out = Path(args.out)
    print("\n== AI-Tunes demo 2/3: fine-tune the local model ==")
    train_args = argparse.Namespace(data=str(out / "songs.jsonl"), out=str(out / "local_model"), preset="tiny", base="auto",
                                    max_minutes=args.max_minutes, steps=args.steps, seed=0, device=None, restart=True,
                                    quiet=args.quiet)
    status = _train_local(train_args)
    if status:
        return status
    title, band = naming.invent(1, seed=args.seed)[0]
    print(f"\n== AI-Tunes demo 3/3: 5 candidates for \"{title}\" by {band}, most real-sounding first ==")
    generate_args = argparse.Namespace(backend="local", model=str(out / "local_model"), title=title, band=band, n=5,
                                       temperature=DEFAULTS.temperature, top_p=DEFAULTS.top_p, seed=args.seed, stats=str(out / "stats.json"),
                                       out=str(out / "candidates"), device=None, free_meter=False, task="song",
                                       input=None, chord_tones=None, form="auto", no_cadence=False, no_shape=False)
    return _generate(generate_args)


def parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    root = argparse.ArgumentParser(prog="python -m aitunes_lib", description=__doc__,
                                   epilog="Add --debug anywhere to see a traceback instead of a one-line error.")
    commands = root.add_subparsers(dest="command", required=True)
    for name, handler, text in (
        ("prep", _prep, "OpenEWLD → songs.jsonl, songs_chat.jsonl, index.csv, report.json"),
        ("demo", _demo, "the main job end to end on the defaults"),
        ("tables", _tables, "measure the real songs' tables that decoding aims at (aitunes_lib/decoding/tables.json)"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("--data", help="OpenEWLD folder (default: $AITUNES_OPENEWLD, ../shared/OpenEWLD, cache, download)")
        if name == "tables":
            command.add_argument("--out", default=None, help="where to write the tables (default: the package's tables.json)")
            command.add_argument("--check", action="store_true", help="only compare with the written tables; exit 1 if they differ")
        else:
            command.add_argument("--out", default="out" if name == "demo" else None, required=name == "prep", help="output folder")
        command.add_argument("--workers", type=whole(1, 256), default=None, help="processes (default: every core)")
        command.add_argument("--no-cache", action="store_true", help="ignore the content-hash cache")
        if name != "tables":
            command.add_argument("--verify", action="store_true", help="re-parse every written song and compare it with the source")
            command.add_argument("--minor", action="store_true", help="also keep minor songs (written in A minor)")
        command.add_argument("--quiet", action="store_true", help="no progress bar")
        if name == "demo":
            command.add_argument("--steps", type=whole(1, 10**7), default=None, help="fine-tuning steps (default: the trainer's)")
            command.add_argument("--max-minutes", type=number(0, above=True), default=None, help="wall-clock budget of the fine-tuning")
            command.add_argument("--seed", type=SEED, default=0, help="seed of the invented title and the sampling")
        command.set_defaults(handler=handler)
    train = commands.add_parser("train", help="fine-tune a model on songs.jsonl",
                                description="Fine-tune on the article's JSONL (the OpenAI backend needs OPENAI_API_KEY).")
    train.add_argument("--backend", choices=("local", "openai"), default="local")
    train.add_argument("--data", required=True, help="the training file (songs.jsonl from prep)")
    train.add_argument("--out", help="the model folder (local) or where the handle goes (default: beside the data)")
    train.add_argument("--preset", choices=("tiny", "small", "base"), default="tiny", help="local: model size")
    train.add_argument("--base", default="auto", help="local: a model folder or hub id to fine-tune from; "
                       "'auto' = the committed folk-tune base when present; 'none' = from scratch")
    train.add_argument("--steps", type=whole(1, 10**7), default=None, help="local: optimizer steps")
    train.add_argument("--max-minutes", type=number(0, above=True), default=None, help="local: stop cleanly and save after this long")
    train.add_argument("--seed", type=SEED, default=0)
    train.add_argument("--device", type=device, default=None, help="local: cpu or cuda (default: cuda when present)")
    train.add_argument("--restart", action="store_true", help="local: ignore a checkpoint in --out instead of resuming")
    train.add_argument("--hardware", choices=("auto", "cpu", "gpu"), default="auto",
                       help="local: device and batch size for this kind of machine (auto: the GPU when there is one)")
    train.add_argument("--lora", type=whole(0, 256), default=0, metavar="RANK",
                       help="local: train LoRA adapters of this rank on a hub --base (e.g. gpt2) instead of every weight")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--mix", default=None, help="train on a task mixture built from the song file, "
                                                   "e.g. song=1,phrase=2,chords=2 (records per song)")
    train.add_argument("--base-model", default=None, help="openai: the base model to fine-tune (default: "
                       "openai_backend.DEFAULT_BASE_MODEL; a shut-down model is refused with a replacement)")
    train.add_argument("--epochs", type=whole(1, 50), default=5)
    train.add_argument("--suffix", default="aitunes")
    train.add_argument("--yes", action="store_true", help="start without asking to confirm the cost")
    train.add_argument("--cancel", action="store_true", help="cancel the job started for this training file")
    train.set_defaults(handler=_train)

    generate = commands.add_parser("generate", help="generate candidate songs for a title and band",
                                   description="Generate n candidates, write .abc, .mid and candidates.jsonl, ranked by realism (NDM without a stats.json).")
    generate.add_argument("--backend", choices=("local", "openai"), default="local")
    generate.add_argument("--model", help="local: a model folder; openai: a fine-tuned model id (or its folder with "
                          "handle.json), or with --few-shot a chat model (default gpt-4o-mini)")
    generate.add_argument("--few-shot", type=whole(1, 20), default=None, metavar="K",
                          help="openai: no fine-tuning; show a chat model K real songs from --data (4 is a good start)")
    generate.add_argument("--data", default="out/songs.jsonl", help="--few-shot: the training file to take examples from")
    generate.add_argument("--title", help="song title (default: invented offline)")
    generate.add_argument("--band", help="band name (default: invented offline)")
    generate.add_argument("-n", type=candidates, default=5, help="how many candidates (default 5)")
    generate.add_argument("--temperature", type=number(0, 2), default=DEFAULTS.temperature,
                          help=f"0 (greedy) to 2; default {DEFAULTS.temperature}")
    generate.add_argument("--top-p", type=number(0, 1, above=True), default=DEFAULTS.top_p,
                          help=f"above 0 to 1; default {DEFAULTS.top_p}")
    generate.add_argument("--seed", type=SEED, default=None)
    generate.add_argument("--stats", default="out/stats.json")
    generate.add_argument("--device", type=device, default=None, help="local: cpu or cuda")
    generate.add_argument("--free-meter", action="store_true", help="local: switch the meter rules off")
    generate.add_argument("--task", choices=tasks.names(), default="song",
                          help="; ".join(f"{name}: {tasks.get(name).input_help}" for name in tasks.names()))
    generate.add_argument("--input", "--prefix", "--chords", dest="input",
                          help="the task's input, an ABC file (phrase: the opening bars; chords: a chord chart or lead sheet)")
    generate.add_argument("--chord-tones", type=number(0, 10), default=None,
                          help=f"local: logit bonus for notes on the sounding chord's tones (default {SongShape().chord_tones}; 0: off)")
    generate.add_argument("--form", default="auto", help="song: 'auto' (drawn from the real songs' forms), a form such as "
                          "AABA or AB*2 (8-bar sections; a returning letter is copied), or 'none'")
    generate.add_argument("--no-cadence", action="store_true", help="song: leave the last bar to the model (by default it ends as real songs end, mostly on the tonic)")
    generate.add_argument("--no-shape", action="store_true", help="song: none of the song's shape (form, cadence, chord-tone "
                          "nudge, interval prior, motifs, range): the model alone with the meter rules")
    generate.add_argument("--out", required=True)
    generate.set_defaults(handler=_generate)

    pretrain = commands.add_parser("pretrain", help="pretrain the local base model on music21's folk tunes",
                                   description="Reproduce the committed base checkpoint (about 15 minutes on 2 CPU cores).")
    pretrain.add_argument("--openewld", default="out/songs.jsonl", help="OpenEWLD training file (for the shared vocabulary)")
    pretrain.add_argument("--out", default="out/folk-tiny", help="model folder")
    pretrain.add_argument("--steps", type=whole(1, 10**7), default=None)
    pretrain.add_argument("--max-minutes", type=number(0, above=True), default=None)
    pretrain.add_argument("--device", type=device, default=None)
    pretrain.add_argument("--restart", action="store_true", help="ignore a checkpoint in --out instead of resuming")
    pretrain.add_argument("--quiet", action="store_true")
    pretrain.set_defaults(handler=_pretrain)

    score = commands.add_parser("score", help="rank ABC files by the tonality features",
                                description="Rank ABC files by NDM, with every feature and check.")
    score.add_argument("files", nargs="+", help="ABC files (whole tunes or bodies)")
    score.add_argument("--stats", default="out/stats.json", help="training statistics written by prep")
    score.add_argument("--variant", choices=metrics.VARIANTS, default="article")
    score.add_argument("--article", action="store_true", help="use the article's published table if --stats is missing")
    score.set_defaults(handler=_score)
    return root


USER_ERRORS = (data.DatasetError, dataset.DatasetError, tasks.TaskInputError, FileNotFoundError, config.MissingApiKey,
               OpenAIBackendError, LocalBackendError, ModelFileError, metrics.StatsError, UsageError)


def main(argv: list[str] | None = None) -> int:
    """Run one command. A mistake a user can make prints one line and exits 2; anything else
    prints one line and exits 1. `--debug` (anywhere) shows the traceback instead."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    args = parser().parse_args([a for a in argv if a != "--debug"])
    warnings.formatwarning = lambda message, *_, **__: f"warning: {message}\n"  # one line, no source
    try:
        return args.handler(args)
    except USER_ERRORS as error:
        if debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if debug:
            raise
        print("interrupted (what was finished is saved)", file=sys.stderr)
        return 130
    except (OSError, ValueError, UnicodeError) as error:  # a file that cannot be written or read, a value out of range
        if debug:
            raise
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 - the last line of defence: one line, the traceback on request
        if debug:
            raise
        print(f"error: {type(error).__name__}: {_one_line(error)} (run again with --debug for the traceback)", file=sys.stderr)
        return 1


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, OSError) and error.filename and str(error.filename) not in text:
        text = f"{error.filename}: {text}"
    return text[:400]
