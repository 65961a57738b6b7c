"""The shapes the HTTP API answers with (docs/protocol.md §1 and §4).

The client returns the server's JSON as plain dicts; the TypedDicts here only
describe them for type checkers (keys are the protocol's, in camelCase).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Literal, Optional, Tuple, TypedDict, Union

#: Any JSON value (what ``json.dumps`` accepts).
JsonValue = Any

TaskStatus = Literal["queued", "running", "stalled", "awaiting_approval", "succeeded", "failed", "cancelled"]

#: The statuses a task never leaves.
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})


class TaskErrorInfo(TypedDict, total=False):
    message: str
    code: str


class Approval(TypedDict):
    prompt: str
    options: List[str]
    requestedAt: str
    decision: Optional[str]
    comment: Optional[str]
    decidedBy: Optional[str]
    decidedAt: Optional[str]


class Batch(TypedDict):
    """A parent's batch options, defaults filled in (protocol §8)."""

    progressFrom: str
    expectedChildren: int
    completeWhen: str


class ChildCounts(TypedDict):
    """A parent's children by status; the counts sum to ``total``."""

    total: int
    queued: int
    running: int
    stalled: int
    awaiting_approval: int
    succeeded: int
    failed: int
    cancelled: int


class StreamSummary(TypedDict):
    chunks: int
    bytes: int


class Task(TypedDict):
    """A task snapshot (protocol §1; ``parentId`` to ``streams`` are protocol 1.1, §8)."""

    id: str
    owner: str
    title: Optional[str]
    status: str
    progress: Optional[float]
    stage: Optional[str]
    message: Optional[str]
    result: JsonValue
    error: Optional[TaskErrorInfo]
    approval: Optional[Approval]
    meta: Dict[str, JsonValue]
    stallTimeoutMs: int
    createdAt: str
    updatedAt: str
    startedAt: Optional[str]
    finishedAt: Optional[str]
    version: int
    parentId: Optional[str]
    batch: Optional[Batch]
    children: Optional[ChildCounts]
    tags: List[str]
    streams: Dict[str, StreamSummary]


class TaskList(TypedDict):
    """``GET /tasks``: a page of tasks, newest first, and the cursor of the next page (or None)."""

    tasks: List[Task]
    nextCursor: Optional[str]


class Position(TypedDict):
    """A channel position: an event is ``(epoch, offset)`` for ever."""

    epoch: str
    offset: int


class Event(TypedDict):
    """One event frame, as in the WebSocket ``event`` frame."""

    type: str
    channel: str
    epoch: str
    offset: int
    time: int
    data: JsonValue


class History(TypedDict):
    """``GET /channels/:channel/history``."""

    channel: str
    epoch: str
    offset: int
    recovered: bool
    events: List[Event]


class Ticket(TypedDict):
    """``POST /tickets``: a single-use ticket valid 30 s, for ``/api/v1/ws?ticket=``."""

    ticket: str
    expiresAt: str


class StreamAppend(TypedDict):
    """``POST /tasks/:id/stream``: the stream and its chunk count after the append."""

    stream: str
    chunks: int


class StreamText(TypedDict):
    """``GET /tasks/:id/streams/:name``: every chunk so far, joined."""

    stream: str
    text: str
    chunks: int


WebhookEventType = Literal[
    "task.approval_requested",
    "task.approval_decided",
    "task.cancelled",
    "task.stalled",
    "task.succeeded",
    "task.failed",
    "batch.completed",
]


class WebhookData(TypedDict):
    task: Task


class WebhookPayload(TypedDict):
    """A webhook's body (protocol 1.1 §8): the event type, when the change was made (ISO 8601), the task after it."""

    type: WebhookEventType
    timestamp: str
    data: WebhookData


#: ``since`` for history: ``"<epoch>:<offset>"``, an ``(epoch, offset)`` pair or a Position.
Since = Union[str, Tuple[str, int], Position]


@dataclass(frozen=True)
class Decision:
    """The owner's answer to an approval request."""

    #: ``"approve"`` or ``"reject"``.
    decision: str
    comment: Optional[str]
    decided_by: Optional[str]
    #: The task snapshot carrying the decision (``running`` after approve, ``failed`` after reject).
    task: Task

    @property
    def approved(self) -> bool:
        return self.decision == "approve"
