"""taskwire.celery against real parts: a redis-server broker, two Celery workers, a taskwire server."""

from __future__ import annotations

import os
import signal
import time
from typing import Any, Dict, Iterable, List, Tuple

import pytest
from conftest import WORKERS, Env, Workers

import taskwire.celery
from taskwire import NotFound, Taskwire
from taskwire.celery import _progress_fields, task_id_for

TERMINAL = ("succeeded", "failed", "cancelled")
CELERY_TO_TASKWIRE = {"SUCCESS": "succeeded", "FAILURE": "failed", "REVOKED": "cancelled"}


def wait_ready(results: Iterable[Any], timeout: float) -> None:
    pending = list(results)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        pending = [r for r in pending if not r.ready()]
        time.sleep(0.1)
    assert not pending, f"{len(pending)} Celery tasks not done in {timeout} s"


def wait_final(tw: Taskwire, ids: Iterable[str], timeout: float) -> Dict[str, Any]:
    """Every task's snapshot once it is terminal (the bridge reports after Celery stores the result)."""
    final: Dict[str, Any] = {}
    pending = list(ids)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for tid in list(pending):
            task = tw.get_task(tid)
            if task["status"] in TERMINAL:
                final[tid] = task
                pending.remove(tid)
        if pending:
            time.sleep(0.1)
    assert not pending, f"{len(pending)} taskwire tasks not terminal in {timeout} s: {pending[:5]}"
    return final


def snapshots(tw: Taskwire, tid: str) -> List[Dict[str, Any]]:
    """Every snapshot the task's channel carried, in order (its history, read over HTTP)."""
    events = tw.history(f"task:{tid}", limit=1000)["events"]
    return [e["data"]["task"] for e in events if e["data"]["kind"] in ("task.created", "task.updated")]


def changes(values: Iterable[Any]) -> List[Any]:
    """The values as they changed: consecutive repeats dropped (a snapshot keeps a field another change left)."""
    out: List[Any] = []
    for v in values:
        if v is not None and (not out or out[-1] != v):
            out.append(v)
    return out


def test_100_tasks_on_two_workers_end_as_celery_says_with_progress_in_order(
    env: Env, workers: Workers, owner: str
) -> None:
    mod, tw = env.mod, env.mod.tw
    plans: List[Tuple[int, int, bool, int]] = []  # n, steps, fail, flaky (tries that retry)
    for n in range(100):
        plans.append((n, 2 + n % 4, n % 9 == 4, 2 if n % 11 == 0 else 1 if n % 5 == 1 else 0))
    assert sum(p[2] for p in plans) >= 10 and sum(1 for p in plans if p[3]) >= 20
    assert any(p[2] and p[3] for p in plans)  # retried, then failed

    started = time.monotonic()
    results = [
        mod.work.apply_async(args=(n, steps), kwargs={"fail": fail, "flaky": flaky, "user": owner})
        for n, steps, fail, flaky in plans
    ]
    wait_ready(results, 45)
    ids = [task_id_for(r.id) for r in results]
    final = wait_final(tw, ids, 10)
    elapsed = time.monotonic() - started

    listed = [t["id"] for t in tw.iter_tasks(owner=owner)]
    assert sorted(listed) == sorted(ids), "one taskwire task per Celery task, none twice"
    assert {r.worker.split("@")[0] for r in results} == set(WORKERS), workers.output()

    for (n, steps, fail, flaky), r, tid in zip(plans, results, ids):
        task = final[tid]
        assert r.state == ("FAILURE" if fail else "SUCCESS")
        assert task["status"] == CELERY_TO_TASKWIRE[r.state], (n, task)
        assert task["title"] == f"work {n}"
        assert task["meta"] == {"celery": {"task": "twcelery_app.work", "id": r.id}}
        if fail:
            assert task["error"] == {"message": f"task {n} failed on purpose", "code": "ValueError"}
            assert str(r.result) == task["error"]["message"]
        else:
            assert task["result"] == r.result == {"n": n, "tries": flaky + 1}
            assert task["progress"] == 100

        snaps = snapshots(tw, tid)
        assert [s["version"] for s in snaps] == list(range(1, len(snaps) + 1)), "no change lost"
        assert snaps[0]["status"] == "queued" and snaps[1]["status"] == "running"
        expected: List[str] = []
        for attempt in range(flaky + 1):
            if attempt:
                expected.append(f"retry {attempt}: flaky {n} on try {attempt - 1}")
            expected += [f"try {attempt} step {i}" for i in range(1, steps + 1)]
        assert changes(s["message"] for s in snaps) == expected, (n, [s["message"] for s in snaps])
        for s in snaps:
            if s["message"] and s["message"].startswith("try "):
                attempt, step = int(s["message"].split()[1]), int(s["message"].split()[3])
                assert s["stage"] == f"try {attempt}"
                if s["status"] != "succeeded":
                    assert s["progress"] == pytest.approx(100.0 * step / steps), (n, s)
    assert elapsed < 60, f"took {elapsed:.1f} s"


