"""`lift-db start --replica` runs a streaming standby of the server on its own port."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg

from lift_db.local.project import Project
from lift_db.local.replica import LocalReplica
from lift_db.local.server import LocalServer
from tests.conftest import free_port, run_lift_db


def test_start_replica_streams_the_server_and_stop_stops_it(scratch_project: Path) -> None:
    env = {"LIFT_DB_PROJECT": str(scratch_project)}
    port = free_port()
    started = run_lift_db("start", "--replica", "--replica-port", str(port), env=env)
    assert started.returncode == 0, started.stderr
    server = LocalServer.for_project(Project(scratch_project))
    replica = LocalReplica(server)
    pid = replica.postmaster_pid()
    assert pid is not None
    assert replica.port() == port
    assert os.stat(f"/proc/{pid}").st_uid != 0
    with psycopg.connect(server.admin_url(), autocommit=True) as primary:
        primary.execute("create table public.replicated (n int)")
        primary.execute("insert into public.replicated values (42)")
        row = primary.execute(
            "select state, sync_state from pg_stat_replication"
            " where application_name = 'lift_db_replica'"
        ).fetchone()
        assert row is not None
        assert row[0] == "streaming"
        lsn = primary.execute("select pg_current_wal_insert_lsn()").fetchone()
    with psycopg.connect(replica.admin_url(), autocommit=True) as standby:
        assert standby.execute("select pg_is_in_recovery()").fetchone() == (True,)
        while standby.execute(
            "select pg_last_wal_replay_lsn() < %s", (lsn[0] if lsn else None,)
        ).fetchone() == (True,):
            pass
        assert standby.execute("select n from public.replicated").fetchall() == [(42,)]
    status = run_lift_db("status", env=env)
    assert f"replica: running, pid {pid}" in status.stdout
    again = run_lift_db("start", "--replica", "--replica-port", str(port), env=env)
    assert again.returncode == 0, again.stderr
    assert "replica already running" in again.stdout
    stopped = run_lift_db("stop", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped the replica" in stopped.stdout + stopped.stderr
    assert not replica.is_running()
