"""Every Taskwire method against a real server, and the typed errors of bad input."""

from __future__ import annotations

import threading
import time

import pytest
from support import Server, http_json

from taskwire import (
    UNSET,
    BadRequest,
    Conflict,
    Forbidden,
    NetworkError,
    NotFound,
    Taskwire,
    TaskwireError,
    Unauthorized,
    create_token,
    websocket_url,
)


def test_create_get_and_list(tw: Taskwire, owner: str) -> None:
    task = tw.create_task(owner, title="Import", meta={"source": "s3"}, stall_timeout_ms=0)
    assert task["owner"] == owner
    assert task["title"] == "Import"
    assert task["status"] == "queued"
    assert task["version"] == 1
    assert task["meta"] == {"source": "s3"}
    assert task["stallTimeoutMs"] == 0
    assert task["id"].startswith("t_")
    assert tw.get_task(task["id"]) == task

    named = tw.create_task(owner, id=f"{owner}.named@1")
    assert named["id"] == f"{owner}.named@1"
    assert tw.get_task(named["id"])["id"] == named["id"]  # '@' and '.' survive the URL

    page = tw.list_tasks(owner=owner)
    # Newest first ("u-…" sorts after "t_…", so a tie within one millisecond orders them the same way).
    assert [t["id"] for t in page["tasks"]] == [named["id"], task["id"]]
    assert page["nextCursor"] is None
    assert tw.list_tasks(owner=owner, status="queued", limit=1)["tasks"][0]["id"] == named["id"]
    assert tw.list_tasks(owner=owner, status="running")["tasks"] == []


def test_list_pages_with_cursor_and_iter_tasks(tw: Taskwire, owner: str) -> None:
    # Ids that sort in creation order: tasks created in the same millisecond are listed by id.
    ids = [tw.create_task(owner, title=f"n{i}", id=f"{owner}-{i}")["id"] for i in range(5)]
    first = tw.list_tasks(owner=owner, limit=2)
    assert len(first["tasks"]) == 2 and first["nextCursor"]
    second = tw.list_tasks(owner=owner, limit=2, cursor=first["nextCursor"])
    assert [t["id"] for t in first["tasks"] + second["tasks"]] == ids[::-1][:4]
    assert [t["id"] for t in tw.iter_tasks(owner=owner, page_size=2)] == ids[::-1]


def test_update_fields_and_transitions(tw: Taskwire, owner: str) -> None:
    task_id = tw.create_task(owner)["id"]
    t = tw.update(task_id, progress=12.5, stage="download", message="3 files", meta={"a": 1, "b": 2})
    assert (t["status"], t["progress"], t["stage"], t["message"]) == ("running", 12.5, "download", "3 files")
    t = tw.update(task_id, meta={"a": None, "c": 3})  # merged: None deletes
    assert t["meta"] == {"b": 2, "c": 3}
    assert t["stage"] == "download"  # fields not given are unchanged
    t = tw.update(task_id, stage=None, message=None, progress=None)  # None clears
    assert (t["stage"], t["message"], t["progress"]) == (None, None, None)
    t = tw.update(task_id, status="succeeded", result={"rows": 42})
    assert (t["status"], t["progress"], t["result"]) == ("succeeded", 100, {"rows": 42})
    assert t["finishedAt"] is not None
    with pytest.raises(Conflict) as err:
        tw.update(task_id, progress=50)
    assert err.value.code == "conflict" and err.value.status == 409

    failed = tw.create_task(owner)["id"]
    t = tw.update(failed, status="failed", error="disk full")
    assert t["error"] == {"message": "disk full"}
    other = tw.create_task(owner)["id"]
    t = tw.update(other, status="failed", error={"message": "boom", "code": "E42"})
    assert t["error"] == {"message": "boom", "code": "E42"}


def test_log_lines_are_task_log_events(tw: Taskwire, owner: str) -> None:
    task_id = tw.create_task(owner)["id"]
    snapshot = tw.log(task_id, "read 3 files", "computed 42 rows")
    assert snapshot["version"] == 1  # log lines do not change the snapshot
    events = tw.history(f"task:{task_id}")["events"]
    logs = [e["data"] for e in events if e["data"]["kind"] == "task.log"]
    assert logs == [{"kind": "task.log", "taskId": task_id, "lines": ["read 3 files", "computed 42 rows"]}]


