"""ABC headers: the `X:`, `T:`, `C:`, `L:`, `M:`, `K:` lines, written, split off and completed,
and the cleaning that makes a title or band name safe for them."""

from __future__ import annotations

import re
import unicodedata

FIELD = re.compile(r"^([A-Za-z]):\s*(.*?)\s*$")  # one header line: `T: Title`, `K:C`


def abc_header(title: str, composer: str, meter: str = "4/4", key: str = "C", x: int = 1) -> str:
    """The ABC header lines, ending with a newline."""
    return f"X:{x}\nT:{clean_text(title)}\nC:{clean_text(composer)}\nL:1/4\nM:{meter}\nK:{key}\n"


MAX_NAME_CHARS = 120


def clean_text(text: str) -> str:
    """A title or band name made safe for the article's format and a terminal.

    Control and format characters (ESC, BEL, zero-width, …) go; `$` (the training text's line
    break) becomes S, a backtick (the chord quote) an apostrophe; `<word>` markers such as
    `<end>` lose their angle brackets; white space folds to one space; at most
    `MAX_NAME_CHARS` characters.

    >>> clean_text("Blue\\x1b[31m Moon <end> `x` $5\\x07")
    "Blue[31m Moon end 'x' S5"
    """
    text = "".join(c if unicodedata.category(c)[0] != "C" or c in "\t\n" else "" for c in str(text))
    text = re.sub(r"<\s*([A-Za-z_]*)\s*>", r"\1", text.replace("$", "S").replace("`", "'"))
    return re.sub(r"\s+", " ", text).strip()[:MAX_NAME_CHARS].strip()


# ABC's K: field: a tonic and a mode (the first three letters count), then explicit accidentals
# and clef settings; music21 reads any other word as C major without a word of warning
_KEY = re.compile(r"(?i:(?P<tonic>[A-G][#b]?)(?:\s*(?:maj|min|m|ion|dor|phr|lyd|mix|aeo)[a-z]*)?|none|hp)(?P<rest>.*)")
_KEY_EXTRA = re.compile(r"[_^=]{1,2}[A-Ga-g]|[a-z]+=\S+|treble|bass|alto|tenor|perc|none|exp", re.I)
KEY_EXAMPLES = "K:G, K:Bb, K:F#m, K:D dorian"


def key_problem(value: str) -> str | None:
    """Why the value of a `K:` field is not a key music21 reads as written, or None when it is.

    >>> key_problem("Bb"), key_problem("F#m"), key_problem("D dorian clef=bass"), key_problem("")
    (None, None, None, None)
    >>> key_problem("xyz")
    'K:xyz is not a key: write a tonic A to G with # or b and a mode, such as K:G, K:Bb, K:F#m, K:D dorian'
    """
    value = value.strip()
    match = _KEY.fullmatch(value)
    if value and (match is None or not all(_KEY_EXTRA.fullmatch(word) for word in match.group("rest").split())):
        return f"K:{value[:40]} is not a key: write a tonic A to G with # or b and a mode, such as {KEY_EXAMPLES}"
    return None


def split_header(text: str) -> tuple[dict[str, str], str]:
    """(the header's fields, the body) of ABC text; a repeated field keeps its last value.

    >>> split_header("X:1\\nT: Tea\\nK:G\\nG2 B2 |")
    ({'X': '1', 'T': 'Tea', 'K': 'G'}, 'G2 B2 |')
    """
    fields: dict[str, str] = {}
    body = []
    for line in text.splitlines():
        match = FIELD.match(line)
        if match and not body:
            fields[match.group(1)] = match.group(2)
        elif line.strip():
            body.append(line)
    return fields, "\n".join(body)


def complete_header(text: str) -> str:
    """ABC with `X`, `T`, `L:1/4`, `M:4/4` and `K:C` filled in where the header lacks them."""
    lines = [line for line in text.strip().splitlines()]
    is_field = [bool(FIELD.match(line)) for line in lines]
    body_start = is_field.index(False) if False in is_field else len(lines)
    head, body = lines[:body_start], lines[body_start:]
    present = {line[:2] for line in head}
    keys = [line for line in head if line.startswith("K:")] or ["K:C"]
    head = [line for line in head if not line.startswith(("K:", "X:"))]
    x = next((line for line in lines[:body_start] if line.startswith("X:")), "X:1")
    defaults = [f for f in ("T:Untitled", "L:1/4", "M:4/4") if f[:2] not in present]
    return "\n".join([x, *head, *defaults, keys[-1], *body]) + "\n"  # K: closes the header

