"""Continue the user's opening: the first k bars → the rest."""

from __future__ import annotations

from typing import Mapping

from aitunes_lib import abc
from aitunes_lib.decoding.constraints import Register, WholeBars
from aitunes_lib.decoding.settings import GenerateConfig
from aitunes_lib.tasks.base import PHRASE_BARS, PHRASE_MIN_BARS, Prompt, Request, Task, _text, bar_ends
from aitunes_lib.tasks.charts import Phrase
from aitunes_lib.tasks.inputs import phrase_input


class PhraseTask(Task):
    """Continue the user's opening: the first k bars → the rest, the opening kept verbatim."""

    name, marker, label = "phrase", "<phrase>", "continue"
    example = '"C"E2 G2 | "F"A2 c2 | "G7"B2 d2 | "C"c4 |'
    input_help = "ABC: the opening bars (whole bars, 4/4 or 2/2; another key is moved to C)"

    def records(self, record, count, rng):
        ks = rng.permutation(list(PHRASE_BARS))[:count]  # drawn for every song, so the mix is stable
        return [r for r in (self.record(record, int(k)) for k in sorted(ks)) if r is not None]

    def record(self, record: Mapping[str, str], k: int) -> dict[str, str] | None:
        """A song record cut after its k-th bar: the first k bars prompt the rest (None if too short)."""
        completion = record["completion"]
        ends = bar_ends(completion)
        if len(ends) < k + PHRASE_MIN_BARS:
            return None
        title, composer = abc.parse_prompt(record["prompt"])
        return {"prompt": self.header(title, composer) + completion[: ends[k - 1]], "completion": completion[ends[k - 1]:]}

    def prompt(self, request: Request, config: "GenerateConfig | None" = None) -> Prompt:
        phrase = request.text if isinstance(request.text, Phrase) else phrase_input(_text(request, "an opening"))
        # after the prefix's whole bars (no pickup any more), and at least PHRASE_MIN_BARS more
        pitches = [n for n in (abc.pitch_number(m.group(0)) for m in abc.NOTE.finditer(abc.CHORD.sub(" ", phrase.prefix))) if n is not None]
        constraint = WholeBars(bars_before=phrase.bars, min_bars=phrase.bars + PHRASE_MIN_BARS, register=Register.around(pitches))
        return Prompt(self.name, self.header(request.title, request.composer) + phrase.prefix, request.title,
                      request.composer, constraint, prefix=phrase.prefix,
                      context={"prefix_quarters": phrase.quarters, "transposed_from": phrase.transposed_from,
                               "prefix_bars": phrase.bars})

    def violations(self, prompt, completion):
        return [] if abc.decode_body(prompt.prefix + completion).startswith(abc.decode_body(prompt.prefix).rstrip()) \
            else ["prefix changed"]
