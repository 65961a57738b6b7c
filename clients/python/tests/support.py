"""Test support: a real taskwire server, a fault-injecting HTTP proxy, a tiny WebSocket client.

Standard library only. Also used by examples/fastapi/tests.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import http.server
import json
import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CLI = os.path.join(REPO, "packages", "cli", "dist", "bin.js")
SDK_SRC = os.path.join(REPO, "clients", "python", "src")


def node_binary() -> str:
    """The Node.js that runs the server: $TASKWIRE_NODE (set by the vitest wrapper), else `node` on PATH."""
    node = os.environ.get("TASKWIRE_NODE") or shutil.which("node")
    if not node:
        raise RuntimeError("node is not on PATH (and TASKWIRE_NODE is not set): the tests start a real taskwire server")
    return node


@dataclass
class Server:
    """A `taskwire serve --engine memory` child process on a free port."""

    url: str
    api_key: str
    jwt_secret: str
    proc: subprocess.Popen  # type: ignore[type-arg]
    log_path: str

    @property
    def port(self) -> int:
        return int(urllib.parse.urlsplit(self.url).port or 0)

    def output(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        try:
            os.unlink(self.log_path)
        except OSError:
            pass


def start_server(extra_args: Optional[List[str]] = None, timeout: float = 20.0) -> Server:
    """Start the built CLI's server with generated secrets; the port is read from its banner (`--port 0`)."""
    if not os.path.exists(CLI):
        raise RuntimeError(f"{CLI} is missing: build the repository first (npm ci, or npm run build)")
    api_key = "test-key-" + secrets.token_urlsafe(24)
    jwt_secret = secrets.token_urlsafe(40)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKWIRE_")}
    # Secrets go through the environment (the server reads TASKWIRE_*), so they never sit in argv.
    env.update({"TASKWIRE_API_KEY": api_key, "TASKWIRE_JWT_SECRET": jwt_secret})
    fd, log_path = tempfile.mkstemp(prefix="taskwire-test-", suffix=".log")
    args = [node_binary(), CLI, "serve", "--engine", "memory", "--port", "0", "--log-level", "warn"]
    proc = subprocess.Popen(args + (extra_args or []), stdout=fd, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    os.close(fd)
    deadline = time.monotonic() + timeout
    pattern = re.compile(r"taskwire listening on (http://127\.0\.0\.1:\d+)")
    while time.monotonic() < deadline:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            match = pattern.search(f.read())
        if match:
            return Server(match.group(1), api_key, jwt_secret, proc, log_path)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    with open(log_path, encoding="utf-8", errors="replace") as f:
        out = f.read()
    proc.kill()
    raise RuntimeError(f"taskwire did not start (exit {proc.poll()}): {out[-2000:]}")


def http_json(method: str, url: str, token: str, body: Any = None, timeout: float = 10.0) -> Tuple[int, Any]:
    """A raw request (not through the SDK): the status and the parsed JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"Bearer {token}"})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


# A fault-injecting proxy.

#: What the proxy does to one request: pass it on, or break it.
PASS = "pass"
DROP = "drop"  # read the request, close the connection without forwarding or answering
FORWARD_THEN_DROP = "forward_then_drop"  # the server handles it; the answer is lost on the way back
ERROR_500 = "500"  # answer 500 internal without forwarding
ERROR_503_RETRY_AFTER = "503_retry_after"  # answer 503 with Retry-After: 1 without forwarding


@dataclass
class Seen:
    method: str
    path: str
    headers: Dict[str, str]
    action: str
    at: float


@dataclass
class Proxy:
    """An HTTP proxy in a thread in front of the real server; the first requests matching `when` get `faults`."""

    upstream: str
    faults: List[str] = field(default_factory=list)
    when: Callable[[str, str], bool] = lambda method, path: True
    seen: List[Seen] = field(default_factory=list)
    server: Optional[http.server.ThreadingHTTPServer] = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def requests(self, method: Optional[str] = None, prefix: str = "") -> List[Seen]:
        return [s for s in self.seen if (method is None or s.method == method) and s.path.startswith(prefix)]

    def start(self) -> Proxy:
        proxy = self
        lock = threading.Lock()
        up = urllib.parse.urlsplit(self.upstream)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with lock:
                    action = PASS
                    if proxy.when(self.command, self.path) and proxy.faults:
                        action = proxy.faults.pop(0)
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
                    proxy.seen.append(Seen(self.command, self.path, headers, action, time.monotonic()))
                self.close_connection = True
                if action == DROP:
                    return
                if action in (ERROR_500, ERROR_503_RETRY_AFTER):
                    status = 500 if action == ERROR_500 else 503
                    code = "internal" if status == 500 else "unavailable"
                    payload = json.dumps({"error": {"code": code, "message": "injected by the test proxy"}}).encode()
                    self.send_response(status)
                    if status == 503:
                        self.send_header("Retry-After", "1")
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection(up.hostname or "127.0.0.1", up.port, timeout=90)
                fwd = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body, headers=fwd)
                res = conn.getresponse()
                data = res.read()
                conn.close()
                if action == FORWARD_THEN_DROP:
                    return
                self.send_response(res.status)
                for k, v in res.getheaders():
                    if k.lower() not in ("connection", "transfer-encoding", "content-length", "keep-alive"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


# A minimal WebSocket client (RFC 6455): text frames, masked, ping answered.


class WsClient:
    """Connects, completes the handshake, sends and receives JSON text frames."""

    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "ws":
            raise ValueError(f"only ws:// URLs, not {parts.scheme}://")
        self.sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        request = (
            f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        if " 101 " not in lines[0] + " ":
            raise ConnectionError(f"handshake refused: {lines[0]}")
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
        expected = base64.b64encode(hashlib.sha1((key + self.GUID).encode()).digest()).decode()
        if headers.get("sec-websocket-accept") != expected:
            raise ConnectionError("bad Sec-WebSocket-Accept")
        self.frames: List[Dict[str, Any]] = []
        self.close_code: Optional[int] = None

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        n = len(payload)
        header = bytes([0x80 | opcode])
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send(self, obj: Any) -> None:
        self._send(0x1, json.dumps(obj).encode())

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _frame(self) -> Tuple[int, bytes]:
        b1, b2 = self._read(2)
        opcode, n = b1 & 0x0F, b2 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self._read(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self._read(8))
        mask = self._read(4) if b2 & 0x80 else None
        payload = self._read(n)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return opcode, payload

    def recv(self, timeout: float = 10.0) -> Dict[str, Any]:
        """The next JSON frame (pings answered on the way); raises on close or timeout."""
        self.sock.settimeout(timeout)
        while True:
            opcode, payload = self._frame()
            if opcode == 0x9:
                self._send(0xA, payload)
            elif opcode == 0x8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                raise ConnectionError(f"closed by the server with {self.close_code}")
            elif opcode == 0x1:
                frame = json.loads(payload)
                self.frames.append(frame)
                return frame  # type: ignore[no-any-return]

    def wait_for(self, pred: Callable[[Dict[str, Any]], bool], timeout: float = 10.0) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no matching frame in time")
            frame = self.recv(left)
            if pred(frame):
                return frame

    def close(self) -> None:
        try:
            self._send(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()
