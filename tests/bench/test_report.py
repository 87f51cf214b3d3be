"""The Markdown a run prints: every section present, misses and skips named."""

from __future__ import annotations

from lift_db.bench.measure import Summary
from lift_db.bench.report import markdown, sweep_markdown
from lift_db.bench.results import SECTIONS, Figure, Goal, RunResult, Skipped


def _result(factor: float, subject: float) -> RunResult:
    result = RunResult(
        scale={"factor": factor, "sessions": 100},
        repeats={},
        machine={"cpu": "test cpu", "cores": 2},
        started_at="2026-01-01T00:00:00+00:00",
        data={"users": 10, "sessions": 100},
        timings_s={"total": 1.0, "generate": 0.5},
    )
    result.figures.append(
        Figure(
            section="rls",
            name="get a session",
            unit="ms",
            subject_label="authenticated, through RLS",
            subject=Summary.of([subject]),
            baseline_label="service_role, explicit user filter",
            baseline=Summary.of([1.0]),
            goal=Goal("ratio ≤ 1.10", "ratio", "<=", 1.10),
        )
    )
    result.skipped.append(Skipped("vector", "no embeddings table"))
    return result


def test_markdown_names_every_section_the_miss_and_the_skip() -> None:
    text = markdown(_result(1, 1.5))
    for title in SECTIONS.values():
        assert f"**{title}**" in text
    assert "| get a session | authenticated, through RLS | 1.50 / 1.50 ms |" in text
    assert "1.50x" in text
    assert "ratio ≤ 1.10: **missed**" in text
    assert "Skipped: no embeddings table" in text
    assert "Targets missed: get a session (authenticated, through RLS)" in text


def test_markdown_says_when_every_target_was_met() -> None:
    text = markdown(_result(1, 1.05))
    assert "ratio ≤ 1.10: met" in text
    assert "Every target measured in this run was met." in text


def test_sweep_has_a_column_per_scale() -> None:
    text = sweep_markdown([_result(0.1, 1.2), _result(1, 1.05)])
    assert "| figure | subject | scale 0.1 | scale 1 |" in text
    assert (
        "| get a session | authenticated, through RLS | 1.20 ms (1.20x) | 1.05 ms (1.05x) |" in text
    )
    assert "| sessions | 100 | 100 |" in text
