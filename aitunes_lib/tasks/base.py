"""The task registry: what every task is (`Task`), what a user asks (`Request`), what a model reads (`Prompt`)."""

from __future__ import annotations

import dataclasses
import re
from fractions import Fraction
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from aitunes_lib import abc
from aitunes_lib.decoding.plan import SongPlan
from aitunes_lib.decoding.settings import GenerateConfig
from aitunes_lib.song import Song

PHRASE_BARS = (2, 4, 8)  # prefix lengths sampled per song
CHART_BARS = 16  # bars per chord-task section: a chart and its melody fit the tiny model's window
PHRASE_MIN_BARS = 4  # a continuation adds at least this many bars (the phrase records leave at least 4)
METERS = ("4/4", "2/2")  # what the models were trained on: bars of four quarters
BAR = Fraction(4)


OWN_METER = re.compile(r"^\s*\[M:\s*([^\]\n]*?)\s*\]\s*")  # `[M:3/4]` opening a completion: the meter its writer chose


def own_meter(completion: str) -> tuple[str | None, str]:
    """(the meter a completion declares at its start as an inline field such as `[M:3/4]`, the
    completion without it); (None, completion) when it declares none. A chat model through the
    API may write in another meter than it was asked for (`fewshot.clean_reply` keeps it so).

    >>> own_meter(" [M:3/4] `G`d2 B | $ <end>")
    ('3/4', ' `G`d2 B | $ <end>')
    """
    match = OWN_METER.match(completion)
    return (match.group(1), " " + completion[match.end():]) if match else (None, completion)


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

    def header(self, title: str, composer: str, meter: str = "4/4", key: str = "C") -> str:
        """`X: 1 $ T: … $ C: … $ <marker>` (with `M: … $` and `K: … $` before the marker in another
        meter than 4/4 or another key than C)."""
        return abc.header_prompt(title, composer, meter, key) + self.marker

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
        """One candidate as a `Song`: the user's bars and the model's, its task, number and violations.
        A completion in its own meter (`own_meter`) keeps it in the song's header, and breaks the task."""
        meter, completion = own_meter(completion)
        asked = prompt.context.get("meter", "4/4")
        broke = [f"written in {meter}, the model was asked for {asked}"] if meter and meter != asked else []
        return Song(
            title=prompt.title, composer=prompt.composer, body=abc.decode_body(prompt.prefix + completion),
            meter=meter or prompt.context.get("meter", "4/4"), key=prompt.context.get("key", "C"), task=self.name, candidate=candidate,
            violations=tuple(broke + self.violations(prompt, completion)), context=dict(prompt.context),
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


def bar_ends(encoded: str) -> list[int]:
    """Character offsets just after each bar line of an encoded body (the article's text): those
    its sampler recorded when it is an `abc.Completion` that knows them, else read from the text."""
    known = getattr(encoded, "bar_ends", None)
    if known is not None:
        return list(known)
    return [m.end() for m in re.finditer(abc.EVENT, encoded) if abc.classify(m.group())[0] == abc.BARLINE]


def _text(request: Request, what: str, allow_list: bool = False) -> "str | Sequence[str]":
    if request.text is None:
        raise TaskInputError(f"this task needs {what}: give it as ABC text")
    if isinstance(request.text, str) or allow_list:
        return request.text
    raise TaskInputError(f"give {what} as ABC text, not {type(request.text).__name__}")
