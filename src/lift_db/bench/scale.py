"""How much data a benchmark run generates, and how many times it repeats each measurement."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

# The default scale (factor 1): a year of a mid-sized deployment.
BASE_USERS = 1_000
BASE_SESSIONS = 100_000
BASE_HISTORY = 500_000
BASE_EVENTS = 1_000_000
BASE_EMBEDDINGS = 20_000
EMBEDDING_DIMS = 1536

# Below these the distributions stop meaning anything (a 1%-owner needs a hundred owners'
# worth of rows, a page of 20 needs more than 20 sessions per user for the head users).
MIN_USERS = 10
MIN_SESSIONS = 500
MIN_EMBEDDINGS = 300
MIN_EVENTS = 2_000


@dataclass(frozen=True)
class Scale:
    """Row counts of one run; `factor` multiplies the default scale."""

    factor: float
    users: int
    sessions: int
    history: int
    events: int
    embeddings: int
    dims: int = EMBEDDING_DIMS

    @classmethod
    def of(cls, factor: float) -> Scale:
        if not math.isfinite(factor) or factor <= 0:
            raise ValueError(f"scale must be a positive number, not {factor!r}")
        sessions = max(MIN_SESSIONS, round(BASE_SESSIONS * factor))
        return cls(
            factor=factor,
            users=max(MIN_USERS, round(BASE_USERS * factor)),
            sessions=sessions,
            # History keeps the default ratio (5 versions per session on average).
            history=sessions * BASE_HISTORY // BASE_SESSIONS,
            events=max(MIN_EVENTS, round(BASE_EVENTS * factor)),
            embeddings=min(sessions, max(MIN_EMBEDDINGS, round(BASE_EMBEDDINGS * factor))),
        )

    @property
    def max_versions(self) -> int:
        """Versions per session run 1..max_versions uniformly, so their mean is history/sessions."""
        return max(1, 2 * self.history // self.sessions - 1)

    def label(self) -> str:
        return f"{self.factor:g}"

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass(frozen=True)
class Repeats:
    """How many samples each measurement takes. Medians need tens, p95 needs hundreds."""

    hot_path: int = 400
    naive: int = 25
    vector_queries: int = 50
    analytics: int = 30
    store_runs: int = 9
    store_ops_per_worker: int = 120
    contention_runs: int = 7
    contention_updates_per_writer: int = 25
    warmup: int = 20

    @classmethod
    def quick(cls) -> Repeats:
        return cls(
            hot_path=30,
            naive=5,
            vector_queries=8,
            analytics=5,
            store_runs=2,
            store_ops_per_worker=12,
            contention_runs=2,
            contention_updates_per_writer=4,
            warmup=3,
        )

    def as_dict(self) -> dict[str, int]:
        return asdict(self)
