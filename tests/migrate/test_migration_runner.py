"""The migration runner on scratch databases: order, history, drift refusal and failing files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import psycopg
import pytest

from lift_db.errors import (
    MigrationDriftError,
    MigrationError,
    MigrationFailedError,
    MigrationNameError,
)
from lift_db.local.target import Target
from lift_db.migrate import runner
from tests.conftest import ScratchFactory


def _write(folder: Path, name: str, sql: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(sql)
    return path


def _migrate(target: Target, folder: Path) -> list[str]:
    with target.connect() as conn:
        return [m.filename for m in runner.migrate(conn, runner.discover(folder))]


def _history(target: Target) -> list[tuple[str, str, list[str]]]:
    with target.connect() as conn:
        rows = conn.execute(
            "select version, name, statements from supabase_migrations.schema_migrations"
            " order by version"
        ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def _exists(target: Target, regclass: str) -> bool:
    with target.connect() as conn:
        row = conn.execute("select to_regclass(%s) is not null", (regclass,)).fetchone()
    return bool(row and row[0])


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "migrations"


def test_applies_in_version_order_with_cli_history_and_checksums(
    scratch_db: ScratchFactory, folder: Path
) -> None:
    _write(folder, "20240102000000_second.sql", "create table public.b (a_id int);")
    _write(folder, "20240101000000_first.sql", "-- why\ncreate table public.a (id int);\n")
    target = scratch_db()
    assert _migrate(target, folder) == [
        "20240101000000_first.sql",
        "20240102000000_second.sql",
    ]
    assert _history(target) == [
        ("20240101000000", "first", ["-- why\ncreate table public.a (id int)"]),
        ("20240102000000", "second", ["create table public.b (a_id int)"]),
    ]
    with target.connect() as conn:
        rows = conn.execute(
            "select version, sha256 from supabase_migrations.migration_checksums"
        ).fetchall()
    sums = {str(version): str(sha) for version, sha in rows}
    expected = hashlib.sha256(b"create table public.b (a_id int);").hexdigest()
    assert sums["20240102000000"] == expected
    assert _migrate(target, folder) == []


def test_migrations_run_as_a_non_superuser(scratch_db: ScratchFactory, folder: Path) -> None:
    _write(
        folder,
        "20240101000000_needs_superuser.sql",
        "create extension file_fdw with schema extensions;",
    )
    with pytest.raises(MigrationFailedError, match=r"permission denied.*42501"):
        _migrate(scratch_db(), folder)


def test_a_failing_migration_rolls_back_alone_and_names_file_line_statement(
    scratch_db: ScratchFactory, folder: Path
) -> None:
    _write(folder, "20240101000000_good.sql", "create table public.good (id int);")
    _write(
        folder,
        "20240102000000_bad.sql",
        "-- a comment line\ncreate table public.half (id int);\n\n"
        "create table public.broken (\n  id int,\n  oops nonsense_type\n);\n",
    )
    _write(folder, "20240103000000_later.sql", "create table public.later (id int);")
    target = scratch_db()
    with pytest.raises(MigrationFailedError) as err:
        _migrate(target, folder)
    message = str(err.value)
    assert "20240102000000_bad.sql line 6" in message
    assert 'type "nonsense_type" does not exist' in message
    assert "create table public.broken (" in message
    assert "rolled back" in message
    assert _exists(target, "public.good")
    assert not _exists(target, "public.half")
    assert not _exists(target, "public.later")
    assert [v for v, _, _ in _history(target)] == ["20240101000000"]


def test_an_edited_applied_migration_is_refused_by_name(
    scratch_db: ScratchFactory, folder: Path
) -> None:
    path = _write(folder, "20240101000000_first.sql", "create table public.a (id int);")
    target = scratch_db()
    _migrate(target, folder)
    path.write_text("create table public.a (id bigint);")
    _write(folder, "20240102000000_next.sql", "create table public.next (id int);")
    with pytest.raises(MigrationDriftError, match=r"20240101000000_first\.sql was edited"):
        _migrate(target, folder)
    assert not _exists(target, "public.next")


def test_a_removed_or_renamed_applied_migration_is_refused(
    scratch_db: ScratchFactory, folder: Path
) -> None:
    path = _write(folder, "20240101000000_first.sql", "create table public.a (id int);")
    target = scratch_db()
    _migrate(target, folder)
    path.rename(folder / "20240101000000_renamed.sql")
    with pytest.raises(MigrationDriftError, match=r"now named 20240101000000_renamed\.sql"):
        _migrate(target, folder)
    (folder / "20240101000000_renamed.sql").unlink()
    with pytest.raises(MigrationDriftError, match=r"20240101000000_first\.sql was applied.*gone"):
        _migrate(target, folder)


def test_a_new_migration_sorting_before_the_last_applied_is_refused(
    scratch_db: ScratchFactory, folder: Path
) -> None:
    _write(folder, "20240102000000_applied.sql", "select 1;")
    target = scratch_db()
    _migrate(target, folder)
    _write(folder, "20240101000000_late_arrival.sql", "create table public.late (id int);")
    with pytest.raises(MigrationDriftError, match=r"20240101000000_late_arrival\.sql sorts before"):
        _migrate(target, folder)
    assert not _exists(target, "public.late")


@pytest.mark.parametrize(
    "name", ["init.sql", "2024-01-01_init.sql", "20240101.sql", "20240101000000-init.sql"]
)
def test_a_misnamed_file_is_refused(folder: Path, name: str) -> None:
    _write(folder, name, "select 1;")
    with pytest.raises(MigrationNameError, match=f"{name} does not match"):
        runner.discover(folder)


def test_two_files_with_one_version_are_refused(folder: Path) -> None:
    _write(folder, "20240101000000_a.sql", "select 1;")
    _write(folder, "20240101000000_b.sql", "select 2;")
    with pytest.raises(MigrationNameError, match="share version 20240101000000"):
        runner.discover(folder)


def test_a_file_managing_its_own_transaction_is_refused(
    scratch_db: ScratchFactory, folder: Path
) -> None:
    _write(folder, "20240101000000_txn.sql", "begin;\ncreate table public.t (id int);\ncommit;")
    target = scratch_db()
    with pytest.raises(MigrationError, match="line 1: `begin` manages the transaction"):
        _migrate(target, folder)
    assert not _exists(target, "public.t")


def test_history_written_by_the_cli_is_adopted_when_files_are_unchanged(
    scratch_db: ScratchFactory, folder: Path
) -> None:
    _write(folder, "20240101000000_first.sql", "create table public.a (id int);")
    target = scratch_db()
    _migrate(target, folder)
    with target.connect() as conn:
        # What a database migrated by `supabase db push` looks like: history, no checksums.
        conn.execute("delete from supabase_migrations.migration_checksums")
    assert _migrate(target, folder) == []
    with target.connect() as conn:
        row = conn.execute(
            "select count(*) from supabase_migrations.migration_checksums"
        ).fetchone()
        assert row == (1,)
        conn.execute("delete from supabase_migrations.migration_checksums")
    (folder / "20240101000000_first.sql").write_text("create table public.a (id bigint);")
    with pytest.raises(MigrationDriftError, match="was edited"):
        _migrate(target, folder)


def test_the_platform_makes_tables_without_rls_open_to_anon(scratch_db: ScratchFactory) -> None:
    target = scratch_db()
    with target.connect() as conn:
        conn.execute("create table public.open_table (id int)")
        conn.execute("insert into public.open_table values (1)")
        with conn.transaction():
            conn.execute("set local role anon")
            assert conn.execute("select count(*) from public.open_table").fetchone() == (1,)
        conn.execute("alter table public.open_table enable row level security")
        with conn.transaction():
            conn.execute("set local role anon")
            assert conn.execute("select count(*) from public.open_table").fetchone() == (0,)


def test_the_platform_layer_applied_twice_changes_nothing(scratch_db: ScratchFactory) -> None:
    from lift_db.local.platform_layer import apply_platform_layer

    snapshot = """
        select
          (select array_agg(rolname || ':' || rolsuper || rolbypassrls || rolcanlogin
                            order by rolname) from pg_roles where rolname !~ '^pg_'),
          (select array_agg(nspname || ':' || coalesce(array_to_string(nspacl, ','), '')
                            order by nspname) from pg_namespace),
          (select array_agg(p.oid::regprocedure::text order by p.proname) from pg_proc p
            where p.pronamespace = 'auth'::regnamespace),
          (select array_agg(defaclrole::regrole || ':' || array_to_string(defaclacl, ',')
                            order by defaclrole, defaclnamespace, defaclobjtype)
             from pg_default_acl),
          (select count(*) from pg_publication where pubname = 'supabase_realtime')
    """
    target = scratch_db()
    with target.connect(admin=True) as conn:
        before = conn.execute(snapshot).fetchone()
        apply_platform_layer(conn)
        assert conn.execute(snapshot).fetchone() == before


def test_unreachable_database_url_is_a_clear_error() -> None:
    from tests.conftest import run_lift_db

    result = run_lift_db("--db-url", "postgresql://postgres:pw@127.0.0.1:1/postgres", "migrate")
    assert result.returncode == 1
    assert "cannot connect to postgresql://postgres@127.0.0.1:1/postgres" in result.stderr
    assert "pw" not in result.stderr
    assert "Traceback" not in result.stderr


def test_reset_with_a_misnamed_file_drops_nothing(
    scratch_db: ScratchFactory, tmp_path: Path
) -> None:
    from tests.conftest import ROOT, run_lift_db

    target = scratch_db()
    with target.connect() as conn:
        conn.execute("create table public.precious (id int)")
    project = tmp_path / "project"
    (project / "supabase" / "migrations").mkdir(parents=True)
    (project / "supabase" / "config.toml").write_text((ROOT / "supabase/config.toml").read_text())
    (project / "supabase" / "seed.sql").write_text("select 1;\n")
    (project / "supabase" / "migrations" / "init.sql").write_text("select 1;\n")
    result = run_lift_db("--db-url", target.admin_url or "", "reset", cwd=project)
    assert result.returncode == 1
    assert "init.sql does not match <digits>_<name>.sql" in result.stderr
    assert _exists(target, "public.precious")


def test_psycopg_error_is_never_what_the_command_line_shows(
    scratch_db: ScratchFactory, tmp_path: Path
) -> None:
    from tests.conftest import ROOT, run_lift_db

    target = scratch_db()
    project = tmp_path / "project"
    (project / "supabase" / "migrations").mkdir(parents=True)
    (project / "supabase" / "config.toml").write_text((ROOT / "supabase/config.toml").read_text())
    (project / "supabase" / "migrations" / "20240101000000_bad.sql").write_text("selec 1;\n")
    result = run_lift_db("--db-url", target.url, "migrate", cwd=project)
    assert result.returncode == 1
    assert "20240101000000_bad.sql line 1" in result.stderr
    assert 'syntax error at or near "selec"' in result.stderr
    assert "Traceback" not in result.stderr
    with psycopg.connect(target.url) as conn:
        assert conn.execute(
            "select count(*) from supabase_migrations.schema_migrations"
        ).fetchone() == (0,)
