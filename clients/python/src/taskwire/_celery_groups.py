"""Celery groups and chords as taskwire batches: the parts of ``taskwire.celery`` that know canvas.

A group's tasks carry its id in their message headers (``group``); a chord's header is
a group whose tasks also carry the chord's body (``chord`` in the message's embed).
What the headers do not carry is the group's size, which a batch needs so that it does
not end after its first children: Celery publishes a group's tasks one by one from a
generator and never sends the count. So ``install`` wraps ``group.apply_async`` once per
process (the wrapper only counts the group's tasks and calls the original): while it
runs, the publishes of that thread know the size, and the bridge writes it into each
task's message headers (``taskwire_group_size``) so that a worker that has to create the
batch (the publisher could not reach taskwire) creates the same one.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Optional

from .errors import Conflict, NotFound

#: The message header carrying the group's size to the workers.
SIZE_HEADER = "taskwire_group_size"
#: Batches are at most this many children (docs/protocol.md §8).
MAX_CHILDREN = 10_000

_local = threading.local()
_patch_lock = threading.Lock()
_patched = False


def _stack() -> List[Optional[int]]:
    stack: Optional[List[Optional[int]]] = getattr(_local, "sizes", None)
    if stack is None:
        stack = _local.sizes = []
    return stack


def group_size(tasks: Any) -> Optional[int]:
    """The tasks a group publishes with its id: its members, nested groups unrolled; None when not countable.

    A chain counts 1 (its last task carries the group). A chord inside a group makes
    it uncountable (its body does not carry the group id): no batch for that group.
    """
    if not isinstance(tasks, (list, tuple)) and not hasattr(tasks, "__len__"):
        return None
    total = 0
    for task in tasks:
        kind = task.get("subtask_type") if isinstance(task, dict) else None
        if kind == "group":
            inner = group_size((task.get("kwargs") or {}).get("tasks") or ())
            if inner is None:
                return None
            total += inner
        elif kind == "chord":
            return None
        else:
            total += 1
    return total if 0 < total <= MAX_CHILDREN else None


def current_size() -> Optional[int]:
    """The size of the group this thread is publishing (inside ``group.apply_async``), or None."""
    stack = _stack()
    return stack[-1] if stack else None


def patch_group() -> None:
    """Wrap ``celery.canvas.group.apply_async`` (once per process) so publishes know the group's size."""
    global _patched
    with _patch_lock:
        if _patched:
            return
        from celery.canvas import group

        original = group.apply_async

        def apply_async(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                size = group_size(self.tasks)
            except Exception:  # never break a publish for a count
                size = None
            stack = _stack()
            stack.append(size)
            try:
                return original(self, *args, **kwargs)
            finally:
                stack.pop()

        apply_async.__wrapped__ = original  # type: ignore[attr-defined]
        group.apply_async = apply_async
        _patched = True


def chord_body_id(body: Any) -> Optional[str]:
    """The chord body's Celery task id, from a header task's message body ``(args, kwargs, embed)``."""
    embed = body[2] if isinstance(body, (tuple, list)) and len(body) >= 3 else None
    chord = embed.get("chord") if isinstance(embed, dict) else None
    return sig_id(chord)


def sig_id(sig: Any) -> Optional[str]:
    options = sig.get("options") if isinstance(sig, dict) else None
    tid = options.get("task_id") if isinstance(options, dict) else None
    return str(tid) if tid else None


def chord_of_publish(celery_id: str) -> Optional[str]:
    """When ``celery_id`` is the body of the chord whose header task is running here: that chord's group id.

    Celery publishes a chord's body from the worker that ran the header's last task,
    inside that task; its request names the body (``chord``) and the group.
    """
    try:
        from celery import current_task

        request = getattr(current_task, "request", None)
    except Exception:
        return None
    if request is None or sig_id(getattr(request, "chord", None)) != celery_id:
        return None
    group = getattr(request, "group", None)
    return str(group) if group else None


def size_of(headers: Dict[str, Any]) -> Optional[int]:
    size = headers.get(SIZE_HEADER)
    return size if isinstance(size, int) and not isinstance(size, bool) and 0 < size <= MAX_CHILDREN else None


def kind_title(kind: str, size: Optional[int], name: str) -> str:
    """The batch's title: ``group of 10: import_rows`` (the short name of its first task)."""
    short = name.rsplit(".", 1)[-1]
    count = f" of {size}" if size else ""
    return f"{kind}{count}: {short}" if short else f"{kind}{count}"


class GroupBatches:
    """The batch of each group: created once (idempotently, by whichever process sees the group first)."""

    def __init__(self, tw: Any, parent_id_of: Any) -> None:
        self.tw = tw
        #: Group id → the parent's taskwire id.
        self.parent_id_of = parent_id_of
        self._started: Dict[str, None] = {}
        self._made: Dict[str, None] = {}
        self._lock = threading.Lock()

    def _remember(self, seen: Dict[str, None], gid: str) -> bool:
        """Note ``gid`` in ``seen`` (bounded); False when it was there already."""
        with self._lock:
            if gid in seen:
                return False
            seen[gid] = None
            while len(seen) > 10_000:
                del seen[next(iter(seen))]
            return True

    def ensure(self, gid: str, size: Optional[int], owner: str, name: str, chord_body: Optional[str]) -> str:
        """The parent's id, created first when the size is known (else a child joins it if it exists)."""
        pid = self.parent_id_of(gid)
        if size is None or gid in self._made:
            return pid
        kind = "chord" if chord_body else "group"
        meta: Dict[str, Any] = {"celery": {"group": gid, "size": size}}
        if chord_body:
            meta["celery"]["chordBody"] = chord_body
        try:
            self.tw.create_task(
                owner,
                title=kind_title(kind, size, name)[:200],
                id=pid,
                meta=meta,
                stall_timeout_ms=0,  # no worker of its own to fall silent: its tasks stall, not it
                idempotency_key=f"taskwire.celery:{pid}",
                batch={"progress_from": "children", "complete_when": "children", "expected_children": size},
            )
        except Conflict:
            pass  # it exists (its key expired): the same batch
        self._remember(self._made, gid)  # the group's next tasks need no create of it
        return pid

    def start(self, gid: str) -> None:
        """A child started: its batch is running (once per group and process; an ended batch stays so)."""
        if not self._remember(self._started, gid):
            return
        try:
            task = self.tw.get_task(self.parent_id_of(gid))
            if task["status"] in ("queued", "stalled"):
                self.tw.update(task["id"], status="running")
        except (Conflict, NotFound):
            pass
