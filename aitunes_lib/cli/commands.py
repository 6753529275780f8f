"""What each command does (`prep`, `tables`, `score`, `train`, `generate`, `pretrain`, `demo`): one
handler a command, which takes the parsed arguments and returns the exit status."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd

from aitunes_lib import abc, data, dataset, metrics, prep, tasks
from aitunes_lib.backends.local import LocalBackendError
from aitunes_lib.cli.arguments import DEFAULTS, UsageError, parse_mix, read_input, writable
from aitunes_lib.generate import GenerateConfig, SongShape


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
    candidates, names = _score_inputs(args.files)  # the user's files first: their mistakes come first
    stats_file = Path(args.stats)
    stats = (metrics.stats_table(metrics.load_stats(stats_file), args.variant, stats_file)
             if stats_file.is_file() or not args.article else metrics.ARTICLE_STATS)
    table = metrics.rank(candidates, stats, variant=args.variant)
    table.insert(1, "file", [names[i] for i in table["candidate"]])
    columns = ["file", "valid", "NDM", *metrics.FEATURES, "rhythm_ok", "distinct_bars", "reason"]
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(table[[c for c in columns if c in table]].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


def _score_inputs(paths: list[str]) -> tuple[list[Any], list[str]]:
    """(what to rank, a name for each): an ABC file's text, or each song of a `candidates.jsonl`
    (numbered by position, so that the table's `candidate` finds its name)."""
    from aitunes_lib.generate import load_candidates

    candidates: list[Any] = []
    names: list[str] = []
    for path in paths:
        if Path(path).suffix != ".jsonl":
            candidates.append(read_input(path, "score"))
            names.append(path)
            continue
        for song in load_candidates(path):
            names.append(f"{path} #{song.candidate if song.candidate is not None else len(names)}")
            candidates.append(dataclasses.replace(song, candidate=len(candidates)))
    return candidates, names


def _openai(args: argparse.Namespace, **settings: Any):
    from aitunes_lib.backends.openai_backend import OpenAIBackend, OpenAIConfig

    return OpenAIBackend(settings=OpenAIConfig(request_timeout=getattr(args, "timeout", None) or 60.0, **settings))


def _ranking_stats(path: str) -> tuple[dict[str, Any], dict[str, list[float]] | None]:
    """(the NDM table, the realism reference) from --stats, checked before any model is read or
    request sent; without the file, the article's table and no reference."""
    stats_file = Path(path)
    if not stats_file.is_file():
        return dict(metrics.ARTICLE_STATS), None
    known = metrics.load_stats(stats_file)
    return metrics.stats_table(known, "article", stats_file), metrics.realism_table(known, stats_file)


def _train_config(args: argparse.Namespace):
    from aitunes_lib.backends.local import BASE_CHECKPOINT, TrainConfig, check_base, hardware_settings, is_model_folder

    base = args.base
    if base == "auto":  # the committed base checkpoint, when there is one
        base = str(BASE_CHECKPOINT) if is_model_folder(BASE_CHECKPOINT) else None
    elif base in ("none", "scratch", ""):
        base = None
    else:
        check_base(base)  # a file, a missing folder, code or an absurd size: refused before the data is read
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

    out = Path(args.out) if args.out else Path(args.data).parent / "openai_model"
    if not args.cancel:
        writable(out)  # before the paid job: its handle must have somewhere to go
    backend = _openai(args, base_model=args.base_model or DEFAULT_BASE_MODEL, n_epochs=args.epochs, suffix=args.suffix)
    if args.cancel:
        backend.cancel(args.data)
        return 0
    handle = backend.fine_tune(args.data, confirm=True if args.yes else None)
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
        backend = _openai(args)
        backend.examples = examples
        backend.use(args.model or DEFAULT_CHAT_MODEL)
        return backend
    if not args.model:
        raise UsageError(f"--model: give a fine-tuned model id (or its folder with handle.json), or use --few-shot K "
                         f"with a chat model (default {DEFAULT_CHAT_MODEL})")
    model = Path(args.model)
    model_id = ModelHandle.load(model / "handle.json").model if (model / "handle.json").is_file() else args.model
    backend = _openai(args)
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
    stats, reference = _ranking_stats(args.stats)  # a broken --stats is refused before any model is read or request sent
    if text is not None and task.example:
        task.prompt(Request(text=text))  # a bad opening or chart is refused here, before any model is read
    writable(args.out)
    backend = _backend(args) if args.backend == "local" else None  # a bad model folder is refused before the settings
    try:
        if (args.meter != "4/4" or args.minor) and task.name != "song":
            raise UsageError(f"--meter and --minor are for --task song; the {task.name} task writes in its input's meter and key")
        shape = SongShape(planned=not args.no_shape, meter=args.meter, mode="minor" if args.minor else "major", form=None if args.form == "none" else args.form, cadence=not args.no_cadence,
                          **({} if args.chord_tones is None else {"chord_tones": args.chord_tones}))
        settings = GenerateConfig(n=args.n, temperature=args.temperature, top_p=args.top_p, seed=args.seed,
                                  enforce=not args.free_meter, song=shape)
    except ValueError as error:
        raise UsageError(str(error)) from error
    invented_title, invented_band = naming.invent(1, seed=args.seed)[0]
    request = Request(args.title or invented_title, args.band or invented_band, text)
    backend = backend or _backend(args)
    songs = generate(backend, task, request, settings)
    table = metrics.rank(songs, stats, reference=reference)  # scored in C, as every score reads a song
    moved = songs[0].context.get("transposed_from") if songs else None
    ranked = [abc.in_key(song, moved) if moved and valid else song for song, valid in zip(table["song"], table["valid"])]
    save_candidates(ranked, args.out)  # in the key of your input (an invalid candidate stays as written, in C)
    print(f"{task.name}: {request.title!r} by {request.composer}"
          + (f" (your input moved from {moved} to C, and the candidates back to {moved})" if moved else ""))
    columns = ["candidate", "valid", "listener", "likelihood", "coherence", "realism", "NDM", "form", "bars", "ends_on_tonic",
               "chord_fit", "join_interval", "same_key", "task_kept", "reason"]
    print(table[[c for c in columns if c in table]].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    order = ("listener (the model's own likelihood plus how the harmony moves; realism and NDM are columns)" if "listener" in table
             else "realism (most like the real songs first; NDM is a column)" if "realism" in table else "NDM (no realism reference: run prep)")
    print(f"wrote {len(songs)} candidates to {args.out}, ranked by {order}")
    return 0


def _pretrain(args: argparse.Namespace) -> int:
    from aitunes_lib.backends import local

    config = dataclasses.replace(local.PRETRAIN, **({"max_steps": args.steps} if args.steps else {}),
                                 max_minutes=args.max_minutes, device=args.device, resume=not args.restart)
    openewld = Path(args.openewld)
    if not openewld.is_file():
        raise FileNotFoundError(f"{openewld}: run `python -m aitunes_lib prep --out {openewld.parent}` first (its vocabulary is shared)")
    folk = Path(args.folk) if args.folk else None
    if folk is not None and not folk.is_file():
        raise FileNotFoundError(f"--folk {folk}: no such file; leave --folk out to prepare the folk tunes")
    result = local.pretrain(args.out, openewld, config, progress=not args.quiet, folk_jsonl=folk)
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
    print(f"\n== AI-Tunes demo 3/3: 5 candidates for \"{title}\" by {band}, best first ==")
    generate_args = argparse.Namespace(backend="local", model=str(out / "local_model"), title=title, band=band, n=5,
                                       temperature=DEFAULTS.temperature, top_p=DEFAULTS.top_p, seed=args.seed, stats=str(out / "stats.json"),
                                       out=str(out / "candidates"), device=None, free_meter=False, task="song",
                                       input=None, chord_tones=None, form="auto", no_cadence=False, no_shape=False, meter="4/4", minor=False)
    return _generate(generate_args)
