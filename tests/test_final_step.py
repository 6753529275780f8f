"""The toy lever: a step into the final note."""

import dataclasses

from aitunes_lib.abc import pitch_class
from aitunes_lib.decoding.plan import SongPlan, SongShape
from aitunes_lib.decoding import constraints
from aitunes_lib.decoding.masks.bars import MeterRules
from aitunes_lib.tokenizer import AbcTokenizer


def test_the_note_before_the_cadence_steps_into_the_landing_note(few_texts):
    tokenizer = AbcTokenizer.train(few_texts)
    rules = MeterRules([tokenizer.decode([i]) for i in range(tokenizer.vocab_size)])
    off = SongShape(chord_tones=0, intervals=0, balance=0, final_step=0.0)
    for weight, favoured in ((2.0, True), (0.0, False)):
        form = constraints.SongForm((SongPlan.of("A", section_bars=2),), dataclasses.replace(off, final_step=weight))
        song, (state,) = form.build(rules, tokenizer.encode, None)
        for token in tokenizer.encode(" C D E"):  # one beat left before the cadence (on C)
            song.advance(state, token)
        bonus = song.bias(state)
        steps = {tokenizer.decode([int(i)]).strip() for i in rules.note_ids if bonus is not None and bonus[i] > 0}
        assert bool(steps) == favoured
        assert all(pitch_class(t) in (10, 11, 1, 2) for t in steps)  # B, Bb, C#, D: a step from C
