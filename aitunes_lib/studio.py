"""The studio: the whole loop in one notebook cell (ipywidgets).

Name a song, pick a backend and model, generate candidates, rank them, then look at and
listen to the one you choose, and download it. The mode switch lists every registered task: a whole song, a
continuation of your opening bars, a melody over your chord chart (ABC in the box), … The widget logic lives in plain methods
(`invent`, `generate`, `select`, `downloads`) that tests call without a browser.
"""

from __future__ import annotations

import html
import io
import time
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from aitunes_lib import abc, config, metrics, naming, render, tasks
from aitunes_lib.backends.base import Backend
from aitunes_lib.backends.picker import BackendFactory, default_backends  # (notebooks import them from here)
from aitunes_lib.batches import Batch, bundle, slug
from aitunes_lib.generate import GenerateConfig, Request, SongShape, generate
from aitunes_lib.song import Song



STAGES = ("loading the model", "sampling", "scoring", "showing the best")  # the progress bar's steps, in order
SHOWN = ("candidate", "valid", "listener", "realism", "NDM", "form", "bars", "repeated_bars", "ends_on_tonic", "chord_fit",
         "rhythm_ok", "join_interval", "same_key", "task_kept", "reason")  # the table's columns, in order


METERS = ("4/4", "3/4", "6/8")  # the song mode writes in any; the base learnt them all, a fine-tuned model mostly 4/4
MAX_TEMPERATURE = 2.0


def modes() -> dict[str, str]:
    """The mode switch's labels → task names: every registered task (song, continue, over chords, …)."""
    return {(tasks.get(name).label or name): name for name in tasks.names()}


