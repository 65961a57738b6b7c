"""A taskwire webhook receiver: standard library only, its own Standard Webhooks check.

    TASKWIRE_WEBHOOK_SECRET=whsec_… python3 receiver.py   # PORT (8000; 0: any free), WEBHOOK_LOG

Verifies every request (HMAC-SHA256 of "id.timestamp.body" with the secret's key,
any of the space-separated v1 signatures, timestamp within 5 minutes), answers 204,
and appends each event once (webhook-id deduplicates retries) as a JSON line to
WEBHOOK_LOG, or prints it. A request that fails the check gets 400 and is dropped.
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = os.environ["TASKWIRE_WEBHOOK_SECRET"]
KEY = base64.b64decode(SECRET.removeprefix("whsec_"), validate=True)
TOLERANCE = 5 * 60
LOG = os.environ.get("WEBHOOK_LOG")
seen, lock = set(), threading.Lock()  # webhook-ids already recorded (keep them in your database)


def verified(headers, body: bytes) -> bool:
    msg_id, ts, sigs = (headers.get(f"webhook-{h}") for h in ("id", "timestamp", "signature"))
    if not (msg_id and ts and sigs and ts.isdigit()) or abs(time.time() - int(ts)) > TOLERANCE:
        return False
    mac = hmac.new(KEY, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(mac).decode()
    return any(hmac.compare_digest(sig.encode(), expected.encode()) for sig in sigs.split(" "))


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not verified(self.headers, body):  # http.server's headers: case-insensitive
            self.send_response(400)
            self.end_headers()
            return
        event = json.loads(body)
        record = {"id": self.headers["webhook-id"], "type": event["type"], "timestamp": event["timestamp"]}
        record["task"] = event["data"]["task"]
        with lock:
            first = record["id"] not in seen
            seen.add(record["id"])
            if first and LOG:
                with open(LOG, "a", encoding="utf-8") as f:
                    f.write(json.dumps(record) + "\n")
            elif first:
                print(json.dumps(record), flush=True)
        task, again = record["task"], "" if first else " (a retry: already recorded)"
        print(f"{record['type']} {task['id']} ({task['status']}){again}", file=sys.stderr, flush=True)
        self.send_response(204)  # any 2xx: delivered
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per event above is enough


if __name__ == "__main__":
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8000"))
    server = ThreadingHTTPServer((host, port), Handler)
    print(f"webhook receiver listening on http://{host}:{server.server_address[1]}/", file=sys.stderr, flush=True)
    server.serve_forever()
