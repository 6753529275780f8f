"""The studio, driven through its methods (no browser): the local backend on a tiny model
trained here, and the OpenAI backend on the stand-in."""

from __future__ import annotations

import dataclasses
import json
import shutil

import matplotlib

matplotlib.use("Agg")
import pytest

from aitunes_lib.backends.openai_backend import OpenAIBackend, OpenAIConfig
from aitunes_lib import tasks
from aitunes_lib.sheet import four_a_line
from aitunes_lib.studio import Studio
from openai_standin import StandIn

GOOD = " `C`E G c2 | `F`A c f c | `G7`B d g2 | `C`c4 | $ <end>"


def studio_on(standin, tmp_path):
    def factory(model):
        backend = OpenAIBackend(model=model, settings=OpenAIConfig(base_url=standin.base_url, max_retries=0),
                                api_key="sk-studio-test", report=lambda line: None)
        return backend

    return Studio({"openai": factory}, folder=tmp_path, model="ft:gpt-4o-mini:standin:x", titles=["Blue Moon", "Tea for Two"])


def test_generate_rank_select_listen_download(tmp_path):
    with StandIn(chat_replies=[GOOD.removesuffix(" $ <end>")]) as standin:
        studio = studio_on(standin, tmp_path)
        first = (studio.title.value, studio.band.value)
        assert all(first) and studio.invent() != first
        studio.n.value, studio.temperature.value = 3, 1.0
        table = studio.generate()
    assert len(table) == 3 and table["valid"].all()
    assert "<table" in studio.results.value and "NDM" in studio.results.value
    assert "cannot enforce the form" in studio.status.value  # the API's limit, said on screen
    assert studio.selected == table.iloc[0]["candidate"]  # the best is shown at once
    shown = studio.select(1)
    assert "error" not in shown
    assert shown["png"][:4] == b"\x89PNG" and "<svg" in shown["svg"]
    assert sorted(shown["files"]) == ["abc", "mid", "musicxml"] and all(p.is_file() for p in shown["files"].values())
    if shutil.which("fluidsynth"):
        assert shown["audio"].suffix == ".mp3" and studio.sheet.audio == shown["audio"].read_bytes()
    assert studio.abc_text.value.startswith("X:1\nT:")
    assert "download" in studio.links.value
    # each link carries its file (a server path gave 404 in JupyterLab): decode it and compare
    import base64
    import re

    links = dict((name, data) for data, name in re.findall(r'href="data:[^;]+;base64,([^"]+)" download="([^"]+)"', studio.links.value))
    assert sorted(links) == sorted(p.name for p in shown["files"].values())
    assert all(base64.b64decode(links[p.name]) == p.read_bytes() for p in shown["files"].values())
    assert str(tmp_path) not in studio.links.value


def test_a_candidate_that_does_not_parse_shows_its_error(tmp_path):
    with StandIn(chat_replies=[" `C`C D (0E F |"]) as standin:
        studio = studio_on(standin, tmp_path)
        studio.n.value = 2
        table = studio.generate()
    assert not table["valid"].any()
    assert "does not parse" in table.iloc[0]["reason"]
    shown = studio.select(0)  # no exception
    assert "error" in shown and "cannot show candidate #0" in studio.engraved.value


def test_a_backend_error_is_shown_not_raised(tmp_path):
    with StandIn() as standin:
        standin.always = 401
        studio = studio_on(standin, tmp_path)
        assert studio.generate() is None
    assert "refused the key (401)" in studio.status.value


def test_the_widget_assembles():
    import ipywidgets

    with pytest.raises(ValueError, match="at least one backend"):
        Studio({})
    studio = Studio({"none": lambda model: None})
    assert isinstance(studio.widget, ipywidgets.VBox)


