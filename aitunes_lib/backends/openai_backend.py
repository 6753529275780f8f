"""The article's workflow on today's OpenAI API: upload, fine-tune, watch, generate.

Written against the v1-style client of the `openai` SDK. The job id goes to a small JSON
state file next to the training file as soon as the job exists, so a restarted notebook
watches the same job instead of paying for a second one. The API key never goes there.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from aitunes_lib import config, dataset, files
from aitunes_lib.backends.base import STOP, ModelHandle, as_completion

if TYPE_CHECKING:
    from aitunes_lib.decoding.settings import GenerateConfig

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


def replacement_for(model: str, today: datetime.date | None = None) -> str:
    """A live model of the same kind from `MODELS` (the default base model if none)."""
    today = today or datetime.date.today()
    kind = MODELS[base_of(model)].kind if base_of(model) in MODELS else "chat"
    for name, facts in MODELS.items():
        if facts.kind == kind and (facts.shutdown is None or datetime.date.fromisoformat(facts.shutdown) > today):
            return name
    return DEFAULT_BASE_MODEL


class OpenAIBackendError(RuntimeError):
    """An OpenAI call that failed for good; the message says what happened and what to do."""


class FineTuneFailed(OpenAIBackendError):
    """The fine-tuning job ended as failed or cancelled."""


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
    request_timeout: float = 60.0
    base_url: str | None = None  # None: OpenAI; tests point it at a local stand-in

    @property
    def chat(self) -> bool:
        return self.base_model.startswith(CHAT_MODELS) or "gpt-" in self.base_model


def state_path(train_jsonl: str | Path) -> Path:
    """Where the job id and model id of a training file are kept."""
    train_jsonl = Path(train_jsonl)
    return train_jsonl.with_name(train_jsonl.stem + ".openai.json")


def _read_state(path: Path) -> dict[str, Any]:
    """The saved job state; a damaged file is named and set aside (a new job starts, the old id is in the message)."""
    if not path.is_file():
        return {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(state, dict):
            return state
    except (ValueError, OSError):
        pass
    warnings.warn(f"{path}: damaged job state, ignored (a new job will be created)", stacklevel=2)
    return {}


def _write_state(path: Path, state: Mapping[str, Any]) -> None:
    files.write_json(path, dict(state))  # never a half-written state file


def check_base_url(url: str | None) -> None:
    """Refuse a malformed API address (`OPENAI_BASE_URL` or `base_url`) before any request, in one line."""
    from urllib.parse import urlparse

    if url is None:
        return
    try:
        parsed = urlparse(url)
        parsed.port  # noqa: B018 - raises on a bad port
    except ValueError as error:
        raise OpenAIBackendError(f"the API address {url!r} is malformed ({error}); write it as https://host/v1") from error
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise OpenAIBackendError(f"the API address {url!r} is malformed; write it as https://host/v1 "
                                 "(or unset OPENAI_BASE_URL to use OpenAI)")


class _Reporter:
    """Job events as they arrive: a live display in a notebook, printed lines in a terminal."""

    def __init__(self, out: Callable[[str], None] | None = None):
        self.lines: list[str] = []
        self.out = out
        self.handle = None
        if out is None:
            try:
                from IPython import get_ipython
                from IPython.display import display

                if get_ipython() is not None and "ZMQ" in type(get_ipython()).__name__:
                    self.handle = display({"text/plain": ""}, raw=True, display_id=True)
            except ImportError:
                pass

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        if self.out is not None:
            self.out(line)
        elif self.handle is not None:
            self.handle.update({"text/plain": "\n".join(self.lines[-30:])}, raw=True)
        else:
            print(line, flush=True)


class OpenAIBackend:
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
        self.report = _Reporter(report)
        check_base_url(settings.base_url or config.openai_base_url())
        self.client = openai.OpenAI(
            api_key=api_key or config.openai_api_key(),
            base_url=settings.base_url,
            max_retries=settings.max_retries,
            timeout=settings.request_timeout,
        )

    # ----------------------------------------------------------------------- calls

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        import openai

        try:
            return fn(*args, **kwargs)
        except openai.AuthenticationError as error:
            raise OpenAIBackendError(
                f"{what}: the OpenAI API refused the key (401). Check OPENAI_API_KEY, "
                "or use the local backend, which needs no key."
            ) from error
        except openai.NotFoundError as error:
            raise OpenAIBackendError(f"{what}: not found (404): {_message(error)}") from error
        except openai.RateLimitError as error:
            raise OpenAIBackendError(
                f"{what}: rate-limited (429) after {self.settings.max_retries} retries with back-off: "
                f"{_message(error)}. Wait a minute or check your quota, then run again."
            ) from error
        except openai.InternalServerError as error:
            raise OpenAIBackendError(
                f"{what}: the OpenAI API failed ({error.status_code}) after {self.settings.max_retries} "
                f"retries with back-off. Run again later; any job id is kept in the state file."
            ) from error
        except openai.APIConnectionError as error:
            raise OpenAIBackendError(
                f"{what}: cannot reach the OpenAI API ({error.__cause__ or error}). Check the network; "
                "any job id is kept in the state file."
            ) from error
        except openai.BadRequestError as error:
            raise OpenAIBackendError(f"{what}: the API refused the request (400): {_message(error)}") from error
        except openai.PermissionDeniedError as error:
            raise OpenAIBackendError(
                f"{what}: OpenAI refused (403): {_message(error)}. This key or organisation may not use this model or "
                "create fine-tuning jobs (OpenAI is closing self-serve fine-tuning, see notebook 03); "
                "use the local backend instead, which needs no key."
            ) from error
        except openai.ConflictError as error:
            raise OpenAIBackendError(f"{what}: conflict (409): {_message(error)}. Another run may be changing the same "
                                     "job; wait for it, then run again.") from error
        except openai.UnprocessableEntityError as error:
            raise OpenAIBackendError(f"{what}: the API could not process the request (422): {_message(error)}") from error
        except openai.APIStatusError as error:
            raise OpenAIBackendError(f"{what}: the OpenAI API answered {error.status_code}: {_message(error)}") from error

    # ----------------------------------------------------------------------- fine-tuning

    def estimate_cost(self, train_jsonl: str | Path) -> dict[str, Any]:
        """Training tokens × epochs × price per 1,000 tokens (a rough upper bound)."""
        report = dataset.validation_report(dataset.read_jsonl(train_jsonl), show=False)
        price = self.settings.prices.get(self.settings.base_model)
        tokens = report["tokens_total"] * self.settings.n_epochs
        return {
            "model": self.settings.base_model, "tokens_per_epoch": report["tokens_total"],
            "epochs": self.settings.n_epochs, "billed_tokens": tokens, "usd_per_1k": price,
            "usd": round(tokens / 1000 * price, 2) if price is not None else None,
        }

    def _training_file(self, train_jsonl: Path) -> Path:
        """The file to upload: chat models need the chat format, made beside the original."""
        records = dataset.read_jsonl(train_jsonl)
        report = dataset.validation_report(records, show=False)
        if not report["ok"]:
            raise dataset.DatasetError(
                f"{train_jsonl} failed validation and was not uploaded:\n{dataset.format_validation(report)}"
            )
        if not self.settings.chat:
            return train_jsonl
        chat = train_jsonl.with_name(train_jsonl.stem + "_chat_upload.jsonl")
        dataset.write_jsonl([dataset.chat_record(r) for r in records], chat)  # any task's record, as it is
        return chat

    def _upload(self, path: Path) -> str:
        with path.open("rb") as f:
            uploaded = self._call(f"upload {path.name}", self.client.files.create, file=f, purpose="fine-tune")
        self.report(f"uploaded {path.name} as {uploaded.id}")
        return uploaded.id

    def start(self, train_jsonl: str | Path, confirm: bool | None = None) -> str:
        """Upload and create the job (or find the one already started); returns its id."""
        train_jsonl = Path(train_jsonl)
        state_file = state_path(train_jsonl)
        state = _read_state(state_file)
        if state.get("job_id") and state.get("status") not in ("failed", "cancelled"):
            self.report(f"resuming job {state['job_id']} from {state_file.name} (no new job created)")
            return state["job_id"]
        upload = self._training_file(train_jsonl)  # checked here first: a bad file costs no request
        cost = self.estimate_cost(train_jsonl)
        self.report(
            f"cost estimate: {cost['tokens_per_epoch']:,} tokens × {cost['epochs']} epochs on {cost['model']}"
            + (f" ≈ ${cost['usd']:.2f} (prices as of {FACTS_DATE})" if cost["usd"] is not None else " (no price known for this model)")
        )
        if not _confirmed(confirm):
            raise OpenAIBackendError("fine-tuning not started: the cost was not confirmed")
        self.require_live(self.settings.base_model)
        training_file = self._upload(upload)
        validation_file = self._upload(Path(self.settings.validation_file)) if self.settings.validation_file else None
        options: dict[str, Any] = {
            "model": self.settings.base_model,
            "training_file": training_file,
            "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": self.settings.n_epochs}}},
        }
        if validation_file:
            options["validation_file"] = validation_file
        if self.settings.suffix:
            options["suffix"] = self.settings.suffix
        if self.settings.seed is not None:
            options["seed"] = self.settings.seed
        job = self._call("create the fine-tuning job", self.client.fine_tuning.jobs.create, **options)
        _write_state(state_file, {"job_id": job.id, "status": job.status, "training_file": training_file,
                                  "base_model": self.settings.base_model, "model_id": None})
        self.report(f"created job {job.id} ({job.status}); its id is kept in {state_file.name}")
        return job.id

    def watch(self, job_id: str, state_file: Path | None = None) -> str:
        """Poll the job with exponential back-off, showing its events; returns the model id."""
        delay, waited, after = self.settings.poll_first, 0.0, None
        while True:
            job = self._call("check the job", self.client.fine_tuning.jobs.retrieve, job_id)
            page = self._call("read the job's events", self.client.fine_tuning.jobs.list_events, job_id, limit=100,
                              **({"after": after} if after else {}))
            for event in sorted(page.data, key=lambda e: e.created_at):  # the API lists newest first
                self.report(f"  {event.level}: {event.message}")
            if page.data:
                after = max(page.data, key=lambda e: e.created_at).id
            if state_file is not None:
                state = _read_state(state_file)
                state.update(status=job.status, model_id=job.fine_tuned_model)
                _write_state(state_file, state)
            if job.status == "succeeded":
                self.report(f"job {job_id} succeeded: model {job.fine_tuned_model}")
                return job.fine_tuned_model
            if job.status in ("failed", "cancelled"):
                reason = job.error.message if job.error and job.error.message else "no reason given"
                raise FineTuneFailed(f"fine-tuning job {job_id} {job.status}: {reason}")
            if waited >= self.settings.timeout:
                raise OpenAIBackendError(f"job {job_id} still {job.status} after {waited:.0f} s; watch it again later")
            time.sleep(delay)
            waited += delay
            delay = min(delay * 1.5, self.settings.poll_max)

    def fine_tune(self, train_jsonl: str | Path, settings: OpenAIConfig | None = None, confirm: bool | None = None) -> ModelHandle:
        """The article's fine-tune: upload, create (or resume), watch, and keep the model id."""
        if settings is not None:
            self.settings = settings
        state_file = state_path(train_jsonl)
        state = _read_state(state_file)
        if state.get("model_id") and state.get("status") == "succeeded":
            self.report(f"reusing fine-tuned model {state['model_id']} from {state_file.name}")
            self.model = state["model_id"]
        else:
            job_id = self.start(train_jsonl, confirm)
            self.model = self.watch(job_id, state_file)
        return ModelHandle("openai", self.model, self.settings.base_model, {"job_id": _read_state(state_file).get("job_id")})

    def jobs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The account's recent fine-tuning jobs."""
        page = self._call("list jobs", self.client.fine_tuning.jobs.list, limit=limit)
        return [{"id": j.id, "status": j.status, "model": j.model, "fine_tuned_model": j.fine_tuned_model} for j in page.data]

    def cancel(self, train_jsonl: str | Path | None = None, job_id: str | None = None) -> str:
        """Cancel a job (by id, or the one in a training file's state file); returns its status."""
        state_file = state_path(train_jsonl) if train_jsonl is not None else None
        job_id = job_id or (_read_state(state_file).get("job_id") if state_file else None)
        if not job_id:
            raise OpenAIBackendError("no job to cancel: give a job id or a training file with a state file")
        job = self._call(f"cancel job {job_id}", self.client.fine_tuning.jobs.cancel, job_id)
        if state_file is not None and state_file.is_file():
            state = _read_state(state_file)
            state.update(status=job.status)
            _write_state(state_file, state)
        self.report(f"job {job_id}: {job.status}")
        return job.status

    def shutdown_date(self, model: str) -> datetime.date | None:
        """When a model stops answering: the API's `shutdown_date` for it, else this project's `MODELS` table."""
        info = self._call(f"find model {model!r} (is the id right?)", self.client.models.retrieve, model)
        live = getattr(info, "shutdown_date", None) or (getattr(info, "model_extra", None) or {}).get("shutdown_date")
        if isinstance(live, (int, float)):
            return datetime.datetime.fromtimestamp(live, datetime.timezone.utc).date()
        if isinstance(live, str) and live:
            return datetime.date.fromisoformat(live[:10])
        facts = MODELS.get(base_of(model))
        return datetime.date.fromisoformat(facts.shutdown) if facts and facts.shutdown else None

    def require_live(self, model: str, today: datetime.date | None = None) -> None:
        """Refuse, in one line, a model whose shutdown date has passed, naming a live replacement."""
        today = today or datetime.date.today()
        when = self.shutdown_date(model)
        if when is not None and when <= today:
            other = replacement_for(model, today)
            raise OpenAIBackendError(
                f"{model} was shut down on {when.isoformat()} (OpenAI's model list), and so were models fine-tuned from it; "
                f"use {other} (--base-model {other}), or the local backend, which needs no key")

    def use(self, model_id: str) -> ModelHandle:
        """Reuse an existing fine-tuned model; an unknown id or a shut-down model gives a clear error."""
        self.require_live(model_id)
        self.model = model_id
        return ModelHandle("openai", model_id, None)

    # ----------------------------------------------------------------------- generation

    def sample(self, prompt: str, n: int, config: "GenerateConfig", constraint: Any = None) -> list[str]:
        """n completions in one request, in the article's format (` … $ <end>`).

        The API cannot constrain decoding: a `constraint` is not enforced, and a warning says so.
        """
        if n < 1:
            return []
        if not self.model:
            raise OpenAIBackendError("no model: fine-tune first, or call use(model_id)")
        if self.examples:
            return self._few_shot(prompt, n, config, constraint)
        if constraint is not None:
            warnings.warn(f"the OpenAI API cannot enforce {constraint.describe()}; each candidate is checked instead "
                          "(see Song.violations)", stacklevel=2)
        options: dict[str, Any] = {"model": self.model, "n": n, "temperature": config.temperature, "top_p": config.top_p,
                                   "max_tokens": config.max_tokens, **({"seed": config.seed} if config.seed is not None else {})}
        if self.settings.chat or self.model.startswith("ft:gpt"):
            messages = [{"role": "system", "content": dataset.CHAT_SYSTEM}, {"role": "user", "content": prompt}]
            texts = self.chat(messages, stop=[STOP.strip()], **options)
        else:
            reply = self._call("generate", self.client.completions.create, prompt=prompt, stop=STOP, **options)
            texts = [choice.text for choice in sorted(reply.choices, key=lambda c: c.index)]
        return [as_completion(text) for text in texts]

    def _few_shot(self, prompt: str, n: int, config: "GenerateConfig", constraint: Any) -> list[str]:
        """n songs from a chat model shown `self.examples`: one request per form asked (in words),
        bars that do not add up repaired, unusable replies asked for once more."""
        from aitunes_lib import fewshot, tasks

        if tasks.task_of(prompt) != "song":
            raise OpenAIBackendError(f"few-shot writes whole songs; the {tasks.task_of(prompt)!r} task needs a model "
                                     "trained on it (the local backend, or a fine-tuned model)")
        if self.model not in self._live:
            self.require_live(self.model)  # a shut-down model is refused before the first request
            self._live.add(self.model)
        if constraint is not None:
            warnings.warn(f"the OpenAI API cannot enforce {constraint.describe()}; few-shot asks for it in words, "
                          "repairs bars that do not add up, and checks each candidate (see Song.violations)", stacklevel=3)
        cadence = bool(getattr(getattr(constraint, "shape", None), "cadence", False))
        plans = getattr(constraint, "plans", ())
        wanted = [(plan.sections, plan.tail, plan.volta, plan.ending) if plan is not None else (None, 0, 0, "C:C")
                  for plan in (plans[i % len(plans)] if plans else None for i in range(n))]
        options: dict[str, Any] = {"temperature": config.temperature, "top_p": config.top_p, "stop": [STOP.strip()],
                                   "max_tokens": max(config.max_tokens, 1500), **({"seed": config.seed} if config.seed is not None else {})}
        repairs = fewshot.Repairs(candidates=n)

        def ask(shape: tuple[str | None, int, int, str], count: int) -> list[str]:
            replies = self.chat(fewshot.messages(self.examples or [], prompt, shape[0], cadence, *shape[1:]), n=count, **options)
            return [fewshot.clean_reply(text) for text in replies]

        results: list[str | None] = [None] * n

        def fill(indices: list[int]) -> None:  # one request per distinct form among them, in order
            for shape in dict.fromkeys(wanted[i] for i in indices):
                slots = [i for i in indices if wanted[i] == shape]
                for slot, text in zip(slots, ask(shape, len(slots))):
                    results[slot] = text

        fill(list(range(n)))
        retry = [i for i, text in enumerate(results) if not fewshot.usable(text or "")]
        if retry:
            repairs.resampled = len(retry)
            fill(retry)  # the second answer stands, usable or not: it is checked like any
        completions = []
        for text in results:
            fixed, changed = fewshot.repair_bars(text or STOP)
            repairs.repaired += bool(changed)
            repairs.bars += changed
            completions.append(fixed)
        self.repairs = repairs
        self.report(str(repairs))
        return completions

    def chat(self, messages: list[dict[str, str]], **options: Any) -> list[str]:
        """The replies of a chat model to messages (n of them with `n=`); errors as `OpenAIBackendError`."""
        options.setdefault("model", self.model)
        reply = self._call("chat", self.client.chat.completions.create, messages=messages, **options)
        return [choice.message.content or "" for choice in sorted(reply.choices, key=lambda c: c.index)]


def _message(error: Exception) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return str(error)


def _confirmed(confirm: bool | None) -> bool:
    if confirm is not None:
        return confirm
    if sys.stdin is None or not sys.stdin.isatty():
        return True  # no one to ask (a script or CI): the caller chose to train
    return input("Start fine-tuning? [y/N] ").strip().lower() in ("y", "yes")
