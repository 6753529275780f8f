"""Song titles and band names to prompt with: offline and seeded, or from an LLM with a key."""

from __future__ import annotations

import random
import re
from typing import TYPE_CHECKING, Iterable, Sequence

if TYPE_CHECKING:
    from aitunes_lib.backends.openai_backend import OpenAIBackend

ADJECTIVES = (
    "Blue", "Golden", "Midnight", "Silver", "Lonesome", "Velvet", "Crimson", "Paper", "Electric", "Lazy",
    "Broken", "Sunday", "Little", "Wandering", "Quiet", "Rusty", "Crystal", "Honey", "Faraway", "Neon",
    "Rainy", "Secret", "Painted", "Gentle", "Restless", "Dancing", "Distant", "Sleepy", "Copper", "Starlit",
)
NOUNS = (
    "Moon", "River", "Train", "Heart", "Harbor", "Street", "Garden", "Window", "Lantern", "Meadow",
    "Balloon", "Carousel", "Letter", "Highway", "Orchard", "Piano", "Sparrow", "Candle", "Valley", "Ocean",
    "Porch", "Compass", "Bridge", "Cafe", "Kite", "Clock", "Rose", "Station", "Shadow", "Teacup",
)
PLACES = (
    "Burlington", "New Orleans", "the Pier", "Avenue C", "the Old Mill", "Harlem", "the Coast", "Main Street",
    "the Crossroads", "Paris", "the Valley", "Tin Pan Alley", "the Hill", "Kalamazoo", "the Boardwalk",
)
VERBS = ("Dancing", "Waiting", "Dreaming", "Walking", "Singing", "Driving", "Falling", "Whistling", "Rolling", "Drifting")
TITLE_SHAPES = (
    "{adj} {noun}", "The {adj} {noun}", "{verb} to {place}", "{verb} in the {noun}", "A {noun} for {place}",
    "{noun} of {place}", "When the {noun} Was {adj}", "My {adj} {noun}", "{verb} Down to {place}",
    "Don't Forget the {noun}",
)
BAND_SHAPES = (
    "The {adj} {noun}s", "{adj} {noun}", "The {noun}s", "{noun} & the {adj}s", "The {place} {noun}s",
    "{adj} {noun} Orchestra", "The {verb} {noun}s", "{noun} {noun2}",
)

# The article's few-shot prompt, as chat messages.
FEW_SHOT = (
    "Create a new song title and a new band name. Be creative!\n\n"
    "Band name: The Execs\nSong title: Company Meeting\n###\n\n"
    "Band name: The One Chords\nSong title: Moving Down to Burlington\n###"
)


def _fill(shape: str, rng: random.Random) -> str:
    nouns = rng.sample(NOUNS, 2)
    return shape.format(adj=rng.choice(ADJECTIVES), noun=nouns[0], noun2=nouns[1],
                        place=rng.choice(PLACES), verb=rng.choice(VERBS))


def invent(n: int = 5, seed: int | None = None, titles: Sequence[str] = ()) -> list[tuple[str, str]]:
    """`n` distinct (title, band) pairs, offline and reproducible for a seed.

    With `titles` (for example the dataset's own), some titles are remixed from them: the
    first half of one title with the second half of another.
    """
    rng = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    usable = [t for t in titles if len(t.split()) >= 2]
    while len(pairs) < n:
        if usable and rng.random() < 0.4:
            a, b = rng.sample(usable, 2) if len(usable) > 1 else (usable[0], usable[0])
            wa, wb = a.split(), b.split()
            title = " ".join(wa[: max(1, len(wa) // 2)] + wb[len(wb) // 2 :])
        else:
            title = _fill(rng.choice(TITLE_SHAPES), rng)
        pair = (title, _fill(rng.choice(BAND_SHAPES), rng))
        if pair not in seen:
            seen.add(pair)
            pairs.append(pair)
    return pairs


def parse_names(reply: str) -> list[tuple[str, str]]:
    """(title, band) pairs from an LLM reply in the few-shot format; tolerant of order,
    case, bullets, quotes and missing separators; incomplete pairs are dropped."""
    pairs: list[tuple[str, str]] = []
    title = band = None
    for line in reply.splitlines():
        match = re.match(r"^\W*(song\s*title|title|band\s*name|band|artist)[*_\s]*[:\-–]\s*(.+?)\s*$", line.strip(), re.I)
        if match:
            value = match.group(2).strip().strip("\"'*`").strip()
            if not value:
                continue
            if match.group(1).lower().startswith(("song", "title")):
                title = value
            else:
                band = value
        if title and band:
            pairs.append((title, band))
            title = band = None
    return pairs


def invent_with_llm(
    backend: "OpenAIBackend", n: int = 5, model: str | None = None, temperature: float = 0.7, seed: int | None = None
) -> list[tuple[str, str]]:
    """The article's few-shot naming on a current chat model (default: `openai_backend.DEFAULT_CHAT_MODEL`,
    refused with a replacement if it has shut down): n replies in one request.

    Replies that do not parse are replaced by offline names, so the result always has n pairs.
    """
    from aitunes_lib.backends.openai_backend import DEFAULT_CHAT_MODEL

    model = model or DEFAULT_CHAT_MODEL
    backend.require_live(model)
    replies = backend.chat([{"role": "user", "content": FEW_SHOT}], model=model, n=n, temperature=temperature,
                           max_tokens=64, stop=["###"], **({"seed": seed} if seed is not None else {}))
    pairs = _unique(p for reply in replies for p in parse_names(reply))[:n]
    if len(pairs) < n:
        extra = [p for p in invent(n * 2, seed) if p not in pairs]
        pairs += extra[: n - len(pairs)]
    return pairs


def _unique(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    for pair in pairs:
        if pair not in seen:
            seen.append(pair)
    return seen
