"""Retries through a proxy that breaks the first attempts: never two tasks, never a lost one."""

from __future__ import annotations

import time
from typing import Iterator

import pytest
from support import DROP, ERROR_500, ERROR_503_RETRY_AFTER, FORWARD_THEN_DROP, PASS, Proxy, Server

from taskwire import Conflict, Internal, NetworkError, NotFound, Taskwire, Unavailable


@pytest.fixture
def proxy(server: Server) -> Iterator[Proxy]:
    p = Proxy(server.url).start()
    try:
        yield p
    finally:
        p.stop()


def client(proxy: Proxy, server: Server, **kw: float) -> Taskwire:
    opts = {"retries": 4, "retry_min_delay": 0.02, "retry_max_delay": 0.1, "timeout": 5.0, **kw}
    return Taskwire(proxy.url, server.api_key, **opts)  # type: ignore[arg-type]


def test_a_create_whose_answers_are_lost_makes_one_task(proxy: Proxy, server: Server, tw: Taskwire, owner: str) -> None:
    # The server creates the task on the first try; its answer and the next one are lost on the way back.
    proxy.faults = [FORWARD_THEN_DROP, FORWARD_THEN_DROP, DROP, ERROR_500]
    task = client(proxy, server).create_task(owner, title="Once")
    creates = proxy.requests("POST", "/api/v1/tasks")
    assert [c.action for c in creates] == [FORWARD_THEN_DROP, FORWARD_THEN_DROP, DROP, ERROR_500, PASS]
    keys = {c.headers["Idempotency-Key"] for c in creates}
    assert len(keys) == 1  # one key, reused by every retry
    tasks = tw.list_tasks(owner=owner)["tasks"]
    assert [t["id"] for t in tasks] == [task["id"]]
    assert task["title"] == "Once" and task["version"] == 1


def test_each_create_call_gets_its_own_key(proxy: Proxy, server: Server, tw: Taskwire, owner: str) -> None:
    c = client(proxy, server)
    c.create_task(owner)
    c.create_task(owner)
    keys = [s.headers["Idempotency-Key"] for s in proxy.requests("POST", "/api/v1/tasks")]
    assert len(set(keys)) == 2
    assert len(tw.list_tasks(owner=owner)["tasks"]) == 2
    c.create_task(owner, idempotency_key="mine-1")
    again = c.create_task(owner, idempotency_key="mine-1")  # the caller's key: a repeat answers the first task
    assert len(tw.list_tasks(owner=owner)["tasks"]) == 3
    assert again["owner"] == owner


def test_a_task_block_retried_at_every_step_makes_one_task(proxy: Proxy, server: Server, tw: Taskwire, owner: str) -> None:
    # Every call's first try lands on the server but its answer is lost (or it fails with a 500).
    proxy.faults = [FORWARD_THEN_DROP, PASS, FORWARD_THEN_DROP, PASS, ERROR_500, PASS, FORWARD_THEN_DROP, PASS]
    with client(proxy, server).task(owner=owner, title="Flaky network") as t:
        t.progress(50, stage="half")
        t.result = {"ok": True}
    assert not proxy.faults  # every fault was used
    tasks = tw.list_tasks(owner=owner)["tasks"]
    assert len(tasks) == 1
    assert (tasks[0]["status"], tasks[0]["result"], tasks[0]["stage"]) == ("succeeded", {"ok": True}, "half")
    # The retried final update was refused (409: succeeded is final), and the task read back showed it made.
    assert [(s.method, s.action) for s in proxy.seen][-3:] == [("PATCH", FORWARD_THEN_DROP), ("PATCH", PASS), ("GET", PASS)]
    assert t.task is not None and t.task["status"] == "succeeded"


def test_retried_final_changes_whose_answer_was_lost_are_not_conflicts(
    proxy: Proxy, server: Server, tw: Taskwire, owner: str
) -> None:
    c = client(proxy, server)
    task_id = tw.create_task(owner)["id"]
    proxy.faults = [FORWARD_THEN_DROP]
    assert c.request_approval(task_id, "Go?")["status"] == "awaiting_approval"
    proxy.faults = [FORWARD_THEN_DROP]
    assert c.decide(task_id, "approve")["approval"]["decision"] == "approve"  # type: ignore[index]
    proxy.faults = [FORWARD_THEN_DROP]
    assert c.cancel(task_id)["status"] == "cancelled"
    # A real conflict is still one: the task read back does not show the change asked for.
    other = tw.create_task(owner)["id"]
    tw.update(other, status="failed", error="boom")
    proxy.faults = [ERROR_500]
    with pytest.raises(Conflict):
        c.update(other, status="succeeded")


def test_a_publish_retried_after_a_lost_answer_publishes_once(proxy: Proxy, server: Server, tw: Taskwire, owner: str) -> None:
    proxy.faults = [FORWARD_THEN_DROP, FORWARD_THEN_DROP]
    pos = client(proxy, server).publish(f"room:{owner}", {"n": 1})
    assert pos["offset"] == 1
    assert len(tw.history(f"room:{owner}")["events"]) == 1


def test_retry_after_is_honoured(proxy: Proxy, server: Server, owner: str) -> None:
    proxy.faults = [ERROR_503_RETRY_AFTER]
    started = time.monotonic()
    task = client(proxy, server).create_task(owner)
    tries = proxy.requests("POST", "/api/v1/tasks")
    assert [s.action for s in tries] == [ERROR_503_RETRY_AFTER, PASS]
    assert tries[1].at - tries[0].at >= 0.95  # Retry-After: 1, though the backoff alone is ≤ 0.1 s
    assert time.monotonic() - started < 5
    assert task["owner"] == owner


def test_retries_give_up_with_the_last_error(proxy: Proxy, server: Server, owner: str) -> None:
    proxy.faults = [ERROR_500] * 3
    with pytest.raises(Internal) as err:
        client(proxy, server, retries=2).create_task(owner)
    assert (err.value.code, err.value.status) == ("internal", 500)
    assert len(proxy.requests("POST")) == 3  # the first try and 2 retries

    proxy.faults = [DROP] * 2
    with pytest.raises(NetworkError):
        client(proxy, server, retries=1).get_task("anything")
    assert len(proxy.requests("GET")) == 2

    proxy.faults = [ERROR_503_RETRY_AFTER]
    with pytest.raises(Unavailable):
        client(proxy, server, retries=0).get_task("anything")


def test_a_4xx_is_not_retried(proxy: Proxy, server: Server) -> None:
    with pytest.raises(NotFound):
        client(proxy, server).get_task("missing")
    assert len(proxy.seen) == 1


def test_a_timeout_is_retried(server: Server, tw: Taskwire, owner: str) -> None:
    # A long-poll held longer than the client waits: the try times out, and is retried.
    room = f"room:{owner}"
    pos = tw.publish(room, "x")
    short = Taskwire(server.url, server.api_key, timeout=0.3, retries=1, retry_min_delay=0.01, retry_max_delay=0.02)
    from taskwire import _api, _http

    req = _api.history(room, since=pos, wait=2)
    started = time.monotonic()
    with pytest.raises(NetworkError, match="timed out"):
        _http.call(short._policy, _http.Request(req.method, req.path, hold=0))
    assert 0.55 <= time.monotonic() - started < 2  # two tries of 0.3 s
