"""The HTTP client the `openai` SDK is given: each reply read in pieces, a reply bigger than
`OpenAIConfig.max_reply_mb` refused as it arrives (never read whole), and one that keeps
trickling past `OpenAIConfig.request_timeout` cut off, so that memory and time stay bounded.

The SDK's own timeout covers sending the request, the wait for an answer to start, and each
pause within it; this covers the reply as a whole, from its first byte. Both refusals are
`openai.OpenAIError`s, which the SDK passes on without retrying.
"""

from __future__ import annotations

import functools
import time
from typing import Any

CHECKED_HEADERS = ("content-encoding", "content-length", "transfer-encoding")  # the body below is read and decoded


def bounded_client(max_bytes: int, seconds: float) -> Any:
    """An `openai.DefaultHttpxClient` that refuses replies over `max_bytes` or slower than `seconds` in all."""
    return _classes()[1](max_bytes=max_bytes, seconds=seconds, timeout=seconds)


def where(url: Any) -> str:
    """`scheme://host:port` of a URL, without any user, password, path or query."""
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}"


@functools.cache
def _classes() -> tuple[type, type]:
    import openai

    class ReplyRefused(openai.OpenAIError):
        """A reply too big or too slow to read; the message says which and what to do."""

    class BoundedClient(openai.DefaultHttpxClient):  # type: ignore[misc,valid-type]
        def __init__(self, max_bytes: int, seconds: float, **options: Any):
            super().__init__(**options)
            self.max_bytes, self.seconds = max_bytes, seconds

        def send(self, request: Any, *, stream: bool = False, **options: Any) -> Any:
            response = super().send(request, stream=True, **options)  # the upload and the wait for an answer: the SDK's timeout
            started = time.monotonic()
            if stream:
                return response
            try:
                body = self._body(response, started)
            finally:
                response.close()
            headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in CHECKED_HEADERS]
            return type(response)(response.status_code, headers=headers, content=body, request=response.request,
                                  extensions=response.extensions)

        def _body(self, response: Any, started: float) -> bytes:
            too_big = (f"the server at {where(response.request.url)} sent a reply of more than {self.max_bytes / 1e6:g} MB "
                       "(OpenAI's are a few kilobytes); it was refused unread. Check OPENAI_BASE_URL / base_url")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise ReplyRefused(too_big)
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise ReplyRefused(too_big)
                if time.monotonic() - started > self.seconds:
                    raise ReplyRefused(f"the server at {where(response.request.url)} was still sending its reply after "
                                       f"{self.seconds:g} s; stopped. Run again later, or allow more with --timeout")
                chunks.append(chunk)
            return b"".join(chunks)

    return ReplyRefused, BoundedClient