def test_the_local_backend_on_a_tiny_model(tmp_path, few_texts):
    """The issue's check: a real (tiny) local model generates, the table fills, a candidate plays."""
    from aitunes_lib.backends import local
    from aitunes_lib.studio import default_backends

    config = local.TrainConfig(block_size=128, batch_size=4, max_steps=30, warmup_steps=5, learning_rate=2e-3, eval_every=10)
    local.train(few_texts, tmp_path / "model", config, progress=False)
    studio = Studio(default_backends(), folder=tmp_path / "studio", model=str(tmp_path / "model"))
    assert studio.backend.value == "local"
    studio.n.value, studio.temperature.value = 3, 0.9
    table = studio.generate()
    assert table is not None, studio.status.value
    assert len(table) == 3 and "<table" in studio.results.value
    valid = table[table["valid"]]
    assert len(valid) >= 1 and (valid["rhythm_ok"] == 1.0).all()  # the meter rules are on
    shown = studio.select(int(valid.iloc[0]["candidate"]))
    assert "error" not in shown, shown
    assert shown["png"][:4] == b"\x89PNG" and "<svg" in shown["svg"] and shown["files"]["mid"].stat().st_size > 0
    if shutil.which("fluidsynth"):
        assert shown["audio"].stat().st_size > 1000
    # a song-only model is not asked to continue: one line says what it learnt
    studio.set_mode("continue")
    assert studio.task_input.value == tasks.get("phrase").example and studio.task_input.layout.display is None
    assert studio.generate() is None and "this model learnt song only" in studio.status.value
    # a model that learnt the three tasks continues the example's opening bars, then writes over the example chart
    records = [{"prompt": t[: t.index("<song>") + 6], "completion": t[t.index("<song>") + 6:]} for t in few_texts]
    mixed = [r["prompt"] + r["completion"] for r in tasks.training_records(records)]
    local.train(mixed, tmp_path / "tasks_model", dataclasses.replace(config, block_size=256), progress=False)
    studio.model.value = str(tmp_path / "tasks_model")
    table = studio.generate()
    assert table is not None, studio.status.value
    assert table["task_kept"].all() and "join_interval" in table and "task_kept" in studio.results.value
    assert all(c.body.startswith('"C"E2 G2 | "F"A2 c2 | "G7"B2 d2 | "C"c4 |') for c in studio.candidates)
    studio.mode.value = "over chords"  # as a click would
    assert studio.task_input.value == tasks.get("chords").example
    table = studio.generate()
    assert table is not None and table["task_kept"].all() and table["chord_fit"].notna().all()
    studio.task_input.value = '"C"x4 | "Blorp"x4 |'
    assert studio.generate() is None and "unknown chord symbol &#x27;Blorp&#x27;" in studio.status.value
    studio.set_mode("song")
    assert studio.task_input.layout.display == "none"
    studio.model.value = str(tmp_path / "missing")
    assert studio.generate() is None and "not a local model folder" in studio.status.value


def test_the_notebook_knobs_preload_and_progress(tmp_path):
    """The studio takes the notebook's knobs, loads the model when built (not in the first click),
    disables Generate and shows a progress bar while it works, and says where the time went."""
    from aitunes_lib.studio import STAGES

    seen: list[tuple] = []
    with StandIn(chat_replies=[GOOD.removesuffix(" $ <end>")]) as standin:
        plain = studio_on(standin, tmp_path).backends["openai"]

        def factory(model):
            seen.append((studio_ref[0].generate_button.disabled, studio_ref[0].progress.layout.visibility)
                        if studio_ref else ("built",))
            return plain(model)

        studio_ref: list[Studio] = []
        studio = Studio({"openai": factory}, folder=tmp_path, model="ft:gpt-4o-mini:standin:x", n=3, temperature=1.1,
                        tempo=90, seed=7)
        studio_ref.append(studio)
        assert seen == [("built",)] and studio.status.value.startswith("ready")  # preloaded
        assert (studio.n.value, studio.temperature.value, studio.tempo.value, studio.sampling_seed) == (3, 1.1, 90, 7)
        assert studio.temperature.style.description_width == "initial"  # "Temperature" is not cut off
        table = studio.generate()
    assert len(table) == 3
    assert seen[1] == (True, "visible")  # while it worked
    assert not studio.generate_button.disabled and studio.progress.layout.visibility == "hidden"  # after
    assert list(studio.timings) == list(STAGES) and all(t >= 0 for t in studio.timings.values())
    assert " s <small>(loading the model " in studio.status.value
    with pytest.raises(ValueError, match="temperature"):
        Studio({"openai": factory}, temperature=5)
    with pytest.raises(ValueError, match="tempo"):
        Studio({"openai": factory}, tempo=0)


def test_a_model_that_cannot_load_is_said_when_the_studio_is_built(tmp_path):
    def broken(model):
        raise FileNotFoundError(f"{model}: not a local model folder")

    studio = Studio({"local": broken}, folder=tmp_path, model="nowhere")
    assert "could not load the model" in studio.status.value and "nowhere" in studio.status.value
    assert studio.generate() is None and not studio.generate_button.disabled


