"""A client's mistake is one log line, not a server error with a traceback.

BentoML logs every request that fails input validation as ``[ERROR] Exception on /predict`` with
the whole traceback, which reads like a server failure. This filter turns those records (a
pydantic ValidationError, or a BentoML error with a 4xx status) into one WARNING line that says
what was wrong; real server errors keep their traceback.
"""

from __future__ import annotations

import logging

from bentoml.exceptions import BentoMLException
from pydantic import ValidationError

BENTOML_HTTP_LOGGER = "bentoml._internal.server.http_app"


def client_error(exc: BaseException | None) -> str | None:
    """What the client got wrong, or None when ``exc`` is not a client error."""
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'request'}: {e['msg']}" for e in exc.errors())
    if isinstance(exc, BentoMLException) and 400 <= exc.error_code.value < 500:
        return f"{exc.error_code.value} {exc}"
    return None


class ClientErrorFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.msg.startswith("Exception on"):
            reason = client_error(record.exc_info[1])
            if reason is not None:
                path, method = record.args if isinstance(record.args, tuple) else ("?", "?")
                record.msg, record.args = "client error on %s [%s]: %s", (path, method, reason)
                record.levelno, record.levelname = logging.WARNING, "WARNING"
                record.exc_info = record.exc_text = None
        return True


def install() -> None:
    logger = logging.getLogger(BENTOML_HTTP_LOGGER)
    if not any(isinstance(f, ClientErrorFilter) for f in logger.filters):
        logger.addFilter(ClientErrorFilter())
