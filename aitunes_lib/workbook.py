"""What the notebooks share: where outputs go, small-run parameters, friendly checks, badges.

Every notebook reads its knobs from Colab form fields and passes them through `params`, so
CI can run the whole workbook quickly (`AITUNES_PARAMS='{"steps": 10}'`) while learners get
full-size defaults. Outputs go to `out/` in the project, or `$AITUNES_OUT`.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aitunes_lib import config, workbook_errors

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


class NotReady(workbook_errors.OneLine):
    """A notebook needs the output of an earlier one; the message says which to run (one line in Jupyter)."""


class Refused(workbook_errors.OneLine):
    """A cell cannot do what its knobs ask; the message says what to change in the notebook (one line in Jupyter)."""


def out_dir() -> Path:
    """Where the notebooks write: `$AITUNES_OUT`, else `out/` in the project (or, where pip
    installed the library, `out/` in the working directory: `/content/out` in Colab)."""
    workbook_errors.install()  # in Jupyter: a cell run before the one that makes its names says which to run
    path = config.notebook_out() or (config.project_root() if config.is_checkout() else Path.cwd()) / "out"
    path.mkdir(parents=True, exist_ok=True)
    return path


class BadParams(workbook_errors.OneLine, ValueError):
    """`$AITUNES_PARAMS` is not a JSON object of known knobs of the right kinds (one line in Jupyter)."""


# Every knob a notebook reads through `params` (a test keeps this in step with the notebooks): CI sets
# some of them for all notebooks at once, so a knob another notebook reads is fine; any other is a typo.
KNOBS = frozenset({"steps", "candidates", "temperature", "temperatures", "seed", "minor_too", "preset", "base",
                   "hardware", "lora", "variant", "tempo", "chord_tones"})
_KINDS: dict[type, tuple[tuple[type, ...], str]] = {
    bool: ((bool,), "true or false"), int: ((int,), "a whole number"), float: ((int, float), "a number"),
    str: ((str,), "a string"), list: ((list,), "a JSON list"),
}


def _checked_knob(name: str, value: Any, default: Any) -> Any:
    """`value` for knob `name` when it is of the default's kind; else a `BadParams` naming both."""
    import json

    kinds, words = _KINDS.get(type(default), ((object,), "anything"))
    wrong = not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds)
    if isinstance(default, list) and not wrong and default:
        inner = _KINDS.get(type(default[0]), ((object,), ""))[0]
        wrong = not all(isinstance(v, inner) and not (isinstance(v, bool) and bool not in inner) for v in value)
    if wrong:
        raise BadParams(f"{config.ENV_PARAMS}: {name} = {json.dumps(value)[:60]} should be {words}, "
                         f"like the notebook's default {json.dumps(default)}")
    return value


def params(**defaults: Any) -> SimpleNamespace:
    """The notebook's knobs: its defaults, overridden by the JSON object in `$AITUNES_PARAMS`; an
    unknown knob, or a value of the wrong kind, is a one-line `BadParams` that names it.

    >>> with config.notebook_environment("out", {"steps": 10}):
    ...     params(steps=300, n=5)
    namespace(steps=10, n=5)
    """
    workbook_errors.install()  # in Jupyter: a cell run before the one that makes its names says which to run
    try:
        overrides = config.notebook_params()
    except ValueError as error:  # not JSON, or not an object
        raise BadParams(str(error)) from None
    unknown = sorted(set(overrides) - set(defaults) - KNOBS)
    if unknown:
        raise BadParams(f"{config.ENV_PARAMS}: unknown knob {unknown[0]!r}; the notebooks read {', '.join(sorted(KNOBS))}")
    return SimpleNamespace(**{name: _checked_knob(name, overrides[name], value) if name in overrides else value
                              for name, value in defaults.items()})


def require(name: str, notebook: str) -> Path:
    """The path of an earlier notebook's output, or a `NotReady` naming the notebook to run first."""
    path = out_dir() / name
    if not path.exists():
        raise NotReady(f"{path} is missing: run notebooks/{notebook}.ipynb first (or `make demo`)")
    return path


def run_name(preset: str = "tiny", base: str = "folk", lora: int = 0) -> str:
    """The folder notebook 03 trains in: `local_model` for the default run (tiny, from the folk
    base, every weight), the one 00 starts and 04–06 use; `local_model_<preset>_<base>[_lora<r>]`
    for any other, so that two runs never share a folder and both stay to compare.

    >>> run_name(), run_name("tiny", "scratch"), run_name("small", "HuggingFaceTB/SmolLM2-135M", 8)
    ('local_model', 'local_model_tiny_scratch', 'local_model_small_SmolLM2-135M_lora8')
    """
    import re

    if (preset, base, lora) == ("tiny", "folk", 0):
        return "local_model"
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(base).name or "base")
    return f"local_model_{preset}_{slug}" + (f"_lora{lora}" if lora else "")


def train_folder(name: str, data: str | Path, train_config: Any) -> Path:
    """`out_dir() / name`, checked before any work for a run of `train_config` on `data`: a folder
    with the same run saved is resumed (the training says so); one that holds another run (the
    data changed because 02 ran with other knobs, or another base) is a one-line `Refused` that
    says to tick `restart`; with `restart` ticked (`resume=False`) the new run replaces the old."""
    from aitunes_lib.backends.base import ModelFileError
    from aitunes_lib.backends.local import MODEL_FILES, LocalBackendError, resume_state, run_fingerprint, training_texts

    folder = out_dir() / name
    if not train_config.resume:
        if any((folder / file).exists() for file in MODEL_FILES):
            print(f"restart: a new run replaces the model in {folder}")
        return folder
    try:
        resume_state(folder, run_fingerprint(train_config, training_texts(data)))
    except (LocalBackendError, ModelFileError) as error:
        reason = str(error).split("; start afresh")[0].split("; delete it")[0]
        raise Refused(f"{reason}: tick `restart` in this cell to train afresh there (it replaces that model)") from None
    return folder


