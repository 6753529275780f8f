"""Finding, downloading and checking OpenEWLD, and the index facts of a song."""

from __future__ import annotations

import functools
import http.server
import io
import socket
import threading
import zipfile
from pathlib import Path

import music21 as m21
import pytest

from aitunes_lib import config, data


def test_the_shared_copy_is_the_pinned_commit(openewld):
    assert data.content_digest(openewld) == (data.OPENEWLD_SONGS, data.OPENEWLD_DIGEST)
    data.verify_openewld(openewld)


def test_lookup_order(tmp_path, monkeypatch, openewld):
    # an explicit path wins; then $AITUNES_OPENEWLD; then ../shared/OpenEWLD beside the project
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "dataset").symlink_to(openewld / "dataset")
    monkeypatch.setenv(config.ENV_DATA, str(mirror))
    assert data.find_openewld() == mirror
    assert data.find_openewld(openewld) == openewld
    monkeypatch.delenv(config.ENV_DATA)
    assert data.find_openewld() == config.project_root().parent / "shared" / "OpenEWLD"
    monkeypatch.setenv(config.ENV_DATA, str(tmp_path / "nothing-here"))  # set on purpose: never passed over in silence
    with pytest.raises(data.DatasetError, match=r"\$AITUNES_OPENEWLD is .*nothing-here: no such folder"):
        data.find_openewld()
    with pytest.raises(data.DatasetError, match="not an OpenEWLD folder"):
        data.find_openewld(tmp_path)


def test_not_found_without_download(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "project_root", lambda: tmp_path / "project")
    monkeypatch.delenv(config.ENV_DATA, raising=False)
    monkeypatch.setenv(config.ENV_CACHE, str(tmp_path / "cache"))
    with pytest.raises(data.DatasetError, match="OpenEWLD not found. Pass its path, set .AITUNES_OPENEWLD"):
        data.find_openewld(download=False)


def _serve(directory: Path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _zip_of(openewld: Path, skip: int = 0) -> bytes:
    buffer = io.BytesIO()
    top = f"OpenEWLD-{data.OPENEWLD_COMMIT}"
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for path in data.song_paths(openewld)[skip:]:
            archive.write(path, f"{top}/{path.relative_to(openewld).as_posix()}")
        archive.writestr(f"{top}/README.md", "OpenEWLD")
    return buffer.getvalue()


def test_download_checks_integrity(tmp_path, openewld):
    site = tmp_path / "site"
    site.mkdir()
    (site / "good.zip").write_bytes(_zip_of(openewld))
    (site / "short.zip").write_bytes(_zip_of(openewld, skip=1))
    (site / "broken.zip").write_bytes(b"<html>not a zip</html>")
    server = _serve(site)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        dest = data.download_openewld(f"{base}/good.zip", dest=tmp_path / "cache" / "OpenEWLD")
        assert data.content_digest(dest) == (502, data.OPENEWLD_DIGEST)
        with pytest.raises(data.DatasetError, match="failed its integrity check"):
            data.download_openewld(f"{base}/short.zip", dest=tmp_path / "other")
        assert not (tmp_path / "other").exists()
        with pytest.raises(data.DatasetError, match="not a zip archive"):
            data.download_openewld(f"{base}/broken.zip", dest=tmp_path / "other")
    finally:
        server.shutdown()


def test_download_offline_gives_a_clear_error(tmp_path):
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(data.DatasetError, match="offline: pass the path of a local copy"):
        data.download_openewld(f"http://127.0.0.1:{port}/x.zip", dest=tmp_path / "d", timeout=5)


def test_song_facts(song_path):
    path = song_path("Happy_Birthday_to_You")
    facts = data.song_facts(m21.converter.parse(path), path)
    assert facts == {
        "path": str(path), "title": "Happy Birthday", "composer": "Mildred J. Hill, Patty Hill, Alexander Kläser",
        "meter": "4/4", "key": "G", "mode": "major", "bars": 16, "has_chords": True, "has_lyrics": False,
    }
