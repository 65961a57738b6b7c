"""What ``taskwire.celery`` knows of a Celery task, and the pure mappings it applies (no Celery import)."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple, Union

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
