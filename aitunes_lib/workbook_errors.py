"""Mistakes in the notebooks shown as one line, not a traceback.

Two kinds: a known mistake (`OneLine`, such as `workbook.NotReady`: an earlier notebook's output
is missing), which IPython shows through `_render_traceback_`; and a `NameError` from a cell run
before the cell above it that makes the name, which `install` turns into a line naming that cell.
Outside IPython nothing changes.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any


class OneLine(RuntimeError):
    """A mistake whose message says what to do: in Jupyter or Colab it shows as that one line."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this list instead of the traceback
        return [f"{type(self).__name__}: {self}"]


def install() -> None:
    """In IPython, show a NameError raised by a cell's own code as one line that names the cell
    above which makes the name (found in the notebook file beside the kernel, when there is one)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or NameError in getattr(shell, "custom_exceptions", ()):
        return
    shell.set_custom_exc((NameError,), _show_name_error)


def _show_name_error(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: int | None = None) -> None:
    """IPython's handler: one line for a name the cell itself lacks; the usual traceback for a
    NameError raised inside the library (a bug there must show where it is)."""
    innermost = tb
    while innermost is not None and innermost.tb_next is not None:
        innermost = innermost.tb_next
    in_cell = innermost is not None and innermost.tb_frame.f_globals is shell.user_ns
    name = getattr(value, "name", None)
    if in_cell and name:
        source = (shell.user_ns.get("In") or [""])[-1]
        line = f"NameError: {value}: {where_made(name, source, Path.cwd())}"
        value._render_traceback_ = lambda: [line]  # type: ignore[attr-defined]
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset)


def where_made(name: str, source: str, folder: Path) -> str:
    """What to run first so that `name` exists, for a cell with `source` in a notebook in `folder`.

    >>> where_made("songs", "print(songs)", Path("/nowhere"))
    'if a cell above makes it, run the cells above this one first (Run All Above), top to bottom'
    """
    for cells in _notebooks(folder):
        here = next((i for i, cell in enumerate(cells) if cell["source"].strip() == source.strip()), None)
        if here is None:
            continue
        makers = [i for i, cell in enumerate(cells) if cell["type"] == "code" and name in _bound(cell["source"])]
        above = [i for i in makers if i < here]
        if not makers:
            return "no cell of this notebook makes it: check the spelling"
        chosen = above[-1] if above else makers[0]
        heading = next((cells[i]["source"].splitlines()[0] for i in range(chosen, -1, -1)
                        if cells[i]["type"] == "markdown" and cells[i]["source"].startswith("#")), "")
        first = next((line for line in cells[chosen]["source"].splitlines() if name in line), "").strip()
        under = f' under "{heading.lstrip("# ")}"' if heading else ""
        return f"run the cell{under} that makes it first (`{first[:60]}`), or Run All Above"
    return "if a cell above makes it, run the cells above this one first (Run All Above), top to bottom"


def _notebooks(folder: Path) -> list[list[dict[str, str]]]:
    """Each notebook in `folder` as its cells' types and sources (unreadable files skipped)."""
    found = []
    for path in sorted(folder.glob("*.ipynb"))[:50]:
        try:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            found.append([{"type": c["cell_type"], "source": "".join(c["source"])} for c in cells])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found


def _bound(source: str) -> set[str]:
    """The names a cell's code binds: assignments, loop and `with` targets, imports, defs."""
    code = "\n".join("" if re.match(r"\s*[%!]", line) else line for line in source.splitlines())
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names
