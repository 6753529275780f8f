"""`OpenAIBackend`: the settings, key and client it is made with, and its parts (API calls,
fine-tuning, sampling) in one object."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from aitunes_lib import config
from aitunes_lib.backends.openai_backend.client import _Reporter, check_base_url
from aitunes_lib.backends.openai_backend.fine_tuning import FineTuning
from aitunes_lib.backends.openai_backend.sampling import Sampling
from aitunes_lib.backends.openai_backend.settings import OpenAIConfig
from aitunes_lib.backends.openai_backend.transport import bounded_client


class OpenAIBackend(FineTuning, Sampling):
    """Fine-tune and generate through the OpenAI API (the `Backend` protocol).

    A training file may mix the tasks (`tasks.training_records`). The API samples on its own,
    so it enforces no constraint: `sample` says which it could not, and each task's check
    reports what every candidate broke.
    """

    name = "openai"

    def __init__(
        self,
        model: str | None = None,
        settings: OpenAIConfig = OpenAIConfig(),
        api_key: str | None = None,
        report: Callable[[str], None] | None = None,
        examples: Sequence[Mapping[str, str]] | None = None,
    ):
        import openai

        self.settings = settings
        self.model = model
        # few-shot: real songs (prompt/completion records, `fewshot.choose`) shown to a chat model
        # in every request; `sample` then repairs bars and reports in `repairs`. None: the model as is.
        self.examples = list(examples) if examples else None
        self.repairs: Any = None
        self._live: set[str] = set()
        check_base_url(settings.base_url or config.openai_base_url())
        key = config.check_api_key(api_key, "api_key") if api_key else config.openai_api_key()
        self.report = _Reporter(report, secret=key)
        self.client = openai.OpenAI(
            api_key=key,
            base_url=settings.base_url,
            max_retries=settings.max_retries,
            timeout=settings.request_timeout,
            http_client=bounded_client(int(settings.max_reply_mb * 1e6), settings.request_timeout),
        )
