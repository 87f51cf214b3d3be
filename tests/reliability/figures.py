"""Figures the reliability tests report: counted as they run, printed at the end of the run.

docs/reliability.md quotes them; the run also writes them to `.lift-db/reliability-figures.json`
so that the last run's numbers can be read back.
"""

from __future__ import annotations

import threading
from collections import Counter

_lock = threading.Lock()
_counts: Counter[str] = Counter()


def add(name: str, amount: int = 1) -> None:
    with _lock:
        _counts[name] += amount


def snapshot() -> dict[str, int]:
    with _lock:
        return dict(sorted(_counts.items()))
