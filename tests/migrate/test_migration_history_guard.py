"""History the runner cannot verify is refused, and no migration writes the history it is in."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lift_db.errors import LiftDbError, MigrationDriftError, MigrationError
from lift_db.local.project import Project
from lift_db.local.target import Target
from lift_db.migrate import commands, runner
from lift_db.migrate._sqlsplit import split_statements
from tests.conftest import ROOT, ScratchFactory, run_lift_db

FIRST = "20240101000000_first.sql"
LATER = "20240301000000_later.sql"
# A migration that marks a future one as applied: a row without checksum or statements.
PLANT_FUTURE_ROW = (
    "create table public.a (id int);\n"
    "insert into supabase_migrations.schema_migrations (version, name)\n"
    "values ('20240301000000', 'later');\n"
)


def _write(folder: Path, name: str, sql: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(sql)
    return path


def _migrate(target: Target, folder: Path) -> list[str]:
    with target.connect() as conn:
        return [m.filename for m in runner.migrate(conn, runner.discover(folder))]


def _exists(target: Target, regclass: str) -> bool:
    with target.connect() as conn:
        row = conn.execute("select to_regclass(%s) is not null", (regclass,)).fetchone()
    return bool(row and row[0])


def _recorded(target: Target) -> list[str]:
    with target.connect() as conn:
        rows = conn.execute(
            "select version from supabase_migrations.schema_migrations order by version"
        ).fetchall()
    return [str(r[0]) for r in rows]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "migrations"


def test_a_migration_marking_a_future_one_applied_is_refused(
    scratch_db: ScratchFactory, folder: Path
) -> None:
    _write(folder, FIRST, PLANT_FUTURE_ROW)
    target = scratch_db()
    with pytest.raises(MigrationError, match=f"{FIRST} changed the runner's"):
        _migrate(target, folder)
    assert not _exists(target, "public.a")
    assert _recorded(target) == []
    # The later file, once it exists, runs.
    _write(folder, FIRST, "create table public.a (id int);\n")
    _write(folder, LATER, "create table public.later (id int);\n")
    assert _migrate(target, folder) == [FIRST, LATER]
    assert _exists(target, "public.later")


@pytest.mark.parametrize(
    "write",
    [
        "delete from supabase_migrations.schema_migrations",
        "update supabase_migrations.migration_checksums set sha256 = repeat('0', 64)",
        "insert into supabase_migrations.migration_checksums (version, name, sha256) "
        "values ('20240301000000', 'later', repeat('0', 64))",
        "truncate supabase_migrations.migration_checksums",
        "alter table supabase_migrations.schema_migrations add column note text",
        "drop table supabase_migrations.migration_checksums",
        "create rule skip as on insert to supabase_migrations.schema_migrations do instead nothing",
        "grant insert on supabase_migrations.schema_migrations to authenticated",
        "grant create on schema supabase_migrations to public",
    ],
)
def test_a_migration_writing_the_history_tables_is_refused(
    scratch_db: ScratchFactory, folder: Path, write: str
) -> None:
    _write(folder, "20240100000000_zero.sql", "select 1;")
    target = scratch_db()
    _migrate(target, folder)
    _write(folder, FIRST, f"create table public.a (id int);\n{write};\n")
    with pytest.raises(MigrationError, match="changed the runner's history"):
        _migrate(target, folder)
    assert not _exists(target, "public.a")
    assert _recorded(target) == ["20240100000000"]


def test_a_migration_releasing_the_runner_lock_is_refused(
    scratch_db: ScratchFactory, folder: Path
) -> None:
    _write(folder, FIRST, "create table public.a (id int);\nselect pg_advisory_unlock_all();\n")
    target = scratch_db()
    with pytest.raises(MigrationError, match="released the runner's advisory"):
        _migrate(target, folder)
    assert not _exists(target, "public.a")


def test_a_history_row_without_checksum_or_statements_is_refused(
    scratch_db: ScratchFactory, folder: Path, tmp_path: Path
) -> None:
    # The row the attack above would have left, written by anyone: the file never ran.
    _write(folder, FIRST, "create table public.a (id int);\n")
    target = scratch_db()
    _migrate(target, folder)
    with target.connect() as conn:
        conn.execute(
            "insert into supabase_migrations.schema_migrations (version, name)"
            " values ('20240301000000', 'later')"
        )
    _write(folder, LATER, "create table public.later (id int);\n")
    with pytest.raises(MigrationDriftError, match=f"history says migration {LATER} was applied"):
        _migrate(target, folder)
    # `lift-db status` no longer counts that file as applied: it refuses too.
    project = tmp_path / "project"
    (project / "supabase").mkdir(parents=True)
    (project / "supabase" / "config.toml").write_text((ROOT / "supabase/config.toml").read_text())
    shutil.copytree(folder, project / "supabase" / "migrations")
    status = run_lift_db("--db-url", target.url, "status", cwd=project)
    assert status.returncode == 1, status.stdout
    assert "0 pending" not in status.stdout
    assert f"history says migration {LATER} was applied" in status.stderr


def test_cli_history_with_matching_statements_is_still_adopted(
    scratch_db: ScratchFactory, folder: Path
) -> None:
    sql = "-- why\ncreate table public.a (id int);\ncreate table public.b (id int);\n"
    _write(folder, FIRST, sql)
    target = scratch_db()
    with target.connect() as conn:
        # What `supabase db push` leaves: the file ran, history has its statements, no checksum.
        conn.execute(sql)
        conn.execute(runner.HISTORY_DDL)
        conn.execute(
            "insert into supabase_migrations.schema_migrations (version, name, statements)"
            " values ('20240101000000', 'first', %s)",
            ([s.text for s in split_statements(sql)],),
        )
    assert _migrate(target, folder) == []
    with target.connect() as conn:
        assert conn.execute(
            "select count(*) from supabase_migrations.migration_checksums"
        ).fetchone() == (1,)


def test_a_seed_file_writing_migration_history_is_refused(
    scratch_db: ScratchFactory, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    (project / "supabase" / "migrations").mkdir(parents=True)
    (project / "supabase" / "config.toml").write_text((ROOT / "supabase/config.toml").read_text())
    (project / "supabase" / "seed.sql").write_text(
        "insert into supabase_migrations.schema_migrations (version, name, statements)"
        " values ('20240301000000', 'later', '{}');\n"
    )
    target = scratch_db()
    commands.migrate(Project(project), target, lambda _: None)
    with pytest.raises(LiftDbError, match=r"seed file supabase/seed\.sql changed supabase_migr"):
        commands.seed(Project(project), target, lambda _: None)
    assert _recorded(target) == []
