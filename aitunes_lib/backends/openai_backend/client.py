"""The API calls of `OpenAIBackend`: the errors it raises, a checked API address, job events as
they arrive, every call's failure as one line that says what to do (with any key hidden), a
reply checked to be OpenAI's before it is used, and whether a model still answers."""

from __future__ import annotations

import datetime
import re
import warnings
from typing import Any, Callable

from aitunes_lib import config
from aitunes_lib.backends.base import ModelHandle
from aitunes_lib.backends.openai_backend.settings import MODELS, OpenAIConfig, base_of, replacements_for


class OpenAIBackendError(RuntimeError):
    """An OpenAI call that failed for good; the message says what happened and what to do."""


class FineTuneFailed(OpenAIBackendError):
    """The fine-tuning job ended as failed or cancelled."""


SECRET_QUERY = re.compile(r"(key|token|secret|password|sig)", re.IGNORECASE)


def check_base_url(url: str | None) -> None:
    """Refuse a malformed API address (`OPENAI_BASE_URL` or `base_url`), or one with a password
    or key in it, before any request, in one line that does not repeat a secret."""
    from urllib.parse import urlparse

    if url is None:
        return
    shown = config.redact(url)
    try:
        parsed = urlparse(url)
        parsed.port  # noqa: B018 - raises on a bad port
    except ValueError as error:
        raise OpenAIBackendError(f"the API address {shown!r} is malformed ({error}); write it as https://host/v1") from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise OpenAIBackendError(f"the API address {shown!r} is malformed; write it as https://host/v1 "
                                 "(or unset OPENAI_BASE_URL to use OpenAI)")
    if parsed.username is not None or parsed.password is not None or SECRET_QUERY.search(parsed.query):
        raise OpenAIBackendError(f"the API address for {parsed.hostname} holds a user name, password or key; put the key in "
                                 "OPENAI_API_KEY and write the address as https://host/v1")


class _Reporter:
    """Job events as they arrive: a live display in a notebook, printed lines in a terminal; any key hidden."""

    def __init__(self, out: Callable[[str], None] | None = None, secret: str = ""):
        self.lines: list[str] = []
        self.out = out
        self.secret = secret
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
        line = config.redact(line, self.secret)
        self.lines.append(line)
        if self.out is not None:
            self.out(line)
        elif self.handle is not None:
            self.handle.update({"text/plain": "\n".join(self.lines[-30:])}, raw=True)
        else:
            print(line, flush=True)


