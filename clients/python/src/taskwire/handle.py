"""``tw.task(...)``: a running task as a context manager, and what it reports.

::

    with tw.task(owner="alice", title="Import") as t:
        for row in t.track(rows):
            ingest(row)
        t.result = {"rows": len(rows)}

On exit the task succeeds with ``t.result``; if the block raised, it fails with the
exception's message and the exception goes on. The rules shared with the async
handle (what the final update is, how ``track`` paces itself) live here too.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Dict, Generator, Iterable, Iterator, Optional, Protocol, Type, TypeVar

from . import _api
from ._api import UNSET
from .errors import Conflict, TaskwireError
from .types import TERMINAL_STATUSES, Decision, StreamAppend, StreamText, Task

if TYPE_CHECKING:
    from types import TracebackType

T = TypeVar("T")
R = TypeVar("R")


class _Client(Protocol):
    """What a handle needs of its client (``Taskwire`` has it): the handle never imports the client."""

    def create_task(self, **fields: Any) -> Task: ...
    def get_task(self, task_id: str) -> Task: ...
    def update(self, task_id: str, **fields: Any) -> Task: ...
    def log(self, task_id: str, *lines: str) -> Task: ...
    def append_stream(self, task_id: str, text: str, name: str = ..., index: Optional[int] = ...) -> StreamAppend: ...
    def read_stream(self, task_id: str, name: str = ...) -> StreamText: ...
    def _run(self, flow: Generator[_api.Step, Any, R]) -> R: ...

logger = logging.getLogger("taskwire")

#: ``track`` sends at most one update per this many seconds (plus the last one).
TRACK_INTERVAL = 0.5


class Throttle:
    """True at most once per ``interval`` seconds (the first call is always due)."""

    def __init__(self, interval: float) -> None:
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval < 0:
            raise ValueError("interval must be a number of seconds >= 0")
        self.interval = float(interval)
        self._last: Optional[float] = None

    def due(self) -> bool:
        now = time.monotonic()
        if self._last is not None and now - self._last < self.interval:
            return False
        self._last = now
        return True


def track_total(iterable: Any, total: Optional[int]) -> Optional[int]:
    """The number of items: ``total`` when given, else ``len(iterable)`` when it has one."""
    if total is None:
        try:
            total = len(iterable)
        except TypeError:
            return None
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise ValueError("total must be an integer >= 0, or None")
    return total


def track_fields(done: int, total: Optional[int], finished: bool, count: bool) -> Dict[str, Any]:
    """The update for ``done`` items of ``total``: the percentage (None when unknown), and a count as message."""
    if total is None:
        pct: Optional[float] = 100.0 if finished else None
    elif total == 0:
        pct = 100.0
    else:
        pct = round(min(100.0, done * 100.0 / total), 2)
    fields: Dict[str, Any] = {"progress": pct}
    if count:
        fields["message"] = f"{done}/{total}" if total is not None else f"{done} items"
    return fields


def error_fields(exc: BaseException) -> Dict[str, str]:
    """The task error for an exception: its message (or its class name), and the class name as code."""
    message = str(exc) or type(exc).__name__
    return {"message": message[:2000], "code": type(exc).__name__[:100]}


def begin_fields(task: Optional[Task]) -> Optional[Dict[str, Any]]:
    """Entering the block starts the work: a queued (or stalled) task becomes running, so it can succeed later."""
    if task is not None and task.get("status") in ("queued", "stalled"):
        return {"status": "running"}
    return None


def final_fields(task: Optional[Task], exc: Optional[BaseException], result: Any) -> Optional[Dict[str, Any]]:
    """The last update of a task block, or None when the task already finished (a reject, a cancel)."""
    if task is not None and task.get("status") in TERMINAL_STATUSES:
        return None
    if exc is None:
        return {"status": "succeeded", **({} if result is UNSET else {"result": result})}
    return {"status": "failed", "error": error_fields(exc)}


def progress_fields(pct: Optional[float], stage: Optional[str], message: Optional[str]) -> Dict[str, Any]:
    fields: Dict[str, Any] = {"progress": _api.check_progress(pct)}
    if stage is not None:
        fields["stage"] = stage
    if message is not None:
        fields["message"] = message
    return fields


class BaseHandle:
    """What the sync and async handles share: the task's id, its latest snapshot and the result."""

    def __init__(self, create: Optional[Dict[str, Any]], task_id: Optional[str]) -> None:
        self._create = create
        self._task_id = task_id
        self._task: Optional[Task] = None
        self._result: Any = UNSET
        #: Each stream's next chunk index, as far as this handle knows (read from the server first).
        self._next_chunk: Dict[str, int] = {}

    @property
    def id(self) -> str:
        """The task id (known once the task is created: inside the block, or after ``start()``)."""
        if self._task_id is None:
            raise RuntimeError("the task is not created yet: use it inside the `with` block or call start() first")
        return self._task_id

    @property
    def task(self) -> Optional[Task]:
        """The latest snapshot this handle has seen (from its own calls' answers)."""
        return self._task

    @property
    def result(self) -> Any:
        """The result the task succeeds with on exit (None until set)."""
        return None if self._result is UNSET else self._result

    @result.setter
    def result(self, value: Any) -> None:
        self._result = value

    def _seen(self, task: Any) -> Any:
        if isinstance(task, dict) and "id" in task:
            self._task = task  # type: ignore[assignment]
            self._task_id = task["id"]
        return task

    def _chunk_written(self, name: str, answer: StreamAppend) -> None:
        self._next_chunk[name] = int(answer["chunks"])

    def __repr__(self) -> str:
        status = self._task.get("status") if self._task else "not created"
        return f"<{type(self).__name__} {self._task_id or '?'} {status}>"


