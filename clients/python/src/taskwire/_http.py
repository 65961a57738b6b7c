"""One HTTP call to the API, and the retry policy shared by the sync and async clients.

``attempt`` makes one try with urllib and says whether a failure may be retried:
network errors (refused, reset, timed out, a truncated answer) and 5xx answers
are; so is a 429 that says when to come back (``Retry-After``); any other 4xx is
final. The caller's headers (an ``Idempotency-Key``) are sent unchanged on every
try, which is what makes a retried create or publish safe. ``retry_delay`` is
exponential backoff with full jitter, never shorter than the server's
``Retry-After``.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import random
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence, Tuple, Union

from .errors import NetworkError, TaskwireError, error_from_response, make_error

__version__ = "0.1.0"

USER_AGENT = f"taskwire-python/{__version__}"

#: The body of a request that has none (``None`` is JSON ``null``).
NO_BODY: Any = object()

QueryValue = Union[str, int, float, None]


@dataclass(frozen=True)
class Request:
    """One API call: the method, the path under ``/api/v1`` with its query, an encoded JSON body."""

    method: str
    path: str
    body: Optional[bytes] = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Seconds the server may hold the answer on purpose (a long-poll), added to the timeout.
    hold: float = 0.0
    #: A credential to send instead of the client's (a user's token, for ``create_ticket``).
    credential: Optional[str] = None
    #: For a change that is final once made (a terminal status, a cancel): where to read the
    #: task, and whether a snapshot shows the change made. A retry answered 409 may mean an
    #: earlier try landed and only its answer was lost; then the task is read, and when it
    #: shows the change, that snapshot is the answer.
    settle: Optional[Tuple[str, Callable[[Any], bool]]] = None


def encode_json(value: Any, what: str = "body") -> bytes:
    """JSON for the wire; a value JSON cannot carry (NaN, an object) raises ValueError/TypeError here, before any call."""
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except ValueError as err:
        raise ValueError(f"{what} is not valid JSON: {err}") from None
    except TypeError as err:
        raise TypeError(f"{what} is not JSON-serializable: {err}") from None


def segment(value: str) -> str:
    """One path segment, percent-encoded (``task:a@b`` → ``task%3Aa%40b``)."""
    return urllib.parse.quote(value, safe="")


def make_request(
    method: str,
    path: str,
    body: Any = NO_BODY,
    *,
    query: Optional[Sequence[Tuple[str, QueryValue]]] = None,
    headers: Optional[Mapping[str, str]] = None,
    hold: float = 0.0,
    credential: Optional[str] = None,
    settle: Optional[Tuple[str, Callable[[Any], bool]]] = None,
) -> Request:
    """Build a Request; query parameters whose value is None are left out."""
    if query:
        pairs = [(k, _query_value(v)) for k, v in query if v is not None]
        if pairs:
            path = f"{path}?{urllib.parse.urlencode(pairs)}"
    data = None if body is NO_BODY else encode_json(body)
    return Request(method, path, data, dict(headers or {}), hold, credential, settle)


def _query_value(v: QueryValue) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def api_base(url: str) -> str:
    """``http://host:8080`` → ``http://host:8080/api/v1`` (unchanged when it already ends so)."""
    if not isinstance(url, str) or not url:
        raise ValueError("url must be the server's base URL, like http://127.0.0.1:8080")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"url must start with http:// or https:// and name a host, not {url!r}")
    base = url.rstrip("/")
    return base if base.endswith("/api/v1") else base + "/api/v1"


def websocket_url(url: str) -> str:
    """The WebSocket endpoint for a server base URL: ``https://h`` → ``wss://h/api/v1/ws``.

    Accepts the base URL with or without ``/api/v1`` (or ``/api/v1/ws``), and
    ``ws://``/``wss://`` URLs, so a prefix is never doubled.
    """
    if isinstance(url, str):
        url = url.rstrip("/")
        if url.endswith("/api/v1/ws"):
            url = url[: -len("/ws")]
        if url.startswith("ws://") or url.startswith("wss://"):
            url = "http" + url[2:]
    base = api_base(url)
    return "ws" + base[4:] + "/ws"


