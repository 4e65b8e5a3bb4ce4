"""Shed load with a 429 that says why and when to come back, instead of queueing to the timeout.

BentoML's own limit (``traffic.max_concurrency``) answers a bare ``{"error": "Too many
requests"}`` with no Retry-After, and it sits outside every user middleware, so it cannot be
reworded: this middleware replaces it. Only POSTs (the work) count; GETs (probes, /model,
/metrics) always pass. It also adds Retry-After to the 503 the service answers when the
classifier shed a batch, so clients back off the same way for both.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.refuse import refuse


class ShedLoadMiddleware:
    def __init__(self, app: ASGIApp, max_in_flight: int, retry_after_s: int = 1) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.retry_after = str(retry_after_s).encode()
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            await self._refuse(send)
            return

        async def send_with_retry_after(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 503:
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"retry-after" for name, _ in headers):
                    message = {**message, "headers": [*headers, (b"retry-after", self.retry_after)]}
            await send(message)

        # One event loop per worker process: a plain counter is enough, no lock needed.
        self.in_flight += 1
        try:
            await self.app(scope, receive, send_with_retry_after)
        finally:
            self.in_flight -= 1

    async def _refuse(self, send: Send) -> None:
        message = (
            f"the server is busy: {self.in_flight} requests are being processed, the limit per worker is "
            f"{self.max_in_flight} (EMOTION_MAX_CONCURRENCY); retry after {self.retry_after.decode()} s"
        )
        await refuse(send, 429, message, ((b"retry-after", self.retry_after),))
