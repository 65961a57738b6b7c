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
a ``group`` (or a ``chord``'s header) of N tasks   a batch ``celery-group-<group id>``: its tasks
                                                   are its children, it ends with them
a ``chord``'s body                                 a task of its own, tagged ``celery-group-<id>``
=================================================  ==========================================

A group's batch follows its children (``progressFrom``/``completeWhen``: children,
``expectedChildren``: N): it is ``succeeded`` when every task succeeded, else
``failed`` with ``children_failed``. Its id and idempotency key come from the group
id, so the publisher (or, if the publisher could not reach taskwire, the first worker)
creates it once; see ``taskwire._celery_groups`` for how N is known.

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

import logging
import sys
import threading
from typing import Any, Callable, Dict, Optional, Sequence

from celery import signals

from . import _celery_groups as groups
from ._celery_info import (
    _MAX_TITLE,
    _NOT_HEADERS,
    _UNTRACKED_MAX,
    Owner,
    TaskInfo,
    Title,
    _error_of,
    _progress_fields,
    _text,
    task_id_for,
)
from .errors import BadRequest, Conflict, NotFound, TaskwireError, TooLarge
from .types import TERMINAL_STATUSES

__all__ = ["CeleryBridge", "TaskInfo", "install", "task_id_for"]

log = logging.getLogger("taskwire.celery")

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
        batches: bool = True,
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
        self._groups: Optional[groups.GroupBatches] = None
        if batches:
            groups.patch_group()
            self._groups = groups.GroupBatches(tw, lambda gid: task_id_for(gid, f"{id_prefix}-group"))
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

    def _create(self, info: TaskInfo, chord_of: Optional[str] = None) -> bool:
        """Create the task (idempotent: the key is derived from the Celery id); False when the owner declines.

        A task of a group joins the group's batch (created first when this process knows
        the group's size); a chord's body is tagged with the batch of the chord's header.
        """
        owner = self._owner(info)
        if not owner:
            self._untrack(info.id)
            return False
        title = self._title(info) if callable(self._title) else (self._title or info.name)
        tid = self.task_id(info.id)
        meta: Dict[str, Any] = {"celery": {"task": info.name, "id": info.id}}
        fields: Dict[str, Any] = dict(
            title=None if title is None else _text(title, _MAX_TITLE),
            id=tid,
            meta=meta,
            stall_timeout_ms=self._stall_timeout_ms,
        )
        linked: Dict[str, Any] = {}
        gid = info.headers.get("group")
        if gid and self._groups is not None:
            size = groups.size_of(info.headers)
            body = groups.sig_id(info.headers.get("chord"))
            linked["parent_id"] = self._groups.ensure(str(gid), size, owner, info.name, body and self.task_id(body))
        elif chord_of and self._groups is not None:
            meta["celery"]["chordOf"] = chord_of
            linked["tags"] = [self._groups.parent_id_of(chord_of)]
        try:
            self.tw.create_task(owner, idempotency_key=f"taskwire.celery:{tid}", **fields, **linked)
        except Conflict:
            if linked and not self._exists(tid):  # not this task: its batch has ended
                self._create_alone(owner, tid, fields, "its batch has ended")
        except (NotFound, BadRequest) as err:
            if not linked:
                raise
            self._create_alone(owner, tid, fields, str(err))  # no batch (gone, another owner's, too deep)
        return True

    def _exists(self, tid: str) -> bool:
        try:
            self.tw.get_task(tid)
            return True
        except NotFound:
            return False

    def _create_alone(self, owner: str, tid: str, fields: Dict[str, Any], why: str) -> None:
        log.warning("taskwire.celery: task %s created outside its batch: %s", tid, why)
        try:
            self.tw.create_task(owner, idempotency_key=f"taskwire.celery:{tid}:alone", **fields)
        except Conflict:
            pass  # it exists already: the same task

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
            log.warning("taskwire.celery: %s not reported: %s", what, str(err))  # no frames kept by the record
        except Exception:  # never fail the user's task or publish
            log.exception("taskwire.celery: %s not reported", what)

    # Receivers.

    def _on_publish(self, sender: Any = None, body: Any = None, headers: Any = None, **_: Any) -> None:
        if not self._receivers:
            return
        raw_headers = headers if isinstance(headers, dict) else {}
        headers = dict(raw_headers)
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
        chord_of = None
        if headers.get("group") and self._groups is not None:
            size = groups.current_size()
            if size is not None:
                raw_headers[groups.SIZE_HEADER] = headers[groups.SIZE_HEADER] = size  # for the workers
            body_id = groups.chord_body_id(body)
            if body_id:
                headers["chord"] = {"options": {"task_id": body_id}}
        elif self._groups is not None:
            chord_of = groups.chord_of_publish(celery_id)
        info = TaskInfo(celery_id, name, tuple(args), dict(kwargs), headers)
        self._safely(f"publish of {celery_id}", lambda: self._create(info, chord_of))

    def _on_prerun(self, sender: Any = None, task_id: Any = None, task: Any = None, **_: Any) -> None:
        task = task or sender
        if not self._ours(task):
            return
        self._wrap_update_state(task)
        celery_id = str(task_id or task.request.id)
        self._safely(f"start of {celery_id}", lambda: self._update(celery_id, task.request, task.name, status="running"))
        gid = getattr(task.request, "group", None)
        if gid and self._groups is not None and not self._is_untracked(celery_id):
            batches = self._groups
            self._safely(f"start of group {gid}", lambda: batches.start(str(gid)))

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
    batches: bool = True,
) -> CeleryBridge:
    """Turn every task of ``app`` into a live taskwire task; returns the bridge (``uninstall()`` undoes it).

    :param app: the Celery app.
    :param tw: a ``taskwire.Taskwire`` client (the API key).
    :param owner: ``TaskInfo`` → the user id who sees the task, or None to leave the task out.
    :param title: the task's title: a string, or ``TaskInfo`` → string (default: the task name).
    :param stall_timeout_ms: sent with each create (default: the server's, 60 s; 0 = never stalls).
    :param progress_states: the ``update_state`` states reported as progress.
    :param id_prefix: taskwire ids are ``<id_prefix>-<Celery id>``; a group's batch is ``<id_prefix>-group-<group id>``.
    :param batches: groups and chords' headers become batches (parent tasks) and chord bodies are tagged with them.
    """
    return CeleryBridge(app, tw, owner, title, stall_timeout_ms, progress_states, id_prefix, batches)
