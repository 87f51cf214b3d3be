"""What a failing pgTAP file tells its reader: the failures, the plan, and what the server said."""

from __future__ import annotations

from pathlib import Path

import pytest

from lift_db.local.server import LocalServer
from lift_db.testing import _pgtap
from tests.conftest import ScratchFactory

SETUP = "create extension if not exists pgtap with schema extensions;\n"


@pytest.fixture
def url(scratch_db: ScratchFactory) -> str:
    target = scratch_db()
    with target.connect(admin=True) as conn:
        conn.execute(SETUP)
    return target.url


def run(tmp_path: Path, url: str, body: str) -> _pgtap.TapRun:
    path = tmp_path / "story.sql"
    path.write_text(f"begin;\nset local search_path = public, extensions;\n{body}\nrollback;\n")
    return _pgtap.run_file(path, url)


def test_a_failure_shows_its_diagnostics_and_the_raise_output(
    tmp_path: Path, url: str, local_server: LocalServer
) -> None:
    result = run(
        tmp_path,
        url,
        "select plan(2);\n"
        "do $$ begin raise notice 'scene: owner % shares with %', 'ann', 'bob'; end $$;\n"
        "select is(1, 1, 'one is one');\n"
        "do $$ begin raise warning 'the share row is missing'; end $$;\n"
        "select is(2, 3, 'bob reads the shared session');\n"
        "select * from finish();",
    )
    assert not result.passed
    report = result.report()
    assert "not ok 2 - bob reads the shared session" in report
    assert "have: 2" in report
    assert "want: 3" in report
    assert "server messages (RAISE, NOTICE):" in report
    assert "NOTICE:  scene: owner ann shares with bob" in report
    assert "WARNING:  the share row is missing" in report


def test_a_plan_mismatch_names_the_file_and_the_counts(tmp_path: Path, url: str) -> None:
    result = run(
        tmp_path,
        url,
        "select plan(3);\nselect pass('first');\nselect pass('second');\nselect * from finish();",
    )
    assert not result.passed
    assert (
        "story.sql: planned 3 tests but ran 2 (1 never ran, the last to run was 2)"
        in result.report()
    )


def test_an_error_is_shown_once_and_the_notices_apart(tmp_path: Path, url: str) -> None:
    result = run(
        tmp_path,
        url,
        "select plan(1);\n"
        "do $$ begin raise notice 'before the error'; end $$;\n"
        "select 1 / 0;\n"
        "select pass('never reached');",
    )
    report = result.report()
    assert result.returncode != 0
    assert "ERROR:  division by zero" in report
    assert report.count("before the error") == 1
    assert "story.sql: planned 1 tests but ran 0" in report


def test_a_passing_file_reports_nothing_to_act_on(tmp_path: Path, url: str) -> None:
    result = run(
        tmp_path,
        url,
        "select plan(1);\ndo $$ begin raise notice 'setting the scene'; end $$;\n"
        "select pass('fine');\nselect * from finish();",
    )
    assert result.passed
    assert result.server_messages == [
        f"psql:{tmp_path / 'story.sql'}:4: NOTICE:  setting the scene"
    ]