def test_few_shot_in_the_studio(tmp_path, song_path, monkeypatch):
    """The studio's `openai few-shot` backend: a current chat model shown real songs from prep's file."""
    from aitunes_lib import dataset, prep
    from aitunes_lib.song import Song
    from aitunes_lib.studio import default_backends

    records = []
    for stem in ("Sleepy_Time_Gal", "Jingle_Bells", "Tell_Me_Why"):
        r = prep.process_file(song_path(stem))
        records.append(dataset.seed_record(Song(r["title"], r["composer"], r["body"], r["meter"], r["abc_key"])))
    songs = dataset.write_jsonl(records, tmp_path / "songs.jsonl")
    assert "openai few-shot" not in default_backends()
    reply = " ".join([GOOD.removesuffix(" $ <end>")] * 8)
    with StandIn(chat_replies=[reply]) as standin:
        monkeypatch.setenv("OPENAI_BASE_URL", standin.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-studio-test")
        studio = Studio(default_backends(songs, k=2), folder=tmp_path / "studio", preload=False)
        studio.backend.value, studio.n.value = "openai few-shot", 2
        table = studio.generate()
        chat = [r for r in standin.requests if r["path"] == "/v1/chat/completions"]
    assert table is not None, studio.status.value
    assert len(table) == 2 and table["valid"].all()
    assert len(json.loads(chat[0]["body"])["messages"]) == 1 + 2 * 2 + 1 and "few-shot asks for it in words" in studio.status.value


def test_in_colab_the_download_button_sends_the_files(tmp_path, colab_downloads):
    sent = colab_downloads
    with StandIn(chat_replies=[GOOD.removesuffix(" $ <end>")]) as standin:
        studio = studio_on(standin, tmp_path)
        studio.n.value = 2
        studio.generate()
    assert studio.colab and studio.download_button.layout.display is None
    assert "data:" not in studio.links.value and studio.batch.stem(studio.selected) in studio.links.value  # named, not dead links
    assert sent == []  # nothing is sent until the button is clicked
    studio.download_button.click()
    assert "sent to your browser" in studio.links.value
    assert sorted(sent) == sorted(str(p) for p in studio.downloads().values())


def test_outside_colab_there_is_no_download_button(tmp_path):
    with StandIn() as standin:
        studio = studio_on(standin, tmp_path)
    assert not studio.colab and studio.download_button.layout.display == "none"


def test_generate_twice_from_callback_threads_keeps_each_batch(tmp_path):
    """Widget callbacks run on ipykernel's other threads: two Generate clicks there, each one
    engraved (verovio from a thread that did not load it), played, filed in its own folder,
    kept in the history; favourites from both batches download together."""
    import threading
    import zipfile

    with StandIn(chat_replies=[GOOD.removesuffix(" $ <end>")]) as standin:
        studio = studio_on(standin, tmp_path)
        studio.n.value = 2
        tables = []
        for title in ("Blue Moon", "Blue Moon"):
            studio.title.value = title
            click = threading.Thread(target=lambda: tables.append(studio.generate()))
            click.start()
            click.join()
            assert tables[-1] is not None, studio.status.value
            assert "<svg" in studio.engraved.value and "cannot show" not in studio.engraved.value
            assert studio.sheet.abc.startswith("X:1") and studio.sheet.qpm == studio.tempo.value
            assert studio.sheet.abc.endswith(four_a_line(studio.candidates[studio.selected].body))  # a phrase a line
            studio.star.value = True  # as a click would
    first, second = studio.batches
    assert first.folder != second.folder and first.folder.parent == second.folder.parent == tmp_path
    assert first.folder.name.startswith("01_blue_moon_seed") and second.folder.name.startswith("02_blue_moon_seed")
    assert sorted(p.suffix for p in first.folder.iterdir() if p.suffix != ".mp3") == [".abc", ".mid", ".musicxml"]
    assert [label for label, _ in studio.history.options][0].startswith("#2 ")  # the newest first
    studio.history.value = 1  # back to the first batch, as the picker would
    assert studio.candidates is first.candidates and studio.star.value  # its starred best, starred still
    assert studio.favourites == [(1, first.table.iloc[0]["candidate"]), (2, second.table.iloc[0]["candidate"])]
    bundle = studio.download_favourites()
    with zipfile.ZipFile(bundle) as z:
        names = z.namelist()
    assert len(names) == 6 and {n.split("/")[0] for n in names} == {first.folder.name, second.folder.name}
    if shutil.which("fluidsynth"):
        import io

        import soundfile

        heard = soundfile.info(io.BytesIO(studio.sheet.audio))  # the player's bytes are a real MP3 of the song
        assert heard.format == "MP3" and heard.channels == 1 and heard.duration > 4


def test_key_and_meter_choices(tmp_path):
    with StandIn(chat_replies=[GOOD.removesuffix(" $ <end>")]) as standin:
        studio = studio_on(standin, tmp_path)
        studio.n.value = 1
        studio.meter.value = "3/4"  # the OpenAI models write 4/4: refused in a line, before any request
        assert studio.generate() is None and "for 3/4, use the local backend" in studio.status.value
        studio.meter.value, studio.scale.value = "4/4", "minor"
        assert studio.generate() is None and "for minor, use the local backend" in studio.status.value
        studio.scale.value = "major"
        assert not standin.requests
        studio.meter.value = "4/4"
        assert studio.generate() is not None
    studio.key.value = "F"  # the candidate on screen moves (as the dropdown's observer does)
    assert studio.sheet.abc.splitlines()[5] == "K:F" and '"F"A c f2' in studio.sheet.abc
    files = studio.downloads()
    assert "K:F" in files["abc"].read_text()
