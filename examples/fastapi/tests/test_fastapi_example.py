"""The FastAPI example against a real taskwire: log in, start a job, watch it to the end over WebSocket."""

from __future__ import annotations

import http.client
import json
import urllib.parse
import uuid
from typing import Any, Dict, List, Optional, Tuple

from example_app import App
from support import Server, WsClient

from taskwire import Taskwire


def request(app: App, method: str, path: str, cookie: Optional[str] = None) -> Tuple[int, Dict[str, str], bytes]:
    """One request to the app, redirects not followed."""
    parts = urllib.parse.urlsplit(app.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.request(method, path, headers={"Cookie": cookie} if cookie else {})
        res = conn.getresponse()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read()
    finally:
        conn.close()


def test_a_job_runs_to_succeeded_and_the_websocket_sees_its_progress(app: App, server: Server) -> None:
    user = "fa-" + uuid.uuid4().hex[:8]
    status, _, _ = request(app, "POST", "/jobs")
    assert status == 401  # not logged in
    status, headers, _ = request(app, "GET", f"/login?user={user}")
    assert status == 303 and headers["location"] == "/"
    cookie = headers["set-cookie"].split(";")[0]
    assert cookie == f"user={user}"
    status, _, _ = request(app, "GET", "/login?user=not%20valid")
    assert status == 400

    status, _, body = request(app, "POST", "/jobs", cookie)
    assert status == 200, body
    task_id = json.loads(body)["id"]

    status, _, body = request(app, "GET", "/ticket", cookie)
    assert status == 200, body
    creds = json.loads(body)
    assert set(creds) == {"ticket", "expiresAt", "wsUrl"}
    assert creds["wsUrl"] == f"ws://127.0.0.1:{server.port}/api/v1/ws"  # one prefix, not two

    ws = WsClient(f"{creds['wsUrl']}?ticket={urllib.parse.quote(creds['ticket'])}")
    try:
        welcome = ws.recv()
        assert (welcome["type"], welcome["user"]) == ("welcome", user)
        ws.send({"op": "subscribe", "id": 1, "channel": f"task:{task_id}"})
        reply = ws.wait_for(lambda f: f.get("type") == "reply" and f.get("id") == 1)
        snapshot = reply["result"]["snapshot"]
        assert snapshot["owner"] == user and snapshot["title"] == "Crunch numbers"
        live: List[Dict[str, Any]] = []
        while not live or live[-1]["status"] not in ("succeeded", "failed", "cancelled"):
            frame = ws.wait_for(lambda f: f.get("type") == "event", timeout=15)
            if frame["data"].get("task"):
                live.append({**frame["data"]["task"], "_time": frame["time"]})
    finally:
        ws.close()

    assert live[-1]["status"] == "succeeded", live[-1]
    assert live[-1]["result"] == {"sum": sum(range(30))}
    middle = [t["progress"] for t in live if t["progress"] is not None and 0 < t["progress"] < 100]
    assert middle, [t["progress"] for t in live]  # progress seen live, between the ends
    versions = [t["version"] for t in live]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    # track() paced it: ≤ 2 updates a second (30 steps unpaced would be 30 updates), plus the
    # start, the 100 % and the final status.
    seconds = (live[-1]["_time"] - live[0]["_time"]) / 1000
    assert len(live) <= seconds / 0.5 + 4 and len(live) < 30, (len(live), seconds)
    assert Taskwire(server.url, server.api_key).get_task(task_id)["status"] == "succeeded"


def test_the_page_uses_the_browsers_websocket_with_a_ticket(app: App) -> None:
    status, headers, body = request(app, "GET", "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    page = body.decode()
    assert "new WebSocket(`${wsUrl}?ticket=" in page and "fetch('/ticket')" in page
    status, _, _ = request(app, "GET", "/ticket")
    assert status == 401
