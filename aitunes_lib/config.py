"""The one place where the environment is read: data path, cache directory, project root."""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import Any, Iterator, Mapping

ENV_DATA = "AITUNES_OPENEWLD"
ENV_CACHE = "AITUNES_CACHE"


def project_root() -> Path:
    """The checkout that holds `aitunes_lib/` (the parent of the package directory)."""
    return Path(__file__).resolve().parent.parent


def is_checkout() -> bool:
    """True when the library runs from a clone of the project, False when pip installed it
    (in Colab, say), where the parent of the package is site-packages."""
    return (project_root() / "pyproject.toml").is_file() and (project_root() / "notebooks").is_dir()


def in_colab() -> bool:
    """True inside a Google Colab kernel, which imports `google.colab` as it starts."""
    import sys

    return "google.colab" in sys.modules


def env_data_path() -> Path | None:
    """`$AITUNES_OPENEWLD`, if set."""
    value = os.environ.get(ENV_DATA)
    return Path(value).expanduser() if value else None


def user_cache_dir() -> Path:
    """`$AITUNES_CACHE`, else `$XDG_CACHE_HOME/aitunes`, else `~/.cache/aitunes`."""
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "aitunes"


ENV_OPENAI_KEY = "OPENAI_API_KEY"
ENV_OPENAI_BASE_URL = "OPENAI_BASE_URL"


def openai_base_url() -> str | None:
    """`$OPENAI_BASE_URL` (the openai SDK reads it too), if set."""
    return os.environ.get(ENV_OPENAI_BASE_URL) or None


class MissingApiKey(RuntimeError):
    """No OpenAI API key could be found; the message names the ways to give one."""


MISSING_KEY_MESSAGE = (
    "No OpenAI API key: set OPENAI_API_KEY, add it to Colab secrets as OPENAI_API_KEY, "
    "or run interactively to be asked for it; or use the local backend (--backend local), which needs none."
)


class BadApiKey(MissingApiKey):
    """A key was given but cannot be one (a space or line break inside, …); the message says where it came from, never the key."""


MAX_KEY_CHARS = 1000  # OpenAI's keys are about 50 to 200 characters


def check_api_key(key: str, source: str) -> str:
    """`key` when it can be an API key, else a `BadApiKey` that names `source` and what is wrong, not the key."""
    fix = f"copy the key again into {source} (from https://platform.openai.com/api-keys)"
    if any(c.isspace() for c in key):
        raise BadApiKey(f"the OpenAI API key in {source} has a space or line break inside it; {fix}")
    if any(not c.isprintable() or not c.isascii() for c in key):
        raise BadApiKey(f"the OpenAI API key in {source} holds an invisible or non-ASCII character; {fix}")
    if len(key) > MAX_KEY_CHARS:
        raise BadApiKey(f"the OpenAI API key in {source} is {len(key):,} characters long, not a key; {fix}")
    return key


def has_openai_key() -> bool:
    """Whether a key is there (environment or Colab secrets), without asking anyone for one;
    a malformed key counts as there, so that using it says what is wrong with it."""
    try:
        openai_api_key(ask=False)
    except BadApiKey:
        return True
    except MissingApiKey:
        return False
    return True


def openai_api_key(ask: bool | None = None) -> str:
    """The OpenAI API key from `$OPENAI_API_KEY`, Colab secrets, or a hidden prompt.

    `ask=None` prompts only when a person is at a terminal or notebook. The key is never
    printed, logged or written anywhere by this project; one with a space, line break or
    invisible character inside is refused (`BadApiKey`) without being shown.
    """
    key = os.environ.get(ENV_OPENAI_KEY, "").strip()
    if key:
        return check_api_key(key, f"${ENV_OPENAI_KEY}")
    key = _colab_key()
    if key:
        return check_api_key(key, "Colab secrets")
    import sys

    if ask if ask is not None else sys.stdin is not None and sys.stdin.isatty():
        import getpass

        key = getpass.getpass("OpenAI API key (input hidden): ").strip()
        if key:
            return check_api_key(key, "the prompt")
    raise MissingApiKey(MISSING_KEY_MESSAGE)


