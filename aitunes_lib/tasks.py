"""The tasks one model learns, one object each, in a registry.

Every record starts with the article's header; a marker says which task follows:

```
song:   X: 1 $ T: … $ C: … $ <song>                               →  the whole song
phrase: X: 1 $ T: … $ C: … $ <phrase> `C`c2 e2 | … |              →  the bars after the first k
chords: X: 1 $ T: … $ C: … $ <chords> `C`x2 `G7`x2 | … | $ <song>  →  a melody over those chords
```

A task knows its marker, builds its training records from a song's record, builds a
`Prompt` from checked user input (with the decoding constraint it needs), and checks a
candidate for violations. Front ends (CLI, studio) list `names()`; the tokenizer makes every
`markers()` entry one token. Adding a task is one `Task` subclass and one `register` call.

The chord chart uses ABC's invisible rest `x` to place each chord symbol at its onset.
"""

from __future__ import annotations

import dataclasses
import re
from fractions import Fraction
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from aitunes_lib import abc
from aitunes_lib.decoding.constraints import FollowChart, SongForm, WholeBars
from aitunes_lib.decoding.plan import SongPlan, draw_plans
from aitunes_lib.decoding.settings import GenerateConfig
from aitunes_lib.song import Song

PHRASE_BARS = (2, 4, 8)  # prefix lengths sampled per song
CHART_BARS = 16  # bars per chord-task section: a chart and its melody fit the tiny model's window
PHRASE_MIN_BARS = 4  # a continuation adds at least this many bars (the phrase records leave at least 4)
METERS = ("4/4", "2/2")  # what the models were trained on: bars of four quarters
BAR = Fraction(4)


class TaskInputError(ValueError):
    """A prefix, chord chart or task name the tasks cannot use; the message says what to change."""


@dataclasses.dataclass(frozen=True)
class Request:
    """What a user asks for: a title and composer (the article's prompt), and the task's input
    (an opening in ABC, a chord chart in ABC or as a list of bars; nothing for a whole song)."""

    title: str = "Untitled"
    composer: str = "AI-Tunes"
    text: "str | Sequence[str] | None" = None

    def __post_init__(self):  # names cannot break the article's format or a terminal
        object.__setattr__(self, "title", abc.clean_text(self.title) or "Untitled")
        object.__setattr__(self, "composer", abc.clean_text(self.composer) or "AI-Tunes")


@dataclasses.dataclass(frozen=True)
class Prompt:
    """A request made ready for a model: the text it reads, the constraint its decoder should
    enforce, the bars every candidate opens with, and facts the scoring needs (`context`)."""

    task: str
    text: str
    title: str
    composer: str
    constraint: Any = None  # a `decoding.constraints` object (`WholeBars`, `FollowChart`, `SongForm`) or None
    prefix: str = ""  # encoded bars the user wrote, kept in front of each completion
    context: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    plans: tuple[SongPlan, ...] = ()  # a whole song's: one per candidate, whether or not the decoder enforces them


class Task:
    """One task: its marker, its training records, its prompt, its check. Subclass and `register`."""

    name: ClassVar[str]
    marker: ClassVar[str]
    label: ClassVar[str] = ""  # how the studio's mode switch names it
    example: ClassVar[str] = ""  # ABC the studio's box starts with ("" for no input)
    input_help: ClassVar[str] = ""  # what the input is, for --help and the studio

    def header(self, title: str, composer: str) -> str:
        """`X: 1 $ T: … $ C: … $ <marker>`."""
        return abc.header_prompt(title, composer) + self.marker

    def records(self, record: Mapping[str, str], count: int, rng: np.random.Generator) -> list[dict[str, str]]:
        """`count` training records of this task from one song's record (the article's pair)."""
        return []

    def prompt(self, request: Request, config: "GenerateConfig | None" = None) -> Prompt:
        """The prompt for a request (and the decoding settings it needs from `config`); bad input
        raises `TaskInputError` before any work starts."""
        raise NotImplementedError

    def violations(self, prompt: Prompt, completion: str) -> list[str]:
        """What a candidate broke of its prompt's task (empty: nothing)."""
        return []

    def song(self, prompt: Prompt, completion: str, candidate: int) -> Song:
        """One candidate as a `Song`: the user's bars and the model's, its task, number and violations."""
        return Song(
            title=prompt.title, composer=prompt.composer, body=abc.decode_body(prompt.prefix + completion),
            task=self.name, candidate=candidate, violations=tuple(self.violations(prompt, completion)),
            context=dict(prompt.context),
        )


