"""verify_webhook: Standard Webhooks signatures, on hand-made messages and on real ones.

The hand-made messages are signed here with ``hmac`` from the spec, not with the
SDK's ``sign_webhook``; the real ones are sent by a taskwire server started with
``--webhook-url`` at a receiver in this file, for every event type of a task life.
"""

from __future__ import annotations

import base64
import email.parser
import hashlib
import hmac
import http.client
import http.server
import json
import os
import threading
import time
import types
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Mapping, Optional

import pytest
from support import Server, start_server

from taskwire import (
    WEBHOOK_EVENT_TYPES,
    TaskwireError,
    Taskwire,
    WebhookVerificationError,
    sign_webhook,
    verify_webhook,
)

KEY = os.urandom(32)
SECRET = "whsec_" + base64.b64encode(KEY).decode()
BODY = json.dumps({"type": "task.succeeded", "timestamp": "2026-01-01T00:00:00.000Z", "data": {"task": {"id": "t1"}}})


def sign(msg_id: str, ts: int, body: bytes, key: bytes = KEY) -> str:
    """The spec's scheme, written out: base64(HMAC-SHA256(key, "id.ts.body")) with the "v1," prefix."""
    mac = hmac.new(key, msg_id.encode() + b"." + str(ts).encode() + b"." + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers_for(body: str = BODY, ts: Optional[int] = None, msg_id: str = "msg_abc", key: bytes = KEY) -> Dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": sign(msg_id, ts, body.encode(), key)}


class Headers(Mapping[str, str]):
    """A read-only mapping that is not a dict and has no case-insensitive get of its own."""

    def __init__(self, items: Dict[str, str]) -> None:
        self._items = dict(items)

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


def test_a_valid_message_returns_its_payload_from_bytes_or_str() -> None:
    h = headers_for()
    assert verify_webhook(BODY, h, SECRET) == json.loads(BODY)
    assert verify_webhook(BODY.encode(), h, SECRET)["data"]["task"]["id"] == "t1"
    assert verify_webhook(bytearray(BODY.encode()), h, SECRET)["type"] == "task.succeeded"
    # The prefix is optional, as in the TypeScript helper.
    assert verify_webhook(BODY, h, SECRET[len("whsec_") :])["type"] == "task.succeeded"
    # The SDK's signer agrees with the spec's scheme written above.
    assert sign_webhook(SECRET, h["webhook-id"], h["webhook-timestamp"], BODY) == h["webhook-signature"]


def test_non_ascii_bodies_are_signed_as_their_utf8_bytes() -> None:
    body = json.dumps({"type": "task.failed", "data": {"task": {"title": "Bericht über Köln ✓"}}}, ensure_ascii=False)
    h = headers_for(body)
    assert verify_webhook(body, h, SECRET)["data"]["task"]["title"] == "Bericht über Köln ✓"
    assert verify_webhook(body.encode("utf-8"), h, SECRET)["type"] == "task.failed"


def test_header_names_match_whatever_their_case_in_any_mapping() -> None:
    h = {k.title(): v for k, v in headers_for().items()}  # Webhook-Id, Webhook-Timestamp, …
    assert verify_webhook(BODY, h, SECRET)["type"] == "task.succeeded"
    upper = {k.upper(): v for k, v in h.items()}
    assert verify_webhook(BODY, Headers(upper), SECRET)["type"] == "task.succeeded"
    assert verify_webhook(BODY, types.MappingProxyType(upper), SECRET)["type"] == "task.succeeded"
    # http.server's and http.client's headers (an email.message.Message).
    raw = "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    msg = email.parser.Parser(_class=http.client.HTTPMessage).parsestr(raw)
    assert verify_webhook(BODY, msg, SECRET)["type"] == "task.succeeded"
    # Values as lists (several headers of one name; WSGI-style bytes).
    listed: Dict[str, Any] = {k: [v] for k, v in h.items()}
    assert verify_webhook(BODY, listed, SECRET)["type"] == "task.succeeded"
    as_bytes = {k.encode(): v.encode() for k, v in h.items()}
    assert verify_webhook(BODY, as_bytes, SECRET)["type"] == "task.succeeded"


def test_any_of_several_space_separated_signatures_may_match() -> None:
    h = headers_for()
    right = h["webhook-signature"]
    other = sign(h["webhook-id"], int(h["webhook-timestamp"]), BODY.encode(), os.urandom(32))
    for sigs in (f"{other} {right}", f"{right} {other}", f"v1,bogus v1a,{right[3:]} {right}", f"  {right}  "):
        assert verify_webhook(BODY, {**h, "webhook-signature": sigs}, SECRET)["type"] == "task.succeeded", sigs
    # Two signature headers, as a list of values.
    assert verify_webhook(BODY, {**h, "webhook-signature": [other, right]}, SECRET)["type"] == "task.succeeded"
    # The right bytes under another version are not a v1 signature.
    with pytest.raises(WebhookVerificationError, match="no webhook-signature matches"):
        verify_webhook(BODY, {**h, "webhook-signature": f"v2,{right[3:]} {other}"}, SECRET)


@pytest.mark.parametrize(
    "change",
    [
        lambda b, h: (b + " ", h),  # a changed body
        lambda b, h: (b.replace("t1", "t2"), h),
        lambda b, h: (b, {**h, "webhook-id": "msg_other"}),  # a changed id
        lambda b, h: (b, {**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) - 1)}),
        lambda b, h: (b, {**h, "webhook-signature": h["webhook-signature"][:-6] + "AAAAA="}),
        lambda b, h: (b, {**h, "webhook-signature": h["webhook-signature"][3:]}),  # no v1, prefix
        lambda b, h: (b, {**h, "webhook-signature": "v1,not base64!"}),
        lambda b, h: (b, {**h, "webhook-signature": "v1,"}),
    ],
)
def test_a_tampered_message_is_refused(change: Any) -> None:
    body, h = change(BODY, headers_for())
    with pytest.raises(WebhookVerificationError, match="no webhook-signature matches") as info:
        verify_webhook(body, h, SECRET)
    assert isinstance(info.value, TaskwireError)
    assert (info.value.code, info.value.status) == ("webhook_verification", 0)


