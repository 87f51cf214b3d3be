"""The Markdown a run prints: one table of targets and verdicts, every section present, misses
and skips named, each figure's change against the accepted run, and the sweep's growth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lift_db.bench.measure import Summary
from lift_db.bench.report import (
    GENERATED_BEGIN,
    GENERATED_END,
    is_flat_figure,
    load_baseline,
    markdown,
    replace_generated,
    sweep_markdown,
)
from lift_db.bench.results import SECTIONS, Figure, Goal, RunResult, Skipped
from lift_db.bench.targets import GROWTH_LIMIT, TARGETS
from lift_db.errors import LiftDbError


def _figure(subject: float, name: str = "get a session", section: str = "rls") -> Figure:
    return Figure(
        section=section,
        name=name,
        unit="ms",
        subject_label="authenticated, through RLS",
        subject=Summary.of([subject]),
        baseline_label="service_role, explicit user filter",
        baseline=Summary.of([1.0]),
        goal=Goal("ratio ≤ 9", "ratio", "<=", 9),
    )


def _result(factor: float, subject: float) -> RunResult:
    result = RunResult(
        scale={"factor": factor, "sessions": 100},
        repeats={},
        machine={"cpu": "test cpu", "cores": 2},
        started_at="2026-01-01T00:00:00+00:00",
        data={"users": 10, "sessions": 100, "sessions_mb": 1.5},
        timings_s={"total": 1.0, "generate": 0.5},
    )
    result.figures.append(_figure(subject))
    result.skipped.append(Skipped("vector", "no embeddings table"))
    return result


def test_targets_live_in_one_place_and_win_over_a_module_goal() -> None:
    listed = _figure(1.0)
    assert listed.goal is TARGETS["rls/get a session"]
    unlisted = _figure(1.0, name="a row nobody listed")
    assert unlisted.goal == Goal("ratio ≤ 9", "ratio", "<=", 9)


def test_markdown_has_one_targets_table_and_names_the_miss_and_the_skip() -> None:
    text = markdown(_result(1, 1.5))
    for title in SECTIONS.values():
        assert f"**{title}**" in text
    assert text.count("| target | verdict |") == 1
    assert "| get a session | authenticated, through RLS | 1.50x | ratio ≤ 1.05 | **missed** |" in (
        text
    )
    assert "| get a session | authenticated, through RLS | 1.50 / 1.50 ms |" in text
    assert "Skipped: no embeddings table" in text
    assert "Targets missed: get a session (authenticated, through RLS)" in text
    assert "No baseline run" in text


def test_markdown_says_when_every_target_was_met() -> None:
    text = markdown(_result(1, 1.02))
    assert "| 1.02x | ratio ≤ 1.05 | met |" in text
    assert "Every target measured in this run was met." in text


def test_each_figure_shows_its_change_against_the_accepted_run(tmp_path: Path) -> None:
    accepted = tmp_path / "baseline.json"
    accepted.write_text(json.dumps(_result(1, 2.0).as_dict()))
    result = _result(1, 1.5)
    result.figures.append(_figure(1.0, name="a row the baseline lacks"))
    text = markdown(result, load_baseline(accepted))
    assert "ratio 2.00x → 1.50x; median -25%" in text
    assert text.count("| new |") == 2  # in the targets table (it has a goal) and in its section
    assert load_baseline(tmp_path / "missing.json") == {}


def test_sweep_judges_growth_of_the_hot_paths() -> None:
    flat = sweep_markdown([_result(0.1, 1.0), _result(1, 1.2), _result(3, 1.5)])
    assert "| figure | subject | scale 0.1 | scale 1 | scale 3 | growth | flat |" in flat
    assert "| 1.00 ms (1.00x) | 1.20 ms (1.20x) | 1.50 ms (1.50x) | 1.50x | yes |" in flat
    assert "Every hot path is flat." in flat
    assert "| sessions | 100 | 100 | 100 |" in flat
    assert "| sessions | 1.5 | 1.5 | 1.5 |" in flat
    steep = sweep_markdown([_result(0.1, 1.0), _result(3, 1.0 * GROWTH_LIMIT + 0.1)])
    assert "| 1.60x | **no** |" in steep
    assert "Hot paths not flat: get a session (authenticated, through RLS)" in steep


def test_generated_region_is_replaced_and_the_prose_kept(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(f"# Title\n\nprose\n\n{GENERATED_BEGIN}\nold table\n{GENERATED_END}\n\nmore\n")
    replace_generated(doc, "new table\n")
    text = doc.read_text()
    assert "old table" not in text
    assert f"prose\n\n{GENERATED_BEGIN}\n\nnew table\n\n{GENERATED_END}\n\nmore\n" in text
    (tmp_path / "bare.md").write_text("no markers\n")
    with pytest.raises(LiftDbError, match="no generated region"):
        replace_generated(tmp_path / "bare.md", "x")


def test_a_run_at_another_scale_is_not_compared_with_the_accepted_run(tmp_path: Path) -> None:
    accepted = tmp_path / "baseline.json"
    accepted.write_text(json.dumps(_result(1, 2.0).as_dict()))
    assert load_baseline(accepted, 1.0) != {}
    # A quick run (scale 0.01) against a default-scale baseline would show noise as change.
    assert load_baseline(accepted, 0.01) == {}


def test_the_filtered_search_is_judged_flat_and_the_exhaustive_one_is_not() -> None:
    def vector(name: str, subject: str) -> Figure:
        return Figure(
            section="vector",
            name=name,
            unit="ms",
            subject_label=subject,
            subject=Summary.of([1.0]),
        )

    own = "10 nearest among one user's own (~1% of all)"
    assert is_flat_figure(vector(own, "public.match_sessions"))
    assert is_flat_figure(
        vector(
            "10 nearest among one user's own: query among others' embeddings vs empty space",
            "query at the centre of others' largest cluster",
        )
    )
    assert not is_flat_figure(vector(own, "iterative scans off"))
    assert not is_flat_figure(vector("10 nearest of all, hnsw.ef_search 40", "HNSW index"))
