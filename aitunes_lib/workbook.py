"""What the notebooks share: where outputs go, small-run parameters, friendly checks, badges.

Every notebook reads its knobs from Colab form fields and passes them through `params`, so
CI can run the whole workbook quickly (`AITUNES_PARAMS='{"steps": 10}'`) while learners get
full-size defaults. Outputs go to `out/` in the project, or `$AITUNES_OUT`.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aitunes_lib import config

REPOSITORY = "aitunes/aitunes-workbook"  # GitHub owner/name the Colab badges open
NOTEBOOKS = {
    "00_quickstart": "the whole loop with the defaults: prepare, fine-tune, name, generate, rank, listen",
    "01_data": "OpenEWLD explored with pandas: meters, keys, composers, lengths; one song three ways",
    "02_prepare": "filter, transpose to C, write ABC in the article's format, validate",
    "03_train": "fine-tune the local model with a live loss plot; OpenAI when a key is present",
    "04_name_and_generate": "invent titles and band names; generate; how temperature changes the songs",
    "05_score": "the five tonality features, the article's table, NDM ranking, rhythm and novelty",
    "06_listen": "piano roll, sheet music, audio with chords, downloads, and the studio",
    "07_continue_and_harmonise": "finish my tune, and a melody over these changes: two more tasks for one model",
}


class NotReady(RuntimeError):
    """A notebook needs the output of an earlier one; the message says which to run."""


def out_dir() -> Path:
    """Where the notebooks write: `$AITUNES_OUT`, else `out/` in the project."""
    path = config.notebook_out() or config.project_root() / "out"
    path.mkdir(parents=True, exist_ok=True)
    return path


def params(**defaults: Any) -> SimpleNamespace:
    """The notebook's knobs: its defaults, overridden by the JSON object in `$AITUNES_PARAMS`.

    >>> with config.notebook_environment("out", {"steps": 10}):
    ...     params(steps=300, n=5)
    namespace(steps=10, n=5)
    """
    overrides = config.notebook_params()
    return SimpleNamespace(**{name: overrides.get(name, value) for name, value in defaults.items()})


def require(name: str, notebook: str) -> Path:
    """The path of an earlier notebook's output, or a `NotReady` naming the notebook to run first."""
    path = out_dir() / name
    if not path.exists():
        raise NotReady(f"{path} is missing: run notebooks/{notebook}.ipynb first (or `make demo`)")
    return path


def colab_badge(notebook: str) -> str:
    """Markdown for the "Open in Colab" badge of one notebook."""
    url = f"https://colab.research.google.com/github/{REPOSITORY}/blob/main/notebooks/{notebook}.ipynb"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


def run_notebook(name: str, out: str | Path, small: dict[str, Any] | None = None, timeout: int = 900,
                 folder: str | Path | None = None) -> "Any":
    """Execute one notebook top to bottom in a fresh Jupyter kernel (nbclient); returns the run notebook.

    Its outputs go to `out` (`$AITUNES_OUT`), its knobs come from `small` (`$AITUNES_PARAMS`).
    A failing cell raises `nbclient.exceptions.CellExecutionError` with the cell's error.
    """
    import nbformat
    from nbclient import NotebookClient

    folder = Path(folder) if folder is not None else config.project_root() / "notebooks"
    notebook = nbformat.read(folder / f"{name}.ipynb", as_version=4)
    with config.notebook_environment(out, small or {}):  # the kernel inherits this environment
        client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(folder)}})
        client.execute()
    return notebook
