"""FastAPI + taskwire: start a job for the logged-in user and watch it live in the browser.

From the repository root, with a taskwire server running (the dev banner prints the secrets):

  TASKWIRE_URL=http://127.0.0.1:8080 TASKWIRE_API_KEY=… TASKWIRE_JWT_SECRET=… \\
    /usr/bin/python3 -m uvicorn --app-dir examples/fastapi app:app --port 8000

then open http://127.0.0.1:8000/login?user=alice. Settings (environment):
  TASKWIRE_URL         taskwire's base URL as this app reaches it
  TASKWIRE_PUBLIC_URL  taskwire's base URL as the browser reaches it (default TASKWIRE_URL);
                       the only setting the browser's WebSocket URL is built from
  TASKWIRE_API_KEY, TASKWIRE_JWT_SECRET  the server's secrets
  JOB_STEPS, JOB_STEP_SECONDS            the size of the fake job (50 steps of 0.1 s)
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from typing import Dict, Optional

from fastapi import BackgroundTasks, Cookie, Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse, RedirectResponse

HERE = Path(__file__).resolve().parent
# The SDK from this repository; after `pip install ./clients/python` this line can go.
sys.path.insert(0, str(HERE.parents[1] / "clients" / "python" / "src"))

from taskwire import TaskHandle, Taskwire, create_token, websocket_url  # noqa: E402

TASKWIRE_URL = os.environ.get("TASKWIRE_URL", "http://127.0.0.1:8080")
WS_URL = websocket_url(os.environ.get("TASKWIRE_PUBLIC_URL") or TASKWIRE_URL)
JWT_SECRET = os.environ["TASKWIRE_JWT_SECRET"]
JOB_STEPS = int(os.environ.get("JOB_STEPS", "50"))
JOB_STEP_SECONDS = float(os.environ.get("JOB_STEP_SECONDS", "0.1"))

tw = Taskwire(TASKWIRE_URL, os.environ["TASKWIRE_API_KEY"])
app = FastAPI(title="taskwire FastAPI example")


def current_user(user: Optional[str] = Cookie(None)) -> str:
    """A fake login: the `user` cookie that /login sets. Put your own authentication here."""
    if not user:
        raise HTTPException(401, "not logged in: open /login?user=alice")
    return user


@app.get("/login")
def login(user: str) -> RedirectResponse:
    if not re.fullmatch(r"[A-Za-z0-9_.\-@]{1,128}", user):
        raise HTTPException(400, "user: 1-128 characters of A-Z a-z 0-9 _ . - @")
    response = RedirectResponse("/", status_code=303)
    response.set_cookie("user", user, httponly=True, samesite="lax")
    return response


def run_job(t: TaskHandle) -> None:
    """The background job: a loop, reported live. An exception fails the task and is logged."""
    with t:
        total = 0
        for i in t.track(range(JOB_STEPS)):
            time.sleep(JOB_STEP_SECONDS)  # the real work goes here
            total += i
        t.result = {"sum": total}


@app.post("/jobs")
def start_job(background: BackgroundTasks, user: str = Depends(current_user)) -> Dict[str, str]:
    """Create the task now (so its id can be answered), run the job after the response."""
    t = tw.task(owner=user, title="Crunch numbers").start()
    background.add_task(run_job, t)
    return {"id": t.id}


@app.get("/ticket")
def ticket(user: str = Depends(current_user)) -> Dict[str, str]:
    """The browser's credentials: a single-use ticket (30 s) for the user, and where to use it."""
    token = create_token(JWT_SECRET, user, ttl=600)  # stays on the server; only the ticket leaves
    return {**tw.create_ticket(token), "wsUrl": WS_URL}


@app.get("/")
def index() -> FileResponse:
    return FileResponse(HERE / "static" / "index.html")
