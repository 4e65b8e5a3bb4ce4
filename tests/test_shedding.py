"""ShedLoadMiddleware on its own: the ASGI contract, without a server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from service.shedding import ShedLoadMiddleware


class SlowApp:
    """Answers each request with a given status once released, so requests can be held in flight."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.release = asyncio.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.release.wait()
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


async def call(app: Any, method: str = "POST") -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "method": method, "path": "/predict", "headers": []}, receive, send)
    start, body = sent[0], sent[1]
    return start["status"], dict(start["headers"]), body["body"]


def test_requests_over_the_limit_get_429_with_a_reason_and_retry_after() -> None:
    async def scenario() -> list[tuple[int, dict[bytes, bytes], bytes]]:
        inner = SlowApp()
        app = ShedLoadMiddleware(inner, max_in_flight=2, retry_after_s=3)
        held = [asyncio.create_task(call(app)) for _ in range(2)]
        await asyncio.sleep(0.01)
        refused = await call(app)
        probe = asyncio.create_task(call(app, "GET"))  # GETs never count nor get refused
        await asyncio.sleep(0.01)
        inner.release.set()
        answers = [*(await asyncio.gather(*held)), refused, await probe]
        assert app.in_flight == 0
        answers.append(await call(app))  # capacity is back once the first two finished
        return answers

    answers = asyncio.run(scenario())
    assert [status for status, _, _ in answers] == [200, 200, 429, 200, 200]
    _, headers, body = answers[2]
    assert headers[b"retry-after"] == b"3"
    error = json.loads(body)["error"]
    assert "busy" in error and "EMOTION_MAX_CONCURRENCY" in error and "retry after 3 s" in error
    assert b"retry-after" not in answers[0][1]


def test_a_503_from_the_service_gets_retry_after() -> None:
    async def scenario() -> tuple[int, dict[bytes, bytes], bytes]:
        inner = SlowApp(status=503)
        inner.release.set()
        return await call(ShedLoadMiddleware(inner, max_in_flight=4))

    status, headers, _ = asyncio.run(scenario())
    assert status == 503 and headers[b"retry-after"] == b"1"
