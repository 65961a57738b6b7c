#!/usr/bin/env python3
"""A taskwire worker in plain Python (standard library only).

Creates a task for an owner, reports progress through a few stages with
messages and log lines, then completes it with a result. Prints the task id.

Configuration (environment):
  TASKWIRE_URL        server URL (default http://127.0.0.1:8080)
  TASKWIRE_API_KEY    the server's API key (required)
  TASKWIRE_OWNER      the user the task belongs to (default alice; or the first argument)
  WORKER_STEP_SECONDS pause between steps, to watch it live (default 0.5)

Usage: python3 worker.py [owner]
Exit status: 0 on success, 1 on an HTTP or network error (printed as "error <code>: <message>").
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

BASE = os.environ.get("TASKWIRE_URL", "http://127.0.0.1:8080").rstrip("/") + "/api/v1"
API_KEY = os.environ.get("TASKWIRE_API_KEY", "")
STEP_SECONDS = float(os.environ.get("WORKER_STEP_SECONDS", "0.5"))


class TaskwireError(Exception):
    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def call(method, path, body=None):
    """One JSON request to the taskwire HTTP API; raises TaskwireError with the server's code."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + API_KEY)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return json.loads(res.read() or b"null")
    except urllib.error.HTTPError as err:
        try:
            error = json.loads(err.read())["error"]
            raise TaskwireError(error["code"], error["message"]) from None
        except (ValueError, KeyError, TypeError):
            raise TaskwireError("http_" + str(err.code), err.reason) from None
    except urllib.error.URLError as err:
        raise TaskwireError("unavailable", f"cannot reach {BASE}: {err.reason}") from None


def report(task_id, **fields):
    return call("PATCH", f"/tasks/{task_id}", fields)


def log(task_id, *lines):
    return call("POST", f"/tasks/{task_id}/logs", {"lines": list(lines)})


def run(owner):
    task = call("POST", "/tasks", {"owner": owner, "title": "Generate report"})
    task_id = task["id"]
    print(task_id, flush=True)

    stages = [("download", "Fetching 3 files"), ("process", "Crunching numbers"), ("upload", "Saving the report")]
    for i, (stage, message) in enumerate(stages):
        report(task_id, stage=stage, message=message, progress=round(i * 100 / len(stages), 1))
        if stage == "process":
            log(task_id, "read 3 files", "computed 42 rows")
        time.sleep(STEP_SECONDS)

    report(task_id, status="succeeded", message="Done", result={"rows": 42, "url": "https://example.com/report.csv"})
    return task_id


def main():
    if not API_KEY:
        print("error: set TASKWIRE_API_KEY (printed by `taskwire serve --dev`)", file=sys.stderr)
        return 2
    owner = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("TASKWIRE_OWNER", "alice")
    try:
        run(owner)
    except TaskwireError as err:
        print(f"error {err.code}: {err.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
