"""An ABC-aware tokenizer (Hugging Face `tokenizers`): one token per musical event.

The text is cut into events first, each keeping the space before it:
- a chord symbol `` `Cm7` ``;
- a tuplet mark `(3`;
- a note or rest with its accidental, octave and length (`^c'3/2`, `z/`);
- a tie, a bar line, the line break ` $`.

Any other character (titles, composers) stands alone. A BPE model trained within those
pieces turns every event seen in training into a single token. An unseen event falls back
to smaller pieces, and an unseen character to its UTF-8 bytes, so encoding never fails and
`decode(encode(x)) == x`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Sequence

from aitunes_lib import files
from aitunes_lib.abc import END, EVENT, SONG

PAD = "<pad>"


def specials() -> tuple[str, ...]:
    """The tokens that are never split: padding, `<end>`, and every registered task's marker."""
    from aitunes_lib import tasks

    return (PAD, SONG, END, *(m for m in tasks.markers() if m != SONG))


BYTES = [f"<0x{b:02X}>" for b in range(256)]


class AbcTokenizer:
    """Encode and decode the article's training text; saved as `tokenizer.json` with a model."""

    def __init__(self, tokenizer):
        self._tokenizer = tokenizer

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 4096) -> "AbcTokenizer":
        """Learn the vocabulary from training texts (whole prompt + completion strings)."""
        from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

        texts = list(texts)
        if not texts:
            raise ValueError("cannot build a tokenizer from no text: the training file is empty")
        draft = Tokenizer(models.BPE())
        draft.pre_tokenizer = pre_tokenizers.Split(Regex(EVENT), behavior="isolated")
        alphabet = sorted({ch for text in texts for ch in text} | {chr(c) for c in range(32, 127)})
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(specials()), initial_alphabet=alphabet,
                                      show_progress=False, min_frequency=2)
        draft.train_from_iterator(texts, trainer)
        learned = json.loads(draft.to_str())["model"]
        vocab = dict(learned["vocab"])
        for token in BYTES:  # room for UTF-8 bytes of characters never seen in training
            vocab.setdefault(token, len(vocab))
        merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in learned["merges"]]
        tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, byte_fallback=True))
        tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(EVENT), behavior="isolated")
        tokenizer.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Fuse()])
        tokenizer.add_special_tokens(list(specials()))
        return cls(tokenizer)

    def encode(self, text: str) -> list[int]:
        """Token ids of a text; never fails."""
        return self._tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int]) -> str:
        """The text of token ids (exact: no spaces added or removed)."""
        return self._tokenizer.decode(list(ids), skip_special_tokens=False)

    def tokens(self, text: str) -> list[str]:
        """The tokens of a text, as strings (to look at)."""
        return self._tokenizer.encode(text, add_special_tokens=False).tokens

    def token_id(self, token: str) -> int:
        """The id of one token (for example `<end>`); a missing token raises KeyError."""
        found = self._tokenizer.token_to_id(token)
        if found is None:
            raise KeyError(f"{token!r} is not in the vocabulary")
        return found

    def add_specials(self) -> int:
        """Add any task marker this tokenizer lacks (one saved before that task existed);
        returns how many were added, at the end of the vocabulary."""
        missing = [t for t in specials() if self._tokenizer.token_to_id(t) is None]
        if missing:
            self._tokenizer.add_special_tokens(missing)
        return len(missing)

    @property
    def vocab_size(self) -> int:
        return self._tokenizer.get_vocab_size()

    def save(self, folder: str | Path) -> Path:
        """Write `tokenizer.json` into a model folder."""
        folder = Path(folder)
        with files.replacing(folder / "tokenizer.json") as tmp:
            self._tokenizer.save(str(tmp))
        return folder / "tokenizer.json"

    @classmethod
    def load(cls, folder: str | Path) -> "AbcTokenizer":
        """Read the tokenizer saved with a model; a missing file says so."""
        from tokenizers import Tokenizer

        path = Path(folder) / "tokenizer.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no tokenizer here (is {folder} a model folder?)")
        try:
            return cls(Tokenizer.from_file(str(path)))
        except Exception as error:  # noqa: BLE001 - the tokenizers library raises plain Exception for a bad file
            raise ValueError(f"{path}: not a readable tokenizer ({str(error).splitlines()[0][:120]}); "
                             "train the model again or use another folder") from error
