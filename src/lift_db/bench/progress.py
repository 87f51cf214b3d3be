"""Progress lines on stderr, so that stdout carries only the results table."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, out: TextIO | None = None, quiet: bool = False) -> None:
        self._out = out if out is not None else sys.stderr
        self._quiet = quiet
        self._start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self._start

    def say(self, message: str) -> None:
        if not self._quiet:
            print(f"[{self.elapsed():7.1f}s] {message}", file=self._out, flush=True)

    def step(self, what: str, done: int, total: int) -> None:
        pct = 100 * done / total if total else 100.0
        self.say(f"{what}: {done:,}/{total:,} ({pct:.0f}%)")
