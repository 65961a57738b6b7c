"""The API calls as Requests (no I/O), shared by the sync and async clients.

Each function checks what is obviously wrong client-side (a TypeError for a
mistyped argument, a ValueError for a progress out of 0-100) and leaves the rest
(lengths, transitions, permissions) to the server, whose coded error is raised.
``approval_flow`` is the approval wait as a generator of steps, so one algorithm
serves both clients: it yields a Request (send back its answer) or a Sleep.
"""

from __future__ import annotations

import enum
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Generator, Iterable, List, Optional, Tuple, Union

from ._http import NO_BODY, Request, make_request, segment
from .errors import Conflict, DecisionTimeout
from .types import TERMINAL_STATUSES, Decision, Since, Task

STATUSES = ("queued", "running", "stalled", "awaiting_approval", "succeeded", "failed", "cancelled")

#: The longest long-poll asked for, seconds (the server allows 60; proxies often cut idle requests at 60).
LONG_POLL_SECONDS = 25.0


class _Unset(enum.Enum):
    UNSET = 0


#: "Not given": leaves a field unchanged, where ``None`` clears it.
UNSET = _Unset.UNSET
Unset = _Unset


@dataclass(frozen=True)
class Sleep:
    """A step of a flow: wait this many seconds, then continue (send back None)."""

    seconds: float


Step = Union[Request, Sleep]


def new_key() -> str:
    """A fresh idempotency key."""
    return str(uuid.uuid4())


def _str(name: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        kind = "a string or None" if optional else "a string"
        raise TypeError(f"{name} must be {kind}, not {type(value).__name__}")


def _id(name: str, value: object) -> str:
    _str(name, value)
    assert isinstance(value, str)
    if not value:
        raise ValueError(f"{name} must not be empty")
    return value


def check_progress(pct: object) -> Optional[float]:
    """A progress value: a number from 0 to 100, or None when unknown."""
    if pct is None:
        return None
    if isinstance(pct, bool) or not isinstance(pct, (int, float)):
        raise TypeError(f"progress must be a number from 0 to 100 or None, not {type(pct).__name__}")
    if math.isnan(pct) or not 0 <= pct <= 100:
        raise ValueError(f"progress must be from 0 to 100, not {pct!r}")
    return pct


def _meta(value: object) -> None:
    if value is not None and not isinstance(value, dict):
        raise TypeError(f"meta must be a dict, not {type(value).__name__}")


def create_task(
    owner: str,
    title: Optional[str] = None,
    id: Optional[str] = None,
    meta: Optional[Dict[str, Any]] = None,
    stall_timeout_ms: Optional[int] = None,
    idempotency_key: Optional[str] = None,
    parent_id: Optional[str] = None,
    batch: Optional[Dict[str, Any]] = None,
    tags: Optional[Iterable[str]] = None,
) -> Request:
    _id("owner", owner)
    _str("title", title, optional=True)
    _str("id", id, optional=True)
    _str("parent_id", parent_id, optional=True)
    _str("idempotency_key", idempotency_key, optional=True)
    _meta(meta)
    if stall_timeout_ms is not None and (isinstance(stall_timeout_ms, bool) or not isinstance(stall_timeout_ms, int)):
        raise TypeError("stall_timeout_ms must be an integer number of milliseconds")
    body: Dict[str, Any] = {"owner": owner}
    for key, value in (
        ("id", id),
        ("title", title),
        ("meta", meta),
        ("stallTimeoutMs", stall_timeout_ms),
        ("parentId", parent_id),
        ("batch", batch_body(batch)),
        ("tags", tag_list(tags)),
    ):
        if value is not None:
            body[key] = value
    # One key per create call, reused by every retry of it: a retry never creates a second task.
    key = idempotency_key if idempotency_key is not None else new_key()
    return make_request("POST", "/tasks", body, headers={"Idempotency-Key": key})


#: ``batch={...}``: the Python names and their wire names (docs/protocol.md §8).
BATCH_KEYS = {
    "progress_from": "progressFrom",
    "expected_children": "expectedChildren",
    "complete_when": "completeWhen",
}


def batch_body(batch: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """``batch={"complete_when": "children", ...}`` as the wire's ``batch`` (the camelCase names are taken too)."""
    if batch is None:
        return None
    if not isinstance(batch, dict):
        raise TypeError(f"batch must be a dict, not {type(batch).__name__}")
    wire = set(BATCH_KEYS.values())
    body: Dict[str, Any] = {}
    for key, value in batch.items():
        name = BATCH_KEYS.get(key, key)
        if name not in wire:
            raise ValueError(f"batch takes {', '.join(BATCH_KEYS)}, not {key!r}")
        body[name] = value
    for name in ("progressFrom", "completeWhen"):
        if name in body and body[name] not in ("children", "self"):
            raise ValueError(f"batch {name} must be 'children' or 'self', not {body[name]!r}")
    n = body.get("expectedChildren")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int)):
        raise TypeError("batch expected_children must be an integer")
    return body


