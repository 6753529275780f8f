"""The backends as the studio's picker offers them, each a factory: model name or folder → a backend ready to generate."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from aitunes_lib.backends.base import Backend

BackendFactory = Callable[[str], Backend]  # model name or folder -> a backend ready to generate

__all__ = ["BackendFactory", "default_backends"]


def default_backends(songs: str | Path | None = None, k: int = 4) -> dict[str, BackendFactory]:
    """The backends as the studio's picker offers them: `local` takes a model folder (empty: the
    committed folk-tune base), `openai` a fine-tuned model id (needs a key), and, given prep's
    training file `songs`, `openai few-shot`: a current chat model (empty: the default one) shown
    k real songs, with no fine-tuning."""
    loaded: dict[str, Backend] = {}

    def local(model: str) -> Backend:
        from aitunes_lib.backends.local import BASE_CHECKPOINT, LocalBackend

        folder = str(model or BASE_CHECKPOINT)
        if folder not in loaded:  # keep the model in memory between clicks
            backend = LocalBackend(folder)
            backend.model, backend.rules  # noqa: B018 - load the weights and the meter rules now, not in the first click
            loaded[folder] = backend
        return loaded[folder]

    def openai(model: str) -> Backend:
        from aitunes_lib.backends.openai_backend import OpenAIBackend

        return OpenAIBackend(model=model or None)

    def few_shot(model: str) -> Backend:
        from aitunes_lib import dataset, fewshot
        from aitunes_lib.backends.openai_backend import DEFAULT_CHAT_MODEL, OpenAIBackend

        backend = OpenAIBackend(model=model or DEFAULT_CHAT_MODEL, examples=fewshot.choose(dataset.read_jsonl(songs), k))
        backend.require_live(backend.model)
        return backend

    return {"local": local, "openai": openai, **({"openai few-shot": few_shot} if songs else {})}
