"""`lift-db drift`: a live database against what its applied migrations build.

Each test changes a scratch copy made like `lift-db reset` makes the local database (platform
layer, migrations, seed), never the shared dev database, and runs `lift-db drift --db-url` on it.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lift_db.local.project import Project
from lift_db.local.server import LocalServer
from lift_db.local.target import Target, connect
from lift_db.migrate import commands, runner
from lift_db.review import _schema_diff
from tests.conftest import ROOT, run_lift_db


@pytest.fixture
def live(local_server: LocalServer, project: Project) -> Iterator[str]:
    """A freshly reset copy (seed included: it makes partitions at run time); its admin URL."""
    files = runner.discover(project.migrations_dir)
    with _schema_diff.built_database(local_server, files) as dbname:
        commands.seed(project, Target(url=local_server.url(dbname=dbname)), lambda _: None)
        yield local_server.admin_url(dbname)


def change(url: str, sql: str) -> None:
    with connect(url.replace("supabase_admin:", "postgres:", 1)) as conn:
        conn.execute(sql.encode())


def drift(url: str) -> subprocess.CompletedProcess[str]:
    return run_lift_db("drift", "--db-url", url)


def test_a_freshly_reset_database_has_no_drift(live: str) -> None:
    result = drift(live)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no drift" in result.stdout
    # The seed's monthly partitions are the data's shape, not drift.
    assert "partition(s) created at run time" in result.stdout


def test_the_local_database_has_no_drift(local_server: LocalServer) -> None:
    # `make db` reset it; pgTAP's helpers (schema tests, extension pgtap) may be there too.
    result = run_lift_db("drift")
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_added_column_is_drift(live: str) -> None:
    change(live, "alter table public.sessions add column title text;")
    result = drift(live)
    assert result.returncode == 1
    assert "differs: TABLE sessions in schema public" in result.stdout
    assert "+    title text" in result.stdout


def test_a_dropped_policy_is_drift(live: str) -> None:
    change(live, "drop policy analytics_events_select_own on public.analytics_events;")
    result = drift(live)
    assert result.returncode == 1
    assert "only in the migrations: POLICY analytics_events analytics_events_select_own" in (
        result.stdout
    )


def test_a_changed_grant_is_drift(live: str) -> None:
    change(live, "grant select on table public.session_shares to anon;")
    result = drift(live)
    assert result.returncode == 1
    assert "differs: ACL TABLE session_shares in schema public" in result.stdout
    assert "GRANT SELECT ON TABLE public.session_shares TO anon;" in result.stdout


def test_an_app_trigger_on_a_platform_table_is_drift(live: str) -> None:
    change(
        live,
        "create trigger on_auth_user_extra after delete on auth.users"
        " for each row execute function private.create_user_profile();",
    )
    result = drift(live)
    assert result.returncode == 1
    assert "TRIGGER users on_auth_user_extra in schema auth" in result.stdout


def test_platform_objects_are_not_drift(live: str) -> None:
    # What the platform adds (a real Supabase project has many more objects) is not compared.
    with connect(live) as conn:
        conn.execute("create table auth.sso_extra (id bigint primary key)")
        conn.execute("create schema graphql_extra")
    result = drift(live)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pending_migrations_are_listed_not_compared(live: str, tmp_path: Path) -> None:
    # A project one migration ahead of the database: what a push is about to apply.
    (tmp_path / "supabase").mkdir()
    shutil.copy(ROOT / "supabase" / "config.toml", tmp_path / "supabase" / "config.toml")
    shutil.copytree(ROOT / "supabase" / "migrations", tmp_path / "supabase" / "migrations")
    (tmp_path / "supabase" / "migrations" / "20991231000000_add_notes.sql").write_text(
        "create table public.notes (id bigint primary key);\n"
    )
    result = run_lift_db(
        "drift",
        "--db-url",
        live,
        env={
            "LIFT_DB_PROJECT": str(tmp_path),
            "LIFT_DB_STATE_DIR": str(Project(ROOT).state_dir),
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pending (not applied on" in result.stdout
    assert "1 migration(s), from 20991231000000_add_notes.sql" in result.stdout


def test_an_applied_version_without_its_file_is_drift(live: str) -> None:
    with connect(live) as conn:
        conn.execute(
            "insert into supabase_migrations.schema_migrations (version, name)"
            " values ('20991231000000', 'made_on_the_dashboard')"
        )
    result = drift(live)
    assert result.returncode == 1
    assert "missing from supabase/migrations: version 20991231000000" in result.stdout
