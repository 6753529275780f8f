"""A melody over the user's chord chart."""

from __future__ import annotations

from typing import Mapping

from aitunes_lib import abc
from aitunes_lib.decoding.constraints import FollowChart
from aitunes_lib.decoding.settings import GenerateConfig
from aitunes_lib.tasks.base import CHART_BARS, Prompt, Request, Task, _text, bar_ends
from aitunes_lib.tasks.charts import ChordChart
from aitunes_lib.tasks.inputs import chart_input, chart_violations


class ChordsTask(Task):
    """A melody over the user's chord chart: the same chord symbols at the same onsets, bar for bar."""

    name, marker, label = "chords", "<chords>", "over chords"
    example = '"C"x4 | "Am"x4 | "Dm"x2 "G7"x2 | "C"x4 |\n"F"x4 | "C"x2 "A7"x2 | "D7"x4 | "G7"x4 |'
    input_help = "ABC: a chord chart written with x rests, or any lead sheet (its notes are ignored)"

    def records(self, record, count, rng):
        return [r for r in (self.record(record, s) for s in range(count)) if r is not None]

    def record(self, record: Mapping[str, str], section: int = 0, bars: int = CHART_BARS) -> dict[str, str] | None:
        """The chart of one section of a song (bars section·bars …) prompting its melody (None past the end)."""
        completion = record["completion"]
        ends = [0, *bar_ends(completion)]
        start, stop = section * bars, min((section + 1) * bars, len(ends) - 1)
        if stop - start < 4:
            return None
        melody = completion[ends[start]: ends[stop]]
        melody = " " + melody.strip().removeprefix("$").strip()  # a section starts on a fresh line
        chart = ChordChart.from_body(melody)
        if not chart.chords:
            return None
        title, composer = abc.parse_prompt(record["prompt"])
        return {"prompt": self.chart_prompt(title, composer, chart),
                "completion": melody.rstrip().removesuffix("$").rstrip() + abc.LINE_BREAK + abc.END}

    def chart_prompt(self, title: str, composer: str, chart: ChordChart) -> str:
        """`X: 1 $ T: … $ C: … $ <chords>` + the chart + ` $ <song>`: the melody follows."""
        return self.header(title, composer) + chart.text() + abc.LINE_BREAK + abc.SONG

    def prompt(self, request: Request, config: "GenerateConfig | None" = None) -> Prompt:
        chord_tones = config.song.chord_tones if config is not None else 0.0
        given = request.text
        chart, moved = (given, None) if isinstance(given, ChordChart) else chart_input(_text(request, "a chord chart", allow_list=True))
        bars = tuple((length, tuple(chords)) for length, chords in chart.bars)
        tones = tuple(abc.chord_pitch_classes(name) or frozenset() for _, _, name in chart.chords)
        return Prompt(self.name, self.chart_prompt(request.title, request.composer, chart), request.title,
                      request.composer, FollowChart(bars, tones, chord_tones),
                      context={"chart": chart, "transposed_from": moved})

    def violations(self, prompt, completion):
        return chart_violations(prompt.context["chart"], completion)
