"""The article's encoding of the training text: prompts (`X: 1 $ T: … $ C: … $ <song>`), bodies
with chords in backticks and ` $ ` line breaks, and the way back to plain ABC."""

from __future__ import annotations

import re

from aitunes_lib.abc.grammar import END, LINE_BREAK, SONG, AbcError
from aitunes_lib.abc.headers import abc_header, clean_text

# The article's header, then a task marker (`<song>`, `<phrase>`, …) and the task's input
PROMPT = re.compile(r"^\s*X:\s*(\d+)\s*\$\s*T:(.*?)\$\s*C:(.*?)\$\s*(<[a-z]+>)(.*)$", re.S)


def seed_prompt(title: str, composer: str) -> str:
    """The article's prompt: `X: 1 $ T: <title> $ C: <composer> $ <song>`."""
    return f"X: 1{LINE_BREAK}T: {clean_text(title)}{LINE_BREAK}C: {clean_text(composer)}{LINE_BREAK}{SONG}"


def encode_body(body: str) -> str:
    """ABC body → the article's completion: chords in backticks, ` $ ` line breaks, ` $ <end>`."""
    lines = [line.strip() for line in body.strip().splitlines() if line.strip()]
    return " " + LINE_BREAK.join(lines).replace('"', "`") + LINE_BREAK + END


def decode_body(completion: str) -> str:
    """The article's completion → plain ABC body (stops at `<end>` if present)."""
    text = completion.split(END, 1)[0]
    lines = [line.strip() for line in text.replace("`", '"').split("$")]
    return "\n".join(line for line in lines if line) + "\n"


def header_prompt(title: str, composer: str) -> str:
    """The article's header in its encoding, before any task marker: `X: 1 $ T: … $ C: … $ `."""
    return f"X: 1{LINE_BREAK}T: {clean_text(title)}{LINE_BREAK}C: {clean_text(composer)}{LINE_BREAK}"


def split_prompt(prompt: str) -> tuple[str, str, str, str]:
    """(title, composer, marker, the task's input after the marker) of any task's prompt.

    >>> split_prompt("X: 1 $ T: Tea $ C: Me $ <phrase> `C`c4 |")
    ('Tea', 'Me', '<phrase>', ' `C`c4 |')
    """
    match = PROMPT.match(prompt)
    if not match:
        raise AbcError(f"not an article-format prompt: {prompt[:80]!r}")
    return match.group(2).strip(), match.group(3).strip(), match.group(4), match.group(5)


def parse_prompt(prompt: str) -> tuple[str, str]:
    """(title, composer) from an article-format prompt (any task's)."""
    return split_prompt(prompt)[:2]


def decode_seed(prompt: str, completion: str, meter: str = "4/4", key: str = "C") -> str:
    """Prompt + completion in the article's format → a full ABC tune that music21 parses."""
    title, composer = parse_prompt(prompt)
    return abc_header(title, composer, meter, key) + decode_body(completion)
