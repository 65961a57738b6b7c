"""create_token and create_ticket, checked by the real server over HTTP and WebSocket."""

from __future__ import annotations

import base64
import json
from typing import Any, Dict

import pytest
from support import Server, WsClient, http_json

from taskwire import Forbidden, Taskwire, Unauthorized, create_token


def claims(token: str) -> Dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


def ws_welcome(server: Server, token: str) -> Dict[str, Any]:
    ws = WsClient(Taskwire(server.url, server.api_key).ws_url)
    try:
        ws.send({"op": "auth", "token": token})
        return ws.recv()
    finally:
        ws.close()


def test_a_token_is_accepted_over_http_and_websocket(server: Server, tw: Taskwire, owner: str) -> None:
    token = create_token(server.jwt_secret, owner)
    c = claims(token)
    assert c["sub"] == owner and c["exp"] - c["iat"] == 3600 and "admin" not in c
    task_id = tw.create_task(owner)["id"]
    status, body = http_json("GET", f"{server.url}/api/v1/tasks", token)
    assert status == 200 and [t["id"] for t in body["tasks"]] == [task_id]
    welcome = ws_welcome(server, token)
    assert (welcome["type"], welcome["user"], welcome["protocol"]) == ("welcome", owner, 1)

    ws = WsClient(f"{tw.ws_url}?token={token}")
    try:
        assert ws.recv()["type"] == "welcome"
        ws.send({"op": "subscribe", "id": 1, "channel": f"task:{task_id}"})
        reply = ws.recv()
        assert reply["result"]["snapshot"]["id"] == task_id
    finally:
        ws.close()


def test_admin_channels_and_publish_claims(server: Server, tw: Taskwire, owner: str) -> None:
    admin = create_token(server.jwt_secret, "ops", admin=True, ttl=60)
    assert claims(admin)["admin"] is True
    tw.create_task(owner)
    status, body = http_json("GET", f"{server.url}/api/v1/tasks?owner={owner}", admin)
    assert status == 200 and len(body["tasks"]) == 1
    bob = create_token(server.jwt_secret, "bob")
    status, _ = http_json("GET", f"{server.url}/api/v1/tasks?owner={owner}", bob)
    assert status == 403

    # (Statuses are read before the asserts, so a failing assert cannot print a token.)
    room = f"room:{owner}"
    history, publish = f"{server.url}/api/v1/channels/{room}/history", f"{server.url}/api/v1/channels/{room}/publish"
    reader = create_token(server.jwt_secret, "bob", channels=[f"room:{owner[:4]}*"])
    writer = create_token(server.jwt_secret, "bob", publish=[room])
    plain = create_token(server.jwt_secret, "bob")
    statuses = [
        http_json("GET", history, reader)[0],
        http_json("GET", history, plain)[0],
        http_json("POST", publish, writer, {"data": 1})[0],
        http_json("POST", publish, reader, {"data": 1})[0],
    ]
    assert statuses == [200, 403, 200, 403]


def test_a_token_signed_with_another_secret_is_refused(server: Server) -> None:
    forged = create_token("x" * 40, "alice")
    status, body = http_json("GET", f"{server.url}/api/v1/tasks", forged)
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    ws = WsClient(Taskwire(server.url, server.api_key).ws_url)
    try:
        ws.send({"op": "auth", "token": forged})
        frame = ws.recv()
        assert (frame["type"], frame["code"]) == ("error", "unauthorized")
        with pytest.raises(ConnectionError):
            ws.recv()
        assert ws.close_code == 4501
    finally:
        ws.close()


def test_token_options_and_bad_input() -> None:
    secret = "s" * 32
    assert "exp" not in claims(create_token(secret, "alice", ttl=None))
    assert claims(create_token(secret.encode(), "alice", ttl=5))["exp"] - claims(create_token(secret, "a"))["iat"] <= 5
    c = claims(create_token(secret, "alice", channels=["task:*", "room:lobby"], publish=("room:lobby",)))
    assert (c["channels"], c["publish"]) == (["task:*", "room:lobby"], ["room:lobby"])
    header = json.loads(base64.urlsafe_b64decode(create_token(secret, "a").split(".")[0] + "=="))
    assert header == {"alg": "HS256", "typ": "JWT"}
    with pytest.raises(ValueError, match="at least 32 bytes"):
        create_token("short", "alice")
    with pytest.raises(ValueError, match="sub"):
        create_token(secret, "")
    with pytest.raises(ValueError, match="channels"):
        create_token(secret, "alice", channels=["room:*x"])
    with pytest.raises(ValueError, match="publish"):
        create_token(secret, "alice", publish=["lobby"])
    with pytest.raises(TypeError):
        create_token(secret, "alice", channels="room:lobby")
    with pytest.raises(ValueError, match="ttl"):
        create_token(secret, "alice", ttl=0)


def test_create_ticket_for_the_browser(server: Server, tw: Taskwire, owner: str) -> None:
    token = create_token(server.jwt_secret, owner, ttl=300)
    ticket = tw.create_ticket(token)
    assert set(ticket) == {"ticket", "expiresAt"} and ticket["expiresAt"].endswith("Z")
    ws = WsClient(f"{tw.ws_url}?ticket={ticket['ticket']}")
    try:
        welcome = ws.recv()
        assert (welcome["type"], welcome["user"]) == ("welcome", owner)
    finally:
        ws.close()
    again = WsClient(f"{tw.ws_url}?ticket={ticket['ticket']}")  # single use
    try:
        assert again.recv()["code"] == "unauthorized"
    finally:
        again.close()
    with pytest.raises(Forbidden):
        tw.create_ticket(server.api_key)  # tickets are for client tokens
    with pytest.raises(Unauthorized):
        tw.create_ticket(create_token("y" * 32, owner))
