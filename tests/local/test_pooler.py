"""`lift-db start` runs PgBouncer beside the server when `[db.pooler]` enables it."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import psycopg

from lift_db.local.pooler import LocalPooler
from lift_db.local.project import Project
from lift_db.local.server import SERVICE_USER, LocalServer, running_as_root
from tests.conftest import run_lift_db


def test_lift_db_start_runs_the_pooler_of_config_toml_unprivileged_and_stop_stops_it(
    scratch_project: Path,
) -> None:
    env = {"LIFT_DB_PROJECT": str(scratch_project)}
    started = run_lift_db("start", env=env)
    assert started.returncode == 0, started.stderr
    assert "pooler ready (transaction mode)" in started.stdout
    pooler = LocalPooler(LocalServer.for_project(Project(scratch_project)))
    pid = pooler.pid()
    assert pid is not None
    owner = os.stat(f"/proc/{pid}").st_uid
    assert owner == (pwd.getpwnam(SERVICE_USER).pw_uid if running_as_root() else os.geteuid())
    assert owner != 0
    with psycopg.connect(pooler.url(), prepare_threshold=None, autocommit=True) as conn:
        row = conn.execute("select current_user::text").fetchone()
    assert row == ("postgres",)
    status = run_lift_db("status", env=env)
    assert f"pooler: running, pid {pid}" in status.stdout
    stopped = run_lift_db("stop", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert not pooler.is_running()
