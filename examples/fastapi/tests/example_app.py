"""The running example app, as the tests see it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class App:
    url: str
    log_path: str

    def output(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()
