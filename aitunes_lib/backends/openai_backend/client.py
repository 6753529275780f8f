"""The API calls of `OpenAIBackend`: the errors it raises, a checked API address, job events as
they arrive, every call's failure as one line that says what to do, and whether a model still
answers."""

from __future__ import annotations

import datetime
from typing import Any, Callable

from aitunes_lib.backends.base import ModelHandle
from aitunes_lib.backends.openai_backend.settings import MODELS, OpenAIConfig, base_of, replacement_for


class OpenAIBackendError(RuntimeError):
    """An OpenAI call that failed for good; the message says what happened and what to do."""


class FineTuneFailed(OpenAIBackendError):
    """The fine-tuning job ended as failed or cancelled."""


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


class Client:
    """The part of `OpenAIBackend` that calls the API: `_call` turns the SDK's errors into
    `OpenAIBackendError`s, and `use` takes a model only while it still answers."""

    settings: OpenAIConfig
    client: Any  # openai.OpenAI
    model: str | None
    report: _Reporter

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


def _message(error: Exception) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return str(error)
