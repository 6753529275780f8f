""""Can you tell?": a blind listening test of real against generated songs.

Each round plays two clips in random order: the opening bars of a real OpenEWLD song (one the
benchmarks hold out) and of a generated candidate, with the same instrument, tempo and number
of bars. The listener guesses which one is real; every answer goes to a CSV file, and the
summary gives the class's accuracy with the chance of doing as well by guessing.

```python
test = ListeningTest.from_workbook(wb.out_dir(), bars=8)   # held-out real songs vs out/candidates
test                                                       # the widget: play A, play B, guess
test.summary()                                             # accuracy per listener and overall
```

A class can run it on its own model: can we fool ourselves? The methods (`next_round`,
`answer`, `summary`) work without a browser.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import math
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from aitunes_lib import abc, files, tasks
from aitunes_lib.song import Song

COLUMNS = ("time", "listener", "round", "real_side", "guess", "correct", "real_title", "generated")
BAR = Fraction(4)


class ListeningError(ValueError):
    """A test that cannot run (no songs, a bad guess); the message says what to do."""


def excerpt(song: Song, bars: int) -> Song | None:
    """The song's first `bars` whole bars (a pickup left out), or None when it has fewer."""
    encoded = abc.encode_body(song.body)
    ends = tasks.bar_ends(encoded)
    lengths = abc.bar_lengths(encoded)
    start = 1 if len(lengths) > 1 and lengths[0] < BAR else 0
    if len(ends) < start + bars or any(length != BAR for length in lengths[start:start + bars]):
        return None
    begin = ends[start - 1] if start else 0
    body = abc.decode_body(encoded[begin:ends[start + bars - 1]] + abc.LINE_BREAK + abc.END)
    return dataclasses.replace(song, body=body)


@dataclasses.dataclass(frozen=True)
class Round:
    """One pair: clip A and clip B (WAV files); which one is real stays hidden until the answer."""

    number: int
    a: Path
    b: Path
    real_side: str  # "A" or "B"
    real_title: str
    generated: str


MAX_ANSWERS_BYTES = 16 * 2**20  # a class of 30 answering 1,000 rounds each writes about 3 MB


