"""Streams (protocol 1.1 §2) and batch options, against the real server: sync and async."""

from __future__ import annotations

import asyncio
import threading
from typing import Iterator, List

import pytest
from support import FORWARD_THEN_DROP, PASS, Proxy, Server

from taskwire import AsyncTaskwire, BadRequest, Conflict, NetworkError, NotFound, Taskwire


@pytest.fixture
def proxy(server: Server) -> Iterator[Proxy]:
    p = Proxy(server.url, when=lambda method, path: method == "POST" and path.endswith("/stream")).start()
    try:
        yield p
    finally:
        p.stop()


def test_stream_appends_chunks_and_read_stream_joins_them(tw: Taskwire, owner: str) -> None:
    with tw.task(owner=owner, title="Roadmap") as t:
        assert t.stream("# Roadmap\n") == {"stream": "output", "chunks": 1}
        assert t.stream("1. Streams\n")["chunks"] == 2
        assert t.stream("{\"step\": 1}", name="trace") == {"stream": "trace", "chunks": 1}
    assert tw.read_stream(t.id) == {"stream": "output", "text": "# Roadmap\n1. Streams\n", "chunks": 2}
    assert tw.read_stream(t.id, "trace")["text"] == '{"step": 1}'
    assert tw.read_stream(t.id, "never") == {"stream": "never", "text": "", "chunks": 0}
    snap = tw.get_task(t.id)
    assert snap["streams"]["output"] == {"chunks": 2, "bytes": len("# Roadmap\n1. Streams\n")}
    # One task.stream event per chunk, with its index.
    events = [e["data"] for e in tw.history(f"task:{t.id}", limit=100)["events"] if e["data"]["kind"] == "task.stream"]
    assert [(e["stream"], e["index"], e["text"]) for e in events] == [
        ("output", 0, "# Roadmap\n"),
        ("output", 1, "1. Streams\n"),
        ("trace", 0, '{"step": 1}'),
    ]
    # The task has ended: its streams are final.
    with pytest.raises(Conflict):
        tw.attach(t.id).start().stream("late")


def test_a_second_handle_goes_on_after_the_chunks_already_there(tw: Taskwire, owner: str) -> None:
    task_id = tw.create_task(owner)["id"]
    tw.append_stream(task_id, "a", index=0)
    tw.append_stream(task_id, "b")  # no index: appended as the next chunk
    with tw.attach(task_id) as t:
        t.stream("c")  # reads the count (2) first, then sends index 2
    assert tw.read_stream(task_id)["text"] == "abc"
    # An index past the next would leave a gap: Conflict, nothing appended.
    with pytest.raises(Conflict):
        tw.append_stream(task_id, "x", index=9)


def test_stream_refusals_carry_the_servers_codes(tw: Taskwire, owner: str) -> None:
    with pytest.raises(BadRequest) as over:
        with tw.task(owner=owner) as t:
            t.stream("x" * (64 * 1024 + 1))  # one chunk is at most 64 KiB
    assert (over.value.code, over.value.status) == ("bad_request", 400)
    assert tw.read_stream(t.id)["chunks"] == 0
    task_id = tw.create_task(owner)["id"]
    h = tw.attach(task_id)
    for n in range(8):
        h.stream("ok", name=f"s{n}")
    with pytest.raises(BadRequest, match="at most 8 streams") as many:
        h.stream("one too many", name="s8")
    assert many.value.code == "bad_request"
    with pytest.raises(NotFound):
        tw.append_stream("no-such-task", "x")
    with pytest.raises(ValueError):
        h.stream("x", name="")
    with pytest.raises(TypeError):
        h.stream(42)  # type: ignore[arg-type]


def test_a_stream_chunk_retried_after_a_lost_answer_is_not_doubled(
    proxy: Proxy, server: Server, tw: Taskwire, owner: str
) -> None:
    flaky = Taskwire(proxy.url, server.api_key, retries=4, retry_min_delay=0.01, retry_max_delay=0.05, timeout=5)
    # The server appends each chunk on the first try; the answer is lost on the way back.
    proxy.faults = [FORWARD_THEN_DROP, FORWARD_THEN_DROP, PASS, FORWARD_THEN_DROP]
    with flaky.task(owner=owner, title="Flaky stream") as t:
        for word in ("one ", "two ", "three"):
            t.stream(word)
    assert not proxy.faults
    appends = proxy.requests("POST", f"/api/v1/tasks/{t.id}/stream")
    # one: lost twice, then answered; two: lost once; three: answered at once.
    assert [s.action for s in appends] == [FORWARD_THEN_DROP, FORWARD_THEN_DROP, PASS, FORWARD_THEN_DROP, PASS, PASS]
    assert tw.read_stream(t.id) == {"stream": "output", "text": "one two three", "chunks": 3}


