"""Fine-tuning on the OpenAI API: the cost estimate, the upload, the job (created once, its id kept
in a state file beside the training file), watching it, and cancelling it."""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Mapping

from aitunes_lib import config, dataset, files
from aitunes_lib.backends.base import ModelHandle
from aitunes_lib.backends.openai_backend.client import Client, FineTuneFailed, OpenAIBackendError
from aitunes_lib.backends.openai_backend.settings import FACTS_DATE, OpenAIConfig


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


class FineTuning(Client):
    """The part of `OpenAIBackend` that fine-tunes: the article's upload, create (or resume), watch."""

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
            uploaded = self._call(f"upload {path.name}", self.client.files.create, file=f, purpose="fine-tune", need=("id",))
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
        job = self._call("create the fine-tuning job", self.client.fine_tuning.jobs.create, need=("id", "status"), **options)
        _write_state(state_file, {"job_id": job.id, "status": job.status, "training_file": training_file,
                                  "base_model": self.settings.base_model, "model_id": None})
        self.report(f"created job {job.id} ({job.status}); its id is kept in {state_file.name}")
        return job.id

    def watch(self, job_id: str, state_file: Path | None = None) -> str:
        """Poll the job with exponential back-off, showing its events; returns the model id."""
        delay, waited, after = self.settings.poll_first, 0.0, None
        while True:
            job = self._call("check the job", self.client.fine_tuning.jobs.retrieve, job_id, need=("status",))
            page = self._call("read the job's events", self.client.fine_tuning.jobs.list_events, job_id, limit=100, need=("data",),
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
                raise FineTuneFailed(config.redact(f"fine-tuning job {job_id} {job.status}: {reason}", self._key()))
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
        page = self._call("list jobs", self.client.fine_tuning.jobs.list, limit=limit, need=("data",))
        return [{"id": j.id, "status": j.status, "model": j.model, "fine_tuned_model": j.fine_tuned_model} for j in page.data]

    def cancel(self, train_jsonl: str | Path | None = None, job_id: str | None = None) -> str:
        """Cancel a job (by id, or the one in a training file's state file); returns its status."""
        state_file = state_path(train_jsonl) if train_jsonl is not None else None
        job_id = job_id or (_read_state(state_file).get("job_id") if state_file else None)
        if not job_id:
            raise OpenAIBackendError("no job to cancel: give a job id or a training file with a state file")
        job = self._call(f"cancel job {job_id}", self.client.fine_tuning.jobs.cancel, job_id, need=("status",))
        if state_file is not None and state_file.is_file():
            state = _read_state(state_file)
            state.update(status=job.status)
            _write_state(state_file, state)
        self.report(f"job {job_id}: {job.status}")
        return job.status


def _confirmed(confirm: bool | None) -> bool:
    if confirm is not None:
        return confirm
    if sys.stdin is None or not sys.stdin.isatty():
        return True  # no one to ask (a script or CI): the caller chose to train
    return input("Start fine-tuning? [y/N] ").strip().lower() in ("y", "yes")
