"""The protocol both backends follow, and the handle of a fine-tuned model."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Mapping, Protocol

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
    """Fine-tune on the article's JSONL; generate completions in the article's format."""

    def fine_tune(self, train_jsonl: str | Path, config: Any = None) -> ModelHandle: ...

    def generate(
        self, prompt: str, n: int = 5, temperature: float = 0.75, top_p: float = 1.0,
        max_tokens: int = 1000, seed: int | None = None,
    ) -> list[str]: ...


def as_completion(text: str) -> str:
    """A generated continuation in the article's completion format: ` … $ <end>`."""
    body = text.split("<end>", 1)[0].rstrip()
    body = body[:-1].rstrip() if body.endswith("$") else body
    return " " + body.strip() + STOP
