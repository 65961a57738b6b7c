"""AsyncTaskwire: the same methods as coroutines, against the real server (asyncio.run per test)."""

from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator, Awaitable, Callable, TypeVar

import pytest
from support import FORWARD_THEN_DROP, Proxy, Server, http_json

from taskwire import AsyncTaskwire, Conflict, DecisionTimeout, NotFound, Taskwire, Unauthorized, create_token

T = TypeVar("T")


def run(server: Server, body: Callable[[AsyncTaskwire], Awaitable[T]], url: str = "") -> T:
    async def main() -> T:
        async with AsyncTaskwire(url or server.url, server.api_key, retry_min_delay=0.01, retry_max_delay=0.05) as tw:
            return await asyncio.wait_for(body(tw), 30)

    return asyncio.run(main())


def test_every_method(server: Server, owner: str) -> None:
    async def body(tw: AsyncTaskwire) -> None:
        task = await tw.create_task(owner, title="Async", meta={"k": 1})
        assert (task["status"], task["meta"]) == ("queued", {"k": 1})
        assert (await tw.get_task(task["id"]))["id"] == task["id"]
        t = await tw.update(task["id"], progress=25, stage="s1")
        assert (t["status"], t["progress"]) == ("running", 25)
        await tw.log(task["id"], "one", "two")
        t = await tw.request_approval(task["id"], "Go?", ["approve", "reject"])
        assert t["status"] == "awaiting_approval"
        t = await tw.decide(task["id"], "approve")
        assert t["status"] == "running"
        t = await tw.cancel(task["id"])
        assert t["status"] == "cancelled"
        second = await tw.create_task(owner, id=f"{owner}-2")  # sorts after t_…: newest even within one ms
        page = await tw.list_tasks(owner=owner, limit=1)
        assert [x["id"] for x in page["tasks"]] == [second["id"]] and page["nextCursor"]
        assert [x["id"] async for x in tw.iter_tasks(owner=owner, page_size=1)] == [second["id"], task["id"]]
        pos = await tw.publish(f"room:{owner}", {"hello": "async"})
        h = await tw.history(f"room:{owner}")
        assert h["events"][0]["data"] == {"hello": "async"} and h["offset"] == pos["offset"]
        ticket = await tw.create_ticket(create_token(server.jwt_secret, owner))
        assert ticket["ticket"]
        logs = [e["data"] for e in (await tw.history(f"task:{task['id']}"))["events"] if e["data"]["kind"] == "task.log"]
        assert logs[0]["lines"] == ["one", "two"]
        with pytest.raises(NotFound):
            await tw.get_task("missing")
        with pytest.raises(TypeError):
            await tw.update(task["id"], progress="x")  # type: ignore[arg-type]

    run(server, body)


def test_calls_run_concurrently(server: Server, owner: str) -> None:
    async def body(tw: AsyncTaskwire) -> float:
        room = f"room:{owner}"
        pos = await tw.publish(room, 0)
        started = time.monotonic()
        # Three long-polls of 0.6 s at once take 0.6 s, not 1.8 s; the event loop stays free meanwhile.
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while time.monotonic() - started < 0.5:
                ticks += 1
                await asyncio.sleep(0.05)

        results = await asyncio.gather(*(tw.history(room, since=pos, wait=0.6) for _ in range(3)), tick())
        assert all(r["events"] == [] for r in results[:3])  # type: ignore[index]
        assert ticks >= 5
        return time.monotonic() - started

    assert run(server, body) < 1.5


