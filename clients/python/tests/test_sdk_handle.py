"""tw.task(...) as a context manager, and its handle: progress, log, track, ask_approval."""

from __future__ import annotations

import threading
import time
from typing import Iterator, List

import pytest
from support import PASS, Proxy, Server, http_json

from taskwire import BadRequest, Conflict, DecisionTimeout, NotFound, Taskwire, TaskwireError, create_token


def events(tw: Taskwire, task_id: str) -> List[dict]:  # type: ignore[type-arg]
    return [e["data"] for e in tw.history(f"task:{task_id}", limit=1000)["events"]]


def test_a_block_that_returns_succeeds_with_the_result(tw: Taskwire, owner: str) -> None:
    with tw.task(owner=owner, title="Report") as t:
        assert t.task is not None and t.task["status"] == "running"  # entering the block starts it
        t.progress(10, stage="download", message="3 files")
        t.log("read 3 files")
        t.progress(60)
        t.result = {"rows": 42}
        assert t.result == {"rows": 42}
    final = tw.get_task(t.id)
    assert (final["status"], final["progress"], final["result"], final["stage"]) == ("succeeded", 100, {"rows": 42}, "download")
    assert final["title"] == "Report" and final["owner"] == owner
    assert t.task == final
    kinds = [(d["kind"], d.get("task", {}).get("status"), d.get("task", {}).get("progress")) for d in events(tw, t.id)]
    assert kinds == [
        ("task.created", "queued", None),
        ("task.updated", "running", None),
        ("task.updated", "running", 10),
        ("task.log", None, None),
        ("task.updated", "running", 60),
        ("task.updated", "succeeded", 100),
    ]


def test_a_block_without_a_result_succeeds_with_none(tw: Taskwire, owner: str) -> None:
    with tw.task(owner=owner) as t:
        pass
    assert (tw.get_task(t.id)["status"], tw.get_task(t.id)["result"]) == ("succeeded", None)


def test_a_block_that_raises_fails_the_task_and_reraises(tw: Taskwire, owner: str) -> None:
    with pytest.raises(ValueError, match="bad row 7"):
        with tw.task(owner=owner, title="Import") as t:
            t.progress(30)
            raise ValueError("bad row 7")
    final = tw.get_task(t.id)
    assert final["status"] == "failed"
    assert final["error"] == {"message": "bad row 7", "code": "ValueError"}
    assert final["progress"] == 30

    with pytest.raises(KeyError):
        with tw.task(owner=owner) as t2:
            raise KeyError()
    assert tw.get_task(t2.id)["error"] == {"message": "KeyError", "code": "KeyError"}


def test_start_creates_once_so_the_id_is_known_before_the_block(tw: Taskwire, owner: str) -> None:
    t = tw.task(owner=owner, title="Later")
    with pytest.raises(RuntimeError, match="not created yet"):
        _ = t.id
    assert t.start() is t and t.start() is t
    task_id = t.id
    assert tw.get_task(task_id)["status"] == "queued"  # until the block starts
    with t:
        t.progress(50)
    assert t.id == task_id
    assert [x["id"] for x in tw.list_tasks(owner=owner)["tasks"]] == [task_id]
    assert tw.get_task(task_id)["status"] == "succeeded"


def test_attach_reports_on_a_task_created_elsewhere(tw: Taskwire, owner: str) -> None:
    task_id = tw.create_task(owner, title="Queued by the web app")["id"]
    with tw.attach(task_id) as t:
        assert t.task is not None and t.task["title"] == "Queued by the web app"
        t.progress(50)
        t.result = "ok"
    assert (tw.get_task(task_id)["status"], tw.get_task(task_id)["result"]) == ("succeeded", "ok")


def test_parent_id_makes_a_child_of_a_batch_and_the_parent_follows(tw: Taskwire, owner: str) -> None:
    parent = tw.create_task(owner=owner, title="batch")
    with tw.task(owner=owner, title="child", parent_id=parent["id"]) as child:
        child.progress(50)
    assert tw.get_task(child.id)["parentId"] == parent["id"]
    after = tw.get_task(parent["id"])
    assert after["children"]["total"] == 1 and after["children"]["succeeded"] == 1
    assert after["progress"] == 100
    # A missing parent is refused by the server with its code.
    with pytest.raises(NotFound):
        with tw.task(owner=owner, title="orphan", parent_id="no-such-batch"):
            pass  # pragma: no cover
    with tw.task(owner=owner, title="no parent") as t:
        pass
    assert tw.get_task(t.id)["parentId"] is None


