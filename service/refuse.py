"""The one way the ASGI middlewares refuse a request: a JSON ``{"error": ...}`` that closes the connection.

They answer before the request body is read, so the connection cannot carry another request.
"""

from __future__ import annotations

import json

from starlette.types import Send


async def refuse(send: Send, status: int, message: str, extra_headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *extra_headers,
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