def tag_list(tags: Optional[Iterable[str]]) -> Optional[List[str]]:
    if tags is None:
        return None
    if isinstance(tags, str):
        raise TypeError("tags must be a list of strings, not a string")
    items = list(tags)
    for tag in items:
        _str("each tag", tag)
    return items


def get_task(task_id: str) -> Request:
    return make_request("GET", f"/tasks/{segment(_id('task_id', task_id))}")


def list_tasks(
    owner: Optional[str] = None,
    status: Optional[str] = None,
    limit: Optional[int] = None,
    cursor: Optional[str] = None,
    parent: Optional[str] = None,
    tag: Optional[str] = None,
) -> Request:
    _str("owner", owner, optional=True)
    _str("cursor", cursor, optional=True)
    _str("parent", parent, optional=True)
    _str("tag", tag, optional=True)
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise TypeError("limit must be an integer")
    return make_request(
        "GET", "/tasks", query=[
            ("owner", owner),
            ("status", status),
            ("parent", parent),
            ("tag", tag),
            ("limit", limit),
            ("cursor", cursor),
        ],
    )


def update(
    task_id: str,
    *,
    status: Union[str, Unset] = UNSET,
    progress: Union[float, None, Unset] = UNSET,
    stage: Union[str, None, Unset] = UNSET,
    message: Union[str, None, Unset] = UNSET,
    result: Any = UNSET,
    error: Union[str, Dict[str, str], None, Unset] = UNSET,
    meta: Union[Dict[str, Any], Unset] = UNSET,
) -> Request:
    _id("task_id", task_id)
    body: Dict[str, Any] = {}
    if status is not UNSET:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        body["status"] = status
    if progress is not UNSET:
        body["progress"] = check_progress(progress)
    for name, text in (("stage", stage), ("message", message)):
        if text is not UNSET:
            _str(name, text, optional=True)
            body[name] = text
    if result is not UNSET:
        body["result"] = result
    if error is not UNSET:
        if error is not None and not isinstance(error, (str, dict)):
            raise TypeError("error must be a string, a dict {'message', 'code'?} or None")
        body["error"] = error
    if meta is not UNSET:
        _meta(meta)
        body["meta"] = meta
    settle = None
    if status in TERMINAL_STATUSES:

        def made(task: Any) -> bool:
            return bool(task.get("status") == status and (result is UNSET or task.get("result") == result))

        settle = (f"/tasks/{segment(task_id)}", made)
    return make_request("PATCH", f"/tasks/{segment(task_id)}", body, settle=settle)


def log(task_id: str, lines: Iterable[str]) -> Request:
    _id("task_id", task_id)
    items = list(lines)
    if not items:
        raise ValueError("log needs at least one line")
    for i, line in enumerate(items):
        if not isinstance(line, str):
            raise TypeError(f"log line {i} must be a string, not {type(line).__name__}")
    return make_request("POST", f"/tasks/{segment(task_id)}/logs", {"lines": items})


#: The stream a chunk goes to when none is named.
DEFAULT_STREAM = "output"


def append_stream(task_id: str, text: str, name: str = DEFAULT_STREAM, index: Optional[int] = None) -> Request:
    """``POST /tasks/:id/stream``: one chunk; with ``index`` a retry of it is not appended twice."""
    _id("task_id", task_id)
    _str("text", text)
    _id("name", name)
    body: Dict[str, Any] = {"text": text, "stream": name}
    if index is not None:
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError("index must be an integer >= 0, or None")
        body["index"] = index
    return make_request("POST", f"/tasks/{segment(task_id)}/stream", body)


def read_stream(task_id: str, name: str = DEFAULT_STREAM) -> Request:
    _id("task_id", task_id)
    _id("name", name)
    return make_request("GET", f"/tasks/{segment(task_id)}/streams/{segment(name)}")


def request_approval(task_id: str, prompt: str, options: Optional[Iterable[str]] = None) -> Request:
    _id("task_id", task_id)
    _str("prompt", prompt)
    body: Dict[str, Any] = {"prompt": prompt}
    if options is not None:
        if isinstance(options, str):
            raise TypeError("options must be a list of strings, not a string")
        body["options"] = list(options)
        for o in body["options"]:
            _str("each option", o)

    def made(task: Any) -> bool:
        approval = task.get("approval") or {}
        return bool(
            task.get("status") == "awaiting_approval" and approval.get("prompt") == prompt and approval.get("decision") is None
        )

    return make_request("POST", f"/tasks/{segment(task_id)}/approval", body, settle=(f"/tasks/{segment(task_id)}", made))


def decide(task_id: str, decision: str, comment: Optional[str] = None) -> Request:
    _id("task_id", task_id)
    if decision not in ("approve", "reject"):
        raise ValueError(f"decision must be 'approve' or 'reject', not {decision!r}")
    _str("comment", comment, optional=True)
    body: Dict[str, Any] = {"decision": decision}
    if comment is not None:
        body["comment"] = comment

    def made(task: Any) -> bool:
        return bool((task.get("approval") or {}).get("decision") == decision)

    return make_request("POST", f"/tasks/{segment(task_id)}/decision", body, settle=(f"/tasks/{segment(task_id)}", made))


