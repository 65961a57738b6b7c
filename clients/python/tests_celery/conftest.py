"""Fixtures for the Celery bridge: a redis-server, a taskwire server and two Celery workers, all real.

The session starts them once (about 5 s) on free ports of 127.0.0.1, never the machine's
Redis on 6379, and stops them at the end. The workers are two `celery worker` processes
(prefork, one child each) running `twcelery_app`, which installs the bridge.
"""

from __future__ import annotations

import gc
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from typing import Any, Iterator, List

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "src")
sys.path.insert(0, os.path.join(HERE, "..", "tests"))  # support.py: the taskwire server
sys.path.insert(0, SRC)
sys.path.insert(0, HERE)

from support import Server, start_server  # noqa: E402

WORKERS = ("w1", "w2")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    return port if port != 6379 else free_port()


@dataclass
class Redis:
    port: int
    proc: "subprocess.Popen[bytes]"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"


def start_redis(timeout: float = 10.0) -> Redis:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is required for the Celery bridge tests (apt-get install redis-server)")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return Redis(port, proc)
        except OSError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"redis-server on {port} did not answer PING")


@dataclass
class Workers:
    procs: List["subprocess.Popen[bytes]"]
    logs: List[str]

    def output(self) -> str:
        parts = []
        for path in self.logs:
            with open(path, encoding="utf-8", errors="replace") as f:
                parts.append(f"--- {os.path.basename(path)}\n{f.read()[-4000:]}")
        return "\n".join(parts)


@dataclass
class Env:
    """The running parts: the app module (``twcelery_app``), the taskwire server, redis."""

    mod: Any
    server: Server
    redis: Redis


@pytest.fixture(scope="session")
def env() -> Iterator[Env]:
    """Redis and taskwire up, the environment set, the app imported (the bridge installed in this process)."""
    redis = start_redis()
    server = start_server()
    os.environ.update(
        TWTEST_BROKER=f"{redis.url}/0",
        TWTEST_BACKEND=f"{redis.url}/1",
        TWTEST_TASKWIRE_URL=server.url,
        TWTEST_API_KEY=server.api_key,
    )
    import twcelery_app

    # An AsyncResult unsubscribes from redis when it is collected: with redis gone, give up at
    # once instead of retrying for 20 s.
    twcelery_app.app.conf.result_backend_transport_options = {"retry_policy": {"max_retries": 0}}
    try:
        yield Env(twcelery_app, server, redis)
    finally:
        # The backend keeps the results it was asked about: let them go while redis is up.
        for mapping in getattr(twcelery_app.app.backend, "_pending_results", ()):
            mapping.clear()
        gc.collect()
        server.stop()
        redis.proc.kill()
        redis.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def workers(env: Env) -> Iterator[Workers]:
    """Two `celery worker` processes, each answering a ping before the tests start."""
    wenv = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, SRC]), PYTHONDONTWRITEBYTECODE="1")
    procs, logs = [], []
    for name in WORKERS:
        fd, log_path = tempfile.mkstemp(prefix=f"celery-{name}-", suffix=".log")
        args = [sys.executable, "-m", "celery", "-A", "twcelery_app", "worker", "-n", f"{name}@%h"]
        args += ["--pool", "prefork", "--concurrency", "1", "--loglevel", "WARNING"]
        args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        procs.append(subprocess.Popen(args, cwd=HERE, env=wenv, stdout=fd, stderr=subprocess.STDOUT))
        os.close(fd)
        logs.append(log_path)
    running = Workers(procs, logs)
    try:
        deadline = time.monotonic() + 30
        names: set = set()
        while time.monotonic() < deadline and len(names) < len(WORKERS):
            if any(p.poll() is not None for p in procs):
                raise RuntimeError(f"a celery worker exited: {running.output()}")
            for reply in env.mod.app.control.ping(timeout=0.5):
                names.update(k.split("@")[0] for k in reply)
        if len(names) < len(WORKERS):
            raise RuntimeError(f"the workers did not answer a ping in 30 s: {running.output()}")
        yield running
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        for path in logs:
            os.unlink(path)


@pytest.fixture
def owner() -> str:
    return "c-" + uuid.uuid4().hex[:12]
