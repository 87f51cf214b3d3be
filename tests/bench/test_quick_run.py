"""`make bench-quick`: the whole benchmark at a tiny scale, as CI runs it so it never rots.

Nothing here is about speed: the run must finish, measure every section the schema offers
(and skip, saying why, only those it does not), leave its own database dropped, and leave the
dev database alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lift_db.bench import analytics, vectors
from lift_db.bench.database import detect
from lift_db.bench.results import SECTIONS
from lift_db.bench.scale import Scale
from lift_db.local.server import LocalServer
from lift_db.local.target import connect
from tests.conftest import ROOT

DB = "lift_bench_ci"
EXPECTED = {
    "rls": 5,
    "naive": 4,
    "vector": 7,
    "analytics": 5,
    "store": 2,
    "contention": 2,
    "replica": 3,
}


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "lift_db.bench", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _dev_sessions(server: LocalServer) -> int:
    with connect(server.url()) as conn:
        row = conn.execute("select count(*) from public.sessions").fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture(scope="module")
def quick_run(local_server: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("bench")
    before = _dev_sessions(local_server)
    result = _bench("--quick", "--quiet", "--db", DB, "--out", str(out))
    assert result.returncode == 0, result.stderr
    payload = json.loads((out / "bench-scale-0.01.json").read_text())
    return result, payload, out, before


def test_prints_the_table_and_writes_the_results(quick_run: Any) -> None:
    result, _, out, _ = quick_run
    assert "| figure | subject | median / p95 | baseline |" in result.stdout
    for title in SECTIONS.values():
        assert f"**{title}**" in result.stdout
    assert (out / "bench-scale-0.01.md").read_text().strip() in result.stdout


def test_generates_the_scaled_rows(quick_run: Any) -> None:
    _, payload, _, _ = quick_run
    scale = Scale.of(0.01)
    data = payload["data"]
    assert data["users"] == scale.users
    assert data["sessions"] == scale.sessions
    assert scale.sessions <= data["history_rows"] <= scale.max_versions * scale.sessions
    if "session_shares" in data:
        assert 0 < data["session_shares"] < scale.sessions


def test_measures_every_landed_section_and_skips_only_the_rest(
    quick_run: Any, local_server: LocalServer
) -> None:
    _, payload, _, _ = quick_run
    # The dev database has every migration (make db): what it offers, the bench must measure.
    with connect(local_server.url()) as conn:
        features = detect(conn)
    expected_skips = {
        key
        for key, module in (("vector", vectors), ("analytics", analytics))
        if module.missing(features)
    }
    skipped = {s["section"] for s in payload["skipped"]}
    assert skipped == expected_skips
    expected = dict(EXPECTED)
    if features.has_function("private.shared_session_ids"):
        expected["naive"] += 1  # the owner-or-shared policy variant needs sharing
    for section, count in expected.items():
        figures = [f for f in payload["figures"] if f["section"] == section]
        assert len(figures) == (0 if section in skipped else count), section


def test_every_figure_is_a_median_and_tail_against_its_baseline(quick_run: Any) -> None:
    _, payload, _, _ = quick_run
    for f in payload["figures"]:
        subject = f["subject"]
        assert subject["n"] > 0
        if f["higher_is_better"]:
            assert subject["p95"] <= subject["median"], f["name"]
        else:
            assert subject["p95"] >= subject["median"], f["name"]
        if f["baseline"] is not None:
            assert f["ratio"] == pytest.approx(subject["median"] / f["baseline"]["median"])
        if f["target"] is not None:
            assert f["met"] in (True, False), f["name"]


def test_contention_really_contended(quick_run: Any) -> None:
    _, payload, _, _ = quick_run
    rate = next(f for f in payload["figures"] if f["name"].startswith("conflict rate"))
    assert 0 < rate["subject"]["median"] < 100
    updates = next(f for f in payload["figures"] if f["name"].startswith("updates/s"))
    assert updates["detail"]["attempts_one_session"] > 0


def test_drops_its_database_and_leaves_the_dev_database_alone(
    quick_run: Any, local_server: LocalServer
) -> None:
    _, _, _, before = quick_run
    with connect(local_server.admin_url()) as conn:
        row = conn.execute("select count(*) from pg_database where datname = %s", (DB,)).fetchone()
    assert row == (0,)
    assert _dev_sessions(local_server) == before


def test_refuses_a_database_it_must_not_recreate() -> None:
    result = _bench("--quick", "--db", "postgres")
    assert result.returncode == 1
    assert "benchmark database name 'postgres' is not allowed" in result.stderr


def test_a_sweep_needs_several_scales() -> None:
    result = _bench("--sweep", "1")
    assert result.returncode == 2
    assert "a sweep needs at least two scales" in result.stderr


def test_needs_no_plotting_library(quick_run: Any) -> None:
    _, _, out, _ = quick_run
    pngs = list(Path(out).glob("*.png"))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert pngs == []
    else:
        assert [p.name for p in pngs] == ["bench-scale-0.01.png"]
