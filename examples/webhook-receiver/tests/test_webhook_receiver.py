"""The example receiver against a real taskwire server: every event type of a task life
verified by the receiver's own check and recorded once; forged, stale and replayed
requests refused or deduplicated."""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from typing import Any, Callable, Dict, List

from conftest import Receiver
from support import Server, http_json

from taskwire import WEBHOOK_EVENT_TYPES, Taskwire, sign_webhook


def records(receiver: Receiver) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in receiver.lines()]


def wait_for(pred: Callable[[], bool], receiver: Receiver, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"not recorded in time: {receiver.lines()}\n{receiver.output()[-2000:]}")
        time.sleep(0.05)


def post(receiver: Receiver, body: bytes, headers: Dict[str, str]) -> int:
    req = urllib.request.Request(receiver.url, data=body, method="POST", headers=headers)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return int(res.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def test_every_event_of_a_task_life_is_verified_and_recorded(server: Server, receiver: Receiver) -> None:
    tw = Taskwire(server.url, server.api_key, timeout=10)
    owner = "u-" + uuid.uuid4().hex[:8]
    ids = {n: f"{n}-{uuid.uuid4().hex[:8]}" for n in ("ask", "nope", "stop", "quiet", "boom", "pages")}
    # Approval requested and approved, then the work succeeds; another one rejected.
    with tw.task(owner=owner, id=ids["ask"], title="Publish") as t:
        tw.request_approval(t.id, "Publish the report?", ["approve", "reject"])
        tw.decide(t.id, "approve", comment="ship it")
    tw.create_task(owner, id=ids["nope"])
    tw.request_approval(ids["nope"], "Delete everything?")
    tw.decide(ids["nope"], "reject", comment="no")
    # A cancel, a stall, a failure.
    tw.create_task(owner, id=ids["stop"])
    tw.cancel(ids["stop"])
    tw.create_task(owner, id=ids["quiet"], stall_timeout_ms=200)
    tw.update(ids["quiet"], status="running", progress=10)
    try:
        with tw.task(owner=owner, id=ids["boom"]) as t:
            t.progress(40)
            raise OSError("disk full")
    except OSError:
        pass
    # A batch that completes when its children have.
    tw.create_task(owner, id=ids["pages"], batch={"complete_when": "children", "expected_children": 3})
    for i in range(3):
        with tw.task(owner=owner, parent_id=ids["pages"], id=f"{ids['pages']}-{i}") as t:
            t.progress(50)

    def of(name: str) -> List[Dict[str, Any]]:
        return [r for r in records(receiver) if r["task"]["id"] == ids[name]]

    wait_for(lambda: len(of("pages")) == 2 and len(of("quiet")) == 1 and len(of("nope")) >= 2, receiver)
    kinds = {name: [r["type"] for r in of(name)] for name in ids}
    assert kinds["ask"] == ["task.approval_requested", "task.approval_decided", "task.succeeded"]
    assert kinds["nope"][:2] == ["task.approval_requested", "task.approval_decided"]
    assert kinds["stop"] == ["task.cancelled"]
    assert kinds["quiet"] == ["task.stalled"]
    assert kinds["boom"] == ["task.failed"]
    assert kinds["pages"] == ["task.succeeded", "batch.completed"]
    assert {r["type"] for r in records(receiver)} == set(WEBHOOK_EVENT_TYPES)

    # Each record is the task after its change.
    assert of("ask")[1]["task"]["approval"]["decision"] == "approve"
    rejected = of("nope")[1]["task"]["approval"]
    assert (rejected["decision"], rejected["comment"]) == ("reject", "no")
    assert of("boom")[0]["task"]["error"] == {"message": "disk full", "code": "OSError"}
    assert of("pages")[1]["task"]["children"]["succeeded"] == 3
    final = tw.get_task(ids["pages"])
    assert of("pages")[1]["task"] == final and of("pages")[1]["timestamp"] == final["updatedAt"]

    # The receiver answered 2xx (which it does only after its own check) to every message,
    # once each: the server has them all delivered at the first attempt, none pending or failed.
    def listed(status: str) -> List[Dict[str, Any]]:
        code, body = http_json("GET", f"{server.url}/api/v1/webhooks/messages?status={status}&limit=200", server.api_key)
        assert code == 200, body
        return body["messages"]  # type: ignore[no-any-return]

    wait_for(lambda: len(listed("delivered")) == len(records(receiver)), receiver)
    assert listed("pending") == [] and listed("failed") == []
    assert all([a["status"] for a in m["attempts"]] == [204] for m in listed("delivered"))
    assert {m["id"] for m in listed("delivered")} == {r["id"] for r in records(receiver)}
    assert f"batch.completed {ids['pages']} (succeeded)" in receiver.output()


def test_forged_stale_and_replayed_requests(server: Server, receiver: Receiver) -> None:
    before = len(receiver.lines())
    task = {"id": "forged", "status": "succeeded"}
    body = json.dumps({"type": "task.succeeded", "timestamp": "2026-01-01T00:00:00.000Z", "data": {"task": task}}).encode()
    now = int(time.time())

    def headers(msg_id: str, ts: int, sig: str) -> Dict[str, str]:
        return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": sig}

    other = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    assert post(receiver, body, headers("msg_forged1", now, sign_webhook(other, "msg_forged1", now, body))) == 400
    good = sign_webhook(receiver.secret, "msg_forged2", now, body)
    assert post(receiver, body + b" ", headers("msg_forged2", now, good)) == 400  # a changed body
    assert post(receiver, body, headers("msg_forged3", now, good)) == 400  # another id
    assert post(receiver, body, {"webhook-id": "msg_forged2", "webhook-timestamp": str(now)}) == 400
    stale = now - 301
    assert post(receiver, body, headers("msg_stale", stale, sign_webhook(receiver.secret, "msg_stale", stale, body))) == 400
    assert len(receiver.lines()) == before

    # Several signatures, the right one second: accepted, recorded once; sent again
    # (a retry keeps its webhook-id) accepted and not recorded twice.
    wrong = sign_webhook(other, "msg_forged2", now, body)
    assert post(receiver, body, headers("msg_forged2", now, f"{wrong} {good}")) == 204
    assert post(receiver, body, headers("msg_forged2", now, good)) == 204
    got = records(receiver)[before:]
    assert [(r["id"], r["type"], r["task"]) for r in got] == [("msg_forged2", "task.succeeded", task)]
    assert "task.succeeded forged (succeeded) (a retry: already recorded)" in receiver.output()
