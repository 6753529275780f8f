"""`python -m aitunes_lib <command>`: the pipeline without a notebook."""

# One concern a module; every name is also here, as `cli.main`, `cli.parser`, `cli.whole`, …:
# - `arguments`: `DEFAULTS`, `UsageError`, the argparse types (`whole`, `number`, `device`, `candidates`,
#   `SEED`), `parse_mix`, and the checks of what a user names (`writable`, `read_input`);
# - `commands`: one handler a command (`_prep`, `_tables`, `_score`, `_train`, `_generate`, `_pretrain`,
#   `_demo`) and their helpers;
# - here: `parser`, and `main`, which looks `parser` up here (tests replace it) and turns errors into one line.

from __future__ import annotations

import argparse
import sys
import warnings

from aitunes_lib import config, data, dataset, metrics, tasks
from aitunes_lib.backends.base import ModelFileError
from aitunes_lib.backends.local import LocalBackendError
from aitunes_lib.backends.openai_backend import OpenAIBackendError
from aitunes_lib.cli.arguments import (
    DEFAULTS, SEED, UsageError, candidates, device, number, parse_mix, read_input, whole, writable,
)
from aitunes_lib.cli.commands import (
    _backend, _demo, _generate, _mixed_file, _openai, _prep, _pretrain, _score, _tables, _train, _train_config, _train_local,
)
from aitunes_lib.decoding.plan import METERS
from aitunes_lib.generate import SongShape


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
    train.add_argument("--timeout", type=number(0, 3600, above=True), default=60.0, metavar="SECONDS",
                       help="openai: how long one try of a request may take (default 60; with retries, at most about 4 times that)")
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
    generate.add_argument("--timeout", type=number(0, 3600, above=True), default=60.0, metavar="SECONDS",
                          help="openai: how long one try of a request may take (default 60; with retries, at most about 4 times that)")
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
    generate.add_argument("--meter", choices=METERS, default="4/4",
                          help="song: the meter to write in (default 4/4; 3/4 and 6/8 need a base that learnt them, as the committed one did)")
    generate.add_argument("--minor", action="store_true", help="song: write in A minor (move it to another key afterwards)")
    generate.add_argument("--no-cadence", action="store_true", help="song: leave the last bar to the model (by default it ends as real songs end, mostly on the tonic)")
    generate.add_argument("--no-shape", action="store_true", help="song: none of the song's shape (form, cadence, chord-tone "
                          "nudge, interval prior, motifs, range): the model alone with the meter rules")
    generate.add_argument("--out", required=True)
    generate.set_defaults(handler=_generate)

    pretrain = commands.add_parser("pretrain", help="pretrain the local base model on music21's folk tunes and OpenEWLD",
                                   description="Reproduce the committed base checkpoint (about 15 minutes of prep and an hour of training on 2 CPU cores).")
    pretrain.add_argument("--openewld", default="out/songs.jsonl", help="OpenEWLD training file (read 4 times among the folk tunes; the held-out songs are left out)")
    pretrain.add_argument("--out", default="out/folk-tiny", help="model folder")
    pretrain.add_argument("--folk", default=None, help="the folk tunes a run before prepared (its folk.jsonl; default: prepare them)")
    pretrain.add_argument("--steps", type=whole(1, 10**7), default=None)
    pretrain.add_argument("--max-minutes", type=number(0, above=True), default=None)
    pretrain.add_argument("--device", type=device, default=None)
    pretrain.add_argument("--restart", action="store_true", help="ignore a checkpoint in --out instead of resuming")
    pretrain.add_argument("--quiet", action="store_true")
    pretrain.set_defaults(handler=_pretrain)

    score = commands.add_parser("score", help="rank ABC files by the tonality features",
                                description="Rank ABC files by NDM, with every feature and check.")
    score.add_argument("files", nargs="+", help="ABC files (whole tunes or bodies), or the candidates.jsonl that generate writes")
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
    warnings.formatwarning = lambda message, *_, **__: f"warning: {config.redact(str(message))}\n"  # one line, no source, no key
    try:
        return args.handler(args)
    except USER_ERRORS as error:
        if debug:
            raise
        print(f"error: {config.redact(str(error))}", file=sys.stderr)
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
    return config.redact(text)[:400]
