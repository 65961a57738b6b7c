"""Fixtures: the example receiver as its own process, and a real taskwire server sending to it."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Iterator, List

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "clients", "python", "tests"))  # support.py: the server
sys.path.insert(0, os.path.join(REPO, "clients", "python", "src"))  # the SDK drives tasks; the receiver never uses it

from support import Server, start_server  # noqa: E402

RECEIVER = os.path.join(REPO, "examples", "webhook-receiver", "receiver.py")


@dataclass
class Receiver:
    url: str
    secret: str
    log_path: str
    err_path: str
    proc: "subprocess.Popen[bytes]"

    def output(self) -> str:
        with open(self.err_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def lines(self) -> List[str]:
        with open(self.log_path, encoding="utf-8") as f:
            return [line for line in f.read().splitlines() if line]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    tmp = tempfile.mkdtemp(prefix="webhook-receiver-")
    log_path, err_path = os.path.join(tmp, "events.jsonl"), os.path.join(tmp, "stderr.log")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKWIRE_")}
    env.update(TASKWIRE_WEBHOOK_SECRET=secret, PORT="0", WEBHOOK_LOG=log_path)
    err = open(err_path, "wb")
    proc = subprocess.Popen([sys.executable, RECEIVER], stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=REPO)
    err.close()
    deadline = time.monotonic() + 15
    url = None
    while url is None:
        with open(err_path, encoding="utf-8", errors="replace") as f:
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+/)", f.read())
        if match:
            url = match.group(1)
        elif proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            with open(err_path, encoding="utf-8", errors="replace") as f:
                raise RuntimeError(f"the receiver did not start: {f.read()[-2000:]}")
        else:
            time.sleep(0.05)
    open(log_path, "a").close()
    try:
        yield Receiver(url, secret, log_path, err_path, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        for path in (log_path, err_path):
            os.unlink(path)
        os.rmdir(tmp)


@pytest.fixture(scope="module")
def server(receiver: Receiver) -> Iterator[Server]:
    args = ["--webhook-url", receiver.url, "--webhook-secret", receiver.secret]
    args += ["--webhook-retry-schedule", "100ms,200ms,300ms", "--stall-sweep-ms", "100"]
    srv = start_server(args)
    try:
        yield srv
    finally:
        srv.stop()