REGISTRY: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Add a task (its name and marker must be new); every front end lists it from then on."""
    if not re.fullmatch(r"<[a-z]+>", task.marker):
        raise ValueError(f"a task marker looks like <name> in lower case, not {task.marker!r}")
    if task.name in REGISTRY or any(t.marker == task.marker and t.name != task.name for t in REGISTRY.values()):
        raise ValueError(f"a task named {task.name!r} or marked {task.marker} is registered already")
    REGISTRY[task.name] = task
    return task


def unregister(name: str) -> None:
    """Remove a task (tests add their own and take it away again)."""
    REGISTRY.pop(name, None)


def get(name: "str | Task") -> Task:
    """The registered task of that name; an unknown name lists the known ones."""
    if isinstance(name, Task):
        return name
    if name not in REGISTRY:
        raise TaskInputError(f"unknown task {name!r}: choose one of {', '.join(REGISTRY)}")
    return REGISTRY[name]


def names() -> tuple[str, ...]:
    """The registered tasks' names, in registration order."""
    return tuple(REGISTRY)


def markers() -> tuple[str, ...]:
    """Every registered task's marker (the tokenizer keeps each as one token)."""
    return tuple(t.marker for t in REGISTRY.values())


def task_of(prompt: str) -> str:
    """Which task a record's prompt is for (the first marker after the header)."""
    try:
        marker = abc.split_prompt(prompt)[2]
    except abc.AbcError:
        return "song"
    return next((t.name for t in REGISTRY.values() if t.marker == marker), "song")


def training_records(
    records: Sequence[Mapping[str, str]], mixture: Mapping[str, int] | None = None, seed: int = 0,
) -> list[dict[str, str]]:
    """Song records → a mixed training file: per song, `mixture[task]` records of each task
    (default: song ×1, phrase ×2, chords ×2). Every record of a song keeps its header, so
    splits by `dataset.song_key` keep all of a song's records on one side."""
    mixture = {"song": 1, "phrase": 2, "chords": 2} if mixture is None else dict(mixture)
    for name in mixture:
        get(name)
    rng = np.random.default_rng(seed)
    out: list[dict[str, str]] = []
    for record in records:
        for task in REGISTRY.values():
            out.extend(task.records(record, mixture.get(task.name, 0), rng))
    return out


# --------------------------------------------------------------------------- song


