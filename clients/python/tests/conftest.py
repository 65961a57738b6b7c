"""Fixtures: one real taskwire server for the session, a client, a fresh owner per test."""

from __future__ import annotations

import os
import sys
import uuid
from typing import Iterator

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "src"))

from support import Server, start_server  # noqa: E402

from taskwire import Taskwire  # noqa: E402


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    srv = start_server()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def tw(server: Server) -> Taskwire:
    return Taskwire(server.url, server.api_key, timeout=10, retry_min_delay=0.01, retry_max_delay=0.05)


@pytest.fixture
def owner() -> str:
    """A user nobody else in the run uses, so list_tasks(owner=…) sees this test's tasks only."""
    return "u-" + uuid.uuid4().hex[:12]