def test_another_secret_is_refused() -> None:
    with pytest.raises(WebhookVerificationError):
        verify_webhook(BODY, headers_for(), "whsec_" + base64.b64encode(os.urandom(32)).decode())


def test_a_timestamp_more_than_five_minutes_away_is_refused() -> None:
    now = 1_800_000_000
    for ts in (now - 300, now + 300, now - 5, now):
        assert verify_webhook(BODY, headers_for(ts=ts), SECRET, now=now)["type"] == "task.succeeded"
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify_webhook(BODY, headers_for(ts=now - 301), SECRET, now=now)
    with pytest.raises(WebhookVerificationError, match="too far in the future"):
        verify_webhook(BODY, headers_for(ts=now + 301), SECRET, now=now)
    # A replay of a real old message, with the real clock.
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify_webhook(BODY, headers_for(ts=int(time.time()) - 3600), SECRET)
    # The tolerance is the caller's.
    assert verify_webhook(BODY, headers_for(ts=now - 3000), SECRET, tolerance=3600, now=now)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify_webhook(BODY, headers_for(ts=now - 11), SECRET, tolerance=10, now=now)


@pytest.mark.parametrize("ts", ["", "abc", "1.5", "-100", "1e9", "99999999999999"])
def test_a_timestamp_that_is_not_unix_seconds_is_refused(ts: str) -> None:
    h = {**headers_for(), "webhook-timestamp": ts}
    with pytest.raises(WebhookVerificationError, match="webhook-timestamp"):
        verify_webhook(BODY, h, SECRET)


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_named(name: str) -> None:
    h = {k: v for k, v in headers_for().items() if k != name}
    with pytest.raises(WebhookVerificationError, match=f"missing header {name}"):
        verify_webhook(BODY, h, SECRET)


def test_a_signed_body_that_is_not_a_json_object_is_refused() -> None:
    for body in ("not json", "[1, 2]"):
        with pytest.raises(WebhookVerificationError, match="not (JSON|a JSON object)"):
            verify_webhook(body, headers_for(body), SECRET)