def test_request_approval_decide_and_cancel(tw: Taskwire, owner: str) -> None:
    task_id = tw.create_task(owner)["id"]
    t = tw.request_approval(task_id, "Publish it?", ["approve", "reject"])
    assert t["status"] == "awaiting_approval"
    assert t["approval"]["prompt"] == "Publish it?" and t["approval"]["decision"] is None  # type: ignore[index]
    t = tw.decide(task_id, "approve", "looks good")
    assert t["status"] == "running"
    assert (t["approval"]["decision"], t["approval"]["comment"]) == ("approve", "looks good")  # type: ignore[index]
    t = tw.cancel(task_id)
    assert t["status"] == "cancelled"
    with pytest.raises(Conflict):
        tw.cancel(task_id)
    with pytest.raises(Conflict):
        tw.decide(tw.create_task(owner)["id"], "approve")  # nothing pending


def test_publish_and_history(tw: Taskwire, owner: str) -> None:
    room = f"room:{owner}"
    first = tw.publish(room, {"n": 1})
    assert set(first) == {"epoch", "offset"} and first["offset"] == 1
    again = tw.publish(room, {"n": 1}, idempotency_key="k-1")
    repeat = tw.publish(room, {"n": "ignored"}, idempotency_key="k-1")
    assert repeat == again  # the same key publishes once
    tw.publish(f"user:{owner}", ["any", "json"])
    h = tw.history(room)
    assert [e["data"] for e in h["events"]] == [{"n": 1}, {"n": 1}]
    assert (h["channel"], h["offset"]) == (room, 2)
    after = tw.history(room, since=first)  # a Position dict …
    assert [e["offset"] for e in after["events"]] == [2] and after["recovered"] is True
    assert tw.history(room, since=(first["epoch"], 0))["events"][0]["offset"] == 1  # … a pair …
    assert tw.history(room, since=f"{first['epoch']}:1", limit=1)["events"][0]["offset"] == 2  # … a string
    assert tw.history(room, limit=1)["events"][0]["offset"] == 2  # the latest
    lost = tw.history(room, since="another-epoch:1")
    assert (lost["recovered"], lost["events"]) == (False, [])
    with pytest.raises(Forbidden):
        tw.publish(f"task:{owner}", {"x": 1})  # task events come only from the task API


def test_history_long_polls_until_the_next_event(tw: Taskwire, owner: str) -> None:
    room = f"room:{owner}"
    pos = tw.publish(room, "first")
    started = time.monotonic()
    empty = tw.history(room, since=pos, wait=0.5)
    assert empty["events"] == [] and time.monotonic() - started >= 0.45
    timer = threading.Timer(0.3, lambda: tw.publish(room, "second"))
    timer.start()
    started = time.monotonic()
    h = tw.history(room, since=pos, wait=10)
    timer.join()
    assert [e["data"] for e in h["events"]] == ["second"]
    assert time.monotonic() - started < 5  # woken by the event, not by the timeout


def test_missing_task_is_not_found(tw: Taskwire) -> None:
    with pytest.raises(NotFound) as err:
        tw.get_task("no-such-task")
    assert (err.value.code, err.value.status) == ("not_found", 404)
    assert "no-such-task" in err.value.message
    for call in (lambda: tw.update("no-such-task", progress=1), lambda: tw.log("no-such-task", "x")):
        with pytest.raises(NotFound):
            call()


def test_refused_api_key_is_unauthorized_and_not_retried(server: Server) -> None:
    bad = Taskwire(server.url, "not-the-key", retries=3, retry_min_delay=1)
    started = time.monotonic()
    with pytest.raises(Unauthorized) as err:
        bad.create_task("alice")
    assert (err.value.code, err.value.status) == ("unauthorized", 401)
    assert time.monotonic() - started < 0.9  # a 4xx is final: no backoff
    assert isinstance(err.value, TaskwireError)