def test_progress_refuses_a_non_number_before_sending(tw: Taskwire, owner: str) -> None:
    with pytest.raises(TypeError, match="progress must be a number"):
        with tw.task(owner=owner) as t:
            t.progress("half")  # type: ignore[arg-type]
    final = tw.get_task(t.id)
    assert (final["status"], final["error"]["code"]) == ("failed", "TypeError")  # type: ignore[index]


def test_a_cancel_by_the_owner_surfaces_as_conflict_and_is_not_masked(server: Server, tw: Taskwire, owner: str) -> None:
    with pytest.raises(Conflict):
        with tw.task(owner=owner) as t:
            t.progress(10)
            status, _ = http_json("POST", f"{server.url}/api/v1/tasks/{t.id}/cancel", create_token(server.jwt_secret, owner))
            assert status == 200
            t.progress(20)  # the worker learns it was cancelled
    assert tw.get_task(t.id)["status"] == "cancelled"


def test_a_block_that_ends_after_the_owner_cancelled_leaves_it_cancelled(tw: Taskwire, owner: str) -> None:
    with tw.task(owner=owner) as t:
        t.progress(10)
        tw.cancel(t.id)  # the owner (here the API key) cancels while the block still runs
        t.result = "too late"
    assert t.task is not None and t.task["status"] == "cancelled"
    assert tw.get_task(t.id)["result"] is None


def test_track_over_10000_items_sends_a_few_updates(server: Server, owner: str) -> None:
    proxy = Proxy(server.url).start()
    try:
        tw = Taskwire(proxy.url, server.api_key)
        seen = []
        started = time.monotonic()
        with tw.task(owner=owner, title="10k") as t:
            for i in t.track(range(10_000)):
                seen.append(i)
                if i % 10 == 0:
                    time.sleep(0.0015)  # about 1.5-2 s of work in all
        elapsed = time.monotonic() - started
        patches = proxy.requests("PATCH")
    finally:
        proxy.stop()
    assert seen == list(range(10_000))
    # At most one update per 0.5 s, plus the first, the last (100 %) and the final status.
    assert 3 <= len(patches) <= elapsed / 0.5 + 4, (len(patches), elapsed)
    assert len(patches) <= 30
    gaps = [b.at - a.at for a, b in zip(patches[1:-3], patches[2:-2])]
    assert all(g >= 0.45 for g in gaps), gaps  # the throttled updates in the middle are ≥ 0.5 s apart
    updates = [d["task"] for d in events(Taskwire(server.url, server.api_key), t.id) if d["kind"] == "task.updated"]
    assert updates[0]["status"] == "running"  # entering the block
    updates = updates[1:]
    progress = [u["progress"] for u in updates]
    assert progress == sorted(progress) and progress[0] == 0 and progress[-1] == 100
    assert updates[-2]["message"] == "10000/10000" and updates[-1]["status"] == "succeeded"


def test_track_without_a_length(tw: Taskwire, owner: str) -> None:
    def gen() -> Iterator[int]:
        yield from range(5)

    with tw.task(owner=owner) as t:
        assert list(t.track(gen())) == [0, 1, 2, 3, 4]
        assert t.task is not None and (t.task["progress"], t.task["message"]) == (100, "5 items")
        assert list(t.track(gen(), total=10, count=False)) == [0, 1, 2, 3, 4]
        assert t.task["progress"] == 50
    first = [d["task"] for d in events(tw, t.id) if d["kind"] == "task.updated"][1]
    assert (first["progress"], first["message"]) == (None, "0 items")  # unknown until the end
    with pytest.raises(ValueError):
        next(iter(t.track([], total=-1)))


