"""The arithmetic behind every figure: percentiles, summaries, pairing, scales and targets."""

from __future__ import annotations

import pytest

from lift_db.bench.database import check_name
from lift_db.bench.measure import Summary, paired, percentile
from lift_db.bench.results import Figure, Goal
from lift_db.bench.scale import Scale
from lift_db.errors import LiftDbError


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 100) == 100
    assert percentile([7.0], 95) == 7.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # order of the input does not matter


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)


def test_summary_tail_follows_direction() -> None:
    latencies = Summary.of([float(v) for v in range(1, 21)])
    assert (latencies.median, latencies.p95, latencies.n) == (10, 19, 20)
    rates = Summary.of([float(v) for v in range(1, 21)], higher_is_better=True)
    assert rates.p95 == 1  # the slow tail of a rate is its low end
    assert rates.mean == pytest.approx(10.5)


def test_paired_alternates_order_and_skips_warmup() -> None:
    calls: list[tuple[str, int]] = []

    def subject(x: int) -> float:
        calls.append(("a", x))
        return float(x)

    def baseline(x: int) -> float:
        calls.append(("b", x))
        return float(-x)

    a, b = paired(subject, baseline, [0, 1, 2, 3], warmup=1)
    assert a == [1.0, 2.0, 3.0]
    assert b == [-1.0, -2.0, -3.0]
    measured = calls[2:]  # after the warm-up pair
    assert measured == [("a", 1), ("b", 1), ("b", 2), ("a", 2), ("a", 3), ("b", 3)]


def test_default_scale_and_multiples() -> None:
    one = Scale.of(1)
    assert (one.users, one.sessions, one.history, one.events, one.embeddings, one.dims) == (
        1_000,
        100_000,
        500_000,
        1_000_000,
        20_000,
        1536,
    )
    assert one.max_versions == 9  # uniform 1..9: mean 5 versions per session
    three = Scale.of(3)
    assert (three.users, three.sessions, three.history) == (3_000, 300_000, 1_500_000)
    tiny = Scale.of(0.0001)
    assert tiny.users >= 10
    assert tiny.sessions >= 500
    assert tiny.embeddings <= tiny.sessions


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_scale_must_be_positive(bad: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        Scale.of(bad)


@pytest.mark.parametrize("name", ["postgres", "template1", "lift_dev", "lift_bench; drop", ""])
def test_only_lift_bench_databases_may_be_recreated(name: str) -> None:
    with pytest.raises(LiftDbError, match="not allowed"):
        check_name(name)


def test_lift_bench_names_are_accepted() -> None:
    assert check_name("lift_bench") == "lift_bench"
    assert check_name("lift_bench_ci") == "lift_bench_ci"


def _figure(subject: float, baseline: float | None, goal: Goal | None) -> Figure:
    return Figure(
        section="rls",
        name="x",
        unit="ms",
        subject_label="s",
        subject=Summary.of([subject]),
        baseline=Summary.of([baseline]) if baseline is not None else None,
        goal=goal,
    )


def test_goal_on_ratio() -> None:
    goal = Goal("ratio ≤ 1.10", "ratio", "<=", 1.10)
    assert _figure(1.05, 1.0, goal).met is True
    assert _figure(1.2, 1.0, goal).met is False
    assert _figure(1.2, None, goal).met is None  # no baseline, nothing to judge
    floor = Goal("ratio ≥ 0.80", "ratio", ">=", 0.80)
    assert _figure(0.9, 1.0, floor).met is True
    assert _figure(0.7, 1.0, floor).met is False
