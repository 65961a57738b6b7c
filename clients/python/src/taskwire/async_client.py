"""``AsyncTaskwire``: the same client for asyncio code.

::

    async with AsyncTaskwire(url, api_key) as tw:
        async with tw.task(owner="alice", title="Report") as t:
            async for row in t.track(rows):
                await ingest(row)

Each try of a call runs the blocking urllib request (the same code as the sync
client) in this client's own thread pool; everything between tries is asyncio:
the backoff sleeps and the approval wait's long-poll loop, so cancelling a call
takes effect at once for the caller. A try already in flight finishes in its
thread in the background (within ``timeout``, or a long-poll's ``wait`` plus
``timeout``). The pool has ``max_workers`` threads (32): that many calls, long-polls
included, run at once; more wait their turn.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterable,
    AsyncIterator,
    Dict,
    Generator,
    Iterable,
    Optional,
    Type,
    TypeVar,
    Union,
)

from . import _api, _http
from ._api import UNSET, Unset
from .errors import Conflict, TaskwireError
from .handle import TRACK_INTERVAL, BaseHandle, Throttle, begin_fields, final_fields, logger, progress_fields, track_fields, track_total
from .types import TERMINAL_STATUSES, Decision, History, Position, Since, StreamAppend, StreamText, Task, TaskList, Ticket

if TYPE_CHECKING:
    from types import TracebackType

R = TypeVar("R")
T = TypeVar("T")


class AsyncTaskwire:
    """An asyncio taskwire client with the methods of ``Taskwire``, as coroutines.

    Takes ``Taskwire``'s options, and ``max_workers``: the threads that run the
    HTTP tries. Close it with ``await tw.aclose()`` or ``async with``.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        retries: int = 4,
        retry_min_delay: float = 0.2,
        retry_max_delay: float = 5.0,
        max_workers: int = 32,
    ) -> None:
        if not isinstance(api_key, str) or not api_key:
            raise ValueError("api_key must be the server's API key (a non-empty string)")
        _http.check_policy_args(timeout, retries, retry_min_delay, retry_max_delay)
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError("max_workers must be an integer >= 1")
        self._policy = _http.Policy(_http.api_base(url), api_key, float(timeout), retries, retry_min_delay, retry_max_delay)
        self._max_workers = max_workers
        self._executor: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._closed = False

    def __repr__(self) -> str:  # never shows the key
        return f"{type(self).__name__}({self.url!r})"

    @property
    def url(self) -> str:
        """The API base URL, ending in ``/api/v1``."""
        return self._policy.base_url

    @property
    def ws_url(self) -> str:
        """The WebSocket endpoint, ``ws(s)://…/api/v1/ws``, of this server."""
        return _http.websocket_url(self._policy.base_url)

    async def __aenter__(self) -> AsyncTaskwire:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the thread pool (tries in flight finish in the background)."""
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    def _pool(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._closed:
            raise RuntimeError("this AsyncTaskwire is closed")
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(self._max_workers, thread_name_prefix="taskwire")
        return self._executor

    async def _call(self, req: _http.Request) -> Any:
        loop = asyncio.get_running_loop()
        policy = self._policy
        for n in range(policy.retries + 1):
            outcome = await loop.run_in_executor(self._pool(), functools.partial(_http.attempt, policy, req))
            if outcome.error is None:
                return outcome.value
            if not outcome.retryable or n >= policy.retries:
                check = _http.settle_request(req, outcome.error, n + 1)
                if check is not None and req.settle is not None:
                    task = await self._call(check)
                    if req.settle[1](task):
                        return task
                raise outcome.error
            await asyncio.sleep(_http.retry_delay(policy, n + 1, outcome.retry_after))
        raise AssertionError("unreachable")

    async def _run(self, flow: Generator[_api.Step, Any, R]) -> R:
        answer: Any = None
        while True:
            try:
                step = flow.send(answer)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            if isinstance(step, _api.Sleep):
                await asyncio.sleep(step.seconds)
                answer = None
            else:
                answer = await self._call(step)

    async def create_task(
        self,
        owner: str,
        title: Optional[str] = None,
        id: Optional[str] = None,
        meta: Optional[Dict[str, Any]] = None,
        stall_timeout_ms: Optional[int] = None,
        idempotency_key: Optional[str] = None,
        *,
        parent_id: Optional[str] = None,
        batch: Optional[Dict[str, Any]] = None,
        tags: Optional[Iterable[str]] = None,
    ) -> Task:
        """See ``Taskwire.create_task``."""
        return await self._call(_api.create_task(owner, title, id, meta, stall_timeout_ms, idempotency_key, parent_id, batch, tags))  # type: ignore[no-any-return]

    async def get_task(self, task_id: str) -> Task:
        """See ``Taskwire.get_task``."""
        return await self._call(_api.get_task(task_id))  # type: ignore[no-any-return]

    async def list_tasks(
        self,
        owner: Optional[str] = None,
        status: Optional[str] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
        *,
        parent: Optional[str] = None,
        tag: Optional[str] = None,
    ) -> TaskList:
        """See ``Taskwire.list_tasks``."""
        return await self._call(_api.list_tasks(owner, status, limit, cursor, parent, tag))  # type: ignore[no-any-return]

    async def iter_tasks(
        self,
        owner: Optional[str] = None,
        status: Optional[str] = None,
        page_size: int = 100,
        *,
        parent: Optional[str] = None,
        tag: Optional[str] = None,
    ) -> AsyncIterator[Task]:
        """See ``Taskwire.iter_tasks``: ``async for task in tw.iter_tasks(owner="alice")``."""
        cursor: Optional[str] = None
        while True:
            page = await self.list_tasks(owner=owner, status=status, limit=page_size, cursor=cursor, parent=parent, tag=tag)
            for task in page["tasks"]:
                yield task
            cursor = page["nextCursor"]
            if not cursor:
                return

    async def update(
        self,
        task_id: str,
        *,
        status: Union[str, Unset] = UNSET,
        progress: Union[float, None, Unset] = UNSET,
        stage: Union[str, None, Unset] = UNSET,
        message: Union[str, None, Unset] = UNSET,
        result: Any = UNSET,
        error: Union[str, Dict[str, str], None, Unset] = UNSET,
        meta: Union[Dict[str, Any], Unset] = UNSET,
    ) -> Task:
        """See ``Taskwire.update``."""
        req = _api.update(
            task_id, status=status, progress=progress, stage=stage, message=message, result=result, error=error, meta=meta
        )
        return await self._call(req)  # type: ignore[no-any-return]

    async def log(self, task_id: str, *lines: str) -> Task:
        """See ``Taskwire.log``."""
        return await self._call(_api.log(task_id, lines))  # type: ignore[no-any-return]

    async def append_stream(
        self, task_id: str, text: str, name: str = _api.DEFAULT_STREAM, index: Optional[int] = None
    ) -> StreamAppend:
        """See ``Taskwire.append_stream``."""
        return await self._call(_api.append_stream(task_id, text, name, index))  # type: ignore[no-any-return]

    async def read_stream(self, task_id: str, name: str = _api.DEFAULT_STREAM) -> StreamText:
        """See ``Taskwire.read_stream``."""
        return await self._call(_api.read_stream(task_id, name))  # type: ignore[no-any-return]

    async def request_approval(self, task_id: str, prompt: str, options: Optional[Iterable[str]] = None) -> Task:
        """See ``Taskwire.request_approval``."""
        return await self._call(_api.request_approval(task_id, prompt, options))  # type: ignore[no-any-return]

    async def decide(self, task_id: str, decision: str, comment: Optional[str] = None) -> Task:
        """See ``Taskwire.decide``."""
        return await self._call(_api.decide(task_id, decision, comment))  # type: ignore[no-any-return]

    async def cancel(self, task_id: str) -> Task:
        """See ``Taskwire.cancel``."""
        return await self._call(_api.cancel(task_id))  # type: ignore[no-any-return]

    async def publish(self, channel: str, data: Any, idempotency_key: Optional[str] = None) -> Position:
        """See ``Taskwire.publish``."""
        return await self._call(_api.publish(channel, data, idempotency_key))  # type: ignore[no-any-return]

    async def history(
        self, channel: str, since: Optional[Since] = None, limit: Optional[int] = None, wait: Optional[float] = None
    ) -> History:
        """See ``Taskwire.history``."""
        return await self._call(_api.history(channel, since, limit, wait))  # type: ignore[no-any-return]

    async def create_ticket(self, token: str) -> Ticket:
        """See ``Taskwire.create_ticket``."""
        return await self._call(_api.create_ticket(token))  # type: ignore[no-any-return]

    def task(self, owner: str, title: Optional[str] = None, parent_id: Optional[str] = None, **kw: Any) -> AsyncTaskHandle:
        """A task to run as ``async with tw.task(owner=…, title=…) as t:``; see ``Taskwire.task``."""
        _api.create_task(owner, title, parent_id=parent_id, **kw)
        create: Dict[str, Any] = {"owner": owner, "title": title, "parent_id": parent_id, **kw}
        create.setdefault("idempotency_key", _api.new_key())
        return AsyncTaskHandle(self, create=create)

    def attach(self, task_id: str) -> AsyncTaskHandle:
        """A handle on an existing task: ``async with tw.attach(id) as t:``."""
        _api.get_task(task_id)
        return AsyncTaskHandle(self, task_id=task_id)


class AsyncTaskHandle(BaseHandle):
    """The async twin of ``TaskHandle``: ``async with``, and coroutines for each method.

    On exit, an ``asyncio.CancelledError`` from the block marks the task
    ``cancelled`` (any other exception fails it), and the cancellation goes on.
    """

    def __init__(
        self, client: AsyncTaskwire, create: Optional[Dict[str, Any]] = None, task_id: Optional[str] = None
    ) -> None:
        super().__init__(create, task_id)
        self._client = client
        self._stream_lock: Optional[asyncio.Lock] = None  # made in the loop that first streams

    async def start(self) -> AsyncTaskHandle:
        """Create the task now (idempotent); returns the handle."""
        if self._task is None:
            if self._create is not None:
                self._seen(await self._client.create_task(**self._create))
            else:
                self._seen(await self._client.get_task(self.id))
        return self

    async def __aenter__(self) -> AsyncTaskHandle:
        await self.start()
        fields = begin_fields(self._task)
        if fields is not None:
            await self.update(**fields)
        return self

    async def __aexit__(
        self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        fields = final_fields(self._task, exc, self._result)
        if fields is None:
            return
        if isinstance(exc, asyncio.CancelledError):
            fields = {"status": "cancelled"}
        if exc is None:
            try:
                await self.update(**fields)
            except Conflict:
                # Finished elsewhere meanwhile (the owner cancelled it): that status stands.
                if self._seen(await self._client.get_task(self.id)).get("status") not in TERMINAL_STATUSES:
                    raise
            return
        try:
            await self.update(**fields)
        except TaskwireError as err:
            logger.warning("taskwire: could not mark task %s %s: %s", self._task_id, fields["status"], err)

    async def update(self, **fields: Any) -> Task:
        """See ``TaskHandle.update``."""
        return self._seen(await self._client.update(self.id, **fields))  # type: ignore[no-any-return]

    async def progress(self, pct: Optional[float], stage: Optional[str] = None, message: Optional[str] = None) -> Task:
        """See ``TaskHandle.progress``."""
        return await self.update(**progress_fields(pct, stage, message))

    async def log(self, *lines: str) -> Task:
        """See ``TaskHandle.log``."""
        return self._seen(await self._client.log(self.id, *lines))  # type: ignore[no-any-return]

    async def stream(self, text: str, name: str = _api.DEFAULT_STREAM) -> StreamAppend:
        """See ``TaskHandle.stream``; appends of one handle go one at a time."""
        _api.append_stream(self.id, text, name)  # check the arguments before any call
        if self._stream_lock is None:
            self._stream_lock = asyncio.Lock()
        async with self._stream_lock:
            index = self._next_chunk.get(name)
            if index is None:
                index = (await self._client.read_stream(self.id, name))["chunks"]
            try:
                answer = await self._client.append_stream(self.id, text, name, index)
            except BaseException:
                # Landed or not, unknown: the next chunk reads the count again rather than
                # reuse this index (the server would take a different text as this one's retry).
                self._next_chunk.pop(name, None)
                raise
            self._chunk_written(name, answer)
            return answer

    async def ask_approval(
        self, prompt: str, options: Optional[Iterable[str]] = None, timeout: Optional[float] = None
    ) -> Decision:
        """See ``TaskHandle.ask_approval``."""
        try:
            decision = await self._client._run(_api.approval_flow(self.id, prompt, options, timeout))
        except TaskwireError as err:
            if err.task is not None:
                self._seen(err.task)  # the task ended: the block's exit leaves it as it is
            raise
        self._seen(decision.task)
        return decision

    async def track(
        self,
        iterable: Union[Iterable[T], AsyncIterable[T]],
        total: Optional[int] = None,
        *,
        interval: float = TRACK_INTERVAL,
        count: bool = True,
    ) -> AsyncIterator[T]:
        """See ``TaskHandle.track``; takes a plain or an async iterable: ``async for x in t.track(items)``."""
        total = track_total(iterable, total)
        throttle = Throttle(interval)
        done = 0
        throttle.due()
        await self.update(**track_fields(0, total, False, count))
        if hasattr(iterable, "__aiter__"):
            async for item in iterable:
                yield item
                done += 1
                if throttle.due():
                    await self.update(**track_fields(done, total, False, count))
        else:
            for item in iterable:
                yield item
                done += 1
                if throttle.due():
                    await self.update(**track_fields(done, total, False, count))
        await self.update(**track_fields(done, total, True, count))
