"""Typed errors carrying the protocol's error codes (docs/errors.md).

Every failed call raises a :class:`TaskwireError` with the server's ``code`` (match
on it, or on the subclass), its ``message`` (for humans; it may change) and the HTTP
``status`` (0 when there was no answer). The server's body is
``{"error": {"code": "…", "message": "…"}}``; :func:`error_from_response` builds the
matching subclass from it.
"""

from __future__ import annotations

import json
from typing import Dict, Optional, Type

from .types import Task


class TaskwireError(Exception):
    """A failed taskwire call: the protocol's error ``code``, a ``message`` and the HTTP ``status``."""

    #: The code this class stands for (the base class takes any code).
    default_code = "internal"

    def __init__(self, code: str, message: str, status: int = 0) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        #: The task snapshot, when the SDK knows it (a Conflict from waiting on a task that ended).
        self.task: Optional[Task] = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, status={self.status})"


class BadRequest(TaskwireError):
    """400 ``bad_request``: a malformed request or a field over its limit (the message names it)."""

    default_code = "bad_request"


class Unauthorized(TaskwireError):
    """401 ``unauthorized``: the API key or token is missing, wrong or expired."""

    default_code = "unauthorized"


class Forbidden(TaskwireError):
    """403 ``forbidden``: authenticated, but this credential may not do that."""

    default_code = "forbidden"


class NotFound(TaskwireError):
    """404 ``not_found``: no such task or route (or another user's task)."""

    default_code = "not_found"


class Conflict(TaskwireError):
    """409 ``conflict``: not allowed in the task's current state (a finished task, a duplicate id, …)."""

    default_code = "conflict"


class RateLimited(TaskwireError):
    """429 ``rate_limited``: too many requests."""

    default_code = "rate_limited"


class TooLarge(TaskwireError):
    """413 ``too_large``: the body is over 1 MiB."""

    default_code = "too_large"


class LimitExceeded(TaskwireError):
    """429 ``limit_exceeded``: a configured limit (connections, subscriptions) is reached."""

    default_code = "limit_exceeded"


class Unavailable(TaskwireError):
    """503 ``unavailable``: the server's engine is unreachable, or the server is shutting down."""

    default_code = "unavailable"


class Internal(TaskwireError):
    """500 ``internal``: an unexpected server error."""

    default_code = "internal"


class NetworkError(TaskwireError):
    """``network`` (status 0): no answer at all (refused, reset, timed out), after every retry."""

    default_code = "network"


class DecisionTimeout(TaskwireError):
    """``timeout`` (status 0): no decision on an approval within the ``timeout`` given."""

    default_code = "timeout"


class WebhookVerificationError(TaskwireError):
    """``webhook_verification`` (status 0): a webhook that :func:`taskwire.verify_webhook` refuses.

    A header is missing, the timestamp is more than the tolerance from now, no
    signature matches the body, or the body is not a JSON object. Answer the request
    with a 4xx and do not act on it. Raised on the receiving side only: no server
    answer carries this code.
    """

    default_code = "webhook_verification"

    def __init__(self, message: str) -> None:
        super().__init__(self.default_code, message, 0)


#: Error code → exception class. An unknown (future) code raises the base class.
ERROR_CLASSES: Dict[str, Type[TaskwireError]] = {
    cls.default_code: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        RateLimited,
        TooLarge,
        LimitExceeded,
        Unavailable,
        Internal,
        NetworkError,
        DecisionTimeout,
    )
}

_STATUS_CODES: Dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "too_large",
    429: "rate_limited",
    502: "unavailable",
    503: "unavailable",
    504: "unavailable",
}


def make_error(code: str, message: str, status: int = 0) -> TaskwireError:
    """The exception class for ``code`` (the base class for a code this SDK does not know)."""
    return ERROR_CLASSES.get(code, TaskwireError)(code, message, status)


def error_from_response(status: int, body: bytes) -> TaskwireError:
    """Build the typed error from an HTTP error answer.

    The server's ``{"error": {"code", "message"}}`` wins; an answer without it (a
    proxy's HTML page) gets the code of its status (5xx → ``internal``, 502-504 →
    ``unavailable``).
    """
    code: Optional[str] = None
    message: Optional[str] = None
    text = body.decode("utf-8", "replace").strip()
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        err = parsed["error"]
        if isinstance(err.get("code"), str) and err["code"]:
            code = err["code"]
        if isinstance(err.get("message"), str):
            message = err["message"]
    if code is None:
        code = _STATUS_CODES.get(status, "internal" if status >= 500 else "bad_request")
    if message is None:
        message = text[:200] if text else f"HTTP {status}"
    return make_error(code, message, status)
