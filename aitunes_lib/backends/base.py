"""The protocol both backends follow, and the handle of a fine-tuned model."""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Protocol, Sequence

if TYPE_CHECKING:
    from aitunes_lib.dataset import Phrase

STOP = " $ <end>"  # the article's stop sequence: a completion ends with it


@dataclasses.dataclass(frozen=True)
class ModelHandle:
    """What names a fine-tuned model: the backend, the model (a folder or a model id), its base."""

    backend: str
    model: str
    base: str | None = None
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def save(self, path: str | Path) -> Path:
        """Write the handle as JSON."""
        path = Path(path)
        path.write_text(json.dumps(dataclasses.asdict(self), indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "ModelHandle":
        """Read a handle written by `save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no model handle (train a model first)")
        return cls(**json.loads(path.read_text()))


class Backend(Protocol):
    """Fine-tune on the article's JSONL; generate completions in the article's format; continue
    a phrase and write over a chord chart (both backends get the last two from `Tasks`)."""

    def fine_tune(self, train_jsonl: str | Path, config: Any = None) -> ModelHandle: ...

    def generate(
        self, prompt: str, n: int = 5, temperature: float = 0.75, top_p: float = 1.0,
        max_tokens: int = 1000, seed: int | None = None,
    ) -> list[str]: ...

    def complete_phrase(self, abc_prefix: "str | Phrase", n: int = 5, title: str = ..., composer: str = ...,
                        **options: Any) -> list[str]: ...

    def melody_for_chords(self, chords: "str | Sequence[str]", n: int = 5, title: str = ..., composer: str = ...,
                          **options: Any) -> list[str]: ...


def as_completion(text: str) -> str:
    """A generated continuation in the article's completion format: ` … $ <end>`."""
    body = text.split("<end>", 1)[0].rstrip()
    body = body[:-1].rstrip() if body.endswith("$") else body
    return " " + body.strip() + STOP


class Tasks:
    """`complete_phrase` and `melody_for_chords` for a backend; it supplies `_task_generate`.

    The local backend enforces the task by constraint while decoding; the OpenAI backend
    cannot, so its candidates are checked afterwards and violations reported.
    """

    last_violations: list[list[str]]

    def _task_generate(self, prompt: str, n: int, constraint: Any, **options: Any) -> list[str]:
        raise NotImplementedError

    def complete_phrase(self, abc_prefix: "str | Phrase", n: int = 5, title: str = "Untitled", composer: str = "AI-Tunes",
                        **options: Any) -> list[str]:
        """n songs that start with the user's bars, unchanged, and continue them.

        `abc_prefix` is ABC (header optional): whole bars, 4/4 or 2/2; another key is
        transposed to C first. A `dataset.Phrase` already checked is used as it is. Returns
        completions in the article's format, prefix included.
        """
        from aitunes_lib import dataset

        phrase = abc_prefix if isinstance(abc_prefix, dataset.Phrase) else dataset.phrase_input(abc_prefix)
        prompt = dataset.phrase_prompt(title, composer, phrase.prefix)
        rests = self._task_generate(prompt, n, phrase, **options)
        songs = [phrase.prefix + (rest if rest.strip() != STOP.strip() else STOP) for rest in rests]
        self.last_violations = [[] if song.startswith(phrase.prefix) else ["prefix changed"] for song in songs]
        return songs

    def melody_for_chords(self, chords: "str | Sequence[str]", n: int = 5, title: str = "Untitled",
                          composer: str = "AI-Tunes", **options: Any) -> list[str]:
        """n melodies over a chord chart: the same chord symbols at the same onsets, bar for bar.

        `chords` is ABC (a chart written with x rests, or a lead sheet whose notes are ignored)
        or a list of bars such as `["C", "Am F", "Dm G7"]`. Returns completions in the
        article's format; `last_violations` lists, per candidate, where the chords differ.
        """
        from aitunes_lib import dataset

        chart, _ = dataset.chart_input(chords)
        melodies = self._task_generate(dataset.chords_prompt(title, composer, chart), n, chart, **options)
        self.last_violations = [dataset.chart_violations(chart, melody) for melody in melodies]
        broken = sum(bool(v) for v in self.last_violations)
        if broken:
            warnings.warn(f"{broken} of {len(melodies)} candidates do not keep the chord chart; see last_violations", stacklevel=2)
        return melodies