def test_a_malformed_secret_or_argument_is_a_programming_error() -> None:
    for secret in ("", "whsec_", "whsec_not base64!", "whsec_abc"):
        with pytest.raises(ValueError, match="whsec_"):
            verify_webhook(BODY, headers_for(), secret)
    with pytest.raises(TypeError):
        verify_webhook(BODY, headers_for(), None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        verify_webhook(json.loads(BODY), headers_for(), SECRET)  # type: ignore[arg-type]


# Real webhooks from a real server.


@dataclass
class Received:
    headers: http.client.HTTPMessage
    body: bytes
    verified: Optional[Dict[str, Any]]
    error: Optional[str]


class Receiver:
    """An HTTP receiver in a thread: verifies each request with verify_webhook, answers 204 or 400."""

    def __init__(self, secret: str) -> None:
        self.got: List[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    payload: Optional[Dict[str, Any]] = dict(verify_webhook(body, self.headers, secret))
                    error = None
                except WebhookVerificationError as err:
                    payload, error = None, str(err)
                with receiver.lock:
                    receiver.got.append(Received(self.headers, body, payload, error))
                self.send_response(204 if payload is not None else 400)
                self.end_headers()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks"

    def of(self, task_id: str) -> List[Received]:
        with self.lock:
            return [r for r in self.got if r.verified and r.verified["data"]["task"]["id"] == task_id]

    def wait(self, pred: Any, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                with self.lock:
                    seen = [(r.error, r.body[:120]) for r in self.got]
                raise AssertionError(f"webhooks not received in time; got {seen}")
            time.sleep(0.05)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def hooks() -> Iterator[Receiver]:
    receiver = Receiver(SECRET)
    try:
        yield receiver
    finally:
        receiver.close()


@pytest.fixture(scope="module")
def hook_server(hooks: Receiver) -> Iterator[Server]:
    args = ["--webhook-url", hooks.url, "--webhook-secret", SECRET, "--webhook-retry-schedule", "100ms,200ms"]
    srv = start_server(args + ["--webhook-timeout-ms", "2000", "--stall-sweep-ms", "100"])
    try:
        yield srv
    finally:
        srv.stop()


def test_real_webhooks_of_every_event_type_verify(hook_server: Server, hooks: Receiver) -> None:
    tw = Taskwire(hook_server.url, hook_server.api_key, timeout=10)
    owner = "u-" + uuid.uuid4().hex[:8]
    ids = {name: f"{name}-{uuid.uuid4().hex[:8]}" for name in ("ask", "stop", "quiet", "boom", "fine", "pages")}
    tw.create_task(owner, id=ids["ask"])
    tw.request_approval(ids["ask"], "Ship it?", ["approve", "reject"])
    tw.decide(ids["ask"], "approve", comment="go")
    tw.create_task(owner, id=ids["stop"])
    tw.cancel(ids["stop"])
    tw.create_task(owner, id=ids["quiet"], stall_timeout_ms=200)
    tw.update(ids["quiet"], status="running", progress=1)
    tw.create_task(owner, id=ids["boom"])
    tw.update(ids["boom"], status="running")
    failed = tw.update(ids["boom"], status="failed", error="disk full")
    tw.create_task(owner, id=ids["fine"])
    tw.update(ids["fine"], status="running")
    tw.update(ids["fine"], status="succeeded", result={"n": 1})
    tw.create_task(owner, id=ids["pages"], batch={"complete_when": "children", "expected_children": 2})
    for i in (1, 2):
        with tw.task(owner=owner, parent_id=ids["pages"], id=f"{ids['pages']}-{i}") as t:
            t.progress(50)

    hooks.wait(lambda: len(hooks.of(ids["pages"])) == 2 and len(hooks.of(ids["quiet"])) == 1)
    kinds = lambda name: [r.verified["type"] for r in hooks.of(ids[name])]  # noqa: E731
    assert kinds("ask") == ["task.approval_requested", "task.approval_decided"]
    assert kinds("stop") == ["task.cancelled"]
    assert kinds("quiet") == ["task.stalled"]
    assert kinds("boom") == ["task.failed"]
    assert kinds("fine") == ["task.succeeded"]
    assert kinds("pages") == ["task.succeeded", "batch.completed"]
    with hooks.lock:
        got = list(hooks.got)
    assert {r.verified["type"] for r in got if r.verified} == set(WEBHOOK_EVENT_TYPES)
    assert [r.error for r in got if r.error] == []  # every real request verified
    (boom,) = hooks.of(ids["boom"])
    assert boom.verified == {"type": "task.failed", "timestamp": failed["updatedAt"], "data": {"task": failed}}
    assert boom.headers["Content-Type"] == "application/json"
    decided = hooks.of(ids["ask"])[1].verified
    assert decided and decided["data"]["task"]["approval"]["decision"] == "approve"

    # The same real requests, checked again: as plain dicts, and refused when tampered with.
    for r in got:
        plain = {k.lower(): v for k, v in r.headers.items()}
        assert verify_webhook(r.body.decode("utf-8"), plain, SECRET) == r.verified
        with pytest.raises(WebhookVerificationError):
            verify_webhook(r.body + b" ", r.headers, SECRET)
        with pytest.raises(WebhookVerificationError):
            verify_webhook(r.body, r.headers, "whsec_" + base64.b64encode(os.urandom(24)).decode())
        with pytest.raises(WebhookVerificationError, match="too old"):
            verify_webhook(r.body, r.headers, SECRET, now=int(r.headers["webhook-timestamp"]) + 301)