def test_revoked_tasks_are_cancelled_queued_or_running(env: Env, workers: Workers, owner: str) -> None:
    mod, tw = env.mod, env.mod.tw
    later = mod.sleepy.apply_async(args=(0.2,), kwargs={"user": owner}, countdown=2)
    later.revoke()
    running = mod.sleepy.apply_async(args=(20,), kwargs={"user": owner})
    rid = task_id_for(running.id)
    deadline = time.monotonic() + 15
    while (tw.get_task(rid)["progress"] or 0) <= 0:
        assert time.monotonic() < deadline, "the sleepy task reported no progress"
        time.sleep(0.05)
    running.revoke(terminate=True, signal="SIGTERM")

    final = wait_final(tw, [task_id_for(later.id), rid], 20)
    wait_ready([later, running], 10)
    assert later.state == running.state == "REVOKED"
    queued = final[task_id_for(later.id)]
    assert queued["status"] == "cancelled" and queued["message"] == "revoked"
    assert queued["startedAt"] is None  # it never ran
    stopped = final[rid]
    assert stopped["status"] == "cancelled" and stopped["message"].startswith("revoked: terminated")
    assert 0 < stopped["progress"] < 100  # current/total meta became a percentage


def test_owner_from_headers_declined_and_created_by_the_worker(env: Env, workers: Workers, owner: str) -> None:
    mod, tw = env.mod, env.mod.tw
    by_header = mod.work.apply_async(args=(1, 2), headers={"owner": owner})
    declined = mod.work.apply_async(args=(2, 2))  # owner_of answers None: not a taskwire task
    mod.bridge.uninstall()
    try:
        # Published by a process without the bridge (beat, another service): the worker creates it.
        unseen = mod.work.apply_async(args=(3, 2), kwargs={"user": owner})
        with pytest.raises(NotFound):
            tw.get_task(task_id_for(unseen.id))
    finally:
        mod.bridge = taskwire.celery.install(mod.app, tw, owner=mod.owner_of, title=mod.title_of)
    big = mod.big.apply_async(kwargs={"user": owner})
    wait_ready([by_header, declined, unseen, big], 20)
    final = wait_final(tw, [task_id_for(r.id) for r in (by_header, unseen, big)], 10)

    assert final[task_id_for(by_header.id)]["owner"] == owner
    assert final[task_id_for(by_header.id)]["status"] == "succeeded"
    created_by_worker = final[task_id_for(unseen.id)]
    assert created_by_worker["status"] == "succeeded" and created_by_worker["title"] == "work 3"
    assert snapshots(tw, task_id_for(unseen.id))[0]["status"] == "queued"
    assert declined.state == "SUCCESS"
    with pytest.raises(NotFound):
        tw.get_task(task_id_for(declined.id))
    too_big = final[task_id_for(big.id)]
    assert big.state == "SUCCESS" and too_big["status"] == "succeeded" and too_big["result"] is None
    assert too_big["message"].startswith("result not sent")


def test_ids_and_progress_meta() -> None:
    assert task_id_for("0b8e9b4e-6c1b-4c59-9d3a-1f6f1b0a7c11") == "celery-0b8e9b4e-6c1b-4c59-9d3a-1f6f1b0a7c11"
    hashed = task_id_for("my task/1")
    assert hashed.startswith("celery-h-") and hashed == task_id_for("my task/1") != task_id_for("my task/2")
    assert len(task_id_for("x" * 200)) <= 128
    assert _progress_fields({"pct": 42.5, "stage": "load"}) == {"progress": 42.5, "stage": "load"}
    assert _progress_fields({"current": 1, "total": 4, "message": None}) == {"progress": 25.0, "message": None}
    assert _progress_fields({"pct": 140}) == {"progress": 100.0}
    assert _progress_fields({"pct": "half"}) == {}
    assert _progress_fields("not a dict") == {}


def test_a_worker_process_killed_mid_task_fails_its_task(env: Env, workers: Workers, owner: str) -> None:
    mod, tw = env.mod, env.mod.tw
    doomed = mod.sleepy.apply_async(args=(20,), kwargs={"user": owner})
    tid = task_id_for(doomed.id)
    deadline = time.monotonic() + 15
    while (tw.get_task(tid)["progress"] or 0) <= 0:
        assert time.monotonic() < deadline, "the sleepy task reported no progress"
        time.sleep(0.05)
    pids = [
        t["worker_pid"]
        for active in (mod.app.control.inspect(timeout=2).active() or {}).values()
        for t in active
        if t["id"] == doomed.id
    ]
    assert len(pids) == 1, pids
    os.kill(pids[0], signal.SIGKILL)  # the prefork child running it; its worker notices and fails the task
    final = wait_final(tw, [tid], 15)[tid]
    wait_ready([doomed], 10)
    assert doomed.state == "FAILURE"
    assert final["status"] == "failed" and final["error"]["code"] == "WorkerLostError"
