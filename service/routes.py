"""GET /model, which BentoML's @bentoml.api (POST only) cannot express.

Mounted as a plain Starlette app; BentoML tries the service's own routes first, so only
GET /model reaches it. The same document is POST /model, which is in the OpenAPI page.
"""

from __future__ import annotations

import bentoml
from bentoml.exceptions import ServiceUnavailable
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def get_model(_: Request) -> JSONResponse:
    service = bentoml.get_current_service()
    try:
        info = await service.served_info()
    except ServiceUnavailable as exc:
        return JSONResponse({"error": str(exc)}, status_code=503)
    return JSONResponse(info.model_dump(mode="json"))


model_app = Starlette(routes=[Route("/model", get_model, methods=["GET"])])