def _colab_key() -> str:
    try:
        from google.colab import userdata  # type: ignore[import-not-found]

        return (userdata.get(ENV_OPENAI_KEY) or "").strip()
    except Exception:  # noqa: BLE001 - not in Colab, or the secret is not shared with this notebook
        return ""


KEY_PART_CHARS = 8  # a run this long of the key's characters is hidden wherever it appears
KEY_LIKE = re.compile(r"\b(?:sk|rk)-[A-Za-z0-9_\-]{12,}|\bBearer\s+[^\s'\"]+", re.IGNORECASE)
HIDDEN = "[hidden]"


def redact(text: str, key: str | None = None) -> str:
    """`text` with API keys hidden: `key` (by default `$OPENAI_API_KEY`), any run of
    `KEY_PART_CHARS` or more of its characters (a key broken by a line break or quoted in
    pieces), and anything shaped like a key (`sk-…`, `Bearer …`).

    >>> redact("refused key sk-abcdef123456789xyz for Bearer t0ken", key="")
    'refused key [hidden] for [hidden]'
    """
    text = str(text)
    secret = os.environ.get(ENV_OPENAI_KEY, "") if key is None else key
    pieces = [p for p in re.split(r"[\s\x00-\x1f\x7f]+|\\[nrt]", secret) if p]  # also its repr's escapes
    grams = {p[i:i + KEY_PART_CHARS] for p in pieces for i in range(len(p) - KEY_PART_CHARS + 1)}
    hidden = bytearray(len(text))
    for piece in pieces:
        for match in re.finditer(re.escape(piece), text) if len(piece) >= 6 else ():
            hidden[match.start():match.end()] = b"\1" * (match.end() - match.start())
    if grams:
        for i in range(len(text) - KEY_PART_CHARS + 1):
            if text[i:i + KEY_PART_CHARS] in grams:
                hidden[i:i + KEY_PART_CHARS] = b"\1" * KEY_PART_CHARS
    for match in KEY_LIKE.finditer(text):
        hidden[match.start():match.end()] = b"\1" * (match.end() - match.start())
    parts, start = [], 0
    for run in re.finditer(rb"\x01+", bytes(hidden)):
        parts += [text[start:run.start()], HIDDEN]
        start = run.end()
    return "".join(parts) + text[start:]


ENV_SOUNDFONT = "AITUNES_SOUNDFONT"
SOUNDFONT_PLACES = (  # Debian/Ubuntu's fluid-soundfont-gm (also what Colab's apt installs), then others
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/content/FluidR3_GM.sf2",
)


def soundfont_candidates() -> list[Path]:
    """Where to look for a General MIDI soundfont: `$AITUNES_SOUNDFONT` first."""
    own = os.environ.get(ENV_SOUNDFONT)
    return ([Path(own).expanduser()] if own else []) + [Path(p) for p in SOUNDFONT_PLACES]


ENV_OUT, ENV_PARAMS = "AITUNES_OUT", "AITUNES_PARAMS"


def notebook_out() -> Path | None:
    """`$AITUNES_OUT`, where the notebooks write, if set."""
    value = os.environ.get(ENV_OUT)
    return Path(value).expanduser() if value else None


def notebook_params() -> dict[str, Any]:
    """The knob overrides in `$AITUNES_PARAMS` (a JSON object; CI sets small values)."""
    text = os.environ.get(ENV_PARAMS) or "{}"
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{ENV_PARAMS} is not JSON ({error.msg}): write it like '{{\"steps\": 10}}'") from error
    if not isinstance(values, dict):
        raise ValueError(f"{ENV_PARAMS} must be a JSON object like '{{\"steps\": 10}}'")
    return values


@contextlib.contextmanager
def notebook_environment(out: str | Path, params: Mapping[str, Any]) -> Iterator[None]:
    """Set `$AITUNES_OUT`, `$AITUNES_PARAMS` and a headless plot backend for a kernel started
    inside (it inherits the environment); the old values come back afterwards."""
    wanted = {ENV_OUT: str(out), ENV_PARAMS: json.dumps(dict(params)), "MPLBACKEND": "Agg"}
    previous = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