class TaskHandle(BaseHandle):
    """A task reported by this worker. Use it as ``with tw.task(...) as t:``; see the module doc."""

    def __init__(self, client: _Client, create: Optional[Dict[str, Any]] = None, task_id: Optional[str] = None):
        super().__init__(create, task_id)
        self._client = client
        self._stream_lock = threading.Lock()

    def start(self) -> TaskHandle:
        """Create the task now (idempotent) so that ``t.id`` is known before the block runs; returns the handle."""
        if self._task is None:
            if self._create is not None:
                self._seen(self._client.create_task(**self._create))
            else:
                self._seen(self._client.get_task(self.id))
        return self

    def __enter__(self) -> TaskHandle:
        self.start()
        fields = begin_fields(self._task)
        if fields is not None:
            self.update(**fields)
        return self

    def __exit__(
        self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        fields = final_fields(self._task, exc, self._result)
        if fields is None:
            return
        if exc is None:
            try:
                self.update(**fields)
            except Conflict:
                # Finished elsewhere meanwhile (the owner cancelled it): that status stands.
                if self._seen(self._client.get_task(self.id)).get("status") not in TERMINAL_STATUSES:
                    raise
            return
        try:
            self.update(**fields)
        except TaskwireError as err:  # never hide the block's own exception behind ours
            logger.warning("taskwire: could not mark task %s failed: %s", self._task_id, err)

    def update(self, **fields: Any) -> Task:
        """Any change (``status``, ``progress``, ``stage``, ``message``, ``result``, ``error``, ``meta``); see Taskwire.update."""
        return self._seen(self._client.update(self.id, **fields))  # type: ignore[no-any-return]

    def progress(self, pct: Optional[float], stage: Optional[str] = None, message: Optional[str] = None) -> Task:
        """Report progress (0-100, or None when unknown); ``stage``/``message`` are sent when given."""
        return self.update(**progress_fields(pct, stage, message))

    def log(self, *lines: str) -> Task:
        """Append log lines (one ``task.log`` event)."""
        return self._seen(self._client.log(self.id, *lines))  # type: ignore[no-any-return]

    def stream(self, text: str, name: str = _api.DEFAULT_STREAM) -> StreamAppend:
        """Append ``text`` to the task's stream ``name`` (``output``): output shown live as it grows.

        Each chunk carries its index (the handle counts; its first chunk of a stream
        reads the stream's count first), so a retry after a lost answer never appends
        it twice. Appends of one handle go one at a time, from any thread. Returns
        ``{"stream", "chunks"}``; BadRequest for a chunk over 64 KiB, a stream over
        the server's limit or a 9th stream, Conflict once the task has finished.
        """
        _api.append_stream(self.id, text, name)  # check the arguments before any call
        with self._stream_lock:
            index = self._next_chunk.get(name)
            if index is None:
                index = self._client.read_stream(self.id, name)["chunks"]
            try:
                answer = self._client.append_stream(self.id, text, name, index)
            except BaseException:
                # Landed or not, unknown: the next chunk reads the count again rather than
                # reuse this index (the server would take a different text as this one's retry).
                self._next_chunk.pop(name, None)
                raise
            self._chunk_written(name, answer)
            return answer

    def ask_approval(self, prompt: str, options: Optional[Iterable[str]] = None, timeout: Optional[float] = None) -> Decision:
        """Ask the owner and wait for the decision, long-polling (no busy loop).

        Returns the Decision (``.decision`` is ``"approve"`` or ``"reject"``, with
        ``.comment``). A reject fails the task on the server; the block's exit then
        leaves it so. Raises DecisionTimeout after ``timeout`` seconds (the task
        stays ``awaiting_approval``), Conflict if the task ends without a decision.
        """
        try:
            decision = self._client._run(_api.approval_flow(self.id, prompt, options, timeout))
        except TaskwireError as err:
            if err.task is not None:
                self._seen(err.task)  # the task ended: the block's exit leaves it as it is
            raise
        self._seen(decision.task)
        return decision

    def track(
        self, iterable: Iterable[T], total: Optional[int] = None, *, interval: float = TRACK_INTERVAL, count: bool = True
    ) -> Iterator[T]:
        """Yield the items of ``iterable`` and report progress as they go, tqdm-style.

        At most one update per ``interval`` seconds (0.5), plus the last one (100 %
        when the iterable is exhausted), so a tight loop cannot flood the server.
        ``total`` defaults to ``len(iterable)``; without one, progress is unknown
        until the end. ``count`` also sets the message to ``"done/total"``.
        """
        total = track_total(iterable, total)
        throttle = Throttle(interval)
        done = 0
        throttle.due()
        self.update(**track_fields(0, total, False, count))
        for item in iterable:
            yield item
            done += 1
            if throttle.due():
                self.update(**track_fields(done, total, False, count))
        self.update(**track_fields(done, total, True, count))