class Client:
    """The part of `OpenAIBackend` that calls the API: `_call` turns the SDK's errors into
    `OpenAIBackendError`s and checks that each reply is OpenAI's, and `use` takes a model only
    while it still answers."""

    settings: OpenAIConfig
    client: Any  # openai.OpenAI
    model: str | None
    report: _Reporter

    # ----------------------------------------------------------------------- calls

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, need: tuple[str, ...] = (), **kwargs: Any) -> Any:
        """fn(*args, **kwargs), its failure as an `OpenAIBackendError` with any key hidden, and its
        reply refused unless it is an OpenAI object that has every field in `need`."""
        try:
            reply = fn(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - every failure of the SDK, sorted in `_failure`
            message, chain = self._failure(what, error)
            if message is None:
                raise
            said = f"{message} {error} {error.__cause__ or ''}"
            secret = config.redact(said, self._key()) != said  # then no traceback (--debug) may show the original either
            raise OpenAIBackendError(config.redact(message, self._key())) from (error if chain and not secret else None)
        return self._checked(what, reply, need)

    def _failure(self, what: str, error: Exception) -> tuple[str | None, bool]:
        """(one line for an error of the SDK or of the reply's reading, whether to chain the error) or (None, _) to let it pass."""
        import json

        import openai

        retries = self.settings.max_retries
        if isinstance(error, openai.AuthenticationError):
            return (f"{what}: the OpenAI API refused the key (401). Check OPENAI_API_KEY, "
                    "or use the local backend, which needs no key."), True
        if isinstance(error, openai.APIStatusError):
            return f"{what}: {_status_line(error, retries)}", True
        if isinstance(error, openai.APITimeoutError):
            return (f"{what}: the server at {self._address()} did not answer within {self.settings.request_timeout:g} s "
                    f"({retries + 1} tries). Run again later, or allow more with --timeout; any job id is kept in the state file."), True
        if isinstance(error, openai.APIConnectionError):
            cause = error.__cause__
            if isinstance(cause, openai.OpenAIError):  # refused by the bounded reader (SDKs that retry first)
                return f"{what}: {cause}", False
            return (f"{what}: cannot reach the OpenAI API ({cause or error}). Check the network; "
                    "any job id is kept in the state file."), True
        if isinstance(error, openai.APIResponseValidationError):
            return f"{what}: {self._not_openai(str(error))}", True
        if isinstance(error, openai.OpenAIError) and not isinstance(error, openai.APIError):
            return f"{what}: {error}", False  # the bounded reader's refusal: its message says it all
        if isinstance(error, (json.JSONDecodeError, UnicodeDecodeError)):
            return f"{what}: {self._not_openai(f'its reply is not JSON: {error}')}", True
        return None, True

    def _checked(self, what: str, reply: Any, need: tuple[str, ...]) -> Any:
        """`reply` when it is an OpenAI object with every field in `need`; else one line that says what came instead."""
        import pydantic

        if isinstance(reply, (str, bytes)):
            text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
            kind = "an HTML page" if re.match(r"\s*<", text) else "text"
            start = " ".join(text.split())[:60]
            raise OpenAIBackendError(config.redact(f"{what}: {self._not_openai(f'it sent {kind}, not JSON: {start!r}')}", self._key()))
        if not isinstance(reply, pydantic.BaseModel):
            raise OpenAIBackendError(f"{what}: {self._not_openai(f'it sent a JSON {type(reply).__name__}, not an object')}")
        missing = [name for name in need if getattr(reply, name, None) is None]
        if missing:
            raise OpenAIBackendError(f"{what}: {self._not_openai('its reply has no ' + ', '.join(repr(m) for m in missing))}")
        return reply

    def _not_openai(self, detail: str) -> str:
        return (f"the server at {self._address()} did not answer like OpenAI ({detail}); "
                "check OPENAI_BASE_URL / base_url, or run again later")

    def _address(self) -> str:
        from aitunes_lib.backends.openai_backend.transport import where

        return where(self.client.base_url)

    def _key(self) -> str:
        return str(getattr(self.client, "api_key", "") or "")

    def _texts(self, what: str, reply: Any, chat: bool) -> list[str]:
        """The text of each choice of a completion reply, in order; a choice that is not OpenAI's is refused in one line."""
        choices = reply.choices
        if not isinstance(choices, list) or not choices:
            raise OpenAIBackendError(f"{what}: {self._not_openai('its reply has no choices')}")
        texts = []
        for choice in sorted(choices, key=lambda c: getattr(c, "index", None) or 0):
            holder = getattr(choice, "message", None) if chat else choice
            text = getattr(holder, "content" if chat else "text", None) if holder is not None else None
            if holder is None or not isinstance(text, (str, type(None))):
                raise OpenAIBackendError(f"{what}: {self._not_openai('a choice has no ' + ('message' if chat else 'text'))}")
            texts.append(text or "")
        return texts

    # ----------------------------------------------------------------------- models

    def shutdown_date(self, model: str) -> datetime.date | None:
        """When a model stops answering: the API's `shutdown_date` for it, else this project's `MODELS` table.
        A date the API writes that cannot be read (`soon`, `2026-02-30`, `1e20`) counts as none, with a warning."""
        info = self._call(f"find model {model!r} (is the id right?)", self.client.models.retrieve, model)
        live = getattr(info, "shutdown_date", None) or (getattr(info, "model_extra", None) or {}).get("shutdown_date")
        when = _date(live)
        if live not in (None, "") and when is None:
            warnings.warn(config.redact(f"the API gave {model} a shutdown date that is not a date ({str(live)[:40]!r}); "
                                        "this project's table is used instead", self._key()), stacklevel=3)
        if when is not None:
            return when
        facts = MODELS.get(base_of(model))
        return datetime.date.fromisoformat(facts.shutdown) if facts and facts.shutdown else None

    def require_live(self, model: str, today: datetime.date | None = None) -> None:
        """Refuse, in one line, a model whose shutdown date has passed, naming a replacement that still answers."""
        today = today or datetime.date.today()
        when = self.shutdown_date(model)
        if when is not None and when <= today:
            other = self._live_replacement(model, today)
            instead = f"use {other} (--base-model {other}), or the local backend" if other else "use the local backend"
            raise OpenAIBackendError(
                f"{model} was shut down on {when.isoformat()} (OpenAI's model list), and so were models fine-tuned from it; "
                f"{instead}, which needs no key")

    def _live_replacement(self, model: str, today: datetime.date) -> str | None:
        """The first of `replacements_for(model)` that the API itself does not list as shut down."""
        for name in replacements_for(model, today):
            try:
                when = self.shutdown_date(name)
            except OpenAIBackendError:
                continue
            if when is None or when > today:
                return name
        return None

    def use(self, model_id: str) -> ModelHandle:
        """Reuse an existing fine-tuned model; an unknown id or a shut-down model gives a clear error."""
        self.require_live(model_id)
        self.model = model_id
        return ModelHandle("openai", model_id, None)


def _status_line(error: Any, retries: int) -> str:
    """One line for an HTTP error status of the API, saying what to do."""
    import openai

    code, said = getattr(error, "status_code", "?"), _message(error)
    if isinstance(error, openai.NotFoundError):
        return f"not found (404): {said}"
    if isinstance(error, openai.RateLimitError):
        return (f"rate-limited (429) after {retries} retries with back-off: {said}. "
                "Wait a minute or check your quota, then run again.")
    if isinstance(error, openai.InternalServerError):
        return (f"the OpenAI API failed ({code}) after {retries} retries with back-off. "
                "Run again later; any job id is kept in the state file.")
    if isinstance(error, openai.BadRequestError):
        return f"the API refused the request (400): {said}"
    if isinstance(error, openai.PermissionDeniedError):
        return (f"OpenAI refused (403): {said}. This key or organisation may not use this model or create fine-tuning jobs "
                "(OpenAI is closing self-serve fine-tuning, see notebook 03); use the local backend instead, which needs no key.")
    if isinstance(error, openai.ConflictError):
        return f"conflict (409): {said}. Another run may be changing the same job; wait for it, then run again."
    if isinstance(error, openai.UnprocessableEntityError):
        return f"the API could not process the request (422): {said}"
    return f"the OpenAI API answered {code}: {said}"


def _message(error: Exception) -> str:
    """The API's own message for an error, in one line of at most 300 characters."""
    body = getattr(error, "body", None)
    text = body["message"] if isinstance(body, dict) and isinstance(body.get("message"), str) else str(error)
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:299] + "…"


def _date(value: Any) -> datetime.date | None:
    """A shutdown date as the API may write it (an ISO date or a Unix time in seconds), or None when it is not one."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, (int, float)):
            return datetime.datetime.fromtimestamp(value, datetime.timezone.utc).date()
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ].*)?", value.strip()):
            return datetime.date.fromisoformat(value.strip()[:10])
    except (ValueError, OverflowError, OSError):
        return None
    return None
