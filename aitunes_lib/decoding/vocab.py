"""What each token of a model's vocabulary is, read once from its text.

The masks and levers look tokens up here instead of reading strings while decoding: a token's
kind (`TokenKind`), and for a note its written length, pitch, pitch class and spelling.
"""

from __future__ import annotations

import enum
import re
from fractions import Fraction
from typing import Sequence

import numpy as np

from aitunes_lib import abc


class TokenKind(enum.IntEnum):
    """The kinds of token the ABC event grammar (`abc.classify`) tells apart."""

    FORBIDDEN = abc.FORBIDDEN  # a fragment, a marker, or what decoding never writes
    NOTE = abc.NOTE_KIND  # a note or a rest, with its length
    CHORD = abc.CHORD_KIND  # a chord symbol in backticks
    TIE = abc.TIE
    BARLINE = abc.BARLINE
    LINEBREAK = abc.LINEBREAK  # ` $`, the article's new line
    TUPLET = abc.TUPLET_KIND  # `(3`: the next notes scaled
    SPACE = abc.SPACE  # the space of the article's ending ` $ <end>`
    END = abc.END_KIND
    GRACE_OPEN = abc.GRACE_OPEN
    GRACE_CLOSE = abc.GRACE_CLOSE


C_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_SPELLING = re.compile(r"\s*([_^=]*[A-Ga-gz][,']*)")  # accidental, letter, octave


class Vocab:
    """Every token's kind, and for the note tokens (`note_ids`, in id order) their facts as arrays."""

    def __init__(self, token_texts: Sequence[str]):
        self.texts = list(token_texts)
        self.kinds = np.zeros(len(token_texts), dtype=np.int8)
        self.lengths: dict[int, Fraction] = {}  # a note token's written length, in quarters
        self.tuplets: dict[int, tuple[int, int, int]] = {}  # a tuplet mark's (p, q, r)
        for i, text in enumerate(token_texts):
            kind, value = abc.classify(text)
            self.kinds[i] = kind
            if kind == TokenKind.NOTE:
                self.lengths[i] = value  # type: ignore[assignment]
            elif kind == TokenKind.TUPLET:
                self.tuplets[i] = value  # type: ignore[assignment]
        self.note_ids = np.array(sorted(self.lengths), dtype=np.int64)
        self.note_texts = [token_texts[i] for i in self.note_ids]
        self.index_of = {token: i for i, token in enumerate(self.note_ids.tolist())}  # a note token's place in the arrays
        self.end_id = next((i for i, k in enumerate(self.kinds) if k == TokenKind.END), None)
        self.is_rest = np.array([text.strip()[:1] == "z" for text in token_texts])  # over every token
        numbers = [abc.pitch_number(text) for text in self.note_texts]
        self.pitched = np.array([number is not None for number in numbers])  # over the note tokens, as below
        self.pitch_of = {token: n for token, n in zip(self.note_ids.tolist(), numbers) if n is not None}
        self.numbers = np.array([n if n is not None else 0 for n in numbers], dtype=np.int64)  # semitones above middle C
        self.pcs = np.array([abc.pitch_class(text) for text in self.note_texts], dtype=np.int64)
        self.off_scale = self.pitched & ~np.isin(self.pcs % 12, C_MAJOR)
        codes: dict[str, int] = {}
        spelled = [_SPELLING.match(text) for text in self.note_texts]
        self.spellings = np.array([codes.setdefault(m.group(1), len(codes)) if m else -1 for m in spelled], dtype=np.int64)
        self.rest_ids = self.note_ids[self.is_rest[self.note_ids]]
        self.landings = [self.note_ids[(self.pcs == pc) & ~self.is_rest[self.note_ids]] for pc in range(12)]
        self._tones: dict[int, frozenset[int]] = {}

    def of_kind(self, kind: TokenKind) -> np.ndarray:
        """A mask over the vocabulary: the tokens of this kind."""
        return self.kinds == kind

    def tones(self, token: int) -> frozenset[int]:
        """A chord token's pitch classes (empty for one music21 cannot read), read once."""
        if token not in self._tones:
            self._tones[token] = abc.chord_pitch_classes(self.texts[token].strip()[1:-1]) or frozenset()
        return self._tones[token]

    def held(self, spelling: int) -> np.ndarray:
        """Over the note tokens: the notes written as `spelling` at any length (what a tie continues)."""
        return self.pitched & (self.spellings == spelling)