def colab_badge(notebook: str) -> str:
    """Markdown for the "Open in Colab" badge of one notebook."""
    url = f"https://colab.research.google.com/github/{REPOSITORY}/blob/main/notebooks/{notebook}.ipynb"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


SETUP_TITLE = "#@title Setup: in Colab this installs everything (a few minutes); locally it does nothing"


def setup_cell(repository: str = REPOSITORY) -> str:
    """The first code cell of every notebook: in Colab, the Debian audio packages and the library
    itself, pip installed from the repository with its extras; elsewhere nothing. Everywhere, a
    `NameError` from a cell run too early then names the cell to run first (`workbook_errors`)."""
    return "\n".join([
        SETUP_TITLE,
        "import os, subprocess, sys",
        f'REPOSITORY = os.environ.get("AITUNES_REPOSITORY", "{repository}")  # a fork: set AITUNES_REPOSITORY',
        'if "google.colab" in sys.modules:',
        '    subprocess.run("apt-get -qq update && apt-get -qq install -y fluidsynth fluid-soundfont-gm abcmidi", shell=True, check=True)',
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"aitunes-lib[all] @ git+https://github.com/{REPOSITORY}"], check=True)',
        "    from google.colab import output",
        "    output.enable_custom_widget_manager()  # the interactive lead sheet is an anywidget",
        "from aitunes_lib import workbook_errors",
        "workbook_errors.install()  # a cell run before the one that makes its names says which to run first",
        "%matplotlib inline",
    ])


OWNER_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/(?!\.\.?$)[A-Za-z0-9_.-]{1,100}"  # as GitHub allows them
CHECKOUT = ("aitunes_lib/workbook.py", "README.md", "pyproject.toml", "notebooks")  # what retarget rewrites


def checkout_problem(root: Path) -> str | None:
    """Why `root` is not a checkout of this project that `retarget` may rewrite (None when it is)."""
    missing = [name for name in CHECKOUT if not (root / name).exists()]
    if not missing and not any((root / "notebooks").glob("*.ipynb")):
        missing = ["notebooks/*.ipynb"]
    if missing:
        return f"{root} does not look like a checkout of this project (no {', '.join(missing)})"
    if f'REPOSITORY = "{REPOSITORY}"' not in (root / CHECKOUT[0]).read_text(encoding="utf-8"):
        return f"{root / CHECKOUT[0]} names another repository than {REPOSITORY}, the one this library would replace"
    return None


def retarget(repository: str, root: str | Path | None = None) -> list[Path]:
    """Point the project at another GitHub repository (a fork): rewrite `REPOSITORY` here, the
    README's badges, pyproject's URL, and every notebook's badge and setup cell. Returns the
    files changed. A bad name or a folder that is not the project is refused before anything is written."""
    import re

    from aitunes_lib import files

    if not re.fullmatch(OWNER_NAME, repository):
        hint = " (a GitHub repository, not a folder)" if Path(repository).exists() or repository.startswith(".") else ""
        raise ValueError(f"{repository!r}: give the repository as OWNER/NAME, as in github.com/OWNER/NAME{hint}")
    root = Path(root) if root is not None else config.project_root()
    problem = checkout_problem(root)
    if problem:
        raise ValueError(f"{problem}: run this in a clone of your fork (or pass --root CLONE)")
    new_texts = _retargeted(root, REPOSITORY, repository)  # everything read and rewritten in memory first
    for path, text in new_texts.items():
        files.write_text(path, text)
    return list(new_texts)


def _retargeted(root: Path, old: str, repository: str) -> dict[Path, str]:
    """{path: new text} of every file of `root` that names `old`, rewritten to name `repository`."""
    import json

    changed: dict[Path, str] = {}
    for path in [root / "aitunes_lib" / "workbook.py", root / "README.md", root / "pyproject.toml"]:
        text = path.read_text(encoding="utf-8")
        new = text.replace(f'REPOSITORY = "{old}"', f'REPOSITORY = "{repository}"') if path.name == "workbook.py" else \
            text.replace(old, repository)
        if new != text:
            changed[path] = new
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        text = path.read_text(encoding="utf-8")
        try:
            notebook = json.loads(text)
            cells = notebook["cells"]
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}: not a notebook this project wrote ({error}); nothing was rewritten") from error
        for cell in cells:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and source.startswith(SETUP_TITLE):
                source = setup_cell(repository)
            source = source.replace(f"github/{old}/", f"github/{repository}/")
            cell["source"] = source.splitlines(keepends=True)
        new = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
        if new != text:
            changed[path] = new
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
    import sys

    parser = argparse.ArgumentParser(description="Point the workbook at your fork: badges, Colab's install, README.")
    parser.add_argument("--repository", required=True, help="OWNER/NAME on GitHub")
    parser.add_argument("--root", default=None, help="the clone to rewrite (default: the one this library runs from)")
    arguments = parser.parse_args()
    try:
        rewritten = retarget(arguments.repository, arguments.root)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    for changed in rewritten:
        print(f"rewrote {changed}")