def test_async_task_block_track_and_failure(server: Server, owner: str) -> None:
    async def items() -> AsyncIterator[int]:
        for i in range(200):
            await asyncio.sleep(0.005)
            yield i

    async def body(tw: AsyncTaskwire) -> None:
        async with tw.task(owner=owner, title="Async block") as t:
            assert t.task is not None and t.task["status"] == "running"
            await t.progress(5, stage="start", message="go")
            await t.log("started")
            got = [i async for i in t.track(items(), total=200)]
            assert got == list(range(200))
            assert [i async for i in t.track([1, 2, 3])] == [1, 2, 3]
            t.result = {"n": len(got)}
        final = await tw.get_task(t.id)
        assert (final["status"], final["result"]) == ("succeeded", {"n": 200})
        updates = [e for e in (await tw.history(f"task:{t.id}"))["events"] if e["data"]["kind"] == "task.updated"]
        assert len(updates) <= 15  # 1 s of tracking at ≤ 2 updates/s, and a few direct calls

        with pytest.raises(RuntimeError, match="boom"):
            async with tw.task(owner=owner) as t2:
                raise RuntimeError("boom")
        assert (await tw.get_task(t2.id))["error"] == {"message": "boom", "code": "RuntimeError"}

        t3 = await tw.task(owner=owner).start()
        assert (await tw.get_task(t3.id))["status"] == "queued"
        async with t3:
            pass
        async with tw.attach(t3.id) as t4:  # a finished task: nothing more is sent
            assert t4.task is not None and t4.task["status"] == "succeeded"

    run(server, body)


def test_a_cancelled_asyncio_task_cancels_the_taskwire_task(server: Server, owner: str) -> None:
    async def body(tw: AsyncTaskwire) -> str:
        started = asyncio.Event()
        ids = []

        async def job() -> None:
            async with tw.task(owner=owner, title="Will be cancelled") as t:
                ids.append(t.id)
                started.set()
                await asyncio.sleep(30)

        worker = asyncio.ensure_future(job())
        await asyncio.wait_for(started.wait(), 10)
        worker.cancel()
        with pytest.raises(asyncio.CancelledError):
            await worker
        return ids[0]

    task_id = run(server, body)
    assert Taskwire(server.url, server.api_key).get_task(task_id)["status"] == "cancelled"


def test_async_ask_approval(server: Server, owner: str) -> None:
    token = create_token(server.jwt_secret, owner, ttl=60)

    async def body(tw: AsyncTaskwire) -> None:
        async with tw.task(owner=owner) as t:

            async def decide() -> None:
                while (await tw.get_task(t.id))["status"] != "awaiting_approval":
                    await asyncio.sleep(0.05)
                url = f"{server.url}/api/v1/tasks/{t.id}/decision"
                status, _ = await asyncio.get_running_loop().run_in_executor(
                    None, lambda: http_json("POST", url, token, {"decision": "approve", "comment": "yes"})
                )
                assert status == 200

            decision, _ = await asyncio.gather(t.ask_approval("Async go?", timeout=10), decide())
            assert (decision.decision, decision.comment) == ("approve", "yes")

        async with tw.task(owner=owner) as t2:
            started = time.monotonic()
            with pytest.raises(DecisionTimeout):
                await t2.ask_approval("Nobody home?", timeout=0.5)
            assert time.monotonic() - started < 3
            await tw.cancel(t2.id)
        assert (await tw.get_task(t2.id))["status"] == "cancelled"

    run(server, body)


def test_async_retries_and_errors(server: Server, owner: str) -> None:
    proxy = Proxy(server.url, faults=[FORWARD_THEN_DROP, FORWARD_THEN_DROP]).start()
    try:

        async def body(tw: AsyncTaskwire) -> None:
            task = await tw.create_task(owner)
            assert len(proxy.requests("POST")) == 3
            assert [x["id"] for x in (await tw.list_tasks(owner=owner))["tasks"]] == [task["id"]]
            proxy.faults = [FORWARD_THEN_DROP]
            assert (await tw.update(task["id"], status="failed", error="x"))["status"] == "failed"
            with pytest.raises(Conflict):
                await tw.cancel(task["id"])

        run(server, body, url=proxy.url)
    finally:
        proxy.stop()

    async def bad() -> None:
        async with AsyncTaskwire(server.url, "wrong-key") as tw:
            with pytest.raises(Unauthorized):
                await tw.get_task("x")
        with pytest.raises(RuntimeError, match="closed"):
            await tw.get_task("x")

    asyncio.run(bad())