class SongTask(Task):
    """The article's task: a whole song from a title and a composer.

    By default the decoder also gives it a song's shape: a form drawn from the real songs'
    forms (sections that return are copied, some with new chords, with short motif repeats),
    closing bars, pickups and first and second endings as often as real songs have them, a last
    bar that ends as a real song does (mostly on the tonic), a nudge toward the sounding chord's tones, real
    melodies' intervals weighed into each note, a range (and a reach for it) and a set of note
    lengths per melody, and the balance: each melody leans toward its own moves, ties, pace,
    chromatic share, rests and share of chord tones, drawn from the real songs' spread. `SongShape(planned=False)` leaves the model
    alone with the bar rules.
    """

    name, marker, label = "song", abc.SONG, "song"
    input_help = "nothing: the title and band are the prompt"

    def records(self, record, count, rng):
        return [dict(record)] * count

    def prompt(self, request: Request, config: "GenerateConfig | None" = None) -> Prompt:
        text = self.header(request.title, request.composer)
        config = config or GenerateConfig()
        if not config.song.planned:  # the model alone, with the bar rules
            return Prompt(self.name, text, request.title, request.composer, WholeBars())
        plans = tuple(draw_plans(config.song, config.n, config.seed))
        return Prompt(self.name, text, request.title, request.composer, SongForm(plans, config.song), plans=plans)

    def song(self, prompt: Prompt, completion: str, candidate: int) -> Song:
        song = super().song(prompt, completion, candidate)
        if not prompt.plans:
            return song
        plan = prompt.plans[candidate % len(prompt.plans)]
        if plan.passes > 1:
            song = dataclasses.replace(song, body=self.unfold(completion, plan.passes, len(plan.sections) * plan.section_bars, plan.volta))
        return dataclasses.replace(song, context=dict(prompt.context) | plan.context(),
                                   violations=tuple(self.form_violations(plan, completion)))

    @staticmethod
    def unfold(completion: str, passes: int, form_bars: int, volta: int = 0) -> str:
        """A form played `passes` times, as a lead sheet's repeat unfolds, from the one pass the
        model wrote: a pickup opens only the first pass; with a `volta`, the form's last `volta`
        bars (the first ending) close every pass but the last, and the `volta` bars after the
        form (the second ending) close the last; the bars after those (the closing bars) close
        only the last pass."""
        ends, lengths = bar_ends(completion), abc.bar_lengths(completion)
        pickup = int(len(ends) > 1 and abc.opens_with_pickup(lengths))  # (an unruly completion counts no pickup)

        def after(bars: int) -> int:  # the offset just after this many bars of the form (all of them, if fewer)
            return ends[min(pickup + bars, len(ends)) - 1] if ends and pickup + bars > 0 else 0

        cut, common = (after(form_bars), after(form_bars - volta)) if ends else (len(completion), len(completion))
        start = ends[0] if pickup else 0
        first, again = completion[:cut], completion[start:cut]
        last = completion[start:common] + completion[cut:]
        return "".join(abc.decode_body(part) for part in [first, *[again] * (passes - 2), last])

    @staticmethod
    def form_violations(plan: SongPlan, completion: str) -> list[str]:
        """What a candidate broke of its plan: its bars (the form, closing bars and a second
        ending) and its cadence (landing on the ending's note). A decoder that enforces the plan
        breaks nothing unless the model's window ran out; the OpenAI API cannot enforce it."""
        lengths = abc.bar_lengths(completion)
        whole = lengths[1:] if abc.opens_with_pickup(lengths) else lengths
        tail, volta = plan.tail, (plan.volta if plan.passes > 1 else 0)
        want = len(plan.sections) * plan.section_bars + tail + volta
        extra = (f" and {tail:+d} bars" if tail else "") + (f" and a second ending of {volta}" if volta else "")
        problems = [] if len(whole) == want else [f"{len(whole)} bars; the form {plan.form}{extra} has {want}"]
        if plan.cadence:
            body = completion.split(abc.END, 1)[0]
            notes = [e for e in re.findall(abc.EVENT, body) if abc.classify(e)[0] == abc.NOTE_KIND and "z" not in e]
            if not notes or abc.pitch_class(notes[-1]) != plan.landing:
                problems.append(f"the melody does not end on {plan.ending.partition(':')[2] or 'C'}")
        return problems


# --------------------------------------------------------------------------- phrase


def bar_ends(encoded: str) -> list[int]:
    """Character offsets just after each bar line of an encoded body (the article's text)."""
    return [m.end() for m in re.finditer(abc.EVENT, encoded) if abc.classify(m.group())[0] == abc.BARLINE]


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


