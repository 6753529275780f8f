"""Hear a song: WAV through FluidSynth and a General MIDI soundfont, and a notebook player."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from aitunes_lib import config, render

if TYPE_CHECKING:
    import IPython.display
    import music21

    from aitunes_lib.song import Song

INSTALL = (
    "install FluidSynth and a General MIDI soundfont: `apt-get install fluidsynth fluid-soundfont-gm` "
    "(in Colab: `!apt-get install -y fluidsynth fluid-soundfont-gm`), or set AITUNES_SOUNDFONT to an .sf2 file"
)


class AudioError(RuntimeError):
    """Audio cannot be made here; the message says exactly what to install."""


def find_soundfont() -> Path:
    """`$AITUNES_SOUNDFONT`, then Debian's fluid-soundfont-gm, then common Colab places."""
    for candidate in config.soundfont_candidates():
        if candidate.is_file():
            return candidate
    raise AudioError(f"No General MIDI soundfont found: {INSTALL}")


def to_wav(
    song: "Song | str | Path | music21.stream.Score", tempo_bpm: float = 120, path: str | Path = "song.wav",
    sample_rate: int = 44100,
) -> Path:
    """Render a song (or a `.mid` file given as a `Path`) to WAV with FluidSynth, via midi2audio."""
    from midi2audio import FluidSynth

    if shutil.which("fluidsynth") is None:
        raise AudioError(f"FluidSynth is not installed: {INSTALL}")
    soundfont = find_soundfont()
    path = Path(path)
    midi = Path(song) if isinstance(song, Path) and song.suffix == ".mid" else render.to_midi(song, tempo_bpm, path.with_suffix(".mid"))
    path.unlink(missing_ok=True)
    FluidSynth(sound_font=str(soundfont), sample_rate=sample_rate).midi_to_audio(str(midi), str(path))
    if not path.is_file() or path.stat().st_size <= 44:
        raise AudioError(f"FluidSynth made no audio from {midi} with {soundfont}")
    import mido

    _finish(path, mido.MidiFile(midi).length + RELEASE)
    return path


RELEASE = 0.25  # seconds kept after the last note, faded out (FluidSynth renders about 2 s more)
PEAK = 0.9  # FluidSynth's default gain is quiet; the peak is raised to this


def _finish(path: Path, seconds: float) -> None:
    """Cut a WAV to `seconds`, fade the last `RELEASE` seconds (no click), normalise the peak."""
    import wave

    import numpy as np

    with wave.open(str(path), "rb") as f:
        params = f.getparams()
        frames = np.frombuffer(f.readframes(f.getnframes()), dtype=np.int16).reshape(-1, params.nchannels)
    keep = min(len(frames), int(seconds * params.framerate))
    fade = min(keep, int(RELEASE * params.framerate))
    out = frames[:keep].astype(np.float64)
    out[keep - fade :] *= np.linspace(1.0, 0.0, fade)[:, None]
    peak = np.abs(out).max()
    if peak > 0:
        out *= PEAK * 32767 / peak
    with wave.open(str(path), "wb") as f:
        f.setparams(params)
        f.writeframes(out.astype(np.int16).tobytes())


def play(song: "Song | str | music21.stream.Score", tempo_bpm: float = 120, path: str | Path = "song.wav") -> "IPython.display.Audio":
    """An audio player for the notebook, with the chords under the melody."""
    from IPython.display import Audio

    return Audio(filename=str(to_wav(song, tempo_bpm, path)))
