"""Receiving taskwire webhooks: :func:`verify_webhook` (Standard Webhooks, protocol 1.1 §8).

A taskwire server started with ``--webhook-url`` and ``--webhook-secret whsec_…``
POSTs ``{"type", "timestamp", "data": {"task"}}`` with three headers:
``webhook-id`` (the same on every retry of one message), ``webhook-timestamp`` (Unix
seconds of this attempt) and ``webhook-signature``: one or more space-separated
``v1,<base64 of HMAC-SHA256(key, "<id>.<timestamp>.<body>")>``, where ``key`` is the
base64-decoded part of the secret after ``whsec_``. Standard library only.

::

    payload = verify_webhook(raw_body, request.headers, os.environ["TASKWIRE_WEBHOOK_SECRET"])
    if payload["type"] == "task.approval_decided":
        ...
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from typing import Any, Mapping, Optional, Union

from .errors import WebhookVerificationError
from .types import WebhookPayload

#: The event types a server sends (``--webhook-events`` picks among them).
WEBHOOK_EVENT_TYPES = (
    "task.approval_requested",
    "task.approval_decided",
    "task.cancelled",
    "task.stalled",
    "task.succeeded",
    "task.failed",
    "batch.completed",
)

#: Seconds a ``webhook-timestamp`` may be away from now by default (Standard Webhooks: 5 minutes).
DEFAULT_TOLERANCE = 300

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def _b64decode(text: str) -> Optional[bytes]:
    """Strict standard base64 (with padding), or None."""
    if not _BASE64.fullmatch(text):
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret (the prefix is optional); ValueError when malformed."""
    if not isinstance(secret, str):
        raise TypeError("the webhook secret must be a str (whsec_…)")
    raw = secret[len("whsec_") :] if secret.startswith("whsec_") else secret
    key = _b64decode(raw)
    if not key:
        raise ValueError("the webhook secret is not whsec_ followed by base64 (the server's --webhook-secret)")
    return key


def _text(value: Any) -> Optional[str]:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, str):
        return value
    return None


def _header(headers: Any, name: str) -> Optional[str]:
    """One header, found whatever the case of its name (a dict, a Mapping, http.server's or Starlette's headers).

    A value given as a list (several headers of one name) is joined with spaces,
    which is how Standard Webhooks separates several signatures.
    """
    getter = getattr(headers, "get", None)
    value: Any = None
    if callable(getter):
        value = getter(name)
    if value is None:
        for key in headers.keys() if hasattr(headers, "keys") else headers:
            text = _text(key)
            if text is not None and text.lower() == name:
                value = headers[key]
                break
    if isinstance(value, (list, tuple)):
        parts = [t for t in (_text(v) for v in value) if t is not None]
        return " ".join(parts) if parts else None
    return _text(value)


def sign_webhook(secret: str, msg_id: str, timestamp: Union[int, str], body: Union[bytes, str]) -> str:
    """The ``v1,<base64>`` signature taskwire puts on a message (for tests of a receiver)."""
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    signed = f"{msg_id}.{timestamp}.".encode() + data
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify_webhook(
    body: Union[bytes, bytearray, memoryview, str],
    headers: Union[Mapping[str, Any], Any],
    secret: str,
    tolerance: float = DEFAULT_TOLERANCE,
    *,
    now: Optional[float] = None,
) -> WebhookPayload:
    """Check a taskwire webhook and return its parsed payload.

    ``body`` is the raw request body exactly as received (bytes, or the str it
    decodes to; never JSON parsed and dumped again). ``headers`` is any mapping of
    the request's headers, looked up whatever their case. ``secret`` is the server's
    ``--webhook-secret`` (``whsec_…``). Any one of the space-separated ``v1,``
    signatures may match (a server rotating its secret sends several), compared in
    constant time (``hmac.compare_digest``).

    Raises :class:`WebhookVerificationError` when a header is missing, the timestamp
    is not Unix seconds or is more than ``tolerance`` seconds (300) from ``now``
    (``time.time()``), no signature matches, or the body is not a JSON object.
    Raises ValueError for a malformed ``secret``: a configuration error, not a bad
    request.
    """
    key = secret_key(secret)
    if isinstance(body, str):
        data = body.encode("utf-8")
    elif isinstance(body, (bytes, bytearray, memoryview)):
        data = bytes(body)
    else:
        raise TypeError("body must be the raw request body, bytes or str")
    msg_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    if not msg_id or not timestamp or not signatures:
        missing = [n for n, v in (("id", msg_id), ("timestamp", timestamp), ("signature", signatures)) if not v]
        raise WebhookVerificationError("missing header " + ", ".join("webhook-" + n for n in missing))
    timestamp = timestamp.strip()
    if not _TIMESTAMP.fullmatch(timestamp):
        raise WebhookVerificationError("webhook-timestamp is not Unix seconds")
    skew = (time.time() if now is None else now) - int(timestamp)
    if abs(skew) > tolerance:
        when = "old" if skew > 0 else "far in the future"
        raise WebhookVerificationError(f"webhook-timestamp is too {when} ({int(abs(skew))} s from now)")
    expected = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + data, hashlib.sha256).digest()
    matched = False
    for candidate in signatures.split():
        version, _, sig = candidate.partition(",")
        got = _b64decode(sig) if version == "v1" else None
        # Check every candidate (no early exit), each in constant time.
        if got is not None and hmac.compare_digest(got, expected):
            matched = True
    if not matched:
        raise WebhookVerificationError("no webhook-signature matches")
    try:
        payload = json.loads(data.decode("utf-8"))
    except ValueError as err:
        raise WebhookVerificationError(f"the body is not JSON: {err}") from None
    if not isinstance(payload, dict):
        raise WebhookVerificationError("the body is not a JSON object")
    return payload  # type: ignore[return-value]


__all__ = ["DEFAULT_TOLERANCE", "WEBHOOK_EVENT_TYPES", "secret_key", "sign_webhook", "verify_webhook"]
