"""`lift-db new`: files named as `supabase migration new` names them, never overwritten."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lift_db.errors import MigrationNameError
from lift_db.local.project import Project
from lift_db.migrate import new_migration, runner
from tests.conftest import ROOT

NOON = datetime(2031, 1, 2, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def scratch_project(tmp_path: Path) -> Project:
    (tmp_path / "supabase" / "migrations").mkdir(parents=True)
    shutil.copy(ROOT / "supabase" / "config.toml", tmp_path / "supabase" / "config.toml")
    return Project(tmp_path)


def test_the_file_is_named_by_utc_time_and_starts_with_the_header(
    scratch_project: Project,
) -> None:
    path, notes = new_migration.create(scratch_project, "add_sessions_title_index", NOON)
    assert path.name == "20310102120000_add_sessions_title_index.sql"
    assert notes == []
    text = path.read_text()
    assert text.startswith("-- Why: ")
    assert "set lock_timeout = '5s';\nset statement_timeout = '60s';\n" in text
    # The runner and the Supabase CLI's pattern accept it.
    assert [f.path for f in runner.discover(scratch_project.migrations_dir)] == [path]


def test_a_version_that_would_sort_first_is_moved_after_the_latest(
    scratch_project: Project,
) -> None:
    later = scratch_project.migrations_dir / "20310102130000_add_later.sql"
    later.write_text("select 1;\n")
    path, notes = new_migration.create(scratch_project, "add_earlier", NOON)
    assert path.name == "20310102130001_add_earlier.sql"
    assert "does not sort after the latest migration (20310102130000)" in notes[0]


def test_an_existing_file_is_never_overwritten(
    scratch_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = new_migration.create(scratch_project, "add_x", NOON)
    path.write_text("-- Why: written by hand\n")
    # Two runs in the same second, the second not yet seeing the first's file.
    monkeypatch.setattr(new_migration, "latest_version", lambda _dir: None)
    with pytest.raises(MigrationNameError, match=r"20310102120000_add_x\.sql already exists"):
        new_migration.create(scratch_project, "add_x", NOON)
    assert path.read_text() == "-- Why: written by hand\n"


@pytest.mark.parametrize(
    "name", ["Add_X", "add-x", "add x", "1_add", "add__x", "add_x_", "add_ü", "a" * 61, ""]
)
def test_names_outside_snake_case_are_refused(scratch_project: Project, name: str) -> None:
    with pytest.raises(MigrationNameError, match="snake_case"):
        new_migration.create(scratch_project, name, NOON)
    assert list(scratch_project.migrations_dir.iterdir()) == []


def test_a_name_not_starting_with_a_verb_gets_a_hint(scratch_project: Project) -> None:
    path, notes = new_migration.create(scratch_project, "sessions_title_index", NOON)
    assert path.exists()
    assert "e.g. add_sessions_title_index" in notes[0]


def test_the_command_prints_the_path(scratch_project: Project) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lift_db.cli", "new", "add_comments_index"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "LIFT_DB_PROJECT": str(scratch_project.root)},
    )
    assert result.returncode == 0, result.stderr
    created = list(scratch_project.migrations_dir.glob("*_add_comments_index.sql"))
    assert len(created) == 1
    assert result.stdout == f"created supabase/migrations/{created[0].name}\n"


def test_the_header_and_the_verbs_are_the_ones_docs_migrations_md_gives() -> None:
    doc = (ROOT / "docs" / "migrations.md").read_text()
    # The timeout lines every file carries, and the section they point to, are in the doc.
    lines = new_migration.header().split("\n\n", 1)[1]
    assert "\n".join("  " + ln for ln in lines.strip().splitlines()) in doc
    assert "\n## 3. Lock-safe DDL\n" in doc
    # Every verb the hint accepts is one the doc lists, and the other way round.
    naming = doc.split("The verbs `lift-db new` knows:", 1)[1].split(". The", 1)[0]
    assert set(re.findall(r"`([a-z]+)`", naming)) == new_migration.VERBS