class PhraseTask(Task):
    """Continue the user's opening: the first k bars → the rest, the opening kept verbatim."""

    name, marker, label = "phrase", "<phrase>", "continue"
    example = '"C"E2 G2 | "F"A2 c2 | "G7"B2 d2 | "C"c4 |'
    input_help = "ABC: the opening bars (whole bars, 4/4 or 2/2; another key is moved to C)"

    def records(self, record, count, rng):
        ks = rng.permutation(list(PHRASE_BARS))[:count]  # drawn for every song, so the mix is stable
        return [r for r in (self.record(record, int(k)) for k in sorted(ks)) if r is not None]

    def record(self, record: Mapping[str, str], k: int) -> dict[str, str] | None:
        """A song record cut after its k-th bar: the first k bars prompt the rest (None if too short)."""
        completion = record["completion"]
        ends = bar_ends(completion)
        if len(ends) < k + PHRASE_MIN_BARS:
            return None
        title, composer = abc.parse_prompt(record["prompt"])
        return {"prompt": self.header(title, composer) + completion[: ends[k - 1]], "completion": completion[ends[k - 1]:]}

    def prompt(self, request: Request, config: "GenerateConfig | None" = None) -> Prompt:
        phrase = request.text if isinstance(request.text, Phrase) else phrase_input(_text(request, "an opening"))
        # after the prefix's whole bars (no pickup any more), and at least PHRASE_MIN_BARS more
        constraint = WholeBars(bars_before=phrase.bars, min_bars=phrase.bars + PHRASE_MIN_BARS)
        return Prompt(self.name, self.header(request.title, request.composer) + phrase.prefix, request.title,
                      request.composer, constraint, prefix=phrase.prefix,
                      context={"prefix_quarters": phrase.quarters, "transposed_from": phrase.transposed_from,
                               "prefix_bars": phrase.bars})

    def violations(self, prompt, completion):
        return [] if abc.decode_body(prompt.prefix + completion).startswith(abc.decode_body(prompt.prefix).rstrip()) \
            else ["prefix changed"]


# --------------------------------------------------------------------------- chords


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
                names_here = "".join(f"`{name}`" for at, name in chords if at == onset)
                until = onsets[i + 1] if i + 1 < len(onsets) else length
                pieces.append(f"{names_here}x{abc.duration_text(until - onset)}")
            out.append("".join(" " + p for p in pieces) + " |" + (" $" if b in self.breaks and b < len(self.bars) - 1 else ""))
        return "".join(out)

    def section(self, start: int, stop: int) -> "ChordChart":
        """Bars start … stop − 1 as a chart of their own."""
        return ChordChart(self.bars[start:stop], frozenset(b - start for b in self.breaks if start <= b < stop))

    @classmethod
    def from_body(cls, encoded: str) -> "ChordChart":
        """The chart of an encoded body (a melody with chords, or a chart written with x or z rests)."""
        bars = abc.read_bars(encoded)
        return cls(tuple((length, tuple(chords)) for length, chords, _ in bars),
                   frozenset(b for b, (_, _, newline) in enumerate(bars) if newline))