def read_answers(path: str | Path) -> tuple[list[str], list[dict[str, str]]]:
    """(the columns: `COLUMNS`, then any a class added; the rows as text) of an answers file,
    each row checked: a bad one is a `ListeningError` naming the file and line."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return list(COLUMNS), []
    if path.stat().st_size > MAX_ANSWERS_BYTES:
        raise ListeningError(f"{path} has {path.stat().st_size:,} bytes: too big for an answers file; choose another file")
    try:
        lines = csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline=""))
        header = [files.csv_text(name) for name in next(lines, [])]
        missing = [c for c in COLUMNS if c not in header]
        if missing or len(set(header)) < len(header):
            what = f"missing {', '.join(missing)}" if missing else "a column named twice"
            raise ListeningError(f"{path}: not an answers file ({what}); choose another file, or move this one away")
        rows = [_answer_row(path, lines.line_num, header, cells) for cells in lines if any(c.strip() for c in cells)]
    except (UnicodeDecodeError, csv.Error) as error:
        raise ListeningError(f"{path}: not a CSV answers file ({error}); choose another file, or move this one away") from error
    return [*COLUMNS, *(c for c in header if c not in COLUMNS)], rows


def _answer_row(path: Path, line: int, header: list[str], cells: list[str]) -> dict[str, str]:
    """One row of an answers file, checked: its cells, the sides, the round and `correct`."""

    def refuse(problem: str) -> ListeningError:
        return ListeningError(f"{path}, line {line}: {problem}; fix that line, or move the file away")

    if len(cells) != len(header):
        raise refuse(f"{len(cells)} cells where the header names {len(header)} columns")
    row = {name: files.csv_text(cell) for name, cell in zip(header, cells)}
    for column in ("real_side", "guess"):
        if row[column] not in ("A", "B"):
            raise refuse(f"{column} is {row[column][:20]!r}, not A or B")
    if not row["round"].isdigit() or not 0 < int(row["round"]) < 10**9:
        raise refuse(f"round is {row['round'][:20]!r}, not a round's number (1, 2, …)")
    if row["correct"] not in ("0", "1"):
        raise refuse(f"correct is {row['correct'][:20]!r}, not 1 (right) or 0 (wrong)")
    if int(row["correct"]) != (row["guess"] == row["real_side"]):
        raise refuse(f"correct is {row['correct']}, but the guess {row['guess']} and the real side {row['real_side']} say otherwise")
    return row


def p_value(correct: int, total: int) -> float:
    """The chance of at least `correct` right answers out of `total` by guessing (one-sided binomial).

    >>> round(p_value(8, 10), 3), p_value(0, 0)
    (0.055, 1.0)
    """
    if total == 0:
        return 1.0
    return sum(math.comb(total, k) for k in range(correct, total + 1)) / 2**total


class ListeningTest:
    """Blind pairs of real and generated songs, answers kept in `answers` (a CSV file)."""

    def __init__(self, real: Sequence[Song], generated: Sequence[Song], answers: str | Path, folder: str | Path,
                 bars: int = 8, tempo: int = 110, seed: int | None = None, listener: str = ""):
        from aitunes_lib import render

        if not isinstance(bars, int) or not 2 <= bars <= 32:
            raise ListeningError(f"bars={bars!r}: play 2 to 32 bars of each song (8 is a phrase)")
        render.check_tempo(tempo)
        self.real = [e for e in (excerpt(s, bars) for s in real) if e is not None]
        self.generated = [e for e in (excerpt(s, bars) for s in generated) if e is not None]
        if not self.real:
            raise ListeningError(f"no real song has {bars} whole bars to play: give more songs, or fewer bars")
        if not self.generated:
            raise ListeningError(f"no generated song has {bars} whole bars to play: generate some first (notebook 04), or fewer bars")
        self.answers, self.folder = Path(answers), Path(folder)
        self.bars, self.tempo, self.listener = bars, tempo, listener
        self.rng = np.random.default_rng(seed)
        self.current: Round | None = None
        self.rounds = 0
        self._widget = None

    @classmethod
    def from_workbook(cls, out: str | Path, **options) -> "ListeningTest":
        """Real songs the benchmarks hold out (`dataset.holdout_records`) against the candidates in
        `out/candidates` (notebook 04 or `make demo`); answers in `out/listening/answers.csv`."""
        from aitunes_lib import dataset, workbook
        from aitunes_lib.generate import load_candidates

        out = Path(out)
        records = dataset.read_jsonl(workbook.require("songs.jsonl", "02_prepare"))
        _, held = dataset.holdout_records(records)
        generated = load_candidates(workbook.require("candidates", "04_name_and_generate"))
        return cls([dataset.song_from_record(r) for r in held], generated, out / "listening" / "answers.csv",
                   out / "listening", **options)

    def next_round(self) -> Round:
        """A new pair in random order, rendered with the same instrument, tempo and length."""
        from aitunes_lib import audio

        real = self.real[int(self.rng.integers(len(self.real)))]
        made = self.generated[int(self.rng.integers(len(self.generated)))]
        self.rounds += 1
        real_side = "A" if self.rng.random() < 0.5 else "B"
        first, second = (real, made) if real_side == "A" else (made, real)
        a = audio.to_mp3(first, self.tempo, self.folder / f"round_{self.rounds}_A.mp3")  # compact: a notebook stays small
        b = audio.to_mp3(second, self.tempo, self.folder / f"round_{self.rounds}_B.mp3")
        label = f"candidate {made.candidate}" if made.candidate is not None else made.title
        self.current = Round(self.rounds, a, b, real_side, real.title, label)
        return self.current

    def answer(self, guess: str, listener: str | None = None) -> bool:
        """Record a guess ("A" or "B": the one you think is real) for the current round; True when right."""
        guess = str(guess).strip().upper()
        if guess not in ("A", "B"):
            raise ListeningError(f"guess {guess!r}: answer A or B (the clip you think is the real song)")
        if self.current is None:
            raise ListeningError("no round to answer: call next_round() first")
        played, self.current = self.current, None
        correct = guess == played.real_side
        row = {"time": datetime.datetime.now().isoformat(timespec="seconds"), "listener": listener or self.listener,
               "round": played.number, "real_side": played.real_side, "guess": guess, "correct": int(correct),
               "real_title": played.real_title, "generated": played.generated}
        columns, rows = read_answers(self.answers)
        files.write_csv(self.answers, [*rows, row], columns)  # the whole file, replaced at once; a class's own columns kept
        return correct

    def table(self) -> pd.DataFrame:
        """Every answer so far (from the CSV file, so a class can pool one file), with any columns a class added."""
        columns, rows = read_answers(self.answers)
        table = pd.DataFrame(rows, columns=columns)
        return table.astype({"round": int, "correct": int}) if rows else table

    def summary(self) -> pd.DataFrame:
        """Accuracy per listener and for everyone, with the chance of doing as well by guessing."""
        table = self.table()
        rows = []
        groups = [("everyone", table)] + ([(name or "(no name)", part) for name, part in table.groupby("listener")]
                                          if table["listener"].nunique() > 1 else [])
        for name, part in groups:
            right, total = int(part["correct"].astype(int).sum()), len(part)
            rows.append({"listener": name, "answers": total, "right": right,
                         "accuracy": right / total if total else math.nan, "p_guessing": p_value(right, total)})
        return pd.DataFrame(rows)

    def verdict(self) -> str:
        """The summary in a sentence a class can read."""
        everyone = self.summary().iloc[0]
        if not everyone["answers"]:
            return "no answers yet"
        told = everyone["p_guessing"] < 0.05
        return (f"{int(everyone['right'])} of {int(everyone['answers'])} right ({everyone['accuracy']:.0%}); "
                f"the chance of doing as well by guessing is {everyone['p_guessing']:.2f}: "
                + ("the real songs can be told apart" if told else "not clearly better than guessing: the model fools you"))

    # ------------------------------------------------------------------ the widget

    @property
    def widget(self):
        """Play A, play B, then "A is real" / "B is real"; the score so far underneath."""
        import ipywidgets as w

        if self._widget is not None:
            return self._widget
        name = w.Text(value=self.listener, description="Your name", style={"description_width": "initial"})
        players, status, score = w.Output(), w.HTML(), w.HTML()
        guess_a, guess_b = w.Button(description="A is real"), w.Button(description="B is real")
        again = w.Button(description="New pair", icon="refresh", button_style="primary")

        def new_pair(_=None):
            from IPython.display import Audio, display

            guess_a.disabled = guess_b.disabled = True
            status.value = "rendering a new pair…"
            played = self.next_round()
            players.clear_output()
            with players:
                for side, path in (("A", played.a), ("B", played.b)):
                    print(f"clip {side}")
                    display(Audio(filename=str(path)))
            status.value = f"round {played.number}: {self.bars} bars of each at {self.tempo} bpm. Which one is the real song?"
            guess_a.disabled = guess_b.disabled = False

        def guess(side):
            played = self.current
            right = self.answer(side, name.value)
            guess_a.disabled = guess_b.disabled = True
            real = f"{played.real_side} was the real song ({played.real_title})" if played else ""
            status.value = ("<b>right</b>: " if right else "<b>wrong</b>: ") + real
            score.value = self.verdict()

        guess_a.on_click(lambda _: guess("A"))
        guess_b.on_click(lambda _: guess("B"))
        again.on_click(new_pair)
        guess_a.disabled = guess_b.disabled = True
        score.value = self.verdict()
        self._widget = w.VBox([name, again, players, w.HBox([guess_a, guess_b]), status, score])
        return self._widget

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
