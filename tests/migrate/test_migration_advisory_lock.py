"""Concurrent `lift-db migrate` runs: the lock comes before the history, and never waits forever."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from lift_db.errors import MigrationError
from lift_db.local.target import Target
from lift_db.migrate import runner
from tests.conftest import ROOT, ScratchFactory

FILES = {
    "20240101000000_first.sql": "create table public.a (id int);\n",
    "20240102000000_second.sql": "create table public.b (id int);\n",
}
RUNNERS = 4


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "project" / "supabase" / "migrations"
    folder.mkdir(parents=True)
    for name, sql in FILES.items():
        (folder / name).write_text(sql)
    shutil.copy(ROOT / "supabase" / "config.toml", folder.parent / "config.toml")
    return folder


def _history_exists(target: Target) -> bool:
    with target.connect() as conn:
        row = conn.execute("select to_regnamespace('supabase_migrations') is not null").fetchone()
    return bool(row and row[0])


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_migrates_on_a_fresh_database_all_succeed(
    scratch_db: ScratchFactory, tmp_path: Path, round_: int
) -> None:
    folder = _folder(tmp_path)
    files = runner.discover(folder)
    target = scratch_db()
    assert not _history_exists(target)
    start = threading.Barrier(RUNNERS)
    applied: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with target.connect() as conn:
                start.wait(timeout=30)
                done = runner.migrate(conn, files)
            applied.append([f.filename for f in done])
        except BaseException as exc:  # collected and shown below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(RUNNERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    # One run applied both files; the others waited for it and found nothing to do.
    assert sorted(applied) == sorted([[*FILES]] + [[] for _ in range(RUNNERS - 1)])
    with target.connect() as conn:
        rows = conn.execute("select version from supabase_migrations.schema_migrations").fetchall()
    assert sorted(str(r[0]) for r in rows) == ["20240101000000", "20240102000000"]


def test_a_held_lock_fails_after_the_timeout_naming_the_holder(
    scratch_db: ScratchFactory, tmp_path: Path
) -> None:
    folder = _folder(tmp_path)
    target = scratch_db()
    with psycopg.connect(target.url, application_name="release-train deploy") as holder:
        holder.execute("select pg_advisory_lock(%s)", (0x6C696674,))
        row = holder.execute("select pg_backend_pid()").fetchone()
        assert row is not None
        # Bounded here: a runner without a lock timeout would wait for as long as the holder.
        result = subprocess.run(
            [sys.executable, "-m", "lift_db.cli", "--db-url", target.url, "migrate"],
            cwd=folder.parent.parent,
            env={**os.environ, "LIFT_DB_LOCK_TIMEOUT": "1"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    message = result.stderr
    assert "another session has held the migration lock for more than 1 s" in message
    assert f"pid {row[0]}" in message
    assert "application_name 'release-train deploy'" in message
    assert "connected since" in message
    assert "pg_terminate_backend" in message
    # The lock came first: a fresh database got no history tables while waiting.
    assert not _history_exists(target)
    assert "public.a" not in result.stdout


def test_the_runner_names_itself_to_other_sessions(
    scratch_db: ScratchFactory, tmp_path: Path
) -> None:
    folder = _folder(tmp_path)
    target = scratch_db()
    with target.connect() as conn:
        runner.migrate(conn, runner.discover(folder))
        row = conn.execute("show application_name").fetchone()
    assert row == (runner.APPLICATION_NAME,)


@pytest.mark.parametrize("value", ["0", "-5", "soon", "nan", "1e9"])
def test_a_bad_lock_timeout_setting_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(runner.LOCK_TIMEOUT_ENV, value)
    with pytest.raises(MigrationError, match=f"{runner.LOCK_TIMEOUT_ENV}="):
        runner.lock_timeout_from_env()