@dataclass(frozen=True)
class Policy:
    """How a client talks to the server: where, with which credential, how patiently."""

    base_url: str
    credential: str
    timeout: float
    retries: int
    retry_min_delay: float
    retry_max_delay: float
    #: A ``Retry-After`` longer than this is not waited for: the error is raised.
    max_retry_after: float = 60.0


@dataclass
class Outcome:
    """The result of one try: ``value`` on success, else ``error`` and whether to retry."""

    value: Any = None
    error: Optional[TaskwireError] = None
    retryable: bool = False
    retry_after: Optional[float] = None


def attempt(policy: Policy, req: Request) -> Outcome:
    """One try of ``req``. Never raises for HTTP or network failures: they are in the Outcome."""
    headers = {
        "Authorization": f"Bearer {req.credential if req.credential is not None else policy.credential}",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
        **req.headers,
    }
    if req.body is not None:
        headers["Content-Type"] = "application/json"
    url = policy.base_url + req.path
    r = urllib.request.Request(url, data=req.body, headers=headers, method=req.method)
    where = f"{req.method} {req.path.split('?')[0]}"
    try:
        with urllib.request.urlopen(r, timeout=policy.timeout + req.hold) as res:
            raw = res.read()
    except urllib.error.HTTPError as err:
        try:
            body = err.read()
        except (OSError, http.client.HTTPException):
            body = b""
        finally:
            err.close()
        error = error_from_response(err.code, body)
        retry_after = parse_retry_after(err.headers.get("Retry-After") if err.headers else None)
        retryable = err.code >= 500 or (err.code == 429 and retry_after is not None)
        if retry_after is not None and retry_after > policy.max_retry_after:
            retryable = False
        return Outcome(error=error, retryable=retryable, retry_after=retry_after)
    except urllib.error.URLError as err:
        return Outcome(error=NetworkError("network", f"{where}: {err.reason}"), retryable=True)
    except (OSError, http.client.HTTPException, socket.timeout) as err:
        reason = "timed out" if isinstance(err, socket.timeout) else (str(err) or type(err).__name__)
        return Outcome(error=NetworkError("network", f"{where}: {reason}"), retryable=True)
    if not raw:
        return Outcome(value=None)
    try:
        return Outcome(value=json.loads(raw))
    except ValueError:
        return Outcome(error=make_error("internal", f"{where}: the answer is not JSON", 200))


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """``Retry-After``: delta-seconds or an HTTP date, as seconds from now (None when absent or unreadable)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def retry_delay(policy: Policy, retry: int, retry_after: Optional[float]) -> float:
    """Seconds before retry number ``retry`` (1, 2, …): full jitter up to min(max, min·2^(retry-1)), at least Retry-After."""
    cap = min(policy.retry_max_delay, policy.retry_min_delay * (2 ** (retry - 1)))
    delay = random.uniform(0, cap)
    return max(delay, retry_after) if retry_after is not None else delay


def settle_request(req: Request, error: TaskwireError, tries: int) -> Optional[Request]:
    """The read that may show a retried final change as made (see ``Request.settle``), or None."""
    if req.settle is None or tries < 2 or error.status != 409:
        return None
    return Request("GET", req.settle[0])


def call(policy: Policy, req: Request) -> Any:
    """``req`` with retries (blocking): the answer's JSON, or the last failure raised as a TaskwireError."""
    for n in range(policy.retries + 1):
        outcome = attempt(policy, req)
        if outcome.error is None:
            return outcome.value
        if not outcome.retryable or n >= policy.retries:
            check = settle_request(req, outcome.error, n + 1)
            if check is not None and req.settle is not None:
                task = call(policy, check)
                if req.settle[1](task):
                    return task
            raise outcome.error
        time.sleep(retry_delay(policy, n + 1, outcome.retry_after))
    raise AssertionError("unreachable")


def check_policy_args(timeout: float, retries: int, retry_min_delay: float, retry_max_delay: float) -> None:
    """Refuse nonsense client options at construction time."""
    for name, v in (("timeout", timeout), ("retry_min_delay", retry_min_delay), ("retry_max_delay", retry_max_delay)):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"{name} must be a number of seconds")
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    if retry_min_delay < 0 or retry_max_delay < retry_min_delay:
        raise ValueError("need 0 <= retry_min_delay <= retry_max_delay")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError("retries must be an integer >= 0")
