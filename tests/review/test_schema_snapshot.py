"""The schema snapshot: docs/schema/ and docs/ERD.md follow the migrations, or CI fails."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lift_db.local.project import Project
from lift_db.local.server import LocalServer
from lift_db.migrate import runner
from lift_db.migrate.runner import MigrationFile
from lift_db.review import _snapshot
from lift_db.review._erd import mermaid_type
from lift_db.review._snapshot import Snapshot, SnapshotError

NOTES = """\
-- Why: notes of a user, with replies; RLS on the notes only, to see the ERD tell them apart.
set local lock_timeout = '5s';

create schema if not exists private;

create table public.notes (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  body text not null,
  price numeric(10, 2),
  embedding extensions.vector(3),
  created_at timestamptz not null default now()
);
create index notes_user_id_idx on public.notes using btree (user_id);
alter table public.notes enable row level security;
create policy "owners read their notes" on public.notes
for select to authenticated
using ((select auth.uid()) = user_id);

create table public.replies (
  note_id uuid not null references public.notes (id) on delete cascade,
  position bigint not null,
  quoted_note uuid references public.notes (id),
  primary key (note_id, position)
);
create index replies_quoted_note_idx on public.replies using btree (quoted_note);

create function private.welcome() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  return new;
end
$$;
create trigger welcome_new_user after insert on auth.users
for each row execute function private.welcome();
"""


@pytest.fixture(scope="module")
def project_snapshot(project: Project, local_server: LocalServer) -> Snapshot:
    return _snapshot.build(local_server, runner.discover(project.migrations_dir))


@pytest.fixture(scope="module")
def notes_files(tmp_path_factory: pytest.TempPathFactory, project: Project) -> list[MigrationFile]:
    folder = tmp_path_factory.mktemp("migrations")
    for file in runner.discover(project.migrations_dir):
        shutil.copy(file.path, folder / file.filename)
    (folder / "20991231000000_notes.sql").write_text(NOTES, encoding="utf-8")
    return runner.discover(folder)


@pytest.fixture(scope="module")
def notes_snapshot(local_server: LocalServer, notes_files: list[MigrationFile]) -> Snapshot:
    return _snapshot.build(local_server, notes_files)


def test_the_committed_snapshot_matches_the_migrations(
    project: Project, project_snapshot: Snapshot
) -> None:
    # The gate itself: fails with a diff and "run `make snapshot`" when docs/ is stale.
    _snapshot.verify(project_snapshot, project.root / "docs")


def test_a_new_migration_makes_the_committed_snapshot_stale(
    project: Project, notes_snapshot: Snapshot
) -> None:
    with pytest.raises(SnapshotError) as caught:
        # Enough diff lines to reach the new table wherever the growing schema sorts it.
        _snapshot.verify(notes_snapshot, project.root / "docs", max_diff_lines=400)
    message = str(caught.value)
    # Each new object's file is new; the platform table it attaches a trigger to changes.
    assert "docs/schema/public/tables/notes.sql is missing" in message
    assert "docs/schema/public/tables/replies.sql is missing" in message
    assert "docs/schema/private/functions/welcome.sql is missing" in message
    assert "docs/schema/auth/tables/users.sql is stale" in message
    assert "+CREATE TRIGGER welcome_new_user AFTER INSERT ON auth.users" in message
    assert "docs/ERD.md is stale" in message
    assert "docs/schema/public/tables/sessions.sql" not in message
    assert "make snapshot" in message


def test_an_edited_or_missing_snapshot_file_is_stale(
    project: Project, project_snapshot: Snapshot, tmp_path: Path
) -> None:
    _snapshot.write(project_snapshot, tmp_path)
    _snapshot.verify(project_snapshot, tmp_path)
    sessions = tmp_path / "schema" / "public" / "tables" / "sessions.sql"
    sessions.write_text(sessions.read_text() + "\n-- a hand edit\n")
    (tmp_path / "ERD.md").unlink()
    dropped = tmp_path / "schema" / "public" / "tables" / "dropped_table.sql"
    dropped.write_text("CREATE TABLE public.dropped_table ();\n")
    with pytest.raises(SnapshotError) as caught:
        _snapshot.verify(project_snapshot, tmp_path)
    message = str(caught.value)
    assert "docs/schema/public/tables/sessions.sql is stale" in message
    assert "-- a hand edit" in message
    assert "docs/ERD.md is missing" in message
    assert "docs/schema/public/tables/dropped_table.sql is left over" in message
    assert "make snapshot" in message
    assert {p.name for p in _snapshot.write(project_snapshot, tmp_path)} == {
        "sessions.sql",
        "ERD.md",
        "dropped_table.sql",
    }
    assert not dropped.exists()
    _snapshot.verify(project_snapshot, tmp_path)


def test_the_snapshot_is_deterministic(
    local_server: LocalServer, notes_files: list[MigrationFile], notes_snapshot: Snapshot
) -> None:
    assert _snapshot.build(local_server, notes_files) == notes_snapshot


def test_each_object_has_its_file_and_nothing_of_the_platform_is_there(
    notes_snapshot: Snapshot,
) -> None:
    files = notes_snapshot.files
    expected = {
        "schema/public/tables/notes.sql": (
            "CREATE TABLE public.notes (",
            "CREATE INDEX notes_user_id_idx ON public.notes USING btree (user_id);",
            'CREATE POLICY "owners read their notes" ON public.notes FOR SELECT TO authenticated',
            "ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;",
            "ADD CONSTRAINT notes_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id)",
        ),
        "schema/public/tables/replies.sql": (
            "CREATE INDEX replies_quoted_note_idx ON public.replies USING btree (quoted_note);",
            "GRANT ALL ON TABLE public.replies TO anon;",
        ),
        "schema/private/functions/welcome.sql": ("CREATE FUNCTION private.welcome() RETURNS",),
        # Made by a migration on a platform table: kept, with its unusual owner.
        "schema/auth/tables/users.sql": (
            "-- Name: users welcome_new_user; Type: TRIGGER; Schema: auth; Owner: "
            "supabase_auth_admin",
        ),
        "schema/database.sql": (
            "CREATE SCHEMA private;",
            "CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA extensions;",
        ),
        "schema/publications/supabase_realtime.sql": (
            "ALTER PUBLICATION supabase_realtime ADD TABLE ONLY public.sessions;",
        ),
    }
    for path, texts in expected.items():
        for text in texts:
            assert text in files[path], (path, text)
    assert files["schema/public/tables/notes.sql"].startswith(
        "-- Generated by `make snapshot` from supabase/migrations: do not edit. What the "
        "migrations\n-- make of table public.notes,"
    )
    # Nothing about another table stands in a table's file.
    assert "replies" not in files["schema/public/tables/notes.sql"]
    everything = "\n".join(text for path, text in files.items() if path.startswith("schema/"))
    for platform_or_noise in (
        "CREATE TABLE auth.users",
        "CREATE FUNCTION auth.uid()",
        "supabase_migrations",
        "\\restrict",
        "Dumped from",
        "SET statement_timeout",
        "OWNER TO postgres",
        "Owner: postgres",
        "COMMENT ON EXTENSION",
    ):
        assert platform_or_noise not in everything


def test_erd_draws_tables_keys_relations_and_rls(notes_snapshot: Snapshot) -> None:
    erd = notes_snapshot.files["ERD.md"]
    assert "```mermaid\nerDiagram\n" in erd
    for expected in (
        '    "public.notes" {\n        uuid id PK\n        uuid user_id FK\n',
        '        numeric price "numeric(10,2)"\n',
        "        vector(3) embedding\n",
        "        timestamptz created_at\n",
        '    "public.replies" {\n        uuid note_id PK, FK\n        bigint position PK\n',
        # Referenced platform table: only the referenced column.
        '    "auth.users" {\n        uuid id PK\n    }\n',
        # Mandatory many-to-one, not part of the key: dashed.
        '"auth.users" ||..o{ "public.notes" : "user_id"',
        # Part of the child's key: identifying, solid.
        '"public.notes" ||--o{ "public.replies" : "note_id"',
        # Nullable reference: zero or one parent.
        '"public.notes" |o..o{ "public.replies" : "quoted_note"',
        "| `public.notes` | enabled | owners read their notes (select: authenticated) |",
        "| `public.replies` | **off** | none |",
    ):
        assert expected in erd


@pytest.mark.parametrize(
    ("pg_type", "mermaid"),
    [
        ("timestamp with time zone", "timestamptz"),
        ("timestamp(3) without time zone", "timestamp(3)"),
        ("character varying(20)", "varchar(20)"),
        ("double precision[]", "float8[]"),
        ("extensions.vector(1536)", "vector(1536)"),
        ("numeric(10,2)", "numeric"),
        ("public.session_status", "session_status"),
    ],
)
def test_mermaid_types_fit_mermaid_attribute_syntax(pg_type: str, mermaid: str) -> None:
    assert mermaid_type(pg_type) == mermaid


def test_normalize_drops_what_changes_between_runs() -> None:
    dump = "\n".join(
        [
            "--",
            "-- PostgreSQL database dump",
            "--",
            "",
            "\\restrict AbC123",
            "",
            "-- Dumped from database version 18.6",
            "SET statement_timeout = 0;",
            "",
            "--",
            "-- Name: t; Type: TABLE; Schema: public; Owner: postgres",
            "--",
            "",
            "CREATE TABLE public.t (",
            "    id bigint",
            ");",
            "",
            "",
            "ALTER TABLE public.t OWNER TO postgres;",
            "",
            "--",
            "-- Name: u; Type: TABLE; Schema: public; Owner: someone_else",
            "--",
            "",
            "CREATE TABLE public.u ();",
            "ALTER TABLE public.u OWNER TO someone_else;",
            "",
            "--",
            "-- PostgreSQL database dump complete",
            "--",
            "",
            "\\unrestrict AbC123",
        ]
    )
    assert _snapshot.normalize(dump) == [
        "--\n-- Name: t; Type: TABLE; Schema: public\n--\n\nCREATE TABLE public.t (\n"
        "    id bigint\n);",
        "--\n-- Name: u; Type: TABLE; Schema: public; Owner: someone_else\n--\n\n"
        "CREATE TABLE public.u ();\nALTER TABLE public.u OWNER TO someone_else;",
    ]


def test_every_entry_of_the_project_sits_with_its_object(project_snapshot: Snapshot) -> None:
    # The per-schema catch-all stays empty: an index, a partition's attached key or a grant
    # that could not be placed with its table would land there and hide from reviewers.
    catch_all = [p for p in project_snapshot.files if p.endswith("/schema.sql")]
    assert catch_all == []
    assert "schema/partitions/tables/analytics_events_default.sql" in project_snapshot.files
    partition = project_snapshot.files["schema/partitions/tables/analytics_events_default.sql"]
    assert "ATTACH PARTITION partitions.analytics_events_default_pkey;" in partition
