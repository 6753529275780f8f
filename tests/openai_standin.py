"""A local stand-in for the OpenAI API: real HTTP on 127.0.0.1, answers built from the
`openai` SDK's own response types, and a record of every request for the tests to inspect."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from openai.types import Completion, FileObject, Model
from openai.types.chat import ChatCompletion
from openai.types.fine_tuning import FineTuningJob, FineTuningJobEvent


class StandIn:
    """The fake service; `scenario` knobs steer it."""

    def __init__(self, statuses=("queued", "running", "running", "succeeded"), failure=None,
                 completion_text=" `C`E G c2 | `G7`B4 | $ `C`c4 |", chat_replies=None, rolling=False):
        self.requests: list[dict] = []
        self.statuses = list(statuses)
        self.failure = failure  # e.g. "boom: out of GPUs" for a job that fails
        self.fail_next: list[int] = []  # status codes to answer the next requests with
        self.always: int | None = None  # a status code for every request (401)
        # each model's shutdown date, as GET /v1/models reports it (OpenAI's deprecations page, late 2026)
        self.shutdowns = {"gpt-4o-mini": "2027-01-14", "davinci-002": "2026-10-23", "gpt-3.5-turbo": "2026-10-23"}
        self.completion_text = completion_text
        self.rolling, self.chat_served = rolling, 0
        self.chat_replies = chat_replies or ["Band name: The Wizards\nSong title: I'll Get There"]
        # an OpenAI-compatible server gone wrong, by URL path: a raw answer (content type, body) such as malformed
        # JSON, an HTML page, JSON without `choices` or a huge body; seconds to wait before answering (`slow`; a
        # server that never answers waits until the stand-in closes); fail_next answers that quote the key sent
        self.raw: dict[str, tuple[str, bytes]] = {}
        self.slow: dict[str, float] = {}
        self.drip = 0.0  # seconds between the 1 KB pieces of every answer (a reply that trickles in)
        self.echo_key = False
        self.closing = threading.Event()
        self.jobs: dict[str, dict] = {}
        self.files: dict[str, bytes] = {}
        self.created_jobs = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------ responses

    def _job(self, job_id: str) -> FineTuningJob:
        job = self.jobs[job_id]
        status = job["status"]
        return FineTuningJob.model_validate({
            "id": job_id, "object": "fine_tuning.job", "created_at": job["created_at"], "model": job["model"],
            "organization_id": "org-standin", "result_files": [], "seed": job.get("seed") or 0, "status": status,
            "trained_tokens": 1234 if status == "succeeded" else None, "training_file": job["training_file"],
            "validation_file": job.get("validation_file"), "finished_at": int(time.time()) if status in ("succeeded", "failed", "cancelled") else None,
            "fine_tuned_model": f"ft:{job['model']}:standin:aitunes:{job_id[-4:]}" if status == "succeeded" else None,
            "hyperparameters": {"n_epochs": 5, "batch_size": "auto", "learning_rate_multiplier": "auto"},
            "error": {"code": "job_failed", "message": self.failure, "param": None} if status == "failed" else None,
        })

    def _event(self, job_id: str, k: int, message: str) -> FineTuningJobEvent:
        return FineTuningJobEvent.model_validate({
            "id": f"ftevent-{job_id[-4:]}-{k:03d}", "object": "fine_tuning.job.event", "created_at": 1_700_000_000 + k,
            "level": "error" if "failed" in message else "info", "message": message,
        })

    def _advance(self, job_id: str) -> None:
        job = self.jobs[job_id]
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return
        job["step"] += 1
        if job["step"] < len(self.statuses):
            job["status"] = self.statuses[job["step"]]
        if job["status"] == "failed" and self.failure is None:
            self.failure = "the job failed"
        job["events"].append(f"Job is {job['status']}" + (f": {self.failure}" if job["status"] == "failed" else ""))

    def handle(self, method: str, path: str, query: dict, body: bytes) -> tuple[int, object]:
        url = urlparse(path).path
        if method == "POST" and url == "/v1/files":
            name = re.search(rb'filename="([^"]+)"', body).group(1).decode()
            content = body.split(b"\r\n\r\n", 2)[-1].rsplit(b"\r\n--", 1)[0]
            file_id = f"file-{len(self.files) + 1:04d}"
            self.files[file_id] = content
            return 200, FileObject(id=file_id, bytes=len(content), created_at=int(time.time()), filename=name,
                                   object="file", purpose="fine-tune", status="processed")
        if method == "POST" and url == "/v1/fine_tuning/jobs":
            options = json.loads(body)
            self.created_jobs += 1
            job_id = f"ftjob-{self.created_jobs:04d}"
            self.jobs[job_id] = {**options, "status": self.statuses[0], "step": 0, "created_at": int(time.time()),
                                 "events": [f"Created fine-tuning job: {job_id}"]}
            return 200, self._job(job_id)
        match = re.fullmatch(r"/v1/fine_tuning/jobs/([\w-]+)(/events|/cancel)?", url)
        if match:
            job_id, tail = match.groups()
            if job_id not in self.jobs:
                return 404, {"error": {"message": f"No such job: {job_id}", "type": "invalid_request_error", "code": None, "param": None}}
            if tail == "/events":
                events = [self._event(job_id, k, m) for k, m in enumerate(self.jobs[job_id]["events"])]
                after = query.get("after", [None])[0]
                if after:
                    events = [e for e in events if e.id > after]
                return 200, {"object": "list", "data": [e.model_dump() for e in reversed(events)], "has_more": False}
            if tail == "/cancel":
                self.jobs[job_id]["status"] = "cancelled"
                self.jobs[job_id]["events"].append("Job cancelled")
                return 200, self._job(job_id)
            self._advance(job_id)
            return 200, self._job(job_id)
        if method == "GET" and url == "/v1/fine_tuning/jobs":
            return 200, {"object": "list", "data": [self._job(j).model_dump() for j in self.jobs], "has_more": False}
        if method == "POST" and url == "/v1/completions":
            options = json.loads(body)
            return 200, Completion.model_validate({
                "id": "cmpl-standin", "object": "text_completion", "created": int(time.time()), "model": options["model"],
                "choices": [{"index": i, "text": self.completion_text, "finish_reason": "stop", "logprobs": None}
                            for i in range(options.get("n", 1))],
            })
        if method == "POST" and url == "/v1/chat/completions":
            options = json.loads(body)
            start = self.chat_served if self.rolling else 0  # rolling: each request goes on where the last stopped
            replies = [self.chat_replies[(start + i) % len(self.chat_replies)] for i in range(options.get("n", 1))]
            self.chat_served += len(replies)
            return 200, ChatCompletion.model_validate({
                "id": "chatcmpl-standin", "object": "chat.completion", "created": int(time.time()), "model": options["model"],
                "choices": [{"index": i, "finish_reason": "stop", "message": {"role": "assistant", "content": r}}
                            for i, r in enumerate(replies)],
            })
        match = re.fullmatch(r"/v1/models/(.+)", url)
        if method == "GET" and match:
            model_id = match.group(1)
            known = {j.get("fine_tuned_model") for j in (self._job(k).model_dump() for k in self.jobs)}
            base = model_id.split(":")[1] if model_id.startswith("ft:") else model_id
            if model_id in known or model_id in self.shutdowns:
                when = self.shutdowns.get(base)
                extra = {"shutdown_date": when} if when else {}
                return 200, {**Model(id=model_id, created=0, object="model", owned_by="standin").model_dump(), **extra}  # any date as sent
            return 404, {"error": {"message": f"The model '{model_id}' does not exist", "type": "invalid_request_error",
                                   "code": "model_not_found", "param": None}}
        return 404, {"error": {"message": f"no route {method} {url}", "type": "invalid_request_error", "code": None, "param": None}}

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urlparse(self.path).path
                with standin.lock:
                    standin.requests.append({"method": method, "path": self.path, "headers": dict(self.headers), "body": body})
                if url in standin.slow:
                    standin.closing.wait(standin.slow[url])
                if url in standin.raw:
                    self._send(200, *standin.raw[url])
                    return
                with standin.lock:
                    if standin.always is not None:
                        status, payload = standin.always, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key", "param": None}}
                    elif standin.fail_next:
                        status = standin.fail_next.pop(0)
                        said = f" for key {self.headers.get('Authorization', '')[7:]}" if standin.echo_key else ""
                        payload = {"error": {"message": f"stand-in says {status}{said}", "type": "server_error", "code": None, "param": None}}
                    else:
                        status, payload = standin.handle(method, self.path, parse_qs(urlparse(self.path).query), body)
                data = (payload.model_dump_json() if hasattr(payload, "model_dump_json") else json.dumps(payload)).encode()
                self._send(status, "application/json", data)

            def _send(self, status: int, content_type: str, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("retry-after-ms", "5")  # keep the SDK's back-off short in tests
                self.end_headers()
                try:
                    piece = 1024 if standin.drip else max(len(data), 1)
                    for start in range(0, len(data), piece):
                        self.wfile.write(data[start:start + piece])
                        if standin.drip and standin.closing.wait(standin.drip):
                            return
                except (BrokenPipeError, ConnectionResetError):  # a client that stopped reading a huge body
                    pass

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

        return Handler
