"""Samples, their median and p95, and the paired timing that puts each figure next to its baseline.

Absolute times on a shared two-core machine are noise; a ratio of two things measured in the same
run, on the same inputs, interleaved sample by sample, is not. `paired` therefore alternates
subject and baseline (AB, BA, AB, …) so that drift (a checkpoint, a neighbour's burst, the cache
warming) lands on both sides alike.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Summary:
    """A sample summarised. For latencies p95 is the slow tail; for rates (higher is better)
    `p95` is the rate reached by 95% of runs, i.e. the 5th percentile: the slow tail too."""

    median: float
    p95: float
    n: int
    mean: float

    @classmethod
    def of(cls, values: Sequence[float], higher_is_better: bool = False) -> Summary:
        tail = percentile(values, 5 if higher_is_better else 95)
        return cls(
            median=percentile(values, 50), p95=tail, n=len(values), mean=sum(values) / len(values)
        )

    def as_dict(self) -> dict[str, float | int]:
        return {"median": self.median, "p95": self.p95, "mean": self.mean, "n": self.n}


def ratio(subject: float, baseline: float) -> float | None:
    if baseline == 0 or not math.isfinite(subject) or not math.isfinite(baseline):
        return None
    return subject / baseline


Timed = Callable[[T], float]  # runs one sample on an input, returns its seconds


def paired(
    subject: Timed[T],
    baseline: Timed[T],
    inputs: Sequence[T],
    warmup: int = 0,
) -> tuple[list[float], list[float]]:
    """Time subject and baseline on every input, alternating which goes first.

    The first `warmup` inputs are run on both sides and not recorded.
    """
    for item in inputs[:warmup]:
        subject(item)
        baseline(item)
    a: list[float] = []
    b: list[float] = []
    for n, item in enumerate(inputs[warmup:]):
        if n % 2 == 0:
            a.append(subject(item))
            b.append(baseline(item))
        else:
            b.append(baseline(item))
            a.append(subject(item))
    return a, b


def clock() -> float:
    return time.perf_counter()


def ms(seconds: Sequence[float]) -> list[float]:
    return [s * 1000 for s in seconds]
