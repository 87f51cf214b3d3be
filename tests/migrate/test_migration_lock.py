"""The migration lock: a locked migration cannot change, vanish, be renamed or be jumped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lift_db.local.project import Project
from lift_db.migrate import lockfile, runner
from lift_db.migrate.lockfile import MigrationLockError
from tests.conftest import ROOT, run_lift_db

FIRST = "20250101000000_first.sql"
SECOND = "20250102000000_second.sql"


@pytest.fixture
def checkout(tmp_path: Path) -> Project:
    """A copy of the project's layout with two migrations, both locked."""
    (tmp_path / "supabase" / "migrations").mkdir(parents=True)
    shutil.copy(ROOT / "supabase" / "config.toml", tmp_path / "supabase" / "config.toml")
    project = Project(tmp_path)
    _write(project, FIRST, "-- why: the first\ncreate table public.a (id bigint primary key);\n")
    _write(project, SECOND, "-- why: the second\ncreate table public.b (id bigint primary key);\n")
    assert [f.filename for f in lockfile.append(project)] == [FIRST, SECOND]
    return project


def _write(project: Project, name: str, sql: str) -> Path:
    path = project.migrations_dir / name
    path.write_text(sql, encoding="utf-8")
    return path


def _failure(project: Project) -> str:
    with pytest.raises(MigrationLockError) as caught:
        lockfile.verify(project)
    return str(caught.value)


def test_lock_lists_every_migration_in_order_with_its_checksum(checkout: Project) -> None:
    entries = lockfile.read_lock(lockfile.lock_path(checkout))
    files = {f.filename: f for f in runner.discover(checkout.migrations_dir)}
    assert [(e.filename, e.sha256) for e in entries] == [
        (FIRST, files[FIRST].sha256),
        (SECOND, files[SECOND].sha256),
    ]
    lockfile.verify(checkout)


def test_an_edited_locked_migration_fails_naming_the_file(checkout: Project) -> None:
    path = checkout.migrations_dir / FIRST
    path.write_text(path.read_text() + "alter table public.a add column note text;\n")
    message = _failure(checkout)
    assert f"locked migration {FIRST} was edited" in message
    assert SECOND not in message
    assert "put the change in a new migration" in message


def test_a_whitespace_edit_counts_as_an_edit(checkout: Project) -> None:
    path = checkout.migrations_dir / SECOND
    path.write_text(path.read_text() + "\n")
    assert f"locked migration {SECOND} was edited" in _failure(checkout)


def test_a_removed_locked_migration_fails_naming_the_file(checkout: Project) -> None:
    (checkout.migrations_dir / FIRST).unlink()
    assert f"locked migration {FIRST} was removed" in _failure(checkout)


def test_a_renamed_locked_migration_fails_naming_both_names(checkout: Project) -> None:
    (checkout.migrations_dir / SECOND).rename(checkout.migrations_dir / "20250102000000_b.sql")
    message = _failure(checkout)
    assert f"locked migration {SECOND} was renamed to 20250102000000_b.sql" in message


def test_a_new_migration_sorting_before_a_locked_one_fails(checkout: Project) -> None:
    _write(checkout, "20250101120000_late.sql", "-- why\nselect 1;\n")
    message = _failure(checkout)
    assert "new migration 20250101120000_late.sql sorts before locked migration" in message
    assert SECOND in message


def test_a_new_migration_must_be_locked_and_lock_appends_only_it(checkout: Project) -> None:
    before = lockfile.lock_path(checkout).read_text()
    _write(checkout, "20250103000000_third.sql", "-- why\nselect 1;\n")
    message = _failure(checkout)
    assert "migration 20250103000000_third.sql is not in migrations.lock yet" in message
    assert "make lock" in message
    assert [f.filename for f in lockfile.append(checkout)] == ["20250103000000_third.sql"]
    after = lockfile.lock_path(checkout).read_text()
    assert after.startswith(before), "the lock only ever grows at its end"
    assert after.splitlines()[-1].endswith("  20250103000000_third.sql")
    lockfile.verify(checkout)
    assert lockfile.append(checkout) == []


def test_lock_refuses_to_append_while_a_locked_migration_is_edited(checkout: Project) -> None:
    before = lockfile.lock_path(checkout).read_text()
    (checkout.migrations_dir / FIRST).write_text("-- why: rewritten\nselect 2;\n")
    _write(checkout, "20250103000000_third.sql", "-- why\nselect 1;\n")
    with pytest.raises(MigrationLockError, match=f"{FIRST} was edited"):
        lockfile.append(checkout)
    assert lockfile.lock_path(checkout).read_text() == before


def test_every_problem_is_reported_at_once(checkout: Project) -> None:
    (checkout.migrations_dir / FIRST).write_text("-- why: rewritten\nselect 2;\n")
    (checkout.migrations_dir / SECOND).unlink()
    message = _failure(checkout)
    assert f"{FIRST} was edited" in message
    assert f"{SECOND} was removed" in message


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("not a lock line", "is not `<sha256>  <version>_<name>.sql`"),
        ("0" * 64 + "  20240101000000_older.sql", "does not sort after"),
    ],
)
def test_a_malformed_lock_file_is_refused(checkout: Project, line: str, complaint: str) -> None:
    path = lockfile.lock_path(checkout)
    path.write_text(path.read_text() + line + "\n")
    with pytest.raises(MigrationLockError, match=complaint):
        lockfile.verify(checkout)


def test_the_check_command_exits_non_zero_naming_the_file(checkout: Project) -> None:
    env = {"LIFT_DB_PROJECT": str(checkout.root)}
    assert run_lift_db("lock", "--check", env=env).returncode == 0
    path = checkout.migrations_dir / SECOND
    path.write_text(path.read_text().replace("public.b", "public.c"))
    result = run_lift_db("lock", "--check", env=env)
    assert result.returncode == 1
    assert f"locked migration {SECOND} was edited" in result.stderr


def test_the_committed_lock_covers_the_project_migrations(project: Project) -> None:
    lockfile.verify(project)
