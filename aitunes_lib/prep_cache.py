"""Prep's cache: one JSON record a song, found by a digest of the file and of what shapes the
record (`PrepConfig.fingerprint`); a damaged entry is dropped and the song prepared again."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

from aitunes_lib import config, files


def key(path: Path, fingerprint: str) -> str:
    """A song's entry name: its file's bytes (or its path, when there is no file) and the fingerprint."""
    digest = hashlib.sha256(path.read_bytes()) if path.is_file() else hashlib.sha256(str(path).encode())
    digest.update(fingerprint.encode())
    return digest.hexdigest()


def folder(chosen: Path | None) -> Path:
    """The cache's folder: the one chosen, else the user cache's `prep`."""
    return Path(chosen) if chosen is not None else config.user_cache_dir() / "prep"


def read(path: Path) -> dict[str, Any] | None:
    """A cached record, or None when there is none; a damaged entry is named, dropped and recomputed."""
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(record, dict) and "status" in record:
            return record
        reason = "not a prep record"
    except (ValueError, OSError) as error:  # truncated, garbled or unreadable
        reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
    warnings.warn(f"{path}: damaged prep cache entry ({reason}); dropped, the song is prepared again", stacklevel=2)
    path.unlink(missing_ok=True)
    return None


def writable(cache: Path) -> bool:
    """Whether new entries can be saved to the prep cache; when not, one warning says so and the
    songs are prepared without it (what is already there is still read)."""
    reason = files.unwritable(cache)
    if reason:
        warnings.warn(f"the prep cache {cache} cannot be written ({reason}): preparing without saving to it; "
                      f"pass --no-cache to skip it, or set ${config.ENV_CACHE} to a folder you can write", stacklevel=3)
    return reason is None


def save(path: Path, record: dict[str, Any]) -> bool:
    """Save one entry; False (with a warning) when the cache stops taking them (a full disk, say)."""
    try:
        files.write_json(path, record, indent=None)
    except OSError as error:
        warnings.warn(f"the prep cache {path.parent} stopped taking entries ({error.strerror or error}): "
                      "the rest is prepared without saving to it", stacklevel=3)
        return False
    return True
