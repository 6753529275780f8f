"""Finding or downloading OpenEWLD, and an index of its songs."""

from __future__ import annotations

import hashlib
import io
import shutil
import tempfile
import unicodedata
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aitunes_lib import config

if TYPE_CHECKING:
    import music21

OPENEWLD_REPO = "00sapo/OpenEWLD"
OPENEWLD_COMMIT = "ec03cbd809ca5296ee708591b970d0423dcbe31c"
OPENEWLD_URL = f"https://github.com/{OPENEWLD_REPO}/archive/{OPENEWLD_COMMIT}.zip"
# sha256 over "relative path NUL sha256(file)\n" of every dataset/**/*.mxl, sorted by path:
# it checks the songs themselves, whatever zip archive or copy they came from.
OPENEWLD_SONGS = 502
OPENEWLD_DIGEST = "406b67583d91b3d3a8a3eeaddc281c3f6acf2e43a011170194ba1e8b2c701f78"

INDEX_COLUMNS = [
    "path", "title", "composer", "meter", "key", "mode", "bars", "has_chords", "has_lyrics",
]


class DatasetError(RuntimeError):
    """OpenEWLD could not be found, downloaded or verified; the message says what to do."""


def _looks_like_openewld(path: Path) -> bool:
    return (path / "dataset").is_dir() and any((path / "dataset").glob("*/*/*.mxl"))


def find_openewld(path: str | Path | None = None, download: bool = True) -> Path:
    """The OpenEWLD folder: `path`, `$AITUNES_OPENEWLD`, `../shared/OpenEWLD` beside the
    project, the user cache, or else a fresh download of the pinned commit."""
    if path is not None:
        path = Path(path).expanduser()
        if not _looks_like_openewld(path):
            raise DatasetError(f"{path} is not an OpenEWLD folder (expected {path}/dataset/<composer>/<song>/*.mxl)")
        return path
    named = config.env_data_path()
    if named is not None and not _looks_like_openewld(named):  # set on purpose, so never passed over in silence
        what = "no such folder" if not named.exists() else f"not an OpenEWLD folder (expected {named}/dataset/<composer>/<song>/*.mxl)"
        raise DatasetError(f"${config.ENV_DATA} is {named}: {what}; correct the variable, or unset it to use the usual places")
    candidates = [
        named,
        config.project_root().parent / "shared" / "OpenEWLD",
        cache_location(),
    ]
    for candidate in candidates:
        if candidate is not None and _looks_like_openewld(candidate):
            return candidate
    if not download:
        raise DatasetError(
            "OpenEWLD not found. Pass its path, set $AITUNES_OPENEWLD, or allow the download "
            f"of {OPENEWLD_REPO}@{OPENEWLD_COMMIT[:7]}."
        )
    return download_openewld()


def cache_location() -> Path:
    """Where a downloaded OpenEWLD is kept."""
    return config.user_cache_dir() / f"OpenEWLD-{OPENEWLD_COMMIT[:12]}"


def song_paths(root: str | Path) -> list[Path]:
    """Every lead sheet (`.mxl`) under an OpenEWLD folder, in a stable order."""
    root = Path(root)
    return sorted((root / "dataset").glob("**/*.mxl"), key=lambda p: _relative(p, root))


def _relative(path: Path, root: Path) -> str:
    return unicodedata.normalize("NFC", path.relative_to(root).as_posix())


def content_digest(root: str | Path) -> tuple[int, str]:
    """(number of songs, digest of their bytes) for an OpenEWLD folder."""
    root = Path(root)
    digest = hashlib.sha256()
    paths = song_paths(root)
    for path in paths:
        digest.update(_relative(path, root).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).hexdigest().encode() + b"\n")
    return len(paths), digest.hexdigest()


def verify_openewld(root: str | Path, expected: str = OPENEWLD_DIGEST) -> None:
    """Raise `DatasetError` unless the folder holds exactly the pinned commit's songs."""
    count, digest = content_digest(root)
    if digest != expected:
        raise DatasetError(
            f"OpenEWLD at {root} failed its integrity check ({count} songs, digest {digest[:12]}…, "
            f"expected {OPENEWLD_SONGS} songs, {expected[:12]}…). Delete it and download again."
        )


def download_openewld(
    url: str = OPENEWLD_URL,
    dest: str | Path | None = None,
    expected_digest: str = OPENEWLD_DIGEST,
    timeout: float = 60.0,
) -> Path:
    """Download the pinned OpenEWLD commit with a progress bar, check it, and unpack it to `dest`."""
    from tqdm.auto import tqdm

    dest = Path(dest) if dest is not None else cache_location()
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except (urllib.error.URLError, OSError) as error:
        raise DatasetError(
            f"Could not download OpenEWLD from {url} ({error}). This machine seems to be offline: "
            "pass the path of a local copy, or set $AITUNES_OPENEWLD."
        ) from error
    buffer = io.BytesIO()
    total = int(response.headers.get("Content-Length") or 0) or None
    with response, tqdm(total=total, unit="B", unit_scale=True, desc="OpenEWLD") as bar:
        while chunk := response.read(1 << 16):
            buffer.write(chunk)
            bar.update(len(chunk))
    try:
        archive = zipfile.ZipFile(buffer)
    except zipfile.BadZipFile as error:
        raise DatasetError(f"The download from {url} is not a zip archive: {error}") from error
    with tempfile.TemporaryDirectory(dir=_existing_parent(dest)) as tmp:
        archive.extractall(tmp)
        tops = [p for p in Path(tmp).iterdir() if p.is_dir()]
        unpacked = tops[0] if len(tops) == 1 and not (Path(tmp) / "dataset").exists() else Path(tmp)
        verify_openewld(unpacked, expected_digest)
        if dest.exists():
            shutil.rmtree(dest)
        shutil.move(str(unpacked), dest)
    return dest


def _existing_parent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.parent


# --------------------------------------------------------------------------- the index


def song_facts(score: "music21.stream.Score", path: str | Path) -> dict[str, Any]:
    """One index row from a parsed lead sheet.

    The meter is the first time signature; the key is the *last* `music21.key.Key` in the
    part, as the article read it.
    """
    import music21 as m21

    part = score.parts[0] if score.parts else score
    meters = list(part.recurse().getElementsByClass(m21.meter.TimeSignature))
    keys = list(part.recurse().getElementsByClass(m21.key.Key))
    md = score.metadata
    key = keys[-1] if keys else None
    has_lyrics = any(n.lyrics for n in part.recurse().notes)
    return {
        "path": str(path),
        "title": (md.bestTitle if md is not None else None) or Path(path).stem.replace("_", " "),
        "composer": (md.composer if md is not None else None) or _composer_from_path(Path(path)),
        "meter": meters[0].ratioString if meters else None,
        "key": key.tonicPitchNameWithCase if key is not None else None,
        "mode": key.mode if key is not None else None,
        "bars": len(part.getElementsByClass(m21.stream.Measure)),
        "has_chords": bool(part.recurse().getElementsByClass(m21.harmony.Harmony)),
        "has_lyrics": has_lyrics,
    }


def _composer_from_path(path: Path) -> str:
    # dataset/<Composer_One-Composer_Two>/<Song>/<Song>.mxl
    folder = path.parent.parent.name
    return ", ".join(name.replace("_", " ") for name in folder.split("-")) or "Unknown"
