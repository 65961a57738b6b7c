"""Celery groups and chords as taskwire batches: real workers, redis-server and taskwire server."""

from __future__ import annotations

import socket
from typing import Any, Dict, List

from celery import chord, group
from conftest import Env, Workers
from test_celery_bridge import snapshots, wait_final, wait_ready

import taskwire.celery
from taskwire import Taskwire
from taskwire.celery import task_id_for


def batch_of(tw: Taskwire, gid: str, timeout: float = 10) -> Dict[str, Any]:
    pid = task_id_for(gid, "celery-group")
    return wait_final(tw, [pid], timeout)[pid]


def test_a_group_of_10_with_2_failing_is_a_batch_that_fails_with_its_counts(
    env: Env, workers: Workers, owner: str
) -> None:
    mod, tw = env.mod, env.mod.tw
    failing = {3, 7}
    res = group(mod.work.s(n, 2, fail=n in failing, user=owner) for n in range(10)).apply_async()
    wait_ready(res.results, 30)
    ids = [task_id_for(r.id) for r in res.results]
    kids = wait_final(tw, ids, 10)
    parent = batch_of(tw, res.id)

    assert [r.state for r in res.results] == ["FAILURE" if n in failing else "SUCCESS" for n in range(10)]
    assert [kids[tid]["status"] for tid in ids] == ["failed" if n in failing else "succeeded" for n in range(10)]
    assert all(kids[tid]["parentId"] == parent["id"] for tid in ids)
    assert parent["owner"] == owner and parent["title"] == "group of 10: work"
    assert parent["batch"] == {"progressFrom": "children", "expectedChildren": 10, "completeWhen": "children"}
    assert parent["meta"] == {"celery": {"group": res.id, "size": 10}}
    assert parent["stallTimeoutMs"] == 0  # its tasks stall, not it
    assert parent["status"] == "failed"
    assert parent["error"] == {"code": "children_failed", "message": "2 of 10 children failed"}
    counts = parent["children"]
    assert counts is not None and (counts["total"], counts["succeeded"], counts["failed"]) == (10, 8, 2)
    assert sorted(t["id"] for t in tw.iter_tasks(parent=parent["id"])) == sorted(ids)
    # One batch, started by its first child, ended by its last.
    statuses = [s["status"] for s in snapshots(tw, parent["id"])]
    assert statuses[0] == "queued" and "running" in statuses and statuses[-1] == "failed"
    assert [t["id"] for t in tw.iter_tasks(owner=owner) if t["parentId"] is None] == [parent["id"]]


def test_a_chord_header_is_a_batch_and_its_body_a_task_tagged_with_it(env: Env, workers: Workers, owner: str) -> None:
    mod, tw = env.mod, env.mod.tw
    body = chord([mod.work.s(n, 1, user=owner) for n in range(4)], mod.total.s(user=owner)).apply_async()
    assert body.get(timeout=30) == 0 + 1 + 2 + 3
    gid = body.parent.id
    parent = batch_of(tw, gid)
    body_tid = task_id_for(body.id)
    done = wait_final(tw, [body_tid], 10)[body_tid]

    assert parent["status"] == "succeeded" and parent["title"] == "chord of 4: work"
    assert parent["children"] is not None and parent["children"]["succeeded"] == parent["children"]["total"] == 4
    assert parent["meta"] == {"celery": {"group": gid, "size": 4, "chordBody": body_tid}}
    assert done["status"] == "succeeded" and done["result"] == 6
    assert done["parentId"] is None and done["tags"] == [parent["id"]]
    assert done["meta"]["celery"]["chordOf"] == gid
    assert [t["id"] for t in tw.list_tasks(tag=parent["id"])["tasks"]] == [body_tid]


def test_workers_create_the_batch_when_the_publisher_could_not(env: Env, workers: Workers, owner: str) -> None:
    mod, tw = env.mod, env.mod.tw
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    mod.bridge.uninstall()
    offline = taskwire.celery.install(mod.app, Taskwire(dead, "k", retries=0, timeout=1), owner=mod.owner_of)
    try:
        res = group(mod.work.s(n, 1, user=owner) for n in range(6)).apply_async()
    finally:
        offline.uninstall()
        mod.bridge = taskwire.celery.install(mod.app, tw, owner=mod.owner_of, title=mod.title_of)
    wait_ready(res.results, 30)
    ids = [task_id_for(r.id) for r in res.results]
    kids: List[Dict[str, Any]] = list(wait_final(tw, ids, 10).values())
    parent = batch_of(tw, res.id)
    assert parent["status"] == "succeeded" and parent["batch"]["expectedChildren"] == 6  # type: ignore[index]
    assert parent["children"] is not None and parent["children"]["total"] == 6
    assert {k["parentId"] for k in kids} == {parent["id"]}
    assert len([t for t in tw.iter_tasks(owner=owner)]) == 7  # the batch and its 6 tasks, none twice
