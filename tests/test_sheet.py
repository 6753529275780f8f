"""The interactive lead sheet's Python side: the bundled abcjs is the pinned one, the widget
gets the song laid out four bars a line with its MP3, and its repr stays small in a notebook.
(The browser side, a click and the cursor, is checked in tests/test_jupyterlab.py.)"""

from __future__ import annotations

import hashlib
import io
import re
import shutil

import pytest

from aitunes_lib import sheet
from aitunes_lib.song import Song
from conftest import ROOT

SONG = Song.from_abc('X:1\nT:Tea\nM:4/4\nL:1/4\nK:C\n"C"C E G c | "F"A c "G7"B d |\n"C"c4 | z4 | "F"A4 | "C"c4 |\n')


def test_the_bundled_abcjs_is_the_pinned_release():
    static = ROOT / "aitunes_lib" / "static"
    pinned = re.search(r"ABCJS_SHA256 := (\w+)", (ROOT / "Makefile").read_text()).group(1)
    assert hashlib.sha256((static / "abcjs-basic-min.js").read_bytes()).hexdigest() == pinned
    assert f"abcjs_basic v{sheet.ABCJS_VERSION} " in (static / "abcjs-basic-min.js").read_text()[:200]
    assert "Permission is hereby granted" in (static / "abcjs-LICENSE.md").read_text()
    ours = (static / "lead_sheet.js").read_text()
    assert "https://" not in ours and "fetch(" not in ours and "import(" not in ours  # nothing fetched from the network


def test_a_song_is_drawn_four_bars_a_line_with_its_sound():
    widget = sheet.LeadSheet.of(SONG, tempo_bpm=90, sound=False)
    body = widget.abc.split("K:C\n", 1)[1]
    assert body.splitlines() == ['"C"C E G c | "F"A c "G7"B d | "C"c4 | z4 |', '"F"A4 | "C"c4 |']
    assert widget.qpm == 90 and widget.audio == b"" and widget._esm.startswith("const ABCJS = ")
    if shutil.which("fluidsynth"):
        import soundfile

        heard = soundfile.info(io.BytesIO(sheet.LeadSheet.of(SONG).audio))
        assert heard.format == "MP3" and 11 < heard.duration < 14  # 6 bars at 120 bpm, and the release
    assert "MB of audio" in repr(widget) and len(repr(widget)) < 80  # never the MP3's bytes in a notebook


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="tempo"):
        sheet.LeadSheet.of(SONG, tempo_bpm=5, sound=False)
    with pytest.raises(TypeError, match="a Song or ABC text"):
        sheet.LeadSheet.of(42)
