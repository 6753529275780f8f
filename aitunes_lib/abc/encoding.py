"""The article's encoding of the training text: prompts (`X: 1 $ T: … $ C: … $ <song>`), bodies
with chords in backticks and ` $ ` line breaks, and the way back to plain ABC."""

from __future__ import annotations

import re

from aitunes_lib.abc.grammar import END, LINE_BREAK, SONG, AbcError
from aitunes_lib.abc.headers import abc_header, clean_text

# The article's header (with the meter and key where they are not 4/4 in C), then a task marker
# (`<song>`, `<phrase>`, …) and the task's input
PROMPT = re.compile(r"^\s*X:\s*(?P<x>\d+)\s*\$\s*T:(?P<title>.*?)\$\s*C:(?P<composer>.*?)\$\s*"
                    r"(?P<fields>(?:M:\s*(?P<meter>[^$]*?)\s*\$\s*)?(?:K:\s*(?P<key>[^$]*?)\s*\$\s*)?)(?P<marker><[a-z]+>)(?P<rest>.*)$", re.S)


def seed_prompt(title: str, composer: str, meter: str = "4/4", key: str = "C") -> str:
    """The article's prompt: `X: 1 $ T: <title> $ C: <composer> $ <song>`; a song in another meter
    or key than 4/4 in C names them before `<song>` (`… $ M: 3/4 $ K: Am $ <song>`), as the base
    model's pretraining text does."""
    return header_prompt(title, composer, meter, key) + SONG


class Completion(str):
    """A completion's text (the article's ` … $ <end>`) with what its sampler knows of its
    structure: `bar_ends`, the offset just after each bar line, as `tasks.bar_ends` would read them
    from the text (None: not known, read the text). It is a `str` everywhere else.

    >>> done = Completion(" c4 | d4 | $ <end>", bar_ends=(5, 10))
    >>> done, done.bar_ends, done[:5].bar_ends if isinstance(done[:5], Completion) else "a slice is plain text"
    (' c4 | d4 | $ <end>', (5, 10), 'a slice is plain text')
    """

    bar_ends: "tuple[int, ...] | None"

    def __new__(cls, text: str, bar_ends: "tuple[int, ...] | None" = None) -> "Completion":
        made = super().__new__(cls, text)
        made.bar_ends = bar_ends
        return made


def encode_body(body: str) -> str:
    """ABC body → the article's completion: chords in backticks, ` $ ` line breaks, ` $ <end>`."""
    lines = [line.strip() for line in body.strip().splitlines() if line.strip()]
    return " " + LINE_BREAK.join(lines).replace('"', "`") + LINE_BREAK + END


def decode_body(completion: str) -> str:
    """The article's completion → plain ABC body (stops at `<end>` if present)."""
    text = completion.split(END, 1)[0]
    lines = [line.strip() for line in text.replace("`", '"').split("$")]
    return "\n".join(line for line in lines if line) + "\n"


def header_prompt(title: str, composer: str, meter: str = "4/4", key: str = "C") -> str:
    """The article's header in its encoding, before any task marker: `X: 1 $ T: … $ C: … $ `, and
    `M: … $ K: … $` where the meter or key is not 4/4 in C."""
    fields = "".join(f"{name}: {value}{LINE_BREAK}" for name, value, usual in (("M", meter, "4/4"), ("K", key, "C")) if value != usual)
    return f"X: 1{LINE_BREAK}T: {clean_text(title)}{LINE_BREAK}C: {clean_text(composer)}{LINE_BREAK}{fields}"


def split_prompt(prompt: str) -> tuple[str, str, str, str]:
    """(title, composer, marker, the task's input after the marker) of any task's prompt.

    >>> split_prompt("X: 1 $ T: Tea $ C: Me $ <phrase> `C`c4 |")
    ('Tea', 'Me', '<phrase>', ' `C`c4 |')
    >>> split_prompt("X: 1 $ T: Tea $ C: Me $ M: 3/4 $ K: Am $ <song>")
    ('Tea', 'Me', '<song>', '')
    """
    match = PROMPT.match(prompt)
    if not match:
        raise AbcError(f"not an article-format prompt: {prompt[:80]!r}")
    return match["title"].strip(), match["composer"].strip(), match["marker"], match["rest"]


def parse_prompt(prompt: str) -> tuple[str, str]:
    """(title, composer) from an article-format prompt (any task's)."""
    return split_prompt(prompt)[:2]


def decode_seed(prompt: str, completion: str, meter: str = "4/4", key: str = "C") -> str:
    """Prompt + completion in the article's format → a full ABC tune that music21 parses."""
    title, composer = parse_prompt(prompt)
    return abc_header(title, composer, meter, key) + decode_body(completion)
