"""One `transformers` logits processor: the AND of the masks, the sum of the levers, one renormalisation.

`SongRules` puts a planned song's masks and levers together over one vocabulary: `allowed`
(what may come next), `bias` (the levers' sum), `advance` (one token, once, for all of them).
`ConstraintProcessor` applies any such rules (`MeterRules`, `ChartRules`, `SongRules`) to every
row of a batch: biases first, moved among the notes only (`bias_group`), then -inf where the
mask says no.
"""

from __future__ import annotations

import copy
from typing import Sequence

import numpy as np

from aitunes_lib.decoding import levers as lever_files
from aitunes_lib.decoding.masks.bars import BarState, MeterRules
from aitunes_lib.decoding.masks.breath import Breath
from aitunes_lib.decoding.masks.budget import Budget
from aitunes_lib.decoding.masks.cadence import Cadence
from aitunes_lib.decoding.masks.chart import ChartRules
from aitunes_lib.decoding.masks.chords import ChordSpacing
from aitunes_lib.decoding.masks.form import Form, forced
from aitunes_lib.decoding.masks.harmony import Harmony
from aitunes_lib.decoding.masks.pickup import Pickup
from aitunes_lib.decoding.masks.ties import Ties
from aitunes_lib.decoding.masks.tuplets import Tuplets
from aitunes_lib.decoding.plan import SongShape
from aitunes_lib.decoding.state import SongState, Tracker

MASKS = (Form, Pickup, ChordSpacing, Harmony, Ties, Tuplets, Breath, Cadence)  # in this order; the budget comes last


class SongRules:
    """The masks and levers of a planned song, over one vocabulary's `MeterRules`."""

    def __init__(self, rules: MeterRules, shape: SongShape, budget: int | None = None):
        self.rules, self.kinds, self.shape = rules, rules.kinds, shape
        self.tracker = Tracker(rules)
        self.masks = [mask(rules, self.tracker, shape) for mask in MASKS] + [Budget(rules, self.tracker, budget)]
        self.levers = [lever(rules, self.tracker, shape) for lever in lever_files.ORDER]
        self.chord_tones = next(lever for lever in self.levers if isinstance(lever, lever_files.ChordTones))
        self.bias_group = rules.note_ids  # the levers move probability among notes and rests only

    def allowed(self, state: SongState) -> np.ndarray:
        """A boolean mask over the vocabulary: the tokens every rule allows."""
        mask = forced(state, self.kinds)
        if mask is not None:
            return mask
        mask = self.rules.allowed(state, state.plan.pickup)  # a whole first bar when no pickup was drawn, a short one when one was
        for rule in self.masks:
            rule.restrict(state, mask)
        if not mask.any():  # never leave nothing to sample
            mask = self.rules.allowed(state, state.plan.pickup)
        return mask

    def bias(self, state: SongState) -> np.ndarray | None:
        """The levers' logits summed in `levers.ORDER` (None when none applies, or a token is forced)."""
        if state.retuning_chord(self.kinds):  # a chord symbol over a copied melody
            return self.chord_tones.holding(state.forcing[1]) if self.shape.chord_tones and len(state.forcing) > 1 else None
        if state.forcing:
            return None
        bonus = np.zeros(len(self.kinds), dtype=np.float32)
        touched = False
        for lever in self.levers:
            touched |= lever.add(state, bonus)
        return bonus if touched else None

    def advance(self, state: SongState, token: int) -> SongState:
        return self.tracker.advance(state, token)


class ConstraintProcessor:
    """A `transformers` logits processor: -inf for every token that would break the bar.

    It reads the tokens generated after the prompt (`prompt_length` of them are the prompt),
    one state per row, so it works with `num_return_sequences` and batched prompts.
    """

    def __init__(self, rules: "MeterRules | ChartRules | SongRules", prompt_length: int, start: "BarState | Sequence[BarState] | None" = None):
        self.rules = rules
        self.prompt_length = prompt_length
        self.start = start if start is not None else BarState()  # one state for every row, or one per row
        self.states: list[BarState] = []
        self.seen = prompt_length

    def __call__(self, input_ids, scores):
        import torch

        rows, length = input_ids.shape
        if not self.states:
            starts = self.start if isinstance(self.start, (list, tuple)) else [self.start] * rows
            self.states = [copy.deepcopy(starts[i % len(starts)]) for i in range(rows)]
        new = input_ids[:, self.seen:length].tolist()
        self.seen = length
        masks, biases = [], []
        for state, tokens in zip(self.states, new):
            for token in tokens:
                self.rules.advance(state, token)
            masks.append(self.rules.allowed(state))
            biases.append(self.rules.bias(state) if hasattr(self.rules, "bias") else None)  # type: ignore[union-attr]
        if any(b is not None for b in biases):
            bonus = np.stack([b if b is not None else np.zeros(len(masks[0]), dtype=np.float32) for b in biases])
            width = min(bonus.shape[1], scores.shape[1])
            scores = scores.clone()
            shift = torch.from_numpy(bonus[:, :width]).to(scores.device, scores.dtype)
            group = getattr(self.rules, "bias_group", None)  # tokens whose total probability the bonus keeps
            if group is not None:
                notes = torch.from_numpy(group).to(scores.device)
                before = torch.logsumexp(scores[:, notes], dim=1, keepdim=True)
                after = torch.logsumexp(scores[:, notes] + shift[:, notes], dim=1, keepdim=True)
                shift[:, notes] -= after - before  # chord-tone notes gain at other notes' expense, not at chords' or bar lines'
            scores[:, :width] += shift
        mask = torch.from_numpy(np.stack(masks)).to(scores.device)
        mask = mask[:, : scores.shape[1]]
        if mask.shape[1] < scores.shape[1]:  # rows of the embedding beyond the tokenizer (padding)
            mask = torch.cat([mask, torch.zeros(rows, scores.shape[1] - mask.shape[1], dtype=torch.bool, device=scores.device)], 1)
        return scores.masked_fill(~mask, float("-inf"))


def make_processor(rules: "MeterRules | ChartRules | SongRules", prompt_length: int, start: "BarState | Sequence[BarState] | None" = None):
    """`ConstraintProcessor` as a real `transformers.LogitsProcessor` subclass."""
    from transformers import LogitsProcessor

    class _Processor(ConstraintProcessor, LogitsProcessor):
        pass

    return _Processor(rules, prompt_length, start)
