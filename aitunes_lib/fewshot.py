"""Few-shot generation: a current chat model writes songs from k real examples, with no fine-tuning.

OpenAI is closing self-serve fine-tuning (see the README), but any current chat model can follow
the article's format when it is shown a few real songs. This module chooses those songs, writes
the messages, and repairs what a model that cannot be constrained while decoding gets wrong:

```python
examples = fewshot.choose(dataset.read_jsonl("out/songs.jsonl"), k=4)
backend = OpenAIBackend(model="gpt-4o-mini", examples=examples)   # sample() now asks few-shot
songs = generate(backend, "song", Request("Harbour Lights", "The Lanterns"), GenerateConfig(n=5))
backend.repairs                                                     # what was repaired and resampled
```

Everything here works on the article's text; nothing calls an API.
"""

from __future__ import annotations

import dataclasses
import re
from fractions import Fraction
from typing import Mapping, Sequence

import numpy as np

from aitunes_lib import abc, metrics, tasks
from aitunes_lib.decoding import plan

BAR = Fraction(4)  # every training song is in 4/4 or 2/2 with L:1/4
SECTION_BARS = plan.SECTION_BARS
MAX_EXAMPLE_CHARS = 1800  # a long song costs prompt tokens on every request; most OpenEWLD songs are shorter

SYSTEM = (
    "You write new songs as lead sheets in the compact ABC notation shown in the examples: "
    "the key of C, L:1/4, every bar exactly four quarter notes long (a first pickup bar may be shorter), "
    "chord names in backticks before the note they sound with, ' | ' between bars and ' $ ' between lines of four bars. "
    "Answer with the song's body only, in the same format as the examples, ending with ' $ <end>'. "
    "Write a melody that leans on the chord tones, with sections that return as the form says, "
    "and end on C over a `C` chord."
)


class FewShotError(ValueError):
    """Examples that cannot be used (none, or k out of range); the message says what to give."""


def _bars(completion: str) -> list[str]:
    """Every bar's notes as text, chord names and spacing left out (a bar's identity for forms)."""
    body = re.split(r"<end>|<song>", completion, maxsplit=1)[0].replace("$", " ")
    bars = [re.sub(r"`[^`]*`|\s+", "", bar) for bar in abc.BAR.split(body)]
    return [bar for bar in bars if bar]


def text_form(completion: str, section_bars: int = SECTION_BARS) -> str:
    """A song's form from its text, by the rule of `metrics.song_form` (a section takes the letter
    of the first earlier one that shares at least half its bars), without music21.

    >>> text_form(" " + " | ".join(["c4", "d4"] * 4 + ["e4"] * 8 + ["c4", "d4"] * 4) + " | $ <end>")
    'ABA'
    """
    lengths = abc.bar_lengths(completion)
    return metrics.form_of_bars(_bars(completion), abc.opens_with_pickup(lengths), section_bars)


def choose(records: Sequence[Mapping[str, str]], k: int = 4, seed: int | None = 0, form: str | None = None) -> list[dict[str, str]]:
    """k training songs to show the model: by the requested form first (songs whose own form is
    `form`), then for variety (one from each form in turn, forms taken in a seeded order). Songs
    longer than `MAX_EXAMPLE_CHARS` are left out, to keep each request small."""
    if not isinstance(k, int) or not 1 <= k <= 20:
        raise FewShotError(f"k={k!r}: show 1 to 20 example songs (4 is a good start)")
    songs = [dict(r) for r in records if str(r.get("prompt", "")).rstrip().endswith(abc.SONG)
             and 0 < len(r.get("completion", "")) <= MAX_EXAMPLE_CHARS and abc.END in r.get("completion", "")]
    if not songs:
        raise FewShotError("no usable example songs: give the training file prep wrote (out/songs.jsonl)")
    rng = np.random.default_rng(seed)
    by_form: dict[str, list[dict[str, str]]] = {}
    for record in (songs[i] for i in rng.permutation(len(songs))):
        by_form.setdefault(text_form(record["completion"]) or "?", []).append(record)
    chosen = list(by_form.pop(form.split("*")[0], [])[:k]) if form else []
    chosen += by_form.pop(form, [])[: k - len(chosen)] if form else []
    queues = list(by_form.values())
    while len(chosen) < k and any(queues):
        for queue in queues:
            if queue and len(chosen) < k:
                chosen.append(queue.pop(0))
    return chosen


def form_request(form: str | None, cadence: bool = True, tail: int = 0, volta: int = 0, ending: str = "C:C") -> str:
    """The line that asks for a form (with `tail` bars after its sections, and a second ending
    of `volta` bars) and a cadence (`ending`, "chord:note") in words: the API cannot enforce them."""
    parts = []
    if form:
        letters, _, passes = form.partition("*")
        after = (f", then a second ending of {volta} bar{'s' * (volta > 1)} (it replaces the last {volta} when the form repeats)"
                 if volta else "")
        after += {0: "", -1: ", the last section a bar short"}.get(tail, f", then {tail} closing bar{'s' * (tail > 1)}")
        parts.append(f"Form: {letters} in sections of {SECTION_BARS} bars ({len(letters) * SECTION_BARS} bars)"
                     + (f", played {passes} times" if passes else "") + after + "; a returning letter repeats its section's bars.")
    if cadence:
        chord, _, note = ending.partition(":")
        parts.append(f"End on {note or 'C'} over a `{chord}` chord.")
    return " ".join(parts)


