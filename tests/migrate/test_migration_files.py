"""Which files the runner reads: regular files inside the project, named as the Supabase CLI reads.

A symbolic link is refused by name and never read (a link could make the runner run, and print,
a file from anywhere on the machine), and a version with other than ASCII digits is refused by
name (the CLI would skip the file, so local and production would differ).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lift_db.errors import LiftDbError, MigrationError, MigrationNameError
from lift_db.local.project import Project
from lift_db.local.target import Target
from lift_db.migrate import commands, runner
from tests.conftest import ROOT, ScratchFactory, run_lift_db

# Stands for a file outside the project that a link points at: its first line must never show.
SECRET = "$2a$10$abcdefghijklmnopqrstuvexamplehashofapasswordxx"


@pytest.fixture
def checkout(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    (root / "supabase" / "migrations").mkdir(parents=True)
    shutil.copy(ROOT / "supabase" / "config.toml", root / "supabase" / "config.toml")
    (root / "supabase" / "seed.sql").write_text("select 1;\n")
    return Project(root)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "elsewhere" / "shadow"
    path.parent.mkdir()
    path.write_text(f"{SECRET}\nroot:x:0:0\n")
    return path


def _refused(result_stderr: str, *phrases: str) -> None:
    for phrase in phrases:
        assert phrase in result_stderr, result_stderr
    assert SECRET not in result_stderr
    assert "Traceback" not in result_stderr


def test_a_symlinked_migration_is_refused_and_never_read(
    checkout: Project, outside: Path, scratch_db: ScratchFactory
) -> None:
    link = checkout.migrations_dir / "20240101000000_innocent.sql"
    link.symlink_to(outside)
    target = scratch_db()
    result = run_lift_db("--db-url", target.url, "migrate", cwd=checkout.root)
    assert result.returncode == 1
    _refused(result.stderr, "20240101000000_innocent.sql is a symbolic link")
    assert SECRET not in result.stdout
    with pytest.raises(MigrationError, match=r"20240101000000_innocent\.sql is a symbolic link"):
        runner.discover(checkout.migrations_dir)


def test_a_symlink_to_a_file_inside_the_project_is_refused_too(checkout: Project) -> None:
    real = checkout.root / "real.sql"
    real.write_text("select 1;\n")
    (checkout.migrations_dir / "20240101000000_alias.sql").symlink_to(real)
    with pytest.raises(MigrationError, match="is a symbolic link"):
        runner.discover(checkout.migrations_dir)


def test_a_migrations_folder_linked_outside_the_project_is_refused(
    checkout: Project, tmp_path: Path, scratch_db: ScratchFactory
) -> None:
    elsewhere = tmp_path / "elsewhere_migrations"
    elsewhere.mkdir()
    (elsewhere / "20240101000000_x.sql").write_text(f"{SECRET};\n")
    checkout.migrations_dir.rmdir()
    checkout.migrations_dir.symlink_to(elsewhere)
    result = run_lift_db("--db-url", scratch_db().url, "migrate", cwd=checkout.root)
    assert result.returncode == 1
    _refused(result.stderr, "supabase/migrations lies outside the project")
    with pytest.raises(MigrationError, match="migrations folder supabase/migrations lies outside"):
        runner.discover(checkout.migrations_dir, checkout.root)


def test_a_fifo_named_like_a_migration_is_refused_without_blocking(checkout: Project) -> None:
    os.mkfifo(checkout.migrations_dir / "20240101000000_pipe.sql")
    with pytest.raises(MigrationError, match=r"20240101000000_pipe\.sql is not a regular file"):
        runner.discover(checkout.migrations_dir)


def test_a_symlinked_seed_file_is_refused_before_the_database_is_dropped(
    checkout: Project, outside: Path, scratch_db: ScratchFactory
) -> None:
    seed = checkout.supabase_dir / "seed.sql"
    seed.unlink()
    seed.symlink_to(outside)
    target = scratch_db()
    with target.connect() as conn:
        conn.execute("create table public.precious (id int)")
    result = run_lift_db("--db-url", target.admin_url or "", "reset", cwd=checkout.root)
    assert result.returncode == 1
    _refused(result.stderr, "seed file supabase/seed.sql is a symbolic link")
    assert _exists(target, "public.precious")
    with pytest.raises(LiftDbError, match=r"seed file supabase/seed\.sql is a symbolic link"):
        commands.seed_texts(checkout)


def test_a_symlinked_or_outside_pgtap_file_is_refused_and_never_run(
    outside: Path, tmp_path: Path
) -> None:
    from lift_db.testing.pytest_plugin import PgTapFailure, run_pgtap_file

    link = tmp_path / "040_history.sql"
    link.symlink_to(outside)
    with pytest.raises(PgTapFailure, match=r"pgTAP file 040_history\.sql is a symbolic link"):
        run_pgtap_file(link, "postgresql://nobody@127.0.0.1:1/none", ROOT)
    stray = tmp_path / "050_stray.sql"
    stray.write_text("select 1;\n")
    with pytest.raises(PgTapFailure, match=r"050_stray\.sql lies outside the project"):
        run_pgtap_file(stray, "postgresql://nobody@127.0.0.1:1/none", ROOT)


def _exists(target: Target, regclass: str) -> bool:
    with target.connect() as conn:
        row = conn.execute("select to_regclass(%s) is not null", (regclass,)).fetchone()
    return bool(row and row[0])


def _digits(zero: int, version: str = "20240101000000") -> str:
    """The version written with the digits of another script (`zero` is its digit zero)."""
    return "".join(chr(zero + int(d)) for d in version)


@pytest.mark.parametrize(
    "name",
    [
        _digits(0x0660) + "_arabic_indic_digits.sql",
        _digits(0xFF10) + "_fullwidth_digits.sql",
        _digits(0x1D7CE) + "_mathematical_digits.sql",
        "20240101000000" + _digits(0x0966, "3") + "_one_devanagari_digit.sql",
        "20240101000000_upper_case.SQL",
    ],
)
def test_a_version_with_other_than_ascii_digits_is_refused_by_name(
    checkout: Project, name: str
) -> None:
    (checkout.migrations_dir / name).write_text("create table public.diverges (id int);\n")
    with pytest.raises(MigrationNameError) as refused:
        runner.discover(checkout.migrations_dir)
    assert f"migration file {name} does not match <digits>_<name>.sql" in str(refused.value)
    assert "digits 0-9 only" in str(refused.value)


def test_a_name_with_control_characters_is_shown_escaped(checkout: Project) -> None:
    (checkout.migrations_dir / "2024\x1b[2J_clear.sql").write_text("select 1;\n")
    with pytest.raises(MigrationNameError) as refused:
        runner.discover(checkout.migrations_dir)
    assert "\x1b" not in str(refused.value)
    assert "2024\\x1b[2J_clear.sql" in str(refused.value)


def test_files_the_cli_skips_without_the_sql_suffix_are_ignored(checkout: Project) -> None:
    (checkout.migrations_dir / "README.md").write_text("notes\n")
    (checkout.migrations_dir / "20240101000000_x.sql.bak").write_text("select 1;\n")
    (checkout.migrations_dir / "20240101000000_x.sql").write_text("select 1;\n")
    assert [f.filename for f in runner.discover(checkout.migrations_dir)] == [
        "20240101000000_x.sql"
    ]
