"""The one place where the environment is read: data path, cache directory, project root."""

from __future__ import annotations

import os
from pathlib import Path

ENV_DATA = "AITUNES_OPENEWLD"
ENV_CACHE = "AITUNES_CACHE"


def project_root() -> Path:
    """The checkout that holds `aitunes_lib/` (the parent of the package directory)."""
    return Path(__file__).resolve().parent.parent


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
