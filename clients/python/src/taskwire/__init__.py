"""taskwire: report task progress to a taskwire server from Python (standard library only).

::

    from taskwire import Taskwire

    tw = Taskwire("http://127.0.0.1:8080", api_key)
    with tw.task(owner="alice", title="Import") as t:
        for row in t.track(rows):
            ingest(row)

See docs/python.md in the taskwire repository.
"""

from __future__ import annotations

from ._api import UNSET
from ._http import __version__, websocket_url
from .async_client import AsyncTaskHandle, AsyncTaskwire
from .client import Taskwire
from .errors import (
    BadRequest,
    Conflict,
    DecisionTimeout,
    Forbidden,
    Internal,
    LimitExceeded,
    NetworkError,
    NotFound,
    RateLimited,
    TaskwireError,
    TooLarge,
    Unauthorized,
    Unavailable,
    WebhookVerificationError,
)
from .handle import TaskHandle
from .tokens import create_token
from .types import (
    Batch,
    ChildCounts,
    Decision,
    History,
    Position,
    StreamAppend,
    StreamText,
    Task,
    TaskList,
    Ticket,
    WebhookEventType,
    WebhookPayload,
)
from .webhooks import WEBHOOK_EVENT_TYPES, sign_webhook, verify_webhook

__all__ = [
    "UNSET",
    "WEBHOOK_EVENT_TYPES",
    "AsyncTaskHandle",
    "AsyncTaskwire",
    "BadRequest",
    "Batch",
    "ChildCounts",
    "Conflict",
    "Decision",
    "DecisionTimeout",
    "Forbidden",
    "History",
    "Internal",
    "LimitExceeded",
    "NetworkError",
    "NotFound",
    "Position",
    "RateLimited",
    "StreamAppend",
    "StreamText",
    "Task",
    "TaskHandle",
    "TaskList",
    "Taskwire",
    "TaskwireError",
    "Ticket",
    "TooLarge",
    "Unauthorized",
    "Unavailable",
    "WebhookEventType",
    "WebhookPayload",
    "WebhookVerificationError",
    "__version__",
    "create_token",
    "sign_webhook",
    "verify_webhook",
    "websocket_url",
]