def test_server_side_validation_errors_carry_the_code(tw: Taskwire, owner: str) -> None:
    with pytest.raises(BadRequest) as err:
        tw.create_task(owner, title="x" * 201)
    assert err.value.code == "bad_request" and "title" in err.value.message
    with pytest.raises(BadRequest):
        tw.create_task("not a valid id!")
    with pytest.raises(BadRequest):
        tw.history("nope:x")
    tw.create_task(owner, id=f"{owner}-dup")
    with pytest.raises(Conflict):
        tw.create_task(owner, id=f"{owner}-dup")
    task_id = tw.create_task(owner)["id"]
    with pytest.raises(BadRequest):
        tw.update(task_id, status="stalled")  # only the server sets it
    with pytest.raises(BadRequest):
        tw.log(task_id, *(["line"] * 101))


def test_bad_input_is_refused_client_side(tw: Taskwire, owner: str) -> None:
    task_id = tw.create_task(owner)["id"]
    with pytest.raises(TypeError, match="progress must be a number"):
        tw.update(task_id, progress="50")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        tw.update(task_id, progress=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="from 0 to 100"):
        tw.update(task_id, progress=101)
    with pytest.raises(ValueError):
        tw.update(task_id, progress=float("nan"))
    with pytest.raises(ValueError, match="status must be one of"):
        tw.update(task_id, status="done")
    with pytest.raises(ValueError, match="not valid JSON"):
        tw.update(task_id, result={"x": float("inf")})
    with pytest.raises(TypeError, match="not JSON-serializable"):
        tw.update(task_id, result=object())
    with pytest.raises(TypeError):
        tw.create_task(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        tw.log(task_id, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        tw.log(task_id)
    with pytest.raises(ValueError):
        tw.decide(task_id, "maybe")
    with pytest.raises(TypeError):
        tw.request_approval(task_id, "ok?", "approve")
    with pytest.raises(ValueError):
        Taskwire("127.0.0.1:8080", "k")  # no scheme
    with pytest.raises(ValueError):
        Taskwire("http://127.0.0.1:8080", "")
    assert tw.get_task(task_id)["version"] == 1  # nothing was sent
    t = tw.update(task_id, progress=UNSET)  # UNSET: not sent at all; an empty PATCH makes a queued task running
    assert (t["status"], t["progress"], t["version"]) == ("running", None, 2)


def test_unreachable_server_is_a_network_error_after_retries() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    tw = Taskwire(f"http://127.0.0.1:{port}", "k", retries=2, retry_min_delay=0.01, retry_max_delay=0.02)
    with pytest.raises(NetworkError) as err:
        tw.get_task("x")
    assert (err.value.code, err.value.status) == ("network", 0)


def test_urls_and_repr_never_show_the_key(server: Server) -> None:
    tw = Taskwire(server.url + "/", server.api_key)
    assert tw.url == server.url + "/api/v1"
    assert Taskwire(server.url + "/api/v1", server.api_key).url == server.url + "/api/v1"
    assert tw.ws_url == server.url.replace("http://", "ws://") + "/api/v1/ws"
    assert server.api_key not in repr(tw)
    assert websocket_url("https://example.com/tw/") == "wss://example.com/tw/api/v1/ws"
    assert websocket_url("https://example.com/tw/api/v1/ws") == "wss://example.com/tw/api/v1/ws"
    assert websocket_url("ws://h:1/api/v1") == "ws://h:1/api/v1/ws"


def test_a_users_token_works_for_the_client_routes(server: Server, tw: Taskwire, owner: str) -> None:
    task_id = tw.create_task(owner)["id"]
    as_user = Taskwire(server.url, create_token(server.jwt_secret, owner, ttl=60))
    assert as_user.get_task(task_id)["id"] == task_id
    assert [t["id"] for t in as_user.list_tasks()["tasks"]] == [task_id]
    with pytest.raises(Forbidden):
        as_user.create_task(owner)  # backend calls need the API key
    status, _ = http_json("GET", f"{server.url}/api/v1/tasks/{task_id}", create_token(server.jwt_secret, "mallory"))
    assert status == 404  # another user's task looks missing
