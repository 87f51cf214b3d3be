"""`lift-db start/stop/status` on a throwaway cluster: idempotence, recovery and clear failures."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import time
from pathlib import Path

import psycopg
import pytest

from lift_db.local.server import SERVICE_USER, running_as_root
from tests.conftest import admin_url_of, free_port, run_lift_db


def _env(state: Path, port: int) -> dict[str, str]:
    return {"LIFT_DB_STATE_DIR": str(state), "LIFT_DB_PORT": str(port)}


def _pid(state: Path) -> int:
    return int((state / "data" / "postmaster.pid").read_text().splitlines()[0])


def test_start_is_idempotent_and_serves_a_supabase_like_database(scratch_state: Path) -> None:
    port = free_port()
    first = run_lift_db("start", env=_env(scratch_state, port))
    assert first.returncode == 0, first.stderr
    url = f"postgresql://postgres:postgres@127.0.0.1:{port}/postgres"
    assert url in first.stdout
    pid = _pid(scratch_state)

    second = run_lift_db("start", env=_env(scratch_state, port))
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stdout
    assert _pid(scratch_state) == pid

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select current_setting('wal_level'), rolsuper, "
            "       to_regprocedure('auth.uid()') is not null "
            "  from pg_roles where rolname = current_user"
        ).fetchone()
    assert row == ("logical", False, True)

    status = run_lift_db("status", env=_env(scratch_state, port))
    assert status.returncode == 0
    assert f"pid {pid}" in status.stdout


@pytest.mark.skipif(not running_as_root(), reason="only root hands the server to another user")
def test_under_root_the_server_runs_as_the_service_user(scratch_state: Path) -> None:
    port = free_port()
    assert run_lift_db("start", env=_env(scratch_state, port)).returncode == 0
    owner = os.stat(f"/proc/{_pid(scratch_state)}").st_uid
    assert owner == pwd.getpwnam(SERVICE_USER).pw_uid


def test_stop_then_status_reports_not_running(scratch_state: Path) -> None:
    port = free_port()
    assert run_lift_db("start", env=_env(scratch_state, port)).returncode == 0
    stop = run_lift_db("stop", env=_env(scratch_state, port))
    assert stop.returncode == 0
    assert "stopped" in stop.stdout
    status = run_lift_db("status", env=_env(scratch_state, port))
    assert status.returncode == 3
    assert "not running" in status.stdout


def test_a_killed_server_is_recovered_and_keeps_its_data(scratch_state: Path) -> None:
    port = free_port()
    assert run_lift_db("start", env=_env(scratch_state, port)).returncode == 0
    with psycopg.connect(admin_url_of(port), autocommit=True) as conn:
        conn.execute("create table kept (n int); insert into kept values (42)")
    os.kill(_pid(scratch_state), signal.SIGKILL)
    time.sleep(0.2)
    assert (scratch_state / "data" / "postmaster.pid").exists()

    again = run_lift_db("start", env=_env(scratch_state, port))
    assert again.returncode == 0, again.stderr
    assert "stale pid file" in again.stdout
    with psycopg.connect(admin_url_of(port)) as conn:
        assert conn.execute("select n from kept").fetchone() == (42,)


def test_a_pid_file_naming_an_unrelated_live_process_is_stale(scratch_state: Path) -> None:
    port = free_port()
    assert run_lift_db("start", env=_env(scratch_state, port)).returncode == 0
    assert run_lift_db("stop", env=_env(scratch_state, port)).returncode == 0
    # Our own pid is alive but is no postgres of this data directory.
    pidfile = scratch_state / "data" / "postmaster.pid"
    pidfile.write_text(f"{os.getpid()}\n{scratch_state / 'data'}\n")
    again = run_lift_db("start", env=_env(scratch_state, port))
    assert again.returncode == 0, again.stderr
    assert "stale pid file" in again.stdout


def test_port_in_use_is_a_clear_error(scratch_state: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_lift_db("start", env=_env(scratch_state, port))
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "--port" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (scratch_state / "data").exists()


def test_missing_server_binaries_is_a_clear_error(scratch_state: Path, tmp_path: Path) -> None:
    env = {**_env(scratch_state, free_port()), "LIFT_DB_PG_PREFIX": str(tmp_path / "nowhere")}
    result = run_lift_db("start", env=env)
    assert result.returncode == 1
    assert "PostgreSQL server binary" in result.stderr
    assert "make db" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_pgtap_is_a_clear_error(scratch_state: Path, tmp_path: Path) -> None:
    from lift_db.local.binaries import find_install

    real = find_install().prefix
    fake = tmp_path / "pginstall"
    (fake / "share" / "extension").mkdir(parents=True)
    (fake / "bin").symlink_to(real / "bin")
    (fake / "lib").symlink_to(real / "lib")
    for control in (real / "share" / "extension").glob("vector*"):
        shutil.copy(control, fake / "share" / "extension")
    env = {**_env(scratch_state, free_port()), "LIFT_DB_PG_PREFIX": str(fake)}
    result = run_lift_db("start", env=env)
    assert result.returncode == 1
    assert "pgtap not installed" in result.stderr
    assert "make pgtap" in result.stderr


def test_start_refuses_a_db_url() -> None:
    result = run_lift_db("--db-url", "postgresql://postgres@127.0.0.1:1/postgres", "start")
    assert result.returncode == 1
    assert "manages the local server" in result.stderr