def messages(examples: Sequence[Mapping[str, str]], prompt: str, form: str | None = None,
             cadence: bool = True, tail: int = 0, volta: int = 0, ending: str = "C:C") -> list[dict[str, str]]:
    """The chat: the format in the system message, each example as a request and its song, then
    the request itself (with the form and cadence in words)."""
    chat = [{"role": "system", "content": SYSTEM}]
    for example in examples:
        shown_form = text_form(example["completion"])
        chat.append({"role": "user", "content": example["prompt"] + (f"\nForm: {shown_form}" if shown_form else "")})
        chat.append({"role": "assistant", "content": example["completion"].strip()})
    asked = form_request(form, cadence, tail, volta, ending)
    chat.append({"role": "user", "content": prompt + (f"\n{asked}" if asked else "")})
    return chat


# --------------------------------------------------------------------------- repair


@dataclasses.dataclass
class Repairs:
    """What sampling through an unconstrained API needed: candidates whose bars were repaired
    (and how many bars), and candidates asked for again because they could not be used."""

    candidates: int = 0
    repaired: int = 0
    bars: int = 0
    resampled: int = 0
    other_meter: int = 0  # candidates still written in a meter of their own after the second try

    @property
    def rate(self) -> float:
        """The share of candidates that needed a repair or a second try."""
        return (self.repaired + self.resampled) / self.candidates if self.candidates else 0.0

    def __str__(self) -> str:
        meters = f", {self.other_meter} written in another meter than 4/4 (kept so, flagged)" if self.other_meter else ""
        return (f"few-shot: {self.repaired} of {self.candidates} candidates had bars repaired ({self.bars} bars), "
                f"{self.resampled} resampled{meters}; repair rate {self.rate:.0%}")


def _fit(bar: list[str], length: Fraction) -> tuple[list[str], bool]:
    """One bar's tokens made exactly `BAR` long: a short bar gets a rest, a long one is cut at
    `BAR` (the note that crosses it is shortened). Bars with tuplets or grace notes are left as
    they are (False)."""
    kinds = [abc.classify(token)[0] for token in bar]
    if abc.TUPLET_KIND in kinds or abc.GRACE_OPEN in kinds:
        return bar, False
    if length < BAR:
        return bar + [" z" + abc.duration_text(BAR - length)], True
    kept, total = [], Fraction(0)
    for token, kind in zip(bar, kinds):
        if kind != abc.NOTE_KIND:
            if total < BAR and kind != abc.TIE:
                kept.append(token)
            continue
        value = abc.classify(token)[1]
        if total >= BAR:
            break
        if total + value > BAR:  # type: ignore[operator]
            pitch = re.match(r"\s*([_^=]*[A-Ga-gzx][,']*)", token)
            if pitch is None:
                return bar, False
            token = " " + pitch.group(1) + abc.duration_text(BAR - total)
            value = BAR - total
        kept.append(token)
        total += value  # type: ignore[operator]
    while kept and abc.classify(kept[-1])[0] == abc.TIE:
        kept.pop()
    return kept, True


def repair_bars(completion: str) -> tuple[str, int]:
    """A completion whose bars add up: every bar but a first pickup and a short last bar is made
    exactly four quarters (`_fit`). Returns the text and how many bars changed.

    >>> repair_bars(" `C`c2 d | e4 f | `G7`g2 | c4 | $ <end>")
    (' `C`c2 d | e4 | `G7`g2 z2 | c4 | $ <end>', 2)
    """
    if tasks.own_meter(completion)[0]:
        return completion, 0  # bars of another meter are not four quarters short or long
    body, marker, tail = completion.partition(abc.END)
    tokens = re.findall(abc.EVENT, body)
    bars: list[list[str]] = [[]]
    separators: list[list[str]] = []
    for token in tokens:
        kind = abc.classify(token)[0]
        if kind == abc.BARLINE:
            separators.append([token])
            bars.append([])
        elif kind == abc.LINEBREAK and separators and not "".join(bars[-1]).strip():
            separators[-1].append(token)
        else:
            bars[-1].append(token)
    lengths = [sum((l for l, _, _ in abc.read_bars("".join(bar) + " |")), Fraction(0)) for bar in bars]
    last = max((i for i, bar in enumerate(bars) if "".join(bar).strip()), default=-1)
    changed = 0
    for i, (bar, length) in enumerate(zip(bars, lengths)):
        pickup = i == 0 and 0 < length < BAR
        ending = i == last and 0 < length < BAR
        if not "".join(bar).strip() or length == BAR or pickup or ending:
            continue
        fixed, ok = _fit(bar, length)
        if ok:
            bars[i] = fixed
            changed += 1
    text = "".join("".join(bar) + "".join(separators[i]) if i < len(separators) else "".join(bar) for i, bar in enumerate(bars))
    return text + marker + tail, changed


