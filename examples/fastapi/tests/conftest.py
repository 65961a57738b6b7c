"""Fixtures: a real taskwire server, and the example app under uvicorn on a socket bound here."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Iterator

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "clients", "python", "tests"))  # support.py: server, WebSocket client
sys.path.insert(0, os.path.join(REPO, "clients", "python", "src"))
sys.path.insert(0, HERE)

from example_app import App  # noqa: E402
from support import Server, start_server  # noqa: E402


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = start_server()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def app(server: Server) -> Iterator[App]:
    # Bind here and hand uvicorn the socket (--fd): a free port with no race.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKWIRE_")}
    env.update(
        TASKWIRE_URL=server.url,
        TASKWIRE_API_KEY=server.api_key,
        TASKWIRE_JWT_SECRET=server.jwt_secret,
        JOB_STEPS="30",
        JOB_STEP_SECONDS="0.06",
    )
    fd, log_path = tempfile.mkstemp(prefix="fastapi-example-", suffix=".log")
    app_dir = os.path.join(REPO, "examples", "fastapi")
    cmd = [sys.executable, "-m", "uvicorn", "--app-dir", app_dir, "--fd", str(sock.fileno()), "app:app"]
    proc = subprocess.Popen(cmd, stdout=fd, stderr=subprocess.STDOUT, env=env, pass_fds=[sock.fileno()], cwd=REPO)
    os.close(fd)
    sock.close()  # uvicorn holds its own copy
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(url + "/", timeout=2) as res:
                if res.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            with open(log_path, encoding="utf-8", errors="replace") as f:
                raise RuntimeError(f"the FastAPI example did not start: {f.read()[-2000:]}")
        time.sleep(0.1)
    try:
        yield App(url, log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        os.unlink(log_path)
