"""Real audio from FluidSynth: loud enough, as long as the score at its tempo."""

from __future__ import annotations

import shutil
import wave

import numpy as np
import pytest

from aitunes_lib import audio, config, prep, render
from aitunes_lib.song import Song

needs_fluidsynth = pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="Debian fluidsynth not installed (make setup installs it)")


def read(path):
    with wave.open(str(path)) as f:
        data = np.frombuffer(f.readframes(f.getnframes()), dtype=np.int16)
        return data.astype(float) / 32768, f.getnframes() / f.getframerate()


@pytest.fixture(scope="module")
def song(song_path) -> Song:
    r = prep.process_file(song_path("Happy_Birthday_to_You"))
    return Song(r["title"], r["composer"], r["body"], r["meter"], r["abc_key"])


@needs_fluidsynth
def test_wav_is_loud_and_as_long_as_the_score(song, tmp_path):
    samples, seconds = read(audio.to_wav(song, 120, tmp_path / "a.wav"))
    expected = float(render.layout(song).length) * 60 / 120
    assert abs(seconds - expected) < 0.5
    assert np.sqrt(np.mean(samples**2)) > 0.01
    _, faster = read(audio.to_wav(song, 240, tmp_path / "b.wav"))
    assert abs(faster - expected / 2) < 0.5
    assert faster / seconds == pytest.approx(0.5, abs=0.03)


@needs_fluidsynth
def test_play_gives_a_notebook_player(song, tmp_path):
    player = audio.play(song, 120, tmp_path / "p.wav")
    assert player.data[:4] == b"RIFF"


def test_missing_soundfont_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "SOUNDFONT_PLACES", ())
    monkeypatch.setenv(config.ENV_SOUNDFONT, str(tmp_path / "missing.sf2"))
    with pytest.raises(audio.AudioError, match="apt-get install fluidsynth fluid-soundfont-gm"):
        audio.find_soundfont()


def test_soundfont_from_the_environment(monkeypatch, tmp_path):
    own = tmp_path / "mine.sf2"
    own.write_bytes(b"RIFF")
    monkeypatch.setenv(config.ENV_SOUNDFONT, str(own))
    assert audio.find_soundfont() == own


@needs_fluidsynth
def test_fluidsynth_says_nothing_in_the_notebook(song, tmp_path, capfd):
    """FluidSynth's copyright banner went to the process's own stdout, which ipykernel shows
    under every audio cell; it is kept out now (capfd reads the file descriptors themselves)."""
    capfd.readouterr()
    audio.to_wav(song, 120, tmp_path / "quiet.wav")
    said = capfd.readouterr()
    assert "FluidSynth" not in said.out + said.err and "Copyright" not in said.out + said.err
    print("still heard")  # the descriptors are given back
    assert capfd.readouterr().out == "still heard\n"


@needs_fluidsynth
def test_three_minutes_of_a_real_song_are_well_under_two_megabytes_of_mp3(song_path, tmp_path):
    """The player's audio (issue: no player for long songs): a real OpenEWLD song played over
    and over to 3 minutes is a mono MP3 under 2 MB, as long as the music, and not silent."""
    import soundfile

    r = prep.process_file(song_path("Jingle_Bells"))
    bars = [b for b in r["body"].replace("\n", " ").split("|") if b.strip()]
    repeat = -(-90 // len(bars))  # 90 bars of 4/4 at 120 bpm: 3 minutes
    long = Song("Three minutes", "x", "\n".join(" |".join((bars * repeat)[i:i + 4]) + " |" for i in range(0, 90, 4)))
    path = audio.to_mp3(long, 120, tmp_path / "long.mp3")
    heard = soundfile.info(str(path))
    assert heard.format == "MP3" and heard.channels == 1
    assert 175 < heard.duration < 190 and path.stat().st_size < 2_000_000
    samples, _ = soundfile.read(str(path), frames=heard.samplerate * 20)
    assert np.abs(samples).max() > 0.5  # the music is in it, as loud as the WAV's peak
    assert audio.play(long, 120, tmp_path / "player.mp3").filename.endswith(".mp3")


def test_sheet_music_engraves_from_any_thread(song):
    """Widget callbacks run on other threads than the one that loaded verovio."""
    import threading

    made = [render.sheet_music(song)]
    for _ in range(2):
        worker = threading.Thread(target=lambda: made.append(render.sheet_music(song)))
        worker.start()
        worker.join()
    assert len(made) == 3 and all("<svg" in svg and svg.count("<g") > 50 for svg in made)
