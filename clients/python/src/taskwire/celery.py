"""``taskwire.celery``: every Celery task becomes a live taskwire task, through Celery's signals.

::

    from celery import Celery
    from taskwire import Taskwire
    import taskwire.celery

    app = Celery("jobs", broker="redis://127.0.0.1:6379/0", backend="redis://127.0.0.1:6379/1")
    tw = Taskwire("http://127.0.0.1:8080", api_key)
    taskwire.celery.install(app, tw, owner=lambda task: task.kwargs.get("user"))

Call ``install`` where the app is made, so that it runs in the processes that publish
tasks and in the workers. Nothing in the task code changes:

=================================================  ==========================================
Celery                                             taskwire task ``celery-<task id>``
=================================================  ==========================================
published (``before_task_publish``)                created, ``queued`` (idempotency key from the id)
``task_prerun``                                    ``running`` (created first if it is missing)
``self.update_state(state="PROGRESS", meta=…)``    ``progress``, ``stage``, ``message`` from ``meta``
``self.retry(…)`` (the retry's publish)            stays ``running``, ``message`` "retry N: <reason>"
``task_success``                                   ``succeeded`` with the return value as ``result``
``task_failure``                                   ``failed``, ``error`` = the exception's message and class
``task_revoked``                                   ``cancelled`` (revoked, terminated or expired)
=================================================  ==========================================

Progress is reported from ``Task.update_state``: on a task's first run in a worker
process the bridge wraps that task object's ``update_state`` (the original is called
first, unchanged, then the progress is sent). Celery has no signal for state updates;
wrapping the method on the task object (not on a class) catches every call,
``self.update_state`` and ``current_task.update_state`` alike, whatever the task's base
class. Every report is a blocking call made in line, in the task's own thread, so a
task's events reach the server in the order it made them. The bridge never fails a
task or a publish: a failed report is logged on the ``taskwire.celery`` logger.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

from celery import signals

from .errors import BadRequest, Conflict, NotFound, TaskwireError, TooLarge
from .types import TERMINAL_STATUSES

__all__ = ["CeleryBridge", "TaskInfo", "install", "task_id_for"]

log = logging.getLogger("taskwire.celery")

_ID_RE = re.compile(r"^[A-Za-z0-9_.\-@]+$")
_MAX_ID = 128
_MAX_TITLE = 200
_MAX_ERROR = 2000
_MAX_CODE = 100
_MAX_MESSAGE = 1000
#: Ids of tasks the owner callback declined, remembered per process so their hooks make no calls.
_UNTRACKED_MAX = 10_000
#: Keys of a worker's request that are not message headers.
_NOT_HEADERS = frozenset(
    {"args", "kwargs", "properties", "reply_to", "correlation_id", "hostname", "delivery_info", "is_eager"}
)


@dataclass(frozen=True)
class TaskInfo:
    """What the ``owner`` and ``title`` callbacks are given about a Celery task."""

    #: The Celery task id.
    id: str
    #: The task's name (``"jobs.tasks.import_rows"``).
    name: str
    args: Tuple[Any, ...] = ()
    kwargs: Dict[str, Any] = field(default_factory=dict)
    #: The message headers: Celery's own (``retries``, ``eta``, ``root_id``, …) and those given
    #: to ``apply_async(headers={…})``.
    headers: Dict[str, Any] = field(default_factory=dict)


Owner = Callable[[TaskInfo], Optional[str]]
Title = Union[None, str, Callable[[TaskInfo], Optional[str]]]


def task_id_for(celery_id: str, prefix: str = "celery") -> str:
    """The taskwire task id of a Celery task id: ``celery-<id>`` (hashed when the id does not fit the grammar)."""
    tid = f"{prefix}-{celery_id}"
    if _ID_RE.match(celery_id) and len(tid) <= _MAX_ID:
        return tid
    return f"{prefix}-h-{hashlib.sha256(celery_id.encode('utf-8')).hexdigest()[:40]}"


def _text(value: Any, limit: int) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _progress_fields(meta: Any) -> Dict[str, Any]:
    """``update_state``'s meta → update fields: ``pct`` (or ``current``/``total``), ``stage``, ``message``."""
    if not isinstance(meta, dict):
        return {}
    fields: Dict[str, Any] = {}
    pct = meta.get("pct")
    if pct is None and _is_number(meta.get("current")) and _is_number(meta.get("total")) and meta["total"] > 0:
        pct = 100.0 * meta["current"] / meta["total"]
    if _is_number(pct):
        fields["progress"] = min(100.0, max(0.0, float(pct)))
    for name, limit in (("stage", 100), ("message", _MAX_MESSAGE)):
        if name in meta:
            value = meta[name]
            fields[name] = None if value is None else _text(value, limit)
    return fields


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _error_of(exc: BaseException) -> Dict[str, str]:
    name = type(exc).__name__
    return {"message": _text(str(exc) or name, _MAX_ERROR), "code": _text(name, _MAX_CODE)}


