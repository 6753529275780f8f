"""What this project knows about OpenAI's models (kind, price, shutdown date), which to use by
default, and `OpenAIConfig`: how to fine-tune and call the API."""

from __future__ import annotations

import dataclasses
import datetime
import math
from pathlib import Path
from typing import Mapping


@dataclasses.dataclass(frozen=True)
class ModelFacts:
    """What this project knows about one OpenAI model (the API's own /v1/models answer wins at run time)."""

    kind: str  # "chat" or "completions"
    usd_per_1k_training: float | None  # fine-tuning price per 1,000 training tokens per epoch
    shutdown: str | None  # ISO date the model (and models fine-tuned from it) stop answering


# The one place for OpenAI model choices. Dates: OpenAI's deprecations page
# (https://platform.openai.com/docs/deprecations), as read for this project on FACTS_DATE; prices:
# OpenAI's fine-tuning price list of the same time. At run time the backend reads each model's
# `shutdown_date` from GET /v1/models/{id} and refuses one whose date has passed.
FACTS_DATE = "2026-11-25"
FACTS_SOURCE = "https://platform.openai.com/docs/deprecations"
MODELS: dict[str, ModelFacts] = {
    "gpt-4o-mini": ModelFacts("chat", 0.003, "2027-01-14"),
    "gpt-4o-mini-2024-07-18": ModelFacts("chat", 0.003, "2027-01-14"),
    "davinci-002": ModelFacts("completions", 0.006, "2026-10-23"),  # the workbook's first default; shut down
    "gpt-3.5-turbo": ModelFacts("chat", 0.008, "2026-10-23"),  # shut down
}
DEFAULT_BASE_MODEL = "gpt-4o-mini"  # fine-tunable while OpenAI still takes jobs (no new jobs from 2027-01-06)
DEFAULT_CHAT_MODEL = "gpt-4o-mini"  # naming and few-shot
CHAT_MODELS = tuple(name for name, facts in MODELS.items() if facts.kind == "chat")
PRICES = {name: facts.usd_per_1k_training for name, facts in MODELS.items() if facts.usd_per_1k_training is not None}
FINE_TUNING_NOTICE = (
    "OpenAI is closing self-serve fine-tuning: since 2026-05-07 organisations that never fine-tuned cannot create "
    "jobs, since 2026-07-02 nor can those without fine-tuned-model use in the last 60 days, and from 2027-01-06 no one "
    f"can (source: {FACTS_SOURCE}, read {FACTS_DATE})"
)


def base_of(model: str) -> str:
    """The base model of a fine-tuned id (`ft:gpt-4o-mini:org:suffix:id` → `gpt-4o-mini`), else the id."""
    return model.split(":")[1] if model.startswith("ft:") and model.count(":") >= 1 else model


def replacements_for(model: str, today: datetime.date | None = None) -> list[str]:
    """The models of `MODELS` that may stand in for `model`, best first: those of its kind, then
    chat models, each live by this project's table on `today`; never `model` nor its base."""
    today = today or datetime.date.today()
    kind = MODELS[base_of(model)].kind if base_of(model) in MODELS else "chat"
    live = [name for name, facts in MODELS.items()
            if name not in (model, base_of(model)) and (facts.shutdown is None or facts.shutdown > today.isoformat())]
    return sorted(live, key=lambda name: (MODELS[name].kind != kind, MODELS[name].kind != "chat"))


def replacement_for(model: str, today: datetime.date | None = None) -> str | None:
    """A live model of the same kind (or a chat model) from `MODELS`, never `model` itself; None when none is left."""
    return next(iter(replacements_for(model, today)), None)


@dataclasses.dataclass(frozen=True)
class OpenAIConfig:
    """How to fine-tune and call the API."""

    base_model: str = DEFAULT_BASE_MODEL  # the article used curie, a completions model; those are shut down
    n_epochs: int = 5  # as in the article
    suffix: str | None = "aitunes"
    seed: int | None = 42
    validation_file: Path | None = None
    prices: Mapping[str, float] = dataclasses.field(default_factory=lambda: dict(PRICES))
    poll_first: float = 2.0  # seconds before the first status check; then x1.5 each time
    poll_max: float = 60.0
    timeout: float = 600.0  # the longest wait for a job, in hours for real runs
    max_retries: int = 3  # for 429, 5xx and dropped connections (the SDK backs off exponentially)
    # seconds one try of a request may take (`--timeout`): waiting for the answer to start, and reading it;
    # a server that never answers holds you about request_timeout × (max_retries + 1), plus short back-offs
    request_timeout: float = 60.0
    base_url: str | None = None  # None: OpenAI; tests point it at a local stand-in
    max_reply_mb: float = 8.0  # a bigger reply is refused as it arrives, not read whole (OpenAI's are kilobytes)

    def __post_init__(self) -> None:
        for name, low in (("request_timeout", 0.0), ("max_reply_mb", 0.0), ("poll_first", 0.0), ("poll_max", 0.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= low:
                raise ValueError(f"OpenAIConfig.{name}={value!r}: give a number of {'MB' if name == 'max_reply_mb' else 'seconds'} above 0")
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int) or not 0 <= self.max_retries <= 10:
            raise ValueError(f"OpenAIConfig.max_retries={self.max_retries!r}: give a whole number from 0 to 10")

    @property
    def chat(self) -> bool:
        return self.base_model.startswith(CHAT_MODELS) or "gpt-" in self.base_model
