"""The SQL gates of `make lint`: squawk and sqlfluff with the project's own configuration.

Each runs the way the Makefile runs it, from the root of a throwaway copy of the layout that holds
the project's config files and the SQL under test, never on the real tree.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

BIN = Path(sys.executable).parent
MIGRATION = "supabase/migrations/20990101000000_under_test.sql"
TEST_FILE = "supabase/tests/100_under_test.sql"

CLEAN_MIGRATION = """\
-- Why: a table every rule is happy with, the shape the project's migrations take.
set lock_timeout = '5s';
set statement_timeout = '60s';

create table public.notes (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  body text not null,
  version bigint not null default 1,
  created_at timestamptz not null default now()
);

create index notes_user_id_idx on public.notes using btree (user_id);

alter table public.notes enable row level security;

create policy "owners read their notes" on public.notes
  for select
  to authenticated
  using ((select auth.uid()) = user_id);

comment on table public.notes is
  'A note of a user; "char" columns would keep their quotes.';
"""

CLEAN_TEST = """\
-- Story: the notes table exists.
begin;
select plan(2);
select has_table('public', 'notes', 'public.notes exists');
select is((select count(*)::int from public.notes as n where n.body = 'x'), 0,
          'no note says x');
select * from finish();
rollback;
"""


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    for config in (".squawk.toml", ".sqlfluff", "supabase/tests/.sqlfluff"):
        (tmp_path / config).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / config, tmp_path / config)
    (tmp_path / "supabase" / "migrations").mkdir(parents=True)
    return tmp_path


def _place(layout: Path, rel: str, sql: str) -> None:
    (layout / rel).write_text(sql, encoding="utf-8")


def squawk(layout: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(BIN / "squawk"),
            "--reporter=gcc",
            "--no-error-on-unmatched-pattern",
            "supabase/migrations/*.sql",
        ],
        cwd=layout,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def sqlfluff(layout: Path, *paths: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "sqlfluff"), "lint", "--disable-progress-bar", *paths],
        cwd=layout,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_squawk_passes_a_lock_safe_migration(layout: Path) -> None:
    _place(layout, MIGRATION, CLEAN_MIGRATION)
    result = squawk(layout)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        # No lock_timeout: the FK's lock on auth.users could queue every sign-up behind it.
        (("set lock_timeout = '5s';\n", ""), "require-lock-timeout"),
        (("set statement_timeout = '60s';\n", ""), "require-statement-timeout"),
        (("body text not null", "body varchar(200) not null"), "prefer-text-field"),
        (("create table public.notes", "create table notes"), "require-table-schema"),
        # assume_in_transaction: the platform already wraps the file in a transaction.
        (("set lock_timeout", "begin;\nset lock_timeout"), "transaction-nesting"),
    ],
)
def test_squawk_fails_a_migration_breaking_a_rule(
    layout: Path, change: tuple[str, str], rule: str
) -> None:
    old, new = change
    assert old in CLEAN_MIGRATION
    _place(layout, MIGRATION, CLEAN_MIGRATION.replace(old, new))
    result = squawk(layout)
    assert result.returncode != 0
    assert f"{MIGRATION}:" in result.stdout
    assert rule in result.stdout


def test_squawk_flags_a_blocking_index_on_an_existing_table(layout: Path) -> None:
    _place(layout, MIGRATION, CLEAN_MIGRATION)
    _place(
        layout,
        "supabase/migrations/20990102000000_index_notes.sql",
        "-- Why: find notes by body.\nset lock_timeout = '5s';\nset statement_timeout = '60s';\n"
        "create index notes_body_idx on public.notes (body);\n",
    )
    result = squawk(layout)
    assert result.returncode != 0
    assert "20990102000000_index_notes.sql" in result.stdout
    assert "require-concurrent-index-creation" in result.stdout
    assert "20990101000000_under_test.sql" not in result.stdout


def test_sqlfluff_passes_the_project_style(layout: Path) -> None:
    _place(layout, MIGRATION, CLEAN_MIGRATION)
    _place(layout, TEST_FILE, CLEAN_TEST)
    result = sqlfluff(layout, "supabase/migrations", "supabase/tests")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (("create table public.notes", "CREATE TABLE public.notes"), "CP01"),
        (("body text not null,", "body text not null default '" + "x" * 90 + "',"), "LT05"),
        (("select auth.uid())", '"auth".uid())'), "RF06"),
        (("on delete cascade,", "on delete cascade ,"), "LT01"),
        (("id uuid primary key", "id UUID primary key"), "CP05"),
    ],
)
def test_sqlfluff_fails_a_style_violation(layout: Path, change: tuple[str, str], rule: str) -> None:
    old, new = change
    assert old in CLEAN_MIGRATION
    _place(layout, MIGRATION, CLEAN_MIGRATION.replace(old, new))
    result = sqlfluff(layout, "supabase/migrations")
    assert result.returncode != 0
    assert MIGRATION in result.stdout
    assert rule in result.stdout


def test_sqlfluff_lints_a_file_past_its_default_size_limit(layout: Path) -> None:
    # sqlfluff skips files over 20,000 bytes by default, with only a warning.
    comments = "".join(f"-- padding line {n:05d} of a long migration\n" for n in range(1000))
    sql = CLEAN_MIGRATION + comments + "SELECT 1;\n"
    assert len(sql.encode()) > 20_000
    _place(layout, MIGRATION, sql)
    result = sqlfluff(layout, "supabase/migrations")
    assert result.returncode != 0, result.stdout + result.stderr
    assert "CP01" in result.stdout


def test_pgtap_files_may_end_with_select_star_from_finish(layout: Path) -> None:
    # The exception of supabase/tests/.sqlfluff applies there only.
    _place(layout, TEST_FILE, CLEAN_TEST)
    _place(layout, MIGRATION, CLEAN_MIGRATION + "\nselect * from public.notes;\n")
    result = sqlfluff(layout, "supabase/migrations", "supabase/tests")
    assert result.returncode != 0
    assert "AM04" in result.stdout
    assert TEST_FILE not in result.stdout


@pytest.mark.parametrize(("width", "fails"), [(118, False), (125, True)])
def test_pgtap_files_may_run_to_120_columns(layout: Path, width: int, fails: bool) -> None:
    line = "select ok(true, '{}');".format("x" * (width - len("select ok(true, '');")))
    assert len(line) == width
    sql = CLEAN_TEST.replace("select plan(2);", "select plan(3);").replace(
        "select * from finish();", f"{line}\nselect * from finish();"
    )
    _place(layout, TEST_FILE, sql)
    result = sqlfluff(layout, "supabase/tests")
    assert (result.returncode != 0) is fails, result.stdout
    assert ("LT05" in result.stdout) is fails
