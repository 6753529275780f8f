"""Hear a song: WAV through FluidSynth and a General MIDI soundfont, compact MP3 for players, and a notebook player."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from aitunes_lib import config, files, render

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
    """Render a song (or a `.mid` file given as a `Path`) to WAV with FluidSynth, via midi2audio.

    The tempo must be in `render.TEMPO_RANGE`; a song longer than `MAX_SECONDS` is refused with its
    length and the WAV's size; a song without a note gives a silent WAV (FluidSynth's own
    noise is never raised to full scale).
    """
    import mido
    from midi2audio import FluidSynth

    render.check_tempo(tempo_bpm)
    if shutil.which("fluidsynth") is None:
        raise AudioError(f"FluidSynth is not installed: {INSTALL}")
    soundfont = find_soundfont()
    path = Path(path)
    midi = Path(song) if isinstance(song, Path) and song.suffix == ".mid" else render.to_midi(song, tempo_bpm, path.with_suffix(".mid"))
    seconds = mido.MidiFile(midi).length + RELEASE
    if seconds > MAX_SECONDS:
        megabytes = seconds * sample_rate * 4 / 1e6  # 16-bit stereo
        raise AudioError(f"the song lasts {seconds / 60:.0f} minutes at {tempo_bpm:g} bpm (a WAV of about {megabytes:,.0f} MB); "
                         f"audio is made for up to {MAX_SECONDS // 60} minutes: play a part of it, or raise the tempo")
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:  # FluidSynth's raw render, never kept
        raw = Path(scratch) / "raw.wav"
        with _quiet(Path(scratch) / "fluidsynth.log") as log:  # its banner is no news to a student
            FluidSynth(sound_font=str(soundfont), sample_rate=sample_rate).midi_to_audio(str(midi), str(raw))
        if not raw.is_file() or raw.stat().st_size <= 44:
            said = " ".join(log.read_text(errors="replace").split())[-300:]
            raise AudioError(f"FluidSynth made no audio from {midi} with {soundfont}" + (f": {said}" if said else ""))
        with files.replacing(path) as tmp:
            _finish(raw, tmp, seconds)
    return path


@contextlib.contextmanager
def _quiet(log: Path) -> Iterator[Path]:
    """Send what child processes write to stdout and stderr into `log` (ipykernel shows the
    process's own file descriptors in the notebook, so redirecting `sys.stdout` is not enough)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(log, "wb") as sink:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            try:
                yield log
            finally:
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
    finally:
        for fd in saved:
            os.close(fd)


RELEASE = 0.25  # seconds kept after the last note, faded out (FluidSynth renders about 2 s more)
PEAK = 0.9  # FluidSynth's default gain is quiet; the peak is raised to this
NOISE_FLOOR = 64  # of 32767 (about -54 dBFS): below this the render is silence (FluidSynth dithers), never raised
MAX_SECONDS = 20 * 60  # a WAV of about 210 MB at 44.1 kHz
BLOCK = 1 << 20  # frames processed at a time: memory stays flat however long the song


def _finish(source: Path, target: Path, seconds: float) -> None:
    """Cut a WAV to `seconds`, fade the last `RELEASE` seconds (no click), and raise the peak to
    `PEAK` unless the render is silence; block by block, in float32."""
    import wave

    import numpy as np

    with wave.open(str(source), "rb") as f:
        params = f.getparams()
        keep = min(params.nframes, int(seconds * params.framerate))
        peak = 0
        for start in range(0, keep, BLOCK):
            block = np.frombuffer(f.readframes(min(BLOCK, keep - start)), dtype=np.int16)
            peak = max(peak, int(np.abs(block.astype(np.int32)).max(initial=0)))
        gain = PEAK * 32767 / peak if peak > NOISE_FLOOR else 0.0  # silence stays silent
        fade = min(keep, int(RELEASE * params.framerate))
        f.rewind()
        with wave.open(str(target), "wb") as out:
            out.setparams(params)
            for start in range(0, keep, BLOCK):
                count = min(BLOCK, keep - start)
                block = np.frombuffer(f.readframes(count), dtype=np.int16).reshape(-1, params.nchannels).astype(np.float32) * gain
                ramp = np.clip((keep - np.arange(start, start + count, dtype=np.float32)) / max(fade, 1), 0.0, 1.0)
                block *= ramp[:, None]
                out.writeframes(np.clip(block, -32768, 32767).astype(np.int16).tobytes())


COMPACT_RATE = 22050  # the compact audio's sample rate (mono MP3): a 3-minute song is about 1 MB


def to_mp3(song: "Song | str | Path | music21.stream.Score", tempo_bpm: float = 120, path: str | Path = "song.mp3") -> Path:
    """Compact audio that every browser plays and any notebook keeps small: mono MP3 at
    `COMPACT_RATE` (libsndfile's encoder, through soundfile), from the same FluidSynth render as
    `to_wav`; a 3-minute song is about 1 MB where its CD-quality WAV is about 32 MB."""
    import numpy as np
    import soundfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        wav = to_wav(song, tempo_bpm, Path(scratch) / "full.wav", sample_rate=COMPACT_RATE)
        with soundfile.SoundFile(str(wav)) as source, files.replacing(path) as tmp:
            with soundfile.SoundFile(str(tmp), "w", samplerate=source.samplerate, channels=1, format="MP3",
                                     subtype="MPEG_LAYER_III") as out:
                for block in source.blocks(blocksize=BLOCK // 16, dtype="float32", always_2d=True):
                    out.write(np.ascontiguousarray(block.mean(axis=1)))
    return path


def play(song: "Song | str | music21.stream.Score", tempo_bpm: float = 120, path: str | Path = "song.mp3") -> "IPython.display.Audio":
    """An audio player for the notebook, with the chords under the melody: compact MP3 (a `.wav`
    path gives CD-quality WAV instead, about 30 times larger)."""
    from IPython.display import Audio

    path = Path(path)
    made = to_wav(song, tempo_bpm, path) if path.suffix.lower() == ".wav" else to_mp3(song, tempo_bpm, path.with_suffix(".mp3"))
    return Audio(filename=str(made))