class Studio:
    """An ipywidgets front end over the stages; each button calls one method."""

    def __init__(
        self,
        backends: Mapping[str, BackendFactory],
        stats: Mapping[str, Mapping[str, float]] = metrics.ARTICLE_STATS,
        training: metrics.TrainingBars | None = None,
        titles: Sequence[str] = (),
        reference: Mapping[str, Sequence[float]] | None = None,
        folder: str | Path = "studio",
        model: str = "",
        n: int = 5,
        temperature: float = GenerateConfig.temperature,
        tempo: int = 120,
        seed: int | None = None,
        preload: bool = True,
    ):
        import ipywidgets as w

        if not backends:
            raise ValueError("the studio needs at least one backend")
        GenerateConfig(n=n, temperature=temperature, seed=seed)  # the notebook's knobs, checked before any widget
        render.check_tempo(tempo)
        self.backends, self.stats, self.training, self.titles = dict(backends), stats, training, list(titles)
        self.reference = reference  # the real songs' feature values: a realism column (ranked by it where no likelihood is known)
        self.folder = Path(folder)
        self.seed = 0  # the name generator's: each Invent click gives the next pair
        self.sampling_seed = seed  # the notebook's seed for sampling (None: new candidates every click)
        self.timings: dict[str, float] = {}  # the last click's seconds per stage (load, sample, score, show)
        self.candidates: list[Song] = []
        self.table: pd.DataFrame | None = None
        self.selected: int | None = None
        self.title = w.Text(description="Title")
        self.band = w.Text(description="Band")
        self.invent_button = w.Button(description="Invent", icon="magic")
        self.backend = w.Dropdown(options=list(self.backends), description="Backend")
        self.model = w.Text(value=model, description="Model")
        wide = {"description_width": "initial"}  # labels are never cut off
        self.temperature = w.FloatSlider(value=temperature, min=0.0, max=max(MAX_TEMPERATURE, temperature), step=0.05,
                                         description="Temperature", style=wide)
        self.n = w.BoundedIntText(value=n, min=1, max=max(20, n), description="Candidates", style=wide,
                                  layout=w.Layout(width="12em"))
        self.generate_button = w.Button(description="Generate", button_style="primary", icon="music")
        self.progress = w.IntProgress(value=0, min=0, max=len(STAGES), description="", bar_style="info",
                                      layout=w.Layout(visibility="hidden"))
        self.mode = w.ToggleButtons(options=list(modes()), value=tasks.get("song").label, description="Mode")
        self.task_input = w.Textarea(placeholder="ABC: opening bars (continue) or a chord chart (over chords)",
                                     layout=w.Layout(width="100%", height="5em", display="none"))
        self.mode.observe(lambda change: self.set_mode(change["new"]), names="value")
        self.status = w.HTML()
        self.results = w.HTML()
        self.choice = w.Dropdown(options=[], description="Candidate")
        self.tempo = w.IntSlider(value=tempo, min=min(60, tempo), max=max(240, tempo), step=5, description="Tempo (bpm)",
                                 style=wide)
        self.key = w.Dropdown(options=list(abc.KEYS), value="C", description="Key", layout=w.Layout(width="11em"))
        self.meter = w.Dropdown(options=list(METERS), value="4/4", description="Meter", layout=w.Layout(width="13em"))
        self.scale = w.Dropdown(options=["major", "minor"], value="major", description="Scale", layout=w.Layout(width="13em"))
        self.key.observe(lambda change: self.selected is not None and self.select(self.selected), names="value")
        from aitunes_lib.sheet import LeadSheet

        self.roll, self.sheet, self.engraved = w.Output(), LeadSheet(), w.HTML()
        self.print_view = w.Accordion(children=[self.engraved], titles=("Engraved sheet (verovio): the print view",),
                                      selected_index=None)
        self.batches: list[Batch] = []
        self.favourites: list[tuple[int, int]] = []  # (batch number, candidate)
        self.history = w.Dropdown(options=[], description="Batch", layout=w.Layout(width="34em"))
        self.history.observe(lambda change: not self._filling and change["new"] is not None and self.show_batch(change["new"]),
                             names="value")
        self.star = w.ToggleButton(value=False, description="Favourite", icon="star", tooltip="keep this candidate")
        self.star.observe(lambda change: not self._filling and self.favourite(change["new"]), names="value")
        self.favourites_list = w.HTML()
        self.favourites_button = w.Button(description="Download favourites", icon="download")
        self.favourites_button.on_click(lambda _: self.download_favourites())
        self.abc_text = w.Textarea(layout=w.Layout(width="100%", height="10em"))
        self.links = w.HTML()
        # Colab's output frames do not follow download links: there a button sends the files instead
        self.colab = config.in_colab()
        self.download_button = w.Button(description="Download", icon="download",
                                        layout=w.Layout(display=None if self.colab else "none"))
        self.download_button.on_click(lambda _: self.download())
        self.invent_button.on_click(lambda _: self.invent())
        self.generate_button.on_click(lambda _: self.generate())
        self._filling = False
        self.choice.observe(lambda change: not self._filling and change["new"] is not None and self.select(change["new"]),
                            names="value")
        self.tempo.observe(lambda change: self.selected is not None and self.select(self.selected), names="value")
        self.invent()
        if preload:
            self.load()

    # ------------------------------------------------------------------ the loop, as methods

    def invent(self) -> tuple[str, str]:
        """A new title and band name (offline, seeded: each click gives the next pair)."""
        self.seed += 1
        title, band = naming.invent(1, seed=self.seed, titles=self.titles)[0]
        self.title.value, self.band.value = title, band
        return title, band

    def set_mode(self, mode: str) -> None:
        """Switch the task (song, continue, over chords, …); the ABC box shows the task's example to edit."""
        labels = modes()
        if mode not in labels:
            mode = next((label for label, name in labels.items() if name == mode), mode)
        if mode not in labels:
            raise ValueError(f"unknown mode {mode!r}: choose one of {', '.join(labels)}")
        if self.mode.options != tuple(labels):
            self.mode.options = list(labels)  # a task registered after the studio was built
        if self.mode.value != mode:
            self.mode.value = mode  # comes back here through the observer
            return
        task = tasks.get(labels[mode])
        examples = {tasks.get(name).example for name in labels.values()}
        if task.example and (not self.task_input.value.strip() or self.task_input.value in examples):
            self.task_input.value = task.example
        self.task_input.placeholder = task.input_help
        self.task_input.layout.display = None if task.example else "none"

    def load(self) -> Backend | None:
        """The chosen backend with its model, loaded now (the studio does this when it is built, so
        that the first Generate click does not wait for it); an error goes on screen."""
        self.status.value = f"loading {html.escape(self.backend.value)} {html.escape(self.model.value or '(default model)')}…"
        try:
            backend = self.backends[self.backend.value](self.model.value)
        except Exception as error:  # noqa: BLE001 - the message belongs on screen
            self.status.value = f"<b>could not load the model:</b> {html.escape(str(error))}"
            return None
        _warm_up()
        self.status.value = "ready: name a song and click Generate"
        return backend

    def generate(self) -> pd.DataFrame | None:
        """Generate and rank candidates in the chosen mode; errors (bad ABC too) are shown, not raised.
        The button is disabled and a progress bar shows the stage while it works."""
        self.generate_button.disabled = True
        self.progress.layout.visibility = "visible"
        try:
            return self._generate()
        finally:
            self.generate_button.disabled = False
            self.progress.layout.visibility = "hidden"

    def _stage(self, index: int, started: float) -> float:
        """Move the progress bar to stage `index`; record the previous stage's seconds."""
        now = time.perf_counter()
        if index:
            self.timings[STAGES[index - 1]] = now - started
        self.progress.value = index
        if index < len(STAGES):
            self.progress.description = STAGES[index]
        return now

    def _generate(self) -> pd.DataFrame | None:
        task = modes().get(self.mode.value, self.mode.value)
        self.timings = {}
        try:
            request = Request(self.title.value or "Untitled", self.band.value or "Unknown",
                              self.task_input.value if tasks.get(task).example else None)
            config = GenerateConfig(n=self.n.value, temperature=self.temperature.value, seed=self.sampling_seed,
                                    song=SongShape(meter=self.meter.value, mode=self.scale.value))
        except Exception as error:  # noqa: BLE001 - the message belongs on screen
            self.status.value = f"<b>could not generate:</b> {html.escape(str(error))}"
            return None
        if (self.meter.value, self.scale.value) != ("4/4", "major") and task != "song":
            self.status.value = (f"<b>{html.escape(self.meter.value)} {self.scale.value} is for the song mode:</b> the "
                                 f"{html.escape(self.mode.value)} mode writes in its input's meter and key; choose 4/4 major")
            return None
        self.status.value = f"generating {self.n.value} candidates ({self.mode.value}) with {html.escape(self.backend.value)}…"
        started = self._stage(0, 0.0)
        try:
            backend = self.backends[self.backend.value](self.model.value)
            learnt = getattr(backend, "tasks", None)
            if learnt is not None and task not in learnt:
                self.status.value = (f"<b>this model learnt {', '.join(learnt)} only:</b> choose that mode, or train with "
                                     f"the {html.escape(task)} task in its file (prep's tasks.jsonl, or --mix)")
                return None
            started = self._stage(1, started)
            with warnings.catch_warnings(record=True) as caught:  # shown on screen, not in the log
                warnings.simplefilter("always")
                songs = generate(backend, task, request, config)
        except Exception as error:  # noqa: BLE001 - the message belongs on screen
            self.status.value = f"<b>could not generate:</b> {html.escape(str(error))}"
            return None
        started = self._stage(2, started)
        table = metrics.rank(songs, self.stats, self.training, reference=self.reference)
        number = len(self.batches) + 1
        made = time.strftime("%H:%M:%S")
        folder = self.folder / f"{number:02d}_{slug(request.title)}_seed{config.seed if config.seed is not None else 'random'}_{made.replace(':', '')}"
        self.batches.append(Batch(number, request.title, request.composer, self.mode.value, config.seed, made, folder, list(songs), table))
        started = self._stage(3, started)
        self.show_batch(number)
        self._stage(4, started)
        spent = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in self.timings.items())
        notes = "".join(f"<br><i>{html.escape(str(w.message))}</i>" for w in caught)
        self.status.value = (f"{len(self.candidates)} candidates, best first, in {sum(self.timings.values()):.1f} s "
                             f"<small>({spent})</small>" + notes)
        return self.table

    @property
    def batch(self) -> Batch | None:
        """The batch on screen (the last one made, unless the history picker chose another)."""
        return self.batches[self.history.value - 1] if self.batches and self.history.value else None

    def show_batch(self, number: int) -> None:
        """Put a batch of this session back on screen: its table, its candidates, its best."""
        batch = self.batches[number - 1]
        self.candidates, self.table = batch.candidates, batch.table
        shown = self.table[[c for c in SHOWN if c in self.table]]
        self.results.value = shown.to_html(index=False, float_format=lambda v: f"{v:.3f}", na_rep="–")
        score = next((c for c in ("listener", "realism", "NDM") if c in self.table), None)  # what the table is ordered by
        self._filling = True  # new options: the observers wait, so the best is drawn once
        try:
            self.history.options = [(b.label, b.number) for b in reversed(self.batches)]
            self.history.value = number
            self.choice.options = [(f"#{int(r.candidate)}  {score} {getattr(r, score):.2f}" if score and r.valid and pd.notna(getattr(r, score))
                                    else f"#{int(r.candidate)}  ({r.reason or 'invalid'})", int(r.candidate))
                                   for r in self.table.itertuples()]
            best = int(self.table.iloc[0]["candidate"]) if len(self.table) else None
            self.choice.value = best
        finally:
            self._filling = False
        if best is not None and self.table["valid"].any():
            self.select(best)

    def select(self, index: int) -> dict[str, Any]:
        """Show one candidate, in the chosen key: the interactive sheet with its player, the piano
        roll, the engraved print view, ABC and downloads. A candidate that cannot be shown puts
        its error on screen instead."""
        self.selected = index
        tune = self.candidates[index]
        shown: dict[str, Any] = {}
        self.roll.clear_output()
        self._filling = True
        self.star.value = self.batch is not None and (self.batch.number, index) in self.favourites
        self._filling = False
        try:
            tune = abc.in_key(tune, self.key.value)
            self.abc_text.value = shown["abc"] = tune.abc
            self.sheet.show(tune, self.tempo.value)
            figure = render.piano_roll(tune, tune.title)
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=80)
            import matplotlib.pyplot as plt

            plt.close(figure)
            shown["png"] = buffer.getvalue()
            shown["svg"] = render.sheet_music(tune)
            self.engraved.value = shown["svg"]
            shown["files"] = self.downloads()
            with self.roll:
                from IPython.display import Image, display

                display(Image(shown["png"]))
            shown["audio"] = self._audio(tune)
        except Exception as error:  # noqa: BLE001 - on screen, never raised
            shown["error"] = f"{type(error).__name__}: {error}"
            self.sheet.abc, self.sheet.audio = "", b""
            self.engraved.value = f"<b>cannot show candidate #{index}:</b> {html.escape(shown['error'])}"
            self.print_view.selected_index = 0
            self.status.value = self.engraved.value
        return shown

    def _audio(self, tune: Song) -> Path | str:
        """The candidate's compact audio (MP3) into the sheet's player; the reason where none can be made."""
        from aitunes_lib import audio

        batch = self.batch
        try:
            path = audio.to_mp3(tune, self.tempo.value, batch.folder / f"{batch.stem(self.selected)}.mp3")
        except audio.AudioError as error:
            self.sheet.audio = b""
            self.links.value += f"<br><i>no sound: {html.escape(str(error))}</i>"
            return str(error)
        self.sheet.audio = path.read_bytes()
        return path

    def _shown(self, batch: Batch, candidate: int) -> Song:
        return abc.in_key(batch.candidates[candidate], self.key.value)

    def downloads(self) -> dict[str, Path]:
        """`.mid`, `.musicxml` and `.abc` of the selected candidate (in the chosen key), named after
        its batch, with links (in Colab: named, for the Download button)."""
        batch = self.batch
        if self.selected is None or batch is None:
            return {}
        paths = render.export(self._shown(batch, self.selected), batch.folder, batch.stem(self.selected), self.tempo.value)
        if self.colab:
            self.links.value = "files: " + ", ".join(html.escape(p.name) for p in paths.values())
        else:
            self.links.value = "download: " + render.download_links(paths)  # the files travel in the links
        return paths

    def download(self) -> dict[str, Path]:
        """The Download button (shown in Colab): the selected candidate's files, sent to the browser."""
        paths = self.downloads()
        if paths:
            self.links.value = render.offer_downloads(paths, colab=self.colab)
        return paths

    def favourite(self, on: bool = True) -> list[tuple[int, int]]:
        """Star (or unstar) the candidate on screen; the list of favourites is shown under the sheet."""
        batch = self.batch
        if batch is None or self.selected is None:
            return self.favourites
        key = (batch.number, self.selected)
        if on and key not in self.favourites:
            self.favourites.append(key)
        elif not on and key in self.favourites:
            self.favourites.remove(key)
        names = [f"{html.escape(self.batches[b - 1].title)} #{c} <small>(batch {b})</small>" for b, c in self.favourites]
        self.favourites_list.value = ("★ " + ", ".join(names)) if names else ""
        return self.favourites

    def download_favourites(self) -> Path | None:
        """Every starred candidate's files (ABC, MIDI, MusicXML, in the chosen key) in one zip, offered for download."""
        if not self.favourites:
            self.favourites_list.value = "star a candidate first (the Favourite button)"
            return None
        chosen = [(self.batches[number - 1], candidate) for number, candidate in self.favourites]
        target = bundle([(batch, self._shown(batch, c), c) for batch, c in chosen], self.folder / "favourites.zip", self.tempo.value)
        self.links.value = render.offer_downloads({"favourites": target}, colab=self.colab)
        return target

    # ------------------------------------------------------------------ the widget

    @property
    def widget(self):
        """The whole studio as one ipywidgets box."""
        import ipywidgets as w

        return w.VBox([
            self.mode, self.task_input,
            w.HBox([self.title, self.band, self.invent_button]),
            w.HBox([self.backend, self.model]),
            w.HBox([self.temperature, self.n, self.key, self.meter, self.scale]),
            w.HBox([self.generate_button, self.progress]),
            self.status, self.history, self.results,
            w.HBox([self.choice, self.tempo, self.star]),
            self.sheet, self.roll, self.print_view, self.abc_text, w.HBox([self.links, self.download_button]),
            w.HBox([self.favourites_list, self.favourites_button]),
        ])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def _warm_up() -> None:
    """Import what showing a song needs (matplotlib, verovio, music21's MusicXML writer, MIDI) now,
    once, so that the first click does not pay for it (about 2 s on 2 cores)."""
    import importlib

    for module in ("matplotlib.pyplot", "verovio", "music21.musicxml.m21ToXml", "mido", "midi2audio"):
        try:
            importlib.import_module(module)
        except ImportError:  # a missing extra is said when it is needed, not here
            pass
