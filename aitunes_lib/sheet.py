"""The interactive lead sheet: a song drawn in the browser, with its player, a cursor that
follows the playback, and click-a-note-to-hear-it.

```python
sheet.LeadSheet.of(best)          # in a notebook cell: the sheet and its player
```

abcjs (bundled in `aitunes_lib/static`, MIT licence, no CDN) engraves the ABC in the browser;
the sound is the project's own (`audio.to_mp3`: FluidSynth with the chords under the melody),
so nothing is fetched and it works offline. An anywidget: JupyterLab, Jupyter Notebook, VS Code
and Colab show it. `render.sheet_music` (verovio's SVG) stays for export and as the static view.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
import tempfile
from pathlib import Path

import anywidget
import traitlets

from aitunes_lib import audio, render
from aitunes_lib.song import Song

ABCJS_VERSION = "6.7.2"  # aitunes_lib/static/abcjs-basic-min.js: `make vendor` fetches it again from npm


@functools.lru_cache(maxsize=1)
def _module() -> str:
    """The widget's JavaScript: the bundled abcjs (a UMD build, given a `module` to fill) then ours."""
    static = importlib.resources.files("aitunes_lib") / "static"
    library = (static / "abcjs-basic-min.js").read_text(encoding="utf-8")
    ours = (static / "lead_sheet.js").read_text(encoding="utf-8")
    return ("const ABCJS = (function () { const module = { exports: {} }; const exports = module.exports;\n"
            + library + "\n; return module.exports; })();\n" + ours)


class LeadSheet(anywidget.AnyWidget):
    """A song's lead sheet that plays: `abc` is drawn, `audio` (MP3 bytes) plays at `qpm`;
    the browser reports the event under the cursor (`cursor`) and the last one clicked (`clicked`)."""

    _esm = traitlets.Unicode(_module()).tag(sync=True)
    abc = traitlets.Unicode("").tag(sync=True)
    qpm = traitlets.Int(120).tag(sync=True)
    audio = traitlets.Bytes(b"").tag(sync=True)
    audio_type = traitlets.Unicode("audio/mpeg").tag(sync=True)
    cursor = traitlets.Int(-1).tag(sync=True)  # set by the browser: the note or rest sounding now (-1: none yet)
    clicked = traitlets.Int(-1).tag(sync=True)  # set by the browser: the last note clicked
    events = traitlets.Int(0).tag(sync=True)  # set by the browser: how many notes and rests it timed

    @classmethod
    def of(cls, song: "Song | str", tempo_bpm: int = 120, audio_path: str | Path | None = None,
           sound: bool = True) -> "LeadSheet":
        """The sheet of a song, with its compact audio (made at `audio_path`, or in a scratch
        folder); `sound=False` (or no FluidSynth here) gives the sheet alone."""
        render.check_tempo(tempo_bpm)
        tune = song if isinstance(song, Song) else Song.from_abc(song) if isinstance(song, str) else None
        if tune is None:
            raise TypeError("LeadSheet.of takes a Song or ABC text")
        sheet = cls()
        sheet.show(tune, tempo_bpm)
        if sound:
            sheet.audio = compact_audio(tune, tempo_bpm, audio_path)
        return sheet

    def show(self, song: Song, tempo_bpm: float = 120) -> None:
        """Draw this song (four bars a line) at this tempo; the sound is set apart (`audio`, `play_from`)."""
        self.abc, self.qpm = song.abc.replace(song.body, four_a_line(song.body)), int(round(tempo_bpm))

    def __repr__(self) -> str:  # (ipywidgets' own repr would print the MP3's bytes into the notebook)
        title = next((line[2:] for line in self.abc.splitlines() if line.startswith("T:")), "")
        return f"LeadSheet({title!r}, {len(self.audio) / 1e6:.2f} MB of audio)"

    def play_from(self, path: str | Path) -> None:
        """Use an MP3 already made (`audio.to_mp3`) as the sound."""
        self.audio = Path(path).read_bytes()


BARS_A_LINE = 4  # a lead sheet's phrase: four bars a line, whatever line breaks the model wrote
_BAR_LINE = re.compile(r"(:*\|[|\]]?:*)")


def four_a_line(body: str, bars: int = BARS_A_LINE) -> str:
    r"""An ABC body laid out `bars` bars a line (abcjs follows the text's lines; the model's are uneven).

    >>> four_a_line('"C"c4 | d4 |\n e4 | f4 | g4 |:a4:|')
    '"C"c4 | d4 | e4 | f4 |\ng4 |: a4 :|\n'
    """
    pieces = _BAR_LINE.split(" ".join(body.splitlines()))
    lines, line, count = [], "", 0
    for i, piece in enumerate(pieces):
        if i % 2 == 0:  # the notes between two bar lines
            line += f" {piece.strip()} " if piece.strip() else ""
            continue
        line += piece
        count += 1
        if count % bars == 0:
            lines.append(line.strip())
            line = ""
    lines.append(line.strip())
    return "\n".join(part for part in lines if part) + "\n"


def compact_audio(song: Song, tempo_bpm: float = 120, path: str | Path | None = None) -> bytes:
    """The song's MP3 bytes (kept at `path` when given); b"" where no audio can be made here
    (the sheet still draws, and the message says what to install)."""
    try:
        if path is not None:
            return audio.to_mp3(song, tempo_bpm, path).read_bytes()
        with tempfile.TemporaryDirectory() as scratch:
            return audio.to_mp3(song, tempo_bpm, Path(scratch) / "song.mp3").read_bytes()
    except audio.AudioError as error:
        import warnings

        warnings.warn(f"the sheet has no sound: {error}", stacklevel=2)
        return b""
