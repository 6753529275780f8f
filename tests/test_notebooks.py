"""The workbook: every notebook is thin, stripped and Colab-ready, and runs top to bottom in a real kernel."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import nbformat
import pytest

from aitunes_lib import workbook
from conftest import ROOT

NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
SMALL = {"steps": 4, "candidates": 2, "temperatures": [0.5, 1.0]}


def test_the_workbook_is_complete():
    assert NOTEBOOKS == sorted(workbook.NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_stripped_thin_and_colab_ready(name):
    notebook = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    nbformat.validate(notebook)
    cells = notebook.cells
    code = [c for c in cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "commit notebooks with outputs stripped"
    assert workbook.colab_badge(name) in cells[0].source and "You will learn" in cells[0].source
    assert code[0].source == workbook.setup_cell(), "the setup cell is workbook.setup_cell() (python -m aitunes_lib.workbook rewrites it)"
    assert any("#@param" in c.source for c in code), "a knob for teachers"
    assert "## Try it" in cells[-1].source
    for cell in code[1:]:
        assert len(cell.source.splitlines()) <= 8, f"a thick cell: move it into the library\n{cell.source}"


THIRD_PARTY_NOISE = ("FluidSynth runtime version", "Copyright (C) 2000", "Loading weights", "ties left open",
                     "new embeddings will be initialized", "Rendering audio to file")
MAX_RUN_BYTES = 3 * 2**20  # a run notebook, outputs and widget state included: small enough to share with a class


def _outputs(cells) -> str:
    return json.dumps([c.get("outputs", []) for c in cells])


def _execute(notebook, out, params, folder=ROOT / "notebooks", allow_errors=False):
    """Run a notebook object in a fresh kernel, as `workbook.run_notebook` does (its kernel's
    folder is `folder`: the notebook files there are the ones a NameError is looked up in)."""
    from nbclient import NotebookClient

    with workbook.config.notebook_environment(out, params):
        NotebookClient(notebook, timeout=900, kernel_name="python3", allow_errors=allow_errors,
                       resources={"metadata": {"path": str(folder)}}).execute()
    return notebook


@pytest.fixture(scope="module")
def workbook_run(tmp_path_factory, openewld):
    """The whole workbook run once in order with CI's small knobs, offline, on the local backend:
    (the out folder they share, {name: the run notebook}, {name: seconds}). The Try-it tests start
    from copies of that folder."""
    base = tmp_path_factory.mktemp("workbook")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AITUNES_CACHE", str(base / "cache"))
        env.delenv("OPENAI_API_KEY", raising=False)
        ran, seconds = {}, {}
        for name in NOTEBOOKS:
            started = time.perf_counter()
            ran[name] = workbook.run_notebook(name, base / "out", SMALL)
            seconds[name] = time.perf_counter() - started
        yield base / "out", ran, seconds


@pytest.mark.slow
def test_every_notebook_runs_in_order_in_a_fresh_kernel(workbook_run, tmp_path):
    """The whole workbook with small parameters; the artifacts exist; each run notebook stays small."""
    out, ran, seconds = workbook_run
    for name, notebook in ran.items():
        text = _outputs(notebook.cells)
        assert "Traceback" not in text, name
        for banner in THIRD_PARTY_NOISE:  # nothing a student need not read
            assert banner not in text, f"{name}: {banner!r} in the output"
        assert "val=nan" not in text, f"{name}: the training bar shows a validation loss before one is measured"
        if name == "03_train":
            assert "Skipping the OpenAI section" in text and "No OpenAI API key" in text
        size = len(nbformat.writes(notebook).encode())
        assert size < MAX_RUN_BYTES, f"{name}: {size:,} bytes run"
    print("notebook seconds:", {k: round(v) for k, v in seconds.items()}, "total", round(sum(seconds.values())))
    print("run notebook MB:", {k: round(len(nbformat.writes(v).encode()) / 2**20, 2) for k, v in ran.items()})
    for artifact in ("songs.jsonl", "stats.json", "local_model/model.safetensors", "candidates/candidates.jsonl", "best.png", "best.mp3",
                     "quickstart.mp3", "downloads/best.mid", "tasks_model/model.safetensors", "over_chords.mp3",
                     "downloads/over_chords.mid"):
        assert (out / artifact).is_file() and (out / artifact).stat().st_size > 0, artifact


@dataclasses.dataclass(frozen=True)
class TryIt:
    """What a student does after running a notebook (its cells up to `upto`) per its "Try it" list:
    cells run again with a knob changed (`(cell index, {old: new})`) or new cells of their own
    (`(None, source)`), in order, in the same kernel. `says` must show in the outputs of those steps;
    `first` runs the notebook's cells with those changes made (the small knobs CI passes otherwise);
    the steps in `stopped` end as the stop button ends a cell: in one line that says what to do."""

    notebook: str
    steps: tuple[tuple[int | None, Any], ...]
    says: tuple[str, ...] = ()
    upto: int | None = None
    params: dict | None = None
    first: dict[int, dict[str, str]] = dataclasses.field(default_factory=dict)
    stopped: tuple[int, ...] = ()


def _cell(notebook, index: int, changes: dict[str, str]) -> str:
    source = notebook.cells[index].source
    for old, new in changes.items():
        assert old in source, f"the Try-it's edit no longer fits the cell: {old!r} not in\n{source}"
        source = source.replace(old, new)
    return source


TRY_IT = [
    TryIt("00_quickstart", upto=9, params={"candidates": 2}, first={3: {"steps = 200": "steps = 4"}}, steps=(
        (9, {"temperature = 1.0": "temperature = 0.3"}),  # 1. the temperature, read by the generate cell itself
        (None, 'assert {s.context["temperature"] for s in songs} == {0.3}'),
        (9, {"temperature = 1.0": "temperature = 1.2"}),
        (None, 'assert {s.context["temperature"] for s in songs} == {1.2}'),
        (3, {"steps = 200": "steps = 6"}), (7, {}),  # 3. more steps: the run goes on, and says so
        (None, 'assert list(backend.history["step"]) == [1, 2, 3, 4, 5, 6] and backend.history["val_loss"].iloc[-1] > 0'),
    ), says=("at temperature 0.3", "at temperature 1.2", "resuming the run saved in")),
    TryIt("01_data", steps=(
        (None, 'index[index["composer"] == index["composer"].value_counts().index[0]]["meter"].value_counts()'),  # 1.
        (None, 'print(index[index["meter"] == "3/4"]["path"].head(2))'),  # 2. a song in 3/4
        (9, {'"Jingle_Bells"': '"Shadow_Waltz"'}), (10, {}),
        (None, 'index.groupby("composer")["bars"].median().sort_values()'),  # 3.
    ), says=("Shadow_Waltz.mxl", "M:3/4")),
    TryIt("02_prepare", steps=(
        (None, "before = len(dataset.read_jsonl(out / 'songs.jsonl'))"),
        (2, {"minor_too = False": "minor_too = True"}),  # 1. minor songs too
        (None, "assert len(dataset.read_jsonl(out / 'songs.jsonl')) > before"),
        (None, 'print(irregular and next(iter(irregular)))'),  # 2.
        (None, 'print(result.report["validation"]["tokens_total"])'),  # 3.
    ), says=("of those in major/minor",)),
    TryIt("03_train", upto=7, params={"candidates": 2}, first={2: {"steps = 300": "steps = 4"}}, steps=(
        (None, 'rec = next(r for r in dataset.read_jsonl(songs) if "(3" in r["completion"])'),  # 2. a triplet
        (None, 'assert any("(3" in token for token in tokenizer.tokens(rec["completion"]))'),
        (2, {'base = "folk"': 'base = "scratch"', "steps = 300": "steps = 4"}), (6, {}), (7, {}),  # 1. from scratch, in a folder of its own
        (None, 'import pandas as pd\nfolk = pd.read_csv(wb.out_dir() / "local_model" / "history.csv")["val_loss"].dropna()\n'
               'assert folder.name == "local_model_tiny_scratch" and handle.base is None and len(folk)'),
        # 3. the stop button halfway (Jupyter sends the kernel SIGINT, as this callback does), then the cell again
        (None, "import os, signal\ndef stop_at(step):\n"
               "    return lambda row: row['step'] == step and os.kill(os.getpid(), signal.SIGINT)"),
        (2, {"steps = 300": "steps = 10"}),
        (6, {"callback=plots.LiveLoss()": "callback=stop_at(6)"}),  # stopped
        (6, {}),
        (None, 'assert list(backend.history["step"]) == list(range(1, 11)) and handle.details["stopped"] == "max_steps"'),
    ), says=("TrainingStopped: stopped at step 6 of 10", "run the training again to go on from step 6",
             "resuming the run saved in"), stopped=(8,)),
    TryIt("04_name_and_generate", upto=10, steps=(
        (None, 'assert len(naming.invent(5, titles=["Blue Moon", "Paper Moon"], seed=1)) == 5'),  # 1.
        # 2. as the text says, with 3 candidates instead of 10 to keep the test short
        (6, {"GenerateConfig(n=p.candidates, seed=p.seed)": "GenerateConfig(n=3, temperature=0.75, seed=p.seed)"}),
        (None, 'print((metrics.rank(songs, stats)["NDM"] < 4).sum(), "below 4")\n'
               'assert len(songs) == 3 and {s.context["temperature"] for s in songs} == {0.75}'),
        (None, 'print(metrics.rank(free, stats)["bad_bars"].tolist()); print(free[0].abc)'),  # 3.
    ), says=("below 4",)),
    TryIt("05_score", steps=(
        (None, 'real = [dataset.song_from_record(r) for r in dataset.read_jsonl(wb.out_dir() / "songs.jsonl")[:5]]\n'
               'assert metrics.rank(real, stats[p.variant], variant=p.variant)["NDM"].notna().all()'),  # 1.
        (None, 'article = table["NDM"].tolist()'),
        (2, {'variant = "article"': 'variant = "corrected"'}), (6, {}), (12, {}),  # 2. the corrected variant
        (None, 'assert p.variant == "corrected" and table["NDM"].tolist() != article'),
    )),
    TryIt("06_listen", upto=10, steps=(
        (8, {"tempo = 120": "tempo = 60"}), (None, "assert lead.qpm == 60"),  # 1. slower, then faster
        (8, {"tempo = 120": "tempo = 200"}), (None, "assert lead.qpm == 200"),
    )),
    TryIt("07_continue_and_harmonise", upto=15, steps=(
        (None, "before = [s.body for s in melodies]"),
        (15, {"chord_tones = 1.0": "chord_tones = 3.0"}),  # 3. clinging to the chord tones
        (None, "assert config.song.chord_tones == 3.0 and [s.body for s in melodies] != before"),
        (15, {"changes = chart.text()": 'changes = ["C", "Am F", "Dm G7", "C"]'}),  # 1. my own changes
        (None, 'assert len(melodies[0].context["chart"].bars) == 4 and all(not s.violations for s in melodies)'),
        (10, {'key = "G"': 'key = "Eb"'}),  # 2. the opening read in E flat
        (None, 'assert {s.key for s in continued} == {"Eb"} and continued[0].context["transposed_from"] == "Eb"'),
        (10, {"opening = '\"G\"B2 d2 | \"C\"e2 g2 | \"D7\"f2 a2 | \"G\"g4 |'":  # 4. a held-out song's first bars
              'opening = abc.decode_body(held[0]["completion"][:tasks.bar_ends(held[0]["completion"])[3]])',
              'key = "G"': 'key = "C"'}), (11, {}),
        (None, 'assert continued[0].context["prefix_bars"] == 4 and continued[0].context["transposed_from"] is None'),
    ), says=("your bars kept in every candidate: True",)),
]


@pytest.mark.slow
@pytest.mark.parametrize("try_it", TRY_IT, ids=[t.notebook for t in TRY_IT])
def test_what_try_it_asks_works_in_a_fresh_kernel(try_it, workbook_run, tmp_path):
    """Each notebook's "Try it" edits, made as a student makes them after running the notebook:
    no traceback, and each edit shows its effect (the asserts in the steps)."""
    import shutil

    out, ran, _ = workbook_run
    shutil.copytree(out, tmp_path / "out")
    notebook = nbformat.read(ROOT / "notebooks" / f"{try_it.notebook}.ipynb", as_version=4)
    steps = [nbformat.v4.new_code_cell(_cell(notebook, index, change) if index is not None else change)
             for index, change in try_it.steps]  # edits of the cells as the notebook has them
    for index in try_it.stopped:
        steps[index].metadata["tags"] = ["raises-exception"]  # nbclient goes on after it, as a student does
    for index, changes in try_it.first.items():
        notebook.cells[index].source = _cell(notebook, index, changes)
    notebook.cells = notebook.cells[: (try_it.upto or len(notebook.cells) - 1) + 1] + steps
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AITUNES_CACHE", str(out.parent / "cache"))
        _execute(notebook, tmp_path / "out", SMALL if try_it.params is None else try_it.params)
    text = _outputs(notebook.cells)
    assert "Traceback" not in text, text[-3000:]
    errors = [i for i, cell in enumerate(steps) if any(o.get("output_type") == "error" for o in cell.get("outputs", []))]
    assert errors == list(try_it.stopped), _outputs(steps)[-3000:]
    for words in try_it.says:
        assert words in _outputs(notebook.cells[-len(steps):]), words


@pytest.mark.slow
def test_other_data_is_refused_in_one_line_and_restart_trains_afresh(workbook_run, tmp_path):
    """After 02 ran with `minor_too`, 03's and 07's folders hold runs on other data: one line says
    to tick `restart`, and ticking it trains afresh there."""
    import shutil

    out, _, _ = workbook_run
    shutil.copytree(out, tmp_path / "out")
    workbook.run_notebook("02_prepare", tmp_path / "out", {**SMALL, "minor_too": True})
    for name, cell in (("03_train", 6), ("07_continue_and_harmonise", 8)):
        notebook = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        again = nbformat.v4.new_code_cell(_cell(notebook, cell, {"restart = False": "restart = True"}))
        notebook.cells = [*notebook.cells[: cell + 1], again]
        _execute(notebook, tmp_path / "out", SMALL, allow_errors=True)
        refused = [o for o in notebook.cells[cell].outputs if o.output_type == "error"]
        assert len(refused) == 1 and refused[0].ename == "Refused", name
        assert len(refused[0].traceback) == 1 and "tick `restart`" in refused[0].traceback[0], refused[0].traceback
        assert "data" in refused[0].traceback[0] and "--restart" not in refused[0].traceback[0]
        assert "restart: a new run replaces the model" in _outputs([again]), name
        assert not [o for o in again.outputs if o.output_type == "error"], name


@pytest.mark.slow
@pytest.mark.parametrize("name, first", [("03_train", "02_prepare"), ("04_name_and_generate", "03_train"),
                                         ("05_score", "02_prepare"), ("06_listen", "04_name_and_generate"),
                                         ("07_continue_and_harmonise", "02_prepare")])
def test_a_notebook_run_too_early_names_the_one_to_run_first(tmp_path, name, first):
    from nbclient.exceptions import CellExecutionError

    with pytest.raises(CellExecutionError, match=f"run notebooks/{first}.ipynb first") as raised:
        workbook.run_notebook(name, tmp_path / "empty", SMALL)
    assert "NotReady: " in str(raised.value) and "most recent call last" not in str(raised.value), "one line, no traceback"


@pytest.mark.slow
def test_a_cell_run_before_the_one_that_makes_its_names_says_which_to_run(tmp_path):
    """00's generate cell run right after the knobs cell (the training cell skipped): one line that
    names the training cell, not a bare NameError with a traceback."""
    notebook = nbformat.read(ROOT / "notebooks" / "00_quickstart.ipynb", as_version=4)
    notebook.cells = [notebook.cells[3], notebook.cells[9]]
    _execute(notebook, tmp_path / "out", SMALL, allow_errors=True)
    error = next(o for o in notebook.cells[1].outputs if o.output_type == "error")
    assert error.ename == "NameError" and len(error.traceback) == 1, error.traceback
    assert "'backend' is not defined" in error.traceback[0] and 'under "2. Fine-tune the local model"' in error.traceback[0]
    assert "backend = LocalBackend(" in error.traceback[0]


@pytest.mark.slow
def test_a_notebook_that_never_calls_the_workbook_still_says_which_cell_to_run(tmp_path):
    """01 calls no `workbook` helper before its plots: its setup cell installs the one-line
    NameError, so a plot cell run before the index is built names the cell that builds it."""
    notebook = nbformat.read(ROOT / "notebooks" / "01_data.ipynb", as_version=4)
    notebook.cells = [notebook.cells[1], notebook.cells[4]]
    _execute(notebook, tmp_path / "out", SMALL, allow_errors=True)
    error = next(o for o in notebook.cells[1].outputs if o.output_type == "error")
    assert error.ename == "NameError" and len(error.traceback) == 1, error.traceback
    assert "'plt' is not defined" in error.traceback[0] and "import matplotlib.pyplot as plt" in error.traceback[0], error.traceback[0]


@pytest.mark.slow
def test_the_bars_show_a_validation_loss_once_measured_a_resume_and_the_candidates(few_texts, tmp_path, capsys):
    """What a notebook shows while it works: the training bar has no `val` before the first
    evaluation (never `val=nan`), a resumed run says so, and writing candidates has its own bar."""
    from aitunes_lib.backends import local
    from aitunes_lib.generate import GenerateConfig

    quick = dict(preset="tiny", block_size=64, batch_size=2, warmup_steps=1, eval_every=3, save_every=1000)
    local.train(few_texts[:6], tmp_path / "m", local.TrainConfig(max_steps=4, **quick), progress=True)
    first = capsys.readouterr()
    assert "val=nan" not in first.err and "loss=" in first.err and "val=" in first.err.split("3/4")[-1], first.err[-500:]
    local.train(few_texts[:6], tmp_path / "m", local.TrainConfig(max_steps=5, **quick), progress=True)
    assert f"resuming the run saved in {tmp_path / 'm'} at step 4 of 5" in capsys.readouterr().out
    backend = local.LocalBackend(tmp_path / "m", progress=True)
    assert len(backend.sample(few_texts[0][:40], 2, GenerateConfig(n=2, max_tokens=20, seed=0))) == 2
    assert "writing 2 candidates" in capsys.readouterr().err


def test_the_repository_is_named_in_one_place_and_a_fork_is_one_command(tmp_path):
    """`workbook.REPOSITORY` is the address; retargeting rewrites every place that shows it."""
    import shutil
    import subprocess
    import sys

    root = workbook.config.project_root()
    (tmp_path / "aitunes_lib").mkdir()
    for name in ("README.md", "pyproject.toml", "aitunes_lib/workbook.py", "notebooks"):
        (shutil.copytree if (root / name).is_dir() else shutil.copy)(root / name, tmp_path / name)
    every = [tmp_path / "README.md", tmp_path / "pyproject.toml", *sorted((tmp_path / "notebooks").glob("*.ipynb"))]
    assert all(workbook.REPOSITORY in p.read_text() for p in every)
    workbook.retarget("ada/my-tunes", root=tmp_path)
    for path in [*every, tmp_path / "aitunes_lib/workbook.py"]:
        text = path.read_text()
        assert workbook.REPOSITORY not in text and "ada/my-tunes" in text, path
    setup = json.loads((tmp_path / "notebooks/00_quickstart.ipynb").read_text())["cells"][1]
    assert "".join(setup["source"]) == workbook.setup_cell("ada/my-tunes")
    bad = subprocess.run([sys.executable, "-m", "aitunes_lib.workbook", "--repository", "not a repo"], capture_output=True, text=True)
    assert bad.returncode != 0 and "OWNER/NAME" in bad.stderr
