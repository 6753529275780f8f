"""Files written whole or not at all: a temporary file beside the target, then `os.replace`.

A run cut short (Ctrl-C, a full disk, a killed kernel) leaves the previous file, never half
of a new one. Every file this project writes goes through here.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence


def _read_umask() -> int:
    mask = os.umask(0)  # the only way to read it: set and restore, once, when this module loads
    os.umask(mask)
    return mask


UMASK = _read_umask()  # read once: flipping the process-wide umask at every write could race another thread's


@contextlib.contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """A temporary path to write; on success it replaces `path` in one step, on failure it is removed.

    >>> import tempfile; folder = Path(tempfile.mkdtemp())
    >>> with replacing(folder / "a.txt") as tmp:
    ...     _ = tmp.write_text("whole")
    >>> (folder / "a.txt").read_text(), [p.name for p in folder.iterdir()]
    ('whole', ['a.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    tmp = Path(name)
    try:
        yield tmp
        if tmp.exists():  # mkstemp makes it private (0600); the file gets the mode a plain open() would give it
            os.chmod(tmp, 0o666 & ~UMASK)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically."""
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write bytes atomically."""
    with replacing(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_json(path: str | Path, value: Any, indent: int | None = 2) -> Path:
    """Write JSON (UTF-8, non-ASCII kept) atomically."""
    return write_text(path, json.dumps(value, indent=indent, ensure_ascii=False))


# a spreadsheet runs a cell that starts with one of these as a formula (`=HYPERLINK(…)`); a
# leading apostrophe makes it text, and shows nothing. A cell that starts with an apostrophe gets
# one more, so that `csv_text` gives back exactly what was written.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def csv_cell(value: Any) -> Any:
    """A value for a CSV cell that no spreadsheet runs: text that starts like a formula gets a
    leading apostrophe (OWASP's advice against CSV injection); numbers and the rest stay as they are.

    >>> csv_cell("=HYPERLINK(A1)"), csv_cell("@SUM(A1)"), csv_cell(-1), csv_cell("Tea for Two")
    ("'=HYPERLINK(A1)", "'@SUM(A1)", -1, 'Tea for Two')
    """
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def csv_text(cell: str) -> str:
    """What `csv_cell` was given, from the text of a cell it wrote.

    >>> csv_text(csv_cell("=1+1")), csv_text(csv_cell("'tis")), csv_text("O'Brien")
    ('=1+1', "'tis", "O'Brien")
    """
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


def write_csv(path: str | Path, table: Any, columns: Sequence[str] | None = None) -> Path:
    """Write a table as CSV, whole or not at all, every text cell (and name) through `csv_cell`:
    a pandas DataFrame (written by pandas, without its index), or rows (mappings) in `columns`' order."""
    if hasattr(table, "to_csv"):
        from pandas.api.types import is_numeric_dtype

        safe = table.rename(columns=csv_cell)
        for column in safe.columns:
            if not is_numeric_dtype(safe[column]):  # text, whether pandas keeps it as object or str
                safe[column] = safe[column].map(csv_cell)
        with replacing(path) as tmp:
            safe.to_csv(tmp, index=False)
        return Path(path)
    rows: Sequence[Mapping[str, Any]] = table
    columns = list(columns or (rows[0] if rows else []))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([csv_cell(c) for c in columns])
    writer.writerows([csv_cell(row.get(c, "")) for c in columns] for row in rows)
    return write_text(path, buffer.getvalue())


IS_A_FILE = "is a file"  # what `unwritable` says of a path that is a file, not a folder


def unwritable(folder: str | Path) -> str | None:
    """Why no file can be written in `folder` (created if needed), or None when one can.

    Checked before long work, so that a bad output folder fails first, not last.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        return IS_A_FILE
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        return str(error.strerror or error)
    return None


@contextlib.contextmanager
def replacing_files(folder: str | Path) -> Iterator[Path]:
    """A scratch folder to write files into; on success each one replaces its namesake in `folder`.

    For writers that take a folder (`save_pretrained`): every file lands whole. On failure
    nothing in `folder` changes.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".writing.", dir=folder))
    try:
        yield scratch
        for item in scratch.iterdir():
            if item.is_file():
                os.replace(item, folder / item.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