def decide_when_asked(server: Server, tw: Taskwire, task_id: str, owner: str, decision: str, comment: str) -> threading.Thread:
    """From another thread: wait until the task awaits approval, then answer it with the owner's token."""
    token = create_token(server.jwt_secret, owner, ttl=60)
    result: dict = {}  # type: ignore[type-arg]

    def run() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and tw.get_task(task_id)["status"] != "awaiting_approval":
            time.sleep(0.05)
        time.sleep(0.3)  # let the worker settle into its long-poll
        url = f"{server.url}/api/v1/tasks/{task_id}/decision"
        result["status"], result["body"] = http_json("POST", url, token, {"decision": decision, "comment": comment})

    thread = threading.Thread(target=run, daemon=True)
    thread.result = result  # type: ignore[attr-defined]
    thread.start()
    return thread


def test_ask_approval_waits_for_the_owners_decision_without_busy_polling(server: Server, owner: str) -> None:
    proxy = Proxy(server.url).start()
    try:
        tw = Taskwire(proxy.url, server.api_key)
        with tw.task(owner=owner, title="Deploy") as t:
            t.progress(40)
            direct = Taskwire(server.url, server.api_key)
            thread = decide_when_asked(server, direct, t.id, owner, "approve", "ship it")
            before = len(proxy.seen)
            started = time.monotonic()
            decision = t.ask_approval("Deploy to production?", ["approve", "reject"], timeout=20)
            waited = time.monotonic() - started
            asked = proxy.seen[before:]
            thread.join(10)
            assert decision.decision == "approve" and decision.approved
            assert (decision.comment, decision.decided_by) == ("ship it", owner)
            assert decision.task["status"] == "running"
            t.result = {"deployed": True}
    finally:
        proxy.stop()
    assert thread.result["status"] == 200  # type: ignore[attr-defined]
    assert waited >= 0.3
    # The position, the request, then long-polls: one answered at once by the request's own
    # event (unless the decision came with it), one woken by the decision. No polling loop.
    calls = [(s.method, s.path.split("?")[0].rsplit("/", 1)[-1]) for s in asked]
    assert calls[:2] == [("GET", "history"), ("POST", "approval")], asked
    assert calls[2:] in ([("GET", "history")], [("GET", "history")] * 2), asked
    assert all("wait=" in s.path for s in asked[2:])
    assert all(s.action == PASS for s in asked)
    final = direct.get_task(t.id)
    assert (final["status"], final["result"]) == ("succeeded", {"deployed": True})
    assert final["approval"]["prompt"] == "Deploy to production?"  # type: ignore[index]


def test_a_rejection_is_returned_and_leaves_the_task_failed(server: Server, tw: Taskwire, owner: str) -> None:
    with tw.task(owner=owner) as t:
        thread = decide_when_asked(server, tw, t.id, owner, "reject", "not today")
        decision = t.ask_approval("Go?")
        thread.join(10)
        assert (decision.decision, decision.comment, decision.approved) == ("reject", "not today", False)
    final = tw.get_task(t.id)  # the exit did not try to succeed a failed task
    assert final["status"] == "failed"
    assert final["error"]["code"] == "rejected"  # type: ignore[index]


def test_ask_approval_times_out_with_a_typed_error(tw: Taskwire, owner: str) -> None:
    started = time.monotonic()
    with pytest.raises(DecisionTimeout) as err:
        with tw.task(owner=owner) as t:
            t.ask_approval("Anyone?", timeout=0.6)
    elapsed = time.monotonic() - started
    assert 0.55 <= elapsed < 3, elapsed
    assert (err.value.code, err.value.status) == ("timeout", 0)
    assert isinstance(err.value, TaskwireError)
    final = tw.get_task(t.id)  # awaiting_approval → failed by the block's exit
    assert (final["status"], final["error"]["code"]) == ("failed", "DecisionTimeout")  # type: ignore[index]


def test_ask_approval_ends_with_conflict_when_the_task_is_cancelled(server: Server, tw: Taskwire, owner: str) -> None:
    with tw.task(owner=owner) as t:
        timer = threading.Timer(0.4, lambda: tw.cancel(t.id))
        timer.start()
        with pytest.raises(Conflict, match="cancelled"):
            t.ask_approval("Go?", timeout=10)
        timer.join()
    assert tw.get_task(t.id)["status"] == "cancelled"