ANNOTATION = re.compile(r'"[\^_<>@][^"\n]*"')  # ABC text annotations ("^slowly"): not chord symbols
QUOTED_CHORD = re.compile(r'"([^"\n]*)"')  # a chord symbol as ABC writes it: "G7"
C_MAJOR_KEYS = ("C", "Cmaj", "CMaj", "Cmajor")


def clean_reply(text: str) -> str:
    """A chat model's reply as a completion in the article's format (` … $ <end>`), read as the
    ABC people write: code fences, prose and an echoed prompt are dropped, new lines become ' $ ',
    chord symbols in ABC's double quotes become the article's backticks (annotations go), and a
    header is honoured rather than dropped: another key (K:D) or unit (L:1/8) is moved to C with
    L:1/4 by music21, and a meter whose bar is not four quarters (M:3/4) is kept at the start as
    `[M:3/4]`, which `usable` refuses and the task reports (`tasks.own_meter`).

    >>> clean_reply('Here it is:\\nK:C\\n"G7"B2 "^rit."d2 | "C"c4 |')
    ' `G7`B2 d2 | `C`c4 | $ <end>'
    """
    from aitunes_lib.backends.base import as_completion

    text = re.sub(r"```[a-z]*", "", text)
    if abc.SONG in text:
        text = text.rsplit(abc.SONG, 1)[1]
    fields: dict[str, str] = {}
    body = []
    for line in (line.strip() for line in text.replace(" $ ", "\n").splitlines()):
        field = re.match(r"^([A-Za-z]):\s*(\S.*)$", line)
        if field:
            fields.setdefault(field.group(1), field.group(2).strip())
        elif line and line not in ("$", abc.END) and not line.startswith("%") and not _prose(line):
            body.append(line.removesuffix("$").strip())
    music = QUOTED_CHORD.sub(r"`\1`", ANNOTATION.sub("", " $ ".join(body)))
    meter = fields.get("M", "4/4").replace(" ", "")
    meter = {"C": "4/4", "C|": "2/2"}.get(meter, meter)
    key, unit = (fields.get("K", "C").split() or ["C"])[0], fields.get("L", "1/4").replace(" ", "")
    if abc.key_problem(fields.get("K", "C")):
        music = ""  # a key no one can read: the notes cannot be placed, so the reply is not usable
    elif key not in C_MAJOR_KEYS or unit != "1/4":
        music = _in_c(f"M:{meter}\nL:{unit}\nK:{fields['K'] if 'K' in fields else 'C'}\n" + abc.decode_body(music), key)
    own = f"[M:{meter}] " if meter not in tasks.METERS else ""
    return as_completion(own + music.strip())


def _prose(line: str) -> bool:
    """A line of words around the tune ("Here is your song:"): no bar line, and a word outside quotes."""
    outside = re.sub(r'"[^"]*"|`[^`]*`', "", line)
    return "|" not in line and re.search(r"[A-Za-z]{4,}|[A-Za-z]+[,.:;!?](\s|$)", outside) is not None


def _in_c(text: str, key: str) -> str:
    """ABC in another key or unit note length, moved to C major (or A minor) with L:1/4, as the
    article's body (an empty one when music21 cannot read it: the reply is then not usable)."""
    import music21 as m21

    try:
        score = abc.parse_abc(text)
        part = score.parts[0] if score.parts else score
        signatures = list(part.recurse().getElementsByClass(m21.key.KeySignature))
        minor = key.lower().endswith(("m", "min", "minor")) and not key.lower().endswith("maj")
        tonic = (signatures[0] if signatures else m21.key.KeySignature(0)).asKey("minor" if minor else "major")
        interval = abc.transposition(tonic)
        if interval.semitones:
            score.transpose(interval, inPlace=True)
        moved = list(part.recurse().getElementsByClass(m21.key.KeySignature))
        body = abc.part_body(list(part.getElementsByClass(m21.stream.Measure)), key=moved[0] if moved else None)
    except Exception:  # noqa: BLE001 - a reply music21 cannot read is not usable, not a crash
        return ""
    return abc.encode_body(body)[: -len(abc.LINE_BREAK + abc.END)]


def usable(completion: str) -> bool:
    """A completion worth keeping: ABC within limits, in bars of four quarters (no meter of its own), with at least 8 bars."""
    if tasks.own_meter(completion)[0]:
        return False
    body = completion.split(abc.END, 1)[0]
    if abc.limits_problem(abc.decode_body(body) if "$" in body else body):
        return False
    return len(abc.bar_lengths(completion)) >= 8
