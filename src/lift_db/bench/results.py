"""What a run produces: figures (subject against baseline), skipped sections, and the run's
context. Everything here serialises to the JSON under bench/results/."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from lift_db.bench.measure import Summary, ratio

SECTIONS: dict[str, str] = {
    "rls": "1. RLS overhead on hot paths",
    "naive": "2. Naive policy against ours",
    "vector": "3. Vector search",
    "analytics": "4. Analytics: partitioned against unpartitioned",
    "store": "5. Python store against raw psycopg",
    "contention": "6. Contention: 8 writers on one session",
    "replica": "7. Read replica against the primary alone",
}


@dataclass(frozen=True)
class Goal:
    """A target, reported and never asserted: on the ratio, the subject's median, or the
    figure's own metric (mean recall, rows returned)."""

    text: str
    on: Literal["ratio", "subject", "metric"]
    op: Literal["<=", ">="]
    value: float

    def met(self, figure: Figure) -> bool | None:
        measured = {
            "ratio": figure.ratio,
            "subject": figure.subject.median,
            "metric": figure.metric,
        }[self.on]
        if measured is None:
            return None
        return measured <= self.value if self.op == "<=" else measured >= self.value


@dataclass
class Figure:
    section: str
    name: str
    unit: str
    subject_label: str
    subject: Summary
    baseline_label: str | None = None
    baseline: Summary | None = None
    higher_is_better: bool = False
    goal: Goal | None = None
    # A second quantity the figure is about (mean recall@10, rows returned), shown in `note`.
    metric: float | None = None
    note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from lift_db.bench.targets import TARGETS

        listed = TARGETS.get(self.key) or TARGETS.get(self.short_key)
        if listed is not None:
            self.goal = listed

    @property
    def short_key(self) -> str:
        return f"{self.section}/{self.name}"

    @property
    def key(self) -> str:
        """What names the figure across runs: in bench/targets.py and against the baseline."""
        return f"{self.section}/{self.name}/{self.subject_label}"

    @property
    def ratio(self) -> float | None:
        if self.baseline is None:
            return None
        return ratio(self.subject.median, self.baseline.median)

    @property
    def met(self) -> bool | None:
        return self.goal.met(self) if self.goal is not None else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "section": self.section,
            "name": self.name,
            "unit": self.unit,
            "subject_label": self.subject_label,
            "subject": self.subject.as_dict(),
            "baseline_label": self.baseline_label,
            "baseline": self.baseline.as_dict() if self.baseline else None,
            "ratio": self.ratio,
            "higher_is_better": self.higher_is_better,
            "target": self.goal.text if self.goal else None,
            "met": self.met,
            "metric": self.metric,
            "note": self.note,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Skipped:
    section: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"section": self.section, "reason": self.reason}


@dataclass
class RunResult:
    scale: dict[str, Any]
    repeats: dict[str, int]
    machine: dict[str, Any]
    started_at: str
    data: dict[str, Any] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "repeats": self.repeats,
            "machine": self.machine,
            "started_at": self.started_at,
            "data": self.data,
            "timings_s": self.timings_s,
            "figures": [f.as_dict() for f in self.figures],
            "skipped": [s.as_dict() for s in self.skipped],
        }
