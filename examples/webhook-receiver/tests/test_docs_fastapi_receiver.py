"""The FastAPI receiver of docs/python.md#webhooks, taken from the doc as written, under
uvicorn against a real server: real webhooks answered 204, a forged one 400."""

from __future__ import annotations

import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from conftest import REPO
from support import Server, http_json, start_server

from taskwire import Taskwire

DOC = os.path.join(REPO, "docs", "python.md")


def snippet() -> str:
    with open(DOC, encoding="utf-8") as f:
        blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
    (code,) = [b for b in blocks if "@app.post(" in b and "verify_webhook" in b]
    return code


@pytest.fixture(scope="module")
def docs_app() -> Iterator[Tuple[str, str, str]]:
    """(url, secret, log path) of the doc's app under uvicorn on a socket bound here."""
    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    tmp = tempfile.mkdtemp(prefix="docs-fastapi-hooks-")
    with open(os.path.join(tmp, "hooks_app.py"), "w", encoding="utf-8") as f:
        f.write(snippet())
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/taskwire/webhooks"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKWIRE_")}
    env.update(TASKWIRE_WEBHOOK_SECRET=secret, PYTHONPATH=os.path.join(REPO, "clients", "python", "src"))
    log_path = os.path.join(tmp, "app.log")
    log = open(log_path, "wb")
    cmd = [sys.executable, "-m", "uvicorn", "--app-dir", tmp, "--fd", str(sock.fileno()), "hooks_app:app"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, pass_fds=[sock.fileno()], cwd=tmp)
    log.close()
    sock.close()
    deadline = time.monotonic() + 20
    while True:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            out = f.read()
        if "Application startup complete" in out:
            break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the doc's FastAPI receiver did not start: {out[-2000:]}")
        time.sleep(0.05)
    try:
        yield url, secret, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def docs_server(docs_app: Tuple[str, str, str]) -> Iterator[Server]:
    url, secret, _ = docs_app
    srv = start_server(["--webhook-url", url, "--webhook-secret", secret, "--webhook-retry-schedule", "100ms"])
    try:
        yield srv
    finally:
        srv.stop()


def test_the_docs_fastapi_receiver_verifies_real_webhooks(docs_server: Server, docs_app: Tuple[str, str, str]) -> None:
    server = docs_server
    url, _, log_path = docs_app
    tw = Taskwire(server.url, server.api_key, timeout=10)
    owner, ask, stop = "u-" + uuid.uuid4().hex[:8], "ask-" + uuid.uuid4().hex[:8], "stop-" + uuid.uuid4().hex[:8]
    tw.create_task(owner, id=ask)
    tw.request_approval(ask, "Ship it?")
    tw.decide(ask, "approve")
    tw.create_task(owner, id=stop)
    tw.cancel(stop)

    def delivered() -> List[Dict[str, Any]]:
        code, body = http_json("GET", f"{server.url}/api/v1/webhooks/messages?status=delivered", server.api_key)
        assert code == 200, body
        return body["messages"]  # type: ignore[no-any-return]

    deadline = time.monotonic() + 15
    while len(delivered()) < 3:
        assert time.monotonic() < deadline, delivered()
        time.sleep(0.05)
    assert sorted(m["type"] for m in delivered()) == ["task.approval_decided", "task.approval_requested", "task.cancelled"]
    assert all([a["status"] for a in m["attempts"]] == [204] for m in delivered())
    with open(log_path, encoding="utf-8") as f:
        out = f.read()
    assert f"{ask} approve" in out and f"{stop} cancelled" in out

    # A forged request: 400 with the reason.
    headers = {"webhook-id": "msg_x", "webhook-timestamp": str(int(time.time())), "webhook-signature": "v1,AAAA"}
    req = urllib.request.Request(url, data=b"{}", method="POST", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=10)
    assert info.value.code == 400 and b"no webhook-signature matches" in info.value.read()
