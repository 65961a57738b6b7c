"""Client tokens: HS256 JWTs signed with the server's ``--jwt-secret`` (protocol §3).

An app server signs a short-lived token for the logged-in user and hands it (or,
better, a single-use ticket made with it: ``Taskwire.create_ticket``) to the
browser. Standard library only: ``hmac`` + ``hashlib``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import Any, Dict, Iterable, List, Optional, Union

#: The server refuses HS256 secrets shorter than this (``taskwire serve --help``).
MIN_SECRET_BYTES = 32

_ID = r"[A-Za-z0-9_.\-@]"
_CHANNEL = re.compile(rf"(task|user|room):{_ID}{{1,128}}")
_PREFIX = re.compile(rf"(|t|ta|tas|task|u|us|use|user|r|ro|roo|room)|(task|user|room):{_ID}{{0,127}}")


def is_valid_pattern(pattern: object) -> bool:
    """A channel pattern: an exact channel name, or a prefix ending in ``*`` (``task:*``, ``room:team-*``)."""
    if not isinstance(pattern, str) or not 0 < len(pattern) <= 140:
        return False
    if not pattern.endswith("*"):
        return bool(_CHANNEL.fullmatch(pattern))
    prefix = pattern[:-1]
    return "*" not in prefix and bool(_PREFIX.fullmatch(prefix))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _patterns(value: Optional[Iterable[str]], claim: str) -> Optional[List[str]]:
    if value is None:
        return None
    if isinstance(value, str):
        raise TypeError(f"{claim} must be a list of channel patterns, not a string")
    patterns = list(value)
    bad = [p for p in patterns if not is_valid_pattern(p)]
    if bad:
        raise ValueError(f"{claim}: {bad[0]!r} is not a channel name or a prefix ending in '*'")
    return patterns


def create_token(
    secret: Union[str, bytes],
    sub: str,
    *,
    ttl: Optional[float] = 3600,
    admin: bool = False,
    channels: Optional[Iterable[str]] = None,
    publish: Optional[Iterable[str]] = None,
) -> str:
    """Sign an HS256 client token for user ``sub``.

    :param secret: the server's ``--jwt-secret`` (at least 32 bytes).
    :param sub: the user id (1-128 characters); the user may read their own tasks and ``user:<sub>``.
    :param ttl: seconds until it expires (``exp``); ``None`` for a token that never expires.
    :param admin: an admin token reads every channel and task.
    :param channels: extra patterns it may subscribe to (``["room:lobby", "task:*"]``).
    :param publish: patterns it may publish to.
    :returns: the compact JWT. Treat it as a secret: never log it.
    """
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not isinstance(key, bytes):
        raise TypeError("secret must be str or bytes")
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"secret must be at least {MIN_SECRET_BYTES} bytes (the server's --jwt-secret)")
    if not isinstance(sub, str) or not 0 < len(sub) <= 128:
        raise ValueError("sub must be a user id of 1-128 characters")
    if not isinstance(admin, bool):
        raise TypeError("admin must be a bool")
    now = int(time.time())
    claims: Dict[str, Any] = {"sub": sub, "iat": now}
    if ttl is not None:
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
            raise ValueError("ttl must be a positive number of seconds, or None")
        claims["exp"] = now + int(ttl)
    if admin:
        claims["admin"] = True
    for name, value in (("channels", channels), ("publish", publish)):
        patterns = _patterns(value, name)
        if patterns is not None:
            claims[name] = patterns
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = _b64url(hmac.new(key, signing_input, hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}"
