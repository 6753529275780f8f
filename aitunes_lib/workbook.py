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

# GitHub owner/name of this project: the Colab badges open it and Colab's setup cell installs from it. This is
# the one place it is set; `python -m aitunes_lib.workbook --repository OWNER/NAME` writes a fork's name here and
# everywhere it is shown (README, pyproject.toml, the notebooks), and `$AITUNES_REPOSITORY` overrides it in Colab.
REPOSITORY = "aitunes/aitunes-workbook"
NOTEBOOKS = {
    "00_quickstart": "the whole loop with the defaults: prepare, fine-tune, name, generate, rank, listen",
    "01_data": "OpenEWLD explored with pandas: meters, keys, composers, lengths; one song three ways",
    "02_prepare": "filter, transpose to C, write ABC in the article's format, validate",
    "03_train": "fine-tune the local model with a live loss plot; OpenAI when a key is present",
    "04_name_and_generate": "invent titles and band names; generate; how temperature changes the songs",
    "05_score": "the five tonality features, the article's table, NDM ranking, rhythm and novelty",
    "06_listen": "piano roll, sheet music, audio with chords, downloads, the studio, and a blind listening test",
    "07_continue_and_harmonise": "finish my tune, and a melody over these changes: two more tasks for one model",
}


class NotReady(RuntimeError):
    """A notebook needs the output of an earlier one; the message says which to run."""


def out_dir() -> Path:
    """Where the notebooks write: `$AITUNES_OUT`, else `out/` in the project (or, where pip
    installed the library, `out/` in the working directory: `/content/out` in Colab)."""
    path = config.notebook_out() or (config.project_root() if config.is_checkout() else Path.cwd()) / "out"
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


SETUP_TITLE = "#@title Setup: in Colab this installs everything (a few minutes); locally it does nothing"


def setup_cell(repository: str = REPOSITORY) -> str:
    """The first code cell of every notebook: in Colab, the Debian audio packages and the library
    itself, pip installed from the repository with its extras; elsewhere nothing."""
    return "\n".join([
        SETUP_TITLE,
        "import os, subprocess, sys",
        f'REPOSITORY = os.environ.get("AITUNES_REPOSITORY", "{repository}")  # a fork: set AITUNES_REPOSITORY',
        'if "google.colab" in sys.modules:',
        '    subprocess.run("apt-get -qq update && apt-get -qq install -y fluidsynth fluid-soundfont-gm abcmidi", shell=True, check=True)',
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"aitunes-lib[all] @ git+https://github.com/{REPOSITORY}"], check=True)',
        "%matplotlib inline",
    ])


def retarget(repository: str, root: str | Path | None = None) -> list[Path]:
    """Point the project at another GitHub repository (a fork): rewrite `REPOSITORY` here, the
    README's badges, pyproject's URL, and every notebook's badge and setup cell. Returns the
    files changed."""
    import json
    import re

    from aitunes_lib import files

    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repository):
        raise ValueError(f"{repository!r}: give the repository as OWNER/NAME, as in github.com/OWNER/NAME")
    root = Path(root) if root is not None else config.project_root()
    old = REPOSITORY
    changed = []
    for path in [root / "aitunes_lib" / "workbook.py", root / "README.md", root / "pyproject.toml"]:
        text = path.read_text(encoding="utf-8")
        new = text.replace(f'REPOSITORY = "{old}"', f'REPOSITORY = "{repository}"') if path.name == "workbook.py" else \
            text.replace(old, repository)
        if new != text:
            files.write_text(path, new)
            changed.append(path)
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        text = path.read_text(encoding="utf-8")
        notebook = json.loads(text)
        for cell in notebook["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and source.startswith(SETUP_TITLE):
                source = setup_cell(repository)
            source = source.replace(f"github/{old}/", f"github/{repository}/")
            cell["source"] = source.splitlines(keepends=True)
        new = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
        if new != text:
            files.write_text(path, new)
            changed.append(path)
    return changed


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


if __name__ == "__main__":  # python -m aitunes_lib.workbook --repository OWNER/NAME
    import argparse

    parser = argparse.ArgumentParser(description="Point the workbook at your fork: badges, Colab's install, README.")
    parser.add_argument("--repository", required=True, help="OWNER/NAME on GitHub")
    try:
        rewritten = retarget(parser.parse_args().repository)
    except ValueError as error:
        parser.error(str(error))
    for changed in rewritten:
        print(f"rewrote {changed}")
