"""The Celery app of the bridge's tests: the test process publishes with it, the workers run it.

Configured from the environment the test sets (a redis-server and a taskwire server it
started). Importing it installs the bridge, as an application would where it makes its app.
"""

from __future__ import annotations

import os
import time
from typing import Any, Dict, Optional

from celery import Celery

import taskwire.celery
from taskwire import Taskwire

app = Celery("twtest", broker=os.environ["TWTEST_BROKER"], backend=os.environ["TWTEST_BACKEND"])
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_extended=True,  # AsyncResult.worker: which worker ran it
    result_expires=600,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)

tw = Taskwire(os.environ["TWTEST_TASKWIRE_URL"], os.environ["TWTEST_API_KEY"], retry_min_delay=0.05, retry_max_delay=0.5)


def owner_of(task: taskwire.celery.TaskInfo) -> Optional[str]:
    return task.kwargs.get("user") or task.headers.get("owner")


def title_of(task: taskwire.celery.TaskInfo) -> str:
    return " ".join([task.name.rsplit(".", 1)[-1], *(str(a) for a in task.args[:1])])


bridge = taskwire.celery.install(app, tw, owner=owner_of, title=title_of)


@app.task(bind=True, max_retries=5)
def work(self: Any, n: int, steps: int, fail: bool = False, flaky: int = 0, user: Optional[str] = None) -> Dict[str, int]:
    """``steps`` progress reports per try; the first ``flaky`` tries retry; then fails when ``fail``."""
    attempt = self.request.retries
    for i in range(1, steps + 1):
        meta = {"pct": 100.0 * i / steps, "stage": f"try {attempt}", "message": f"try {attempt} step {i}"}
        self.update_state(state="PROGRESS", meta=meta)
    try:
        if attempt < flaky:
            raise RuntimeError(f"flaky {n} on try {attempt}")
    except RuntimeError as exc:
        raise self.retry(exc=exc, countdown=0.05)
    if fail:
        raise ValueError(f"task {n} failed on purpose")
    return {"n": n, "tries": attempt + 1}


@app.task(bind=True)
def sleepy(self: Any, seconds: float, user: Optional[str] = None) -> str:
    """Reports progress ten times a second for ``seconds`` (something to revoke while it runs)."""
    steps = max(1, int(seconds * 10))
    for i in range(1, steps + 1):
        time.sleep(0.1)
        self.update_state(state="PROGRESS", meta={"current": i, "total": steps})
    return "slept"


@app.task
def big(user: Optional[str] = None) -> str:
    """A result over the server's 64 KiB limit for `result`."""
    return "x" * 70_000


@app.task
def total(results: Any, user: Optional[str] = None) -> int:
    """A chord's body: the sum of its header's ``n``."""
    return sum(r["n"] for r in results)
