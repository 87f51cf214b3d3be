"""`lift-db start` runs PgBouncer beside the server when `[db.pooler]` enables it."""

from __future__ import annotations

import os
import pwd
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from lift_db.local.pooler import LocalPooler
from lift_db.project import Project
from lift_db.server import SERVICE_USER, LocalServer, running_as_root
from tests.conftest import ROOT, free_port, run_lift_db


@pytest.fixture
def scratch_project(project: Project) -> Iterator[Path]:
    """A copy of the project whose config enables the pooler, on free ports, in a folder the
    service user can reach."""
    root = project.state_dir / "scratch" / f"pooler-{uuid.uuid4().hex[:8]}"
    (root / "supabase").mkdir(parents=True)
    config = (ROOT / "supabase" / "config.toml").read_text()
    db_port, pooler_port = free_port(), free_port()
    config = config.replace("port = 54322", f"port = {db_port}", 1)
    config = config.replace(
        "[db.pooler]\nenabled = false\nport = 54329",
        f"[db.pooler]\nenabled = true\nport = {pooler_port}",
    )
    assert f"port = {pooler_port}" in config
    (root / "supabase" / "config.toml").write_text(config)
    yield root
    run_lift_db("stop", env={"LIFT_DB_PROJECT": str(root)})
    shutil.rmtree(root, ignore_errors=True)


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