class ChordsTask(Task):
    """A melody over the user's chord chart: the same chord symbols at the same onsets, bar for bar."""

    name, marker, label = "chords", "<chords>", "over chords"
    example = '"C"x4 | "Am"x4 | "Dm"x2 "G7"x2 | "C"x4 |\n"F"x4 | "C"x2 "A7"x2 | "D7"x4 | "G7"x4 |'
    input_help = "ABC: a chord chart written with x rests, or any lead sheet (its notes are ignored)"

    def records(self, record, count, rng):
        return [r for r in (self.record(record, s) for s in range(count)) if r is not None]

    def record(self, record: Mapping[str, str], section: int = 0, bars: int = CHART_BARS) -> dict[str, str] | None:
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
        return {"prompt": self.chart_prompt(title, composer, chart),
                "completion": melody.rstrip().removesuffix("$").rstrip() + abc.LINE_BREAK + abc.END}

    def chart_prompt(self, title: str, composer: str, chart: ChordChart) -> str:
        """`X: 1 $ T: … $ C: … $ <chords>` + the chart + ` $ <song>`: the melody follows."""
        return self.header(title, composer) + chart.text() + abc.LINE_BREAK + abc.SONG

    def prompt(self, request: Request, config: "GenerateConfig | None" = None) -> Prompt:
        chord_tones = config.song.chord_tones if config is not None else 0.0
        given = request.text
        chart, moved = (given, None) if isinstance(given, ChordChart) else chart_input(_text(request, "a chord chart", allow_list=True))
        bars = tuple((length, tuple(chords)) for length, chords in chart.bars)
        tones = tuple(abc.chord_pitch_classes(name) or frozenset() for _, _, name in chart.chords)
        return Prompt(self.name, self.chart_prompt(request.title, request.composer, chart), request.title,
                      request.composer, FollowChart(bars, tones, chord_tones),
                      context={"chart": chart, "transposed_from": moved})

    def violations(self, prompt, completion):
        return chart_violations(prompt.context["chart"], completion)


def _text(request: Request, what: str, allow_list: bool = False) -> "str | Sequence[str]":
    if request.text is None:
        raise TaskInputError(f"this task needs {what}: give it as ABC text")
    if isinstance(request.text, str) or allow_list:
        return request.text
    raise TaskInputError(f"give {what} as ABC text, not {type(request.text).__name__}")


# --------------------------------------------------------------------------- the user's input


def known_chord(name: str) -> bool:
    """Whether music21 reads the chord symbol `name` (as written in ABC) as a chord or N.C."""
    return abc.chord_pitch_classes(name) is not None


def _in_c(text: str, what: str) -> tuple[str, str | None]:
    """(the encoded body in C major, the key it was transposed from): meter checked, header dropped."""
    import music21 as m21

    text = text.strip()
    if not text:
        raise TaskInputError(f"the {what} is empty: write some bars of ABC")
    if "`" in text or " $" in text:  # the article's encoding: back to plain ABC
        text = abc.decode_body(text)
    fields, body = abc.split_header(text)
    meter_field = fields.get("M", "4/4")
    if meter_field.replace("C|", "2/2").replace("C", "4/4") not in METERS:
        raise TaskInputError(f"the {what} is in {meter_field}; the models write 4/4 and 2/2 only. Rewrite it in 4/4.")
    unit = fields.get("L", "1/4")
    key = (fields.get("K", "").split() or ["C"])[0]
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
        interval = abc.transposition(tonic)  # to C major, or A minor
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
    from a list of bars (`["C", "Am F", "Dm G7"]`: one, two or four chords, spread evenly).

    Returns (chart in C, the key it was transposed from). Refuses an empty chart and names an
    unknown chord symbol.
    """
    if isinstance(chords, str):
        body, transposed = _in_c(chords, "chord chart") if chords.strip() else ("", None)
        chart = ChordChart.from_body(body)
    else:
        bars = []
        for b, bar in enumerate(chords):
            names_here = str(bar).split()
            if len(names_here) not in (1, 2, 4):
                raise TaskInputError(f"bar {b + 1} holds {len(names_here)} chords; give 1, 2 or 4 per bar (or write the chart in ABC)")
            step = BAR / len(names_here)
            bars.append((BAR, tuple((i * step, name) for i, name in enumerate(names_here))))
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

    def show(chords: Sequence[tuple[Fraction, str]]) -> str:
        return " ".join(f"{n}@{float(o):g}" for o, n in chords) or "none"

    for b, ((_, want), (_, have)) in enumerate(zip(chart.bars, got.bars)):
        if tuple(want) != tuple(have):
            problems.append(f"bar {b + 1}: chords {show(have)}, expected {show(want)}")
    return problems


SONG, PHRASE, CHORDS = register(SongTask()), register(PhraseTask()), register(ChordsTask())