def test_threads_sharing_a_handle_lose_no_chunk(tw: Taskwire, owner: str) -> None:
    t = tw.attach(tw.create_task(owner)["id"])
    texts: List[str] = [f"<{n}>" for n in range(20)]

    def write(part: List[str]) -> None:
        for text in part:
            t.stream(text)

    threads = [threading.Thread(target=write, args=(texts[i::4],)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(20)
    got = tw.read_stream(t.id)
    assert got["chunks"] == 20 and sorted(got["text"].replace(">", ">\n").split()) == sorted(texts)


def test_async_stream_and_read_stream(server: Server, owner: str) -> None:
    async def main() -> None:
        async with AsyncTaskwire(server.url, server.api_key) as tw:
            async with tw.task(owner=owner, title="Async stream") as t:
                await asyncio.gather(*(t.stream(f"[{n}]") for n in range(5)))
                assert (await t.stream("!", name="notes"))["chunks"] == 1
            out = await tw.read_stream(t.id)
            assert out["chunks"] == 5 and sorted(out["text"].replace("]", "]\n").split()) == [f"[{n}]" for n in range(5)]
            assert (await tw.read_stream(t.id, "notes"))["text"] == "!"
            with pytest.raises(BadRequest):
                await (await tw.attach((await tw.create_task(owner))["id"]).start()).stream("y" * 70_000)

    asyncio.run(main())


def test_batch_options_tags_and_parent_id_on_create(tw: Taskwire, owner: str) -> None:
    parent = tw.create_task(
        owner, title="3 pages", batch={"complete_when": "children", "expected_children": 3}, tags=["pages"]
    )
    assert parent["batch"] == {"progressFrom": "children", "expectedChildren": 3, "completeWhen": "children"}
    assert parent["tags"] == ["pages"]
    kids = []
    for n in range(2):
        with tw.task(owner=owner, title=f"page {n}", parent_id=parent["id"], tags=["pages"]) as child:
            child.progress(50)
        kids.append(child.id)
    half = tw.get_task(parent["id"])
    assert (half["status"], half["progress"]) == ("running", 66.67)  # 2 of 3 slots done; a parent runs once a child does
    with pytest.raises(RuntimeError):
        with tw.task(owner=owner, title="page 2", parent_id=parent["id"]) as failing:
            raise RuntimeError("no ink")
    done = tw.get_task(parent["id"])
    assert done["status"] == "failed"
    assert done["error"] == {"code": "children_failed", "message": "1 of 3 children failed"}
    assert done["children"] is not None
    assert (done["children"]["total"], done["children"]["succeeded"], done["children"]["failed"]) == (3, 2, 1)
    assert {t["id"] for t in tw.iter_tasks(parent=parent["id"])} == {*kids, failing.id}
    assert {t["id"] for t in tw.list_tasks(owner=owner, tag="pages")["tasks"]} == {parent["id"], *kids}
    # The server's refusals: another owner's parent, a finished parent, a bad option.
    with pytest.raises(BadRequest):
        tw.create_task("someone-else", parent_id=parent["id"])
    with pytest.raises(Conflict):
        tw.create_task(owner, parent_id=parent["id"])
    with pytest.raises(BadRequest):
        tw.create_task(owner, batch={"expectedChildren": -1})
    # A batch whose progress follows its children refuses its worker's progress.
    follows = tw.create_task(owner, batch={})
    with pytest.raises(BadRequest, match="follows its children"):
        tw.update(follows["id"], progress=5)
    # Mistakes caught before any call.
    with pytest.raises(ValueError):
        tw.create_task(owner, batch={"complete_when": "never"})
    with pytest.raises(ValueError):
        tw.task(owner, batch={"expected": 3})
    with pytest.raises(TypeError):
        tw.create_task(owner, tags="pages")  # type: ignore[arg-type]


def test_without_an_index_the_same_lost_answer_would_double_the_chunk(
    proxy: Proxy, server: Server, tw: Taskwire, owner: str
) -> None:
    # What the handle's index prevents: a bare append retried after a lost answer lands twice.
    flaky = Taskwire(proxy.url, server.api_key, retries=2, retry_min_delay=0.01, retry_max_delay=0.05, timeout=5)
    task_id = tw.create_task(owner)["id"]
    proxy.faults = [FORWARD_THEN_DROP]
    flaky.append_stream(task_id, "twice")
    assert tw.read_stream(task_id) == {"stream": "output", "text": "twicetwice", "chunks": 2}


def test_after_a_failed_append_the_next_chunk_is_not_taken_for_its_retry(
    proxy: Proxy, server: Server, tw: Taskwire, owner: str
) -> None:
    # Every try of "first" lands but its answer is lost: the call fails, the chunk is there.
    flaky = Taskwire(proxy.url, server.api_key, retries=1, retry_min_delay=0.01, retry_max_delay=0.02, timeout=5)
    with flaky.task(owner=owner) as t:
        t.stream("zero ")
        proxy.faults = [FORWARD_THEN_DROP, FORWARD_THEN_DROP]
        with pytest.raises(NetworkError):
            t.stream("first ")
        t.stream("second")  # reads the count again: index 2, not 1 (which would drop it)
    assert tw.read_stream(t.id) == {"stream": "output", "text": "zero first second", "chunks": 3}