class CeleryBridge:
    """The installed bridge: its signal receivers, connected until ``uninstall()``."""

    def __init__(
        self,
        app: Any,
        tw: Any,
        owner: Owner,
        title: Title = None,
        stall_timeout_ms: Optional[int] = None,
        progress_states: Sequence[str] = ("PROGRESS",),
        id_prefix: str = "celery",
    ) -> None:
        if not callable(owner):
            raise TypeError("owner must be a callable taking a TaskInfo and returning the user id (or None)")
        self.app = app
        self.tw = tw
        self._owner = owner
        self._title = title
        self._stall_timeout_ms = stall_timeout_ms
        self._progress_states = frozenset(progress_states)
        self._prefix = id_prefix
        self._untracked: Dict[str, None] = {}
        self._lock = threading.Lock()
        self._receivers = [
            (signals.before_task_publish, self._on_publish),
            (signals.task_prerun, self._on_prerun),
            (signals.task_success, self._on_success),
            (signals.task_failure, self._on_failure),
            (signals.task_revoked, self._on_revoked),
        ]
        for signal, receiver in self._receivers:
            signal.connect(receiver, weak=False, dispatch_uid=self._uid(receiver))

    def _uid(self, receiver: Callable[..., Any]) -> str:
        return f"taskwire.celery:{id(self)}:{receiver.__name__}"

    def uninstall(self) -> None:
        """Disconnect every receiver (tasks already wrapped stop reporting too)."""
        for signal, receiver in self._receivers:
            signal.disconnect(receiver, dispatch_uid=self._uid(receiver))
        self._receivers = []

    def task_id(self, celery_id: str) -> str:
        return task_id_for(celery_id, self._prefix)

    # What a task is and who owns it.

    def _ours(self, task: Any) -> bool:
        return task is not None and getattr(task, "app", None) is self.app and bool(self._receivers)

    def _is_untracked(self, celery_id: str) -> bool:
        return celery_id in self._untracked

    def _untrack(self, celery_id: str) -> None:
        with self._lock:
            self._untracked[celery_id] = None
            while len(self._untracked) > _UNTRACKED_MAX:
                del self._untracked[next(iter(self._untracked))]

    def _create(self, info: TaskInfo) -> bool:
        """Create the task (idempotent: the key is derived from the Celery id); False when the owner declines."""
        owner = self._owner(info)
        if not owner:
            self._untrack(info.id)
            return False
        title = self._title(info) if callable(self._title) else (self._title or info.name)
        tid = self.task_id(info.id)
        try:
            self.tw.create_task(
                owner,
                title=None if title is None else _text(title, _MAX_TITLE),
                id=tid,
                meta={"celery": {"task": info.name, "id": info.id}},
                stall_timeout_ms=self._stall_timeout_ms,
                idempotency_key=f"taskwire.celery:{tid}",
            )
        except Conflict:
            pass  # it exists already (its key expired after 24 h): the same task
        return True

    @staticmethod
    def _info_from_request(request: Any, name: Optional[str]) -> TaskInfo:
        values = dict(vars(request)) if request is not None else {}
        headers = {k: v for k, v in values.items() if k not in _NOT_HEADERS}
        nested = values.get("headers")
        if isinstance(nested, dict):
            headers.update(nested)
        return TaskInfo(
            id=str(values.get("id")),
            name=str(name or values.get("task") or values.get("name") or "task"),
            args=tuple(values.get("args") or ()),
            kwargs=dict(values.get("kwargs") or {}),
            headers=headers,
        )

    # Changes.

    def _update(self, celery_id: str, request: Any, name: Optional[str], **fields: Any) -> None:
        """Apply ``fields``; a missing task is created first, a queued one started before it succeeds."""
        if self._is_untracked(celery_id):
            return
        tid = self.task_id(celery_id)
        try:
            self.tw.update(tid, **fields)
            return
        except NotFound:
            if request is None or not self._create(self._info_from_request(request, name)):
                return
            if fields.get("status") == "succeeded":
                self.tw.update(tid, status="running")  # a queued task cannot succeed directly
        except Conflict:
            task = self.tw.get_task(tid)
            if task["status"] in TERMINAL_STATUSES:
                log.debug("task %s is already %s: %s not applied", tid, task["status"], fields)
                return
            if task["status"] != "queued" or fields.get("status") != "succeeded":
                raise
            self.tw.update(tid, status="running")  # a queued task cannot succeed directly
        self.tw.update(tid, **fields)

    def _safely(self, what: str, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except (TaskwireError, TypeError, ValueError) as err:
            log.warning("taskwire.celery: %s not reported: %s", what, err)
        except Exception:  # never fail the user's task or publish
            log.exception("taskwire.celery: %s not reported", what)

    # Receivers.

    def _on_publish(self, sender: Any = None, body: Any = None, headers: Any = None, **_: Any) -> None:
        if not self._receivers:
            return
        headers = dict(headers or {})
        if "id" in headers:  # protocol 2: (args, kwargs, embed) in the body
            celery_id, name = str(headers["id"]), str(headers.get("task") or sender)
            args, kwargs = (body[0], body[1]) if isinstance(body, (tuple, list)) and len(body) >= 2 else ((), {})
        elif isinstance(body, dict) and "id" in body:  # protocol 1
            celery_id, name = str(body["id"]), str(body.get("task") or sender)
            args, kwargs = body.get("args") or (), body.get("kwargs") or {}
            headers.setdefault("retries", body.get("retries", 0))
        else:
            return
        retries = headers.get("retries") or 0
        if retries:
            # self.retry() publishes the next try before it raises: report it here, so the
            # message lands before that try (maybe on another worker) starts.
            reason = sys.exc_info()[1]
            message = f"retry {retries}" + (f": {_text(reason, 900)}" if reason is not None else "")
            self._safely(f"retry of {celery_id}", lambda: self._update(celery_id, None, name, message=message))
            return
        info = TaskInfo(celery_id, name, tuple(args), dict(kwargs), headers)
        self._safely(f"publish of {celery_id}", lambda: self._create(info))

    def _on_prerun(self, sender: Any = None, task_id: Any = None, task: Any = None, **_: Any) -> None:
        task = task or sender
        if not self._ours(task):
            return
        self._wrap_update_state(task)
        celery_id = str(task_id or task.request.id)
        self._safely(f"start of {celery_id}", lambda: self._update(celery_id, task.request, task.name, status="running"))

    def _on_success(self, sender: Any = None, result: Any = None, **_: Any) -> None:
        if not self._ours(sender):
            return
        celery_id = str(sender.request.id)
        self._safely(f"success of {celery_id}", lambda: self._succeed(celery_id, sender, result))

    def _succeed(self, celery_id: str, task: Any, result: Any) -> None:
        try:
            self._update(celery_id, task.request, task.name, status="succeeded", result=result)
        except (TypeError, ValueError, BadRequest, TooLarge) as err:
            # Not JSON, or over the server's 64 KiB: succeed without it.
            note = f"result not sent: {_text(err, 900)}"
            self._update(celery_id, task.request, task.name, status="succeeded", result=None, message=note)

    def _on_failure(self, sender: Any = None, task_id: Any = None, exception: Any = None, **_: Any) -> None:
        if not self._ours(sender):
            return
        celery_id = str(task_id or sender.request.id)
        error = _error_of(exception if isinstance(exception, BaseException) else Exception(str(exception)))
        request = sender.request if getattr(sender.request, "id", None) == celery_id else None
        self._safely(
            f"failure of {celery_id}", lambda: self._update(celery_id, request, sender.name, status="failed", error=error)
        )

    def _on_revoked(
        self, sender: Any = None, request: Any = None, terminated: Any = False, signum: Any = None, expired: Any = False, **_: Any
    ) -> None:
        if request is None or (sender is not None and not self._ours(sender)):
            return
        celery_id = str(request.id)
        if expired:
            message = "expired"
        elif terminated:
            message = f"revoked: terminated ({signum})" if signum else "revoked: terminated"
        else:
            message = "revoked"
        name = getattr(sender, "name", None)
        self._safely(
            f"revoke of {celery_id}",
            lambda: self._update(celery_id, request, name, status="cancelled", message=message),
        )

    # Progress: the task object's update_state, wrapped once per process.

    def _wrap_update_state(self, task: Any) -> None:
        if getattr(task, "_taskwire_wrapped", None) is self:
            return
        original = task.update_state
        bridge = self

        def update_state(task_id: Optional[str] = None, state: Optional[str] = None, meta: Any = None, **kw: Any) -> Any:
            answer = original(task_id, state, meta, **kw)
            if state in bridge._progress_states and bridge._receivers:
                bridge._report_progress(task, task_id, meta)
            return answer

        task.update_state = update_state
        task._taskwire_wrapped = self

    def _report_progress(self, task: Any, task_id: Optional[str], meta: Any) -> None:
        fields = _progress_fields(meta)
        if not fields:
            return
        celery_id = str(task_id or task.request.id)
        request = task.request if celery_id == str(task.request.id) else None
        self._safely(f"progress of {celery_id}", lambda: self._update(celery_id, request, task.name, **fields))


def install(
    app: Any,
    tw: Any,
    owner: Owner,
    *,
    title: Title = None,
    stall_timeout_ms: Optional[int] = None,
    progress_states: Sequence[str] = ("PROGRESS",),
    id_prefix: str = "celery",
) -> CeleryBridge:
    """Turn every task of ``app`` into a live taskwire task; returns the bridge (``uninstall()`` undoes it).

    :param app: the Celery app.
    :param tw: a ``taskwire.Taskwire`` client (the API key).
    :param owner: ``TaskInfo`` → the user id who sees the task, or None to leave the task out.
    :param title: the task's title: a string, or ``TaskInfo`` → string (default: the task name).
    :param stall_timeout_ms: sent with each create (default: the server's, 60 s; 0 = never stalls).
    :param progress_states: the ``update_state`` states reported as progress.
    :param id_prefix: taskwire ids are ``<id_prefix>-<Celery id>``.
    """
    return CeleryBridge(app, tw, owner, title, stall_timeout_ms, progress_states, id_prefix)
