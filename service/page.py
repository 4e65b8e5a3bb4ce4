"""The page for people at ``/`` and the OpenAPI page at ``/docs``.

BentoML puts its OpenAPI (Swagger) page at ``/`` and offers no way to move it, so this middleware
answers ``GET /`` with the page in ``service/static/index.html`` (one self-contained file: no
build step, nothing fetched from elsewhere) and hands ``GET /docs`` to BentoML as ``/``. The page
calls the public ``POST /predict`` like any client.
"""

from __future__ import annotations

from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

PAGE = Path(__file__).parent / "static" / "index.html"


class PageMiddleware:
    def __init__(self, app: ASGIApp, page: Path = PAGE) -> None:
        self.app = app
        self.page = page.read_bytes()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            if scope["path"] in ("/", "/index.html"):
                await self._page(scope, send)
                return
            if scope["path"] == "/docs":
                scope = {**scope, "path": "/", "raw_path": b"/"}
        await self.app(scope, receive, send)

    async def _page(self, scope: Scope, send: Send) -> None:
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(self.page)).encode()),
            (b"cache-control", b"no-cache"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else self.page})
