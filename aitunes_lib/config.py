"""The one place where the environment is read: data path, cache directory, project root."""

from __future__ import annotations

import contextlib
import json
import os
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


def has_openai_key() -> bool:
    """Whether a key is there (environment or Colab secrets), without asking anyone for one."""
    try:
        openai_api_key(ask=False)
    except MissingApiKey:
        return False
    return True


def openai_api_key(ask: bool | None = None) -> str:
    """The OpenAI API key from `$OPENAI_API_KEY`, Colab secrets, or a hidden prompt.

    `ask=None` prompts only when a person is at a terminal or notebook. The key is never
    printed, logged or written anywhere by this project.
    """
    key = os.environ.get(ENV_OPENAI_KEY, "").strip()
    if key:
        return key
    try:
        from google.colab import userdata  # type: ignore[import-not-found]

        key = (userdata.get(ENV_OPENAI_KEY) or "").strip()
        if key:
            return key
    except Exception:  # noqa: BLE001 - not in Colab, or the secret is not shared with this notebook
        pass
    import sys

    if ask if ask is not None else sys.stdin is not None and sys.stdin.isatty():
        import getpass

        key = getpass.getpass("OpenAI API key (input hidden): ").strip()
        if key:
            return key
    raise MissingApiKey(MISSING_KEY_MESSAGE)


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
