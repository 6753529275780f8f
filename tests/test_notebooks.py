"""The workbook: every notebook is thin, stripped and Colab-ready, and runs top to bottom in a real kernel."""

from __future__ import annotations

import json
import time

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


@pytest.mark.slow
def test_every_notebook_runs_in_order_in_a_fresh_kernel(tmp_path, openewld, monkeypatch):
    """The whole workbook with small parameters, offline, on the local backend; the artifacts exist."""
    monkeypatch.setenv("AITUNES_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = tmp_path / "out"
    seconds = {}
    for name in NOTEBOOKS:
        started = time.perf_counter()
        ran = workbook.run_notebook(name, out, SMALL)
        seconds[name] = time.perf_counter() - started
        text = json.dumps([c.get("outputs", []) for c in ran.cells])
        assert "Traceback" not in text, name
        for banner in THIRD_PARTY_NOISE:  # nothing a student need not read
            assert banner not in text, f"{name}: {banner!r} in the output"
        if name == "03_train":
            assert "Skipping the OpenAI section" in text and "No OpenAI API key" in text
    print("notebook seconds:", {k: round(v) for k, v in seconds.items()}, "total", round(sum(seconds.values())))
    for artifact in ("songs.jsonl", "stats.json", "local_model/model.safetensors", "candidates/candidates.jsonl", "best.png", "best.wav",
                     "quickstart.wav", "downloads/best.mid", "tasks_model/model.safetensors", "over_chords.wav",
                     "downloads/over_chords.mid"):
        assert (out / artifact).is_file() and (out / artifact).stat().st_size > 0, artifact


@pytest.mark.slow
@pytest.mark.parametrize("name, first", [("03_train", "02_prepare"), ("04_name_and_generate", "03_train"),
                                         ("05_score", "02_prepare"), ("06_listen", "04_name_and_generate"),
                                         ("07_continue_and_harmonise", "02_prepare")])
def test_a_notebook_run_too_early_names_the_one_to_run_first(tmp_path, name, first):
    from nbclient.exceptions import CellExecutionError

    with pytest.raises(CellExecutionError, match=f"run notebooks/{first}.ipynb first"):
        workbook.run_notebook(name, tmp_path / "empty", SMALL)


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
