"""The article's task: a whole song from a title and a composer, shaped by its plan."""

from __future__ import annotations

import dataclasses
import re

from aitunes_lib import abc
from aitunes_lib.decoding.constraints import SongForm, WholeBars
from aitunes_lib.decoding.plan import SongPlan, bar_quarters, draw_plans
from aitunes_lib.decoding.settings import GenerateConfig
from aitunes_lib.song import Song
from aitunes_lib.tasks.base import Prompt, Request, Task, bar_ends, own_meter


class SongTask(Task):
    """The article's task: a whole song from a title and a composer.

    By default the decoder also gives it a song's shape: a form drawn from the real songs'
    forms (sections that return are copied, with short motif repeats), a chord chart planned
    first (`decoding.harmony`), closing bars, pickups and first and second endings as often as
    real songs have them, a last bar on the tonic over a tonic chord, a nudge toward the sounding
    chord's tones, real melodies' intervals weighed into each note, a range and a set of note
    lengths per melody, and the balance: each melody leans toward its own moves, ties, pace,
    chromatic share, rests and share of chord tones, drawn from the real songs' spread. `SongShape(planned=False)` leaves the model
    alone with the bar rules.
    """

    name, marker, label = "song", abc.SONG, "song"
    input_help = "nothing: the title and band are the prompt"

    def records(self, record, count, rng):
        return [dict(record)] * count

    def prompt(self, request: Request, config: "GenerateConfig | None" = None) -> Prompt:
        config = config or GenerateConfig()
        meter, key = config.song.meter, config.song.key
        text = self.header(request.title, request.composer, meter, key)
        context = ({"meter": meter} if meter != "4/4" else {}) | ({"key": key} if key != "C" else {})
        if not config.song.planned:  # the model alone, with the bar rules
            return Prompt(self.name, text, request.title, request.composer, WholeBars(bar=bar_quarters(meter)), context=context)
        plans = tuple(draw_plans(config.song, config.n, config.seed))
        return Prompt(self.name, text, request.title, request.composer, SongForm(plans, config.song), plans=plans, context=context)

    def song(self, prompt: Prompt, completion: str, candidate: int) -> Song:
        song = super().song(prompt, completion, candidate)
        if not prompt.plans:
            return song
        completion = own_meter(completion)[1]  # the song keeps it; its bars are counted without it
        plan = prompt.plans[candidate % len(prompt.plans)]
        if plan.passes > 1:
            song = dataclasses.replace(song, body=self.unfold(completion, plan.passes, len(plan.sections) * plan.section_bars, plan.volta))
        return dataclasses.replace(song, context=dict(prompt.context) | plan.context(),
                                   violations=song.violations + tuple(self.form_violations(plan, completion)))

    @staticmethod
    def unfold(completion: str, passes: int, form_bars: int, volta: int = 0) -> str:
        """A form played `passes` times, as a lead sheet's repeat unfolds, from the one pass the
        model wrote: a pickup opens only the first pass; with a `volta`, the form's last `volta`
        bars (the first ending) close every pass but the last, and the `volta` bars after the
        form (the second ending) close the last; the bars after those (the closing bars) close
        only the last pass."""
        ends, lengths = bar_ends(completion), abc.bar_lengths(completion)
        pickup = int(len(ends) > 1 and abc.opens_with_pickup(lengths))  # (an unruly completion counts no pickup)

        def after(bars: int) -> int:  # the offset just after this many bars of the form (all of them, if fewer)
            return ends[min(pickup + bars, len(ends)) - 1] if ends and pickup + bars > 0 else 0

        cut, common = (after(form_bars), after(form_bars - volta)) if ends else (len(completion), len(completion))
        start = ends[0] if pickup else 0
        first, again = completion[:cut], completion[start:cut]
        last = completion[start:common] + completion[cut:]
        return "".join(abc.decode_body(part) for part in [first, *[again] * (passes - 2), last])

    @staticmethod
    def form_violations(plan: SongPlan, completion: str) -> list[str]:
        """What a candidate broke of its plan: its bars (the form, closing bars and a second
        ending) and its cadence (landing on the ending's note). A decoder that enforces the plan
        breaks nothing unless the model's window ran out; the OpenAI API cannot enforce it."""
        lengths = abc.bar_lengths(completion)
        whole = lengths[1:] if abc.opens_with_pickup(lengths) else lengths
        tail, volta = plan.tail, (plan.volta if plan.passes > 1 else 0)
        want = len(plan.sections) * plan.section_bars + tail + volta
        extra = (f" and {tail:+d} bars" if tail else "") + (f" and a second ending of {volta}" if volta else "")
        problems = [] if len(whole) == want else [f"{len(whole)} bars; the form {plan.form}{extra} has {want}"]
        if plan.cadence:
            body = completion.split(abc.END, 1)[0]
            notes = [e for e in re.findall(abc.EVENT, body) if abc.classify(e)[0] == abc.NOTE_KIND and "z" not in e]
            if not notes or abc.pitch_class(notes[-1]) != plan.landing:
                problems.append(f"the melody does not end on {plan.ending.partition(':')[2] or 'C'}")
        return problems
