"""``Taskwire``: the blocking client for workers and app servers (urllib, standard library only).

::

    tw = Taskwire("http://127.0.0.1:8080", api_key)
    with tw.task(owner="alice", title="Report") as t:
        for row in t.track(rows):
            ...

Every call is retried on network errors and 5xx answers (exponential backoff
with full jitter, at least the server's ``Retry-After``); other errors raise the
typed ``TaskwireError`` subclass of the server's code at once. A create sends one
``Idempotency-Key`` per call, reused by each of its retries, so a retry never
creates a second task. The client keeps no connection or state between calls:
one instance may be shared by threads.
"""

from __future__ import annotations

import time
from typing import Any, Dict, Generator, Iterable, Iterator, Optional, TypeVar, Union

from . import _api, _http
from ._api import UNSET, Unset
from .handle import TaskHandle
from .types import History, Position, Since, StreamAppend, StreamText, Task, TaskList, Ticket

R = TypeVar("R")


class Taskwire:
    """A blocking taskwire client.

    :param url: the server's base URL (``http://127.0.0.1:8080``); ``/api/v1`` is added unless present.
    :param api_key: the server's ``--api-key``, sent as ``Authorization: Bearer``. (A user's
        token works too, for the calls a user may make: ``get_task``, ``list_tasks``, ``decide``, ``cancel``, ``history``.)
    :param timeout: seconds each try may take (a long-poll gets its ``wait`` on top).
    :param retries: tries after the first, on network errors and 5xx answers.
    :param retry_min_delay: the first backoff's ceiling, seconds; it doubles per retry …
    :param retry_max_delay: … up to this.
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
    ) -> None:
        if not isinstance(api_key, str) or not api_key:
            raise ValueError("api_key must be the server's API key (a non-empty string)")
        _http.check_policy_args(timeout, retries, retry_min_delay, retry_max_delay)
        self._policy = _http.Policy(_http.api_base(url), api_key, float(timeout), retries, retry_min_delay, retry_max_delay)

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

    def _call(self, req: _http.Request) -> Any:
        return _http.call(self._policy, req)

    def _run(self, flow: Generator[_api.Step, Any, R]) -> R:
        """Drive a flow of steps (requests and sleeps) to its result."""
        answer: Any = None
        while True:
            try:
                step = flow.send(answer)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            if isinstance(step, _api.Sleep):
                time.sleep(step.seconds)
                answer = None
            else:
                answer = self._call(step)

    # Tasks (the API key).

    def create_task(
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
        """Create a task for user ``owner``; returns its snapshot (``queued``, version 1).

        Safe to retry: the ``Idempotency-Key`` (generated when not given) is reused by
        every retry, and the server answers a repeat with the first task. ``id`` is
        picked by the server when not given; an existing ``id`` raises Conflict.
        ``parent_id`` is sent as ``parentId``: the task joins that batch (a task of the
        same owner, not ended). ``batch`` makes it a parent now: ``{"progress_from":
        "children" | "self", "expected_children": n, "complete_when": "children" |
        "self"}`` (the wire's camelCase names work too). ``tags``: at most 10 ids.
        """
        return self._call(_api.create_task(owner, title, id, meta, stall_timeout_ms, idempotency_key, parent_id, batch, tags))  # type: ignore[no-any-return]

    def get_task(self, task_id: str) -> Task:
        """The task's snapshot; NotFound when it does not exist (or is another user's, with a user token)."""
        return self._call(_api.get_task(task_id))  # type: ignore[no-any-return]

    def list_tasks(
        self,
        owner: Optional[str] = None,
        status: Optional[str] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
        *,
        parent: Optional[str] = None,
        tag: Optional[str] = None,
    ) -> TaskList:
        """One page of tasks, newest first: ``{"tasks": [...], "nextCursor": str | None}``; ``limit`` 1-500 (50)."""
        return self._call(_api.list_tasks(owner, status, limit, cursor, parent, tag))  # type: ignore[no-any-return]

    def iter_tasks(
        self,
        owner: Optional[str] = None,
        status: Optional[str] = None,
        page_size: int = 100,
        *,
        parent: Optional[str] = None,
        tag: Optional[str] = None,
    ) -> Iterator[Task]:
        """Every matching task, newest first, following ``nextCursor`` page by page."""
        cursor: Optional[str] = None
        while True:
            page = self.list_tasks(owner=owner, status=status, limit=page_size, cursor=cursor, parent=parent, tag=tag)
            yield from page["tasks"]
            cursor = page["nextCursor"]
            if not cursor:
                return

    def update(
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
        """Change a task; only the fields given are sent (``None`` clears ``stage``, ``message``, ``progress``).

        ``meta`` is merged (a key set to None is deleted). A queued task becomes
        running. ``status="succeeded"`` sets progress to 100. An illegal transition
        (a finished task) raises Conflict.
        """
        req = _api.update(
            task_id, status=status, progress=progress, stage=stage, message=message, result=result, error=error, meta=meta
        )
        return self._call(req)  # type: ignore[no-any-return]

    def log(self, task_id: str, *lines: str) -> Task:
        """Append log lines (1-100 per call, each up to 4 KiB); the snapshot does not change."""
        return self._call(_api.log(task_id, lines))  # type: ignore[no-any-return]

    def append_stream(
        self, task_id: str, text: str, name: str = _api.DEFAULT_STREAM, index: Optional[int] = None
    ) -> StreamAppend:
        """Append a chunk (1 character to 64 KiB of UTF-8) to one of the task's streams; ``{"stream", "chunks"}``.

        With ``index`` (the chunk's 0-based number) a retry never appends it twice: a
        chunk the stream already has is not appended again, one past the next is
        Conflict. ``TaskHandle.stream`` keeps the count for you. A chunk over 64 KiB,
        a stream over the server's ``--stream-max-bytes`` or a 9th stream of a task
        raise BadRequest (``bad_request``); a finished task Conflict.
        """
        return self._call(_api.append_stream(task_id, text, name, index))  # type: ignore[no-any-return]

    def read_stream(self, task_id: str, name: str = _api.DEFAULT_STREAM) -> StreamText:
        """A stream's whole text so far: ``{"stream", "text", "chunks"}`` (``""`` and 0 when never written)."""
        return self._call(_api.read_stream(task_id, name))  # type: ignore[no-any-return]

    def request_approval(self, task_id: str, prompt: str, options: Optional[Iterable[str]] = None) -> Task:
        """Ask the owner for approval (status → ``awaiting_approval``), without waiting; see ``TaskHandle.ask_approval``."""
        return self._call(_api.request_approval(task_id, prompt, options))  # type: ignore[no-any-return]

    def decide(self, task_id: str, decision: str, comment: Optional[str] = None) -> Task:
        """Answer a pending approval (``"approve"`` → running, ``"reject"`` → failed), as the API key or the owner's token."""
        return self._call(_api.decide(task_id, decision, comment))  # type: ignore[no-any-return]

    def cancel(self, task_id: str) -> Task:
        """Cancel a task (Conflict when it already finished)."""
        return self._call(_api.cancel(task_id))  # type: ignore[no-any-return]

    # Channels.

    def publish(self, channel: str, data: Any, idempotency_key: Optional[str] = None) -> Position:
        """Publish ``data`` to a ``user:`` or ``room:`` channel; returns its position ``{"epoch", "offset"}``.

        An idempotency key is generated when none is given, so a retry publishes once.
        """
        return self._call(_api.publish(channel, data, idempotency_key))  # type: ignore[no-any-return]

    def history(
        self, channel: str, since: Optional[Since] = None, limit: Optional[int] = None, wait: Optional[float] = None
    ) -> History:
        """A channel's events: after ``since`` (``"epoch:offset"``), or the latest ``limit`` without it.

        With ``since`` and ``wait`` (seconds, ≤ 60) the server holds the answer until
        the next event or the timeout (a long-poll). ``recovered`` is False when the
        events after ``since`` are gone (then ``events`` is empty).
        """
        return self._call(_api.history(channel, since, limit, wait))  # type: ignore[no-any-return]

    # Credentials.

    def create_ticket(self, token: str) -> Ticket:
        """A single-use ticket (valid 30 s) for the user of ``token``, for ``/api/v1/ws?ticket=``.

        Called with the user's token (``create_token``), not the API key: an app
        server hands the browser a ticket, so no long-lived token sits in a URL.
        """
        return self._call(_api.create_ticket(token))  # type: ignore[no-any-return]

    # Handles.

    def task(
        self,
        owner: str,
        title: Optional[str] = None,
        parent_id: Optional[str] = None,
        **kw: Any,
    ) -> TaskHandle:
        """A task to run as ``with tw.task(owner=…, title=…) as t:``; created on entering the block (or by ``start()``).

        ``kw`` are ``create_task``'s: ``id``, ``meta``, ``stall_timeout_ms``,
        ``idempotency_key``, ``batch``, ``tags``. ``parent_id`` (sent only when given)
        needs a server with batches.
        """
        _api.create_task(owner, title, parent_id=parent_id, **kw)  # check the arguments now
        create: Dict[str, Any] = {"owner": owner, "title": title, "parent_id": parent_id, **kw}
        # One idempotency key for the handle, so start() and a retried create make one task.
        create.setdefault("idempotency_key", _api.new_key())
        return TaskHandle(self, create=create)

    def attach(self, task_id: str) -> TaskHandle:
        """A handle on an existing task (created elsewhere, say by the web app): ``with tw.attach(id) as t:``."""
        _api.get_task(task_id)
        return TaskHandle(self, task_id=task_id)
