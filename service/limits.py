"""Refuse request bodies over EMOTION_MAX_UPLOAD_BYTES with 413, before they are read.

BentoML spools multipart uploads to disk without a size limit, so the limit has to sit in
front of it: a declared Content-Length over the limit is answered at once, and a body sent
without one (chunked) is cut off as soon as it passes the limit.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.refuse import refuse


class BodyTooLarge(Exception):
    pass


class UploadLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send, declared)
            return

        received = 0
        tripped = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, tripped
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    tripped = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            # Whatever the app answers after the cut-off (BentoML turns the exception into a
            # 500) is dropped in favour of the 413 below.
            if tripped:
                return
            started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            pass
        if tripped and not started:
            await self._refuse(send, None)

    async def _refuse(self, send: Send, size: int | None) -> None:
        if size is not None:
            message = f"the request body is {size} bytes; the limit is {self.max_bytes} bytes"
        else:
            message = f"the request body is over the limit of {self.max_bytes} bytes"
        await refuse(send, 413, message + " (EMOTION_MAX_UPLOAD_BYTES)")


def _content_length(scope: dict[str, Any]) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
