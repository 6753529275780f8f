"""The protocol both backends follow, and the handle of a fine-tuned model."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Protocol

from aitunes_lib import files

if TYPE_CHECKING:
    from aitunes_lib.decoding.settings import GenerateConfig

STOP = " $ <end>"  # the article's stop sequence: a completion ends with it


class ModelFileError(ValueError):
    """A file of a model folder is missing, damaged or not what it should be; the message names it."""


@dataclasses.dataclass(frozen=True)
class ModelHandle:
    """What names a fine-tuned model: the backend, the model (a folder or a model id), its base."""

    backend: str
    model: str
    base: str | None = None
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def save(self, path: str | Path) -> Path:
        """Write the handle as JSON."""
        return files.write_json(path, dataclasses.asdict(self))

    @classmethod
    def load(cls, path: str | Path) -> "ModelHandle":
        """Read a handle written by `save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no model handle (train a model first)")
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise ModelFileError(f"{path}: not a model handle ({error}); train the model again") from error


class Backend(Protocol):
    """Fine-tune on the article's JSONL, and sample completions in the article's format.

    `sample` returns n completions (` … $ <end>`) of a prompt. `constraint` is what the task
    wants enforced while decoding (see `aitunes_lib.decoding`): a backend that can, does; one
    that cannot says so, and the task's check reports what each candidate broke.
    Everything else (prompts, decoding to `Song`s, ranking) is `aitunes_lib.generate`'s.
    """

    name: str

    def fine_tune(self, train_jsonl: str | Path, config: Any = None) -> ModelHandle: ...

    def sample(self, prompt: str, n: int, config: "GenerateConfig", constraint: Any = None) -> list[str]: ...


def as_completion(text: str) -> str:
    """A generated continuation in the article's completion format: ` … $ <end>`."""
    body = text.split("<end>", 1)[0].rstrip()
    body = body[:-1].rstrip() if body.endswith("$") else body
    return " " + body.strip() + STOP