def cancel(task_id: str) -> Request:
    path = f"/tasks/{segment(_id('task_id', task_id))}"
    return make_request("POST", f"{path}/cancel", settle=(path, lambda task: task.get("status") == "cancelled"))


def publish(channel: str, data: Any, idempotency_key: Optional[str] = None) -> Request:
    _id("channel", channel)
    _str("idempotency_key", idempotency_key, optional=True)
    body = {"data": data, "idempotencyKey": idempotency_key if idempotency_key is not None else new_key()}
    return make_request("POST", f"/channels/{segment(channel)}/publish", body)


def since_param(since: Optional[Since]) -> Optional[str]:
    """``since`` as the wire's ``<epoch>:<offset>``."""
    if since is None or isinstance(since, str):
        return since
    if isinstance(since, dict):
        return f"{since['epoch']}:{int(since['offset'])}"
    if isinstance(since, tuple) and len(since) == 2:
        return f"{since[0]}:{int(since[1])}"
    raise TypeError("since must be 'epoch:offset', an (epoch, offset) pair or a {'epoch', 'offset'} dict")


def history(
    channel: str,
    since: Optional[Since] = None,
    limit: Optional[int] = None,
    wait: Optional[float] = None,
) -> Request:
    _id("channel", channel)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise TypeError("limit must be an integer")
    hold = 0.0
    if wait is not None:
        if isinstance(wait, bool) or not isinstance(wait, (int, float)):
            raise TypeError("wait must be a number of seconds")
        hold = float(wait)
    return make_request(
        "GET",
        f"/channels/{segment(channel)}/history",
        query=[("since", since_param(since)), ("limit", limit), ("wait", wait)],
        hold=hold,
    )


def create_ticket(token: str) -> Request:
    _id("token", token)
    return make_request("POST", "/tickets", NO_BODY, credential=token)


def _decision_of(task: Any, requested_at: Optional[str]) -> Optional[Decision]:
    approval = task.get("approval") if isinstance(task, dict) else None
    if not isinstance(approval, dict) or approval.get("decision") is None:
        return None
    if requested_at is not None and approval.get("requestedAt") != requested_at:
        return None
    return Decision(approval["decision"], approval.get("comment"), approval.get("decidedBy"), task)


def _check_open(task: Task) -> None:
    if task.get("status") in TERMINAL_STATUSES:
        err = Conflict("conflict", f"task {task['id']} is {task['status']} with no decision", 409)
        err.task = task
        raise err


def approval_flow(
    task_id: str, prompt: str, options: Optional[Iterable[str]], timeout: Optional[float]
) -> Generator[Step, Any, Decision]:
    """Ask for approval, then wait for the decision by long-polling ``task:<id>``'s history.

    The channel's position is read before the request, so the decision cannot
    slip between the two. Each poll waits up to 25 s on the server for the next
    event; a decision, a finished task (Conflict) or the deadline (DecisionTimeout)
    ends the wait.
    """
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0):
        raise ValueError("timeout must be a number of seconds >= 0, or None to wait for ever")
    ask = request_approval(task_id, prompt, options)  # checks the arguments before any call
    deadline = None if timeout is None else time.monotonic() + timeout
    channel = f"task:{task_id}"
    h = yield history(channel, limit=0)
    position: Tuple[str, int] = (h["epoch"], h["offset"])
    task = yield ask
    requested_at = (task.get("approval") or {}).get("requestedAt")
    while True:
        left = LONG_POLL_SECONDS if deadline is None else deadline - time.monotonic()
        if left <= 0.01:
            raise DecisionTimeout("timeout", f"no decision on task {task_id} within {timeout:g} s")
        wait = round(min(LONG_POLL_SECONDS, left), 3)
        started = time.monotonic()
        h = yield history(channel, since=position, limit=100, wait=wait)
        if not h["recovered"]:
            # The position was lost (history trimmed, epoch changed): read the task, go on from now.
            position = (h["epoch"], h["offset"])
            task = yield get_task(task_id)
            found = _decision_of(task, requested_at)
            if found:
                return found
            _check_open(task)
            continue
        events: List[Any] = h["events"]
        for event in events:
            data = event.get("data")
            snapshot = data.get("task") if isinstance(data, dict) else None
            if isinstance(snapshot, dict):
                found = _decision_of(snapshot, requested_at)
                if found:
                    return found
                _check_open(snapshot)  # type: ignore[arg-type]
        position = (h["epoch"], events[-1]["offset"]) if events else (h["epoch"], h["offset"])
        if not events and time.monotonic() - started < wait / 2:
            # An empty answer long before the wait: this server does not long-poll. Do not spin.
            yield Sleep(min(1.0, max(0.0, left - (time.monotonic() - started))))
