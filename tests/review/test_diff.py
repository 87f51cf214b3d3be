"""`lift-db diff`: each hard case of the schema goes through the differ and the verification.

Every test makes its change on a scratch copy of the schema the migrations build (never on the
shared dev database), runs `lift-db --db-url <copy> diff -f NAME` in a throwaway project holding
a copy of the migrations, then rebuilds a database from those migrations plus the new file and
checks the change there from the catalogs, independently of the command's own verification.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lift_db.local.project import Project
from lift_db.local.server import LocalServer
from lift_db.local.target import connect
from lift_db.migrate import runner
from lift_db.review import _schema_diff
from tests.conftest import ROOT, run_lift_db

Query = Callable[[str], list[tuple[object, ...]]]


@pytest.fixture
def diff_project(tmp_path: Path, project: Project) -> Project:
    """A copy of the project's config and migrations; the local server's state is shared."""
    (tmp_path / "supabase").mkdir()
    shutil.copy(ROOT / "supabase" / "config.toml", tmp_path / "supabase" / "config.toml")
    shutil.copy(ROOT / ".sqlfluff", tmp_path / ".sqlfluff")
    shutil.copytree(project.migrations_dir, tmp_path / "supabase" / "migrations")
    return Project(tmp_path, state=project.state_dir)


@pytest.fixture
def target(local_server: LocalServer, project: Project) -> Iterator[str]:
    """A scratch database built from the migrations, to change; yields its superuser URL."""
    files = runner.discover(project.migrations_dir)
    with _schema_diff.built_database(local_server, files) as dbname:
        yield local_server.admin_url(dbname)


@pytest.fixture
def rebuild(local_server: LocalServer) -> Iterator[Callable[[Project], Query]]:
    """Build a database from a project's migrations (a new file included) and query it."""
    with contextlib.ExitStack() as stack:

        def build(project: Project) -> Query:
            files = runner.discover(project.migrations_dir)
            dbname = stack.enter_context(_schema_diff.built_database(local_server, files))

            def query(sql: str) -> list[tuple[object, ...]]:
                with connect(local_server.admin_url(dbname)) as conn:
                    return [tuple(r) for r in conn.execute(sql.encode()).fetchall()]

            return query

        yield build


def change(target_url: str, sql: str) -> None:
    """Make the change as `postgres`, as a developer with psql would."""
    with connect(target_url.replace("supabase_admin:", "postgres:", 1)) as conn:
        conn.execute(sql.encode())


def diff(project: Project, target_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_lift_db(
        "--db-url",
        target_url,
        "diff",
        *args,
        env={"LIFT_DB_PROJECT": str(project.root), "LIFT_DB_STATE_DIR": str(project.state_dir)},
    )


def names(project: Project) -> set[str]:
    return {p.name for p in project.migrations_dir.glob("*.sql")}


def diff_to_file(project: Project, target_url: str, name: str, *args: str) -> str:
    """Run `diff -f NAME`; return the text of the one migration it wrote."""
    before = names(project)
    result = diff(project, target_url, "-f", name, *args)
    assert result.returncode == 0, result.stderr
    new = sorted(names(project) - before)
    assert len(new) == 1, result.stderr
    assert new[0].endswith(f"_{name}.sql")
    assert "verified" in result.stderr
    text = (project.migrations_dir / new[0]).read_text()
    assert text.startswith("-- Why: ")
    return text


def test_no_change_says_so_and_writes_nothing(diff_project: Project, target: str) -> None:
    before = names(diff_project)
    result = diff(diff_project, target, "-f", "add_nothing")
    assert result.returncode == 0, result.stderr
    assert "no changes" in result.stderr
    assert names(diff_project) == before


def test_column_level_grants_and_revokes(
    diff_project: Project, target: str, rebuild: Callable[[Project], Query]
) -> None:
    change(
        target,
        "grant update (ir_version) on table public.sessions to authenticated;"
        "revoke insert (latency_ms) on table public.analytics_events from authenticated;",
    )
    text = diff_to_file(diff_project, target, "grant_sessions_status_update")
    assert "grant update (ir_version) on table public.sessions to authenticated;" in text
    query = rebuild(diff_project)
    assert query(
        "select has_column_privilege('authenticated', 'public.sessions', 'ir_version', 'update'),"
        " has_column_privilege('authenticated', 'public.analytics_events', 'latency_ms', 'insert'),"
        " has_column_privilege('authenticated', 'public.analytics_events', 'event_type', 'insert')"
    ) == [(True, False, True)]


def test_rls_enable_and_a_new_and_an_altered_policy(
    diff_project: Project, target: str, rebuild: Callable[[Project], Query]
) -> None:
    change(
        target,
        """
        create table public.notes (id bigint primary key, user_id uuid not null, body text);
        alter table public.notes enable row level security;
        create policy notes_select_own on public.notes for select to authenticated
          using (user_id = (select auth.uid()));
        alter policy analytics_events_select_own on public.analytics_events
          using (user_id = (select auth.uid()) and event_type <> 'internal');
        """,
    )
    diff_to_file(diff_project, target, "add_notes")
    query = rebuild(diff_project)
    assert query("select relrowsecurity from pg_class where oid = 'public.notes'::regclass") == [
        (True,)
    ]
    assert query("select policyname, roles::text from pg_policies where tablename = 'notes'") == [
        ("notes_select_own", "{authenticated}")
    ]
    [(qual,)] = query(
        "select qual from pg_policies where policyname = 'analytics_events_select_own'"
    )
    assert "internal" in str(qual)


def test_a_new_monthly_partition(
    diff_project: Project, target: str, rebuild: Callable[[Project], Query]
) -> None:
    # As private.create_analytics_events_partition makes one, by hand.
    change(
        target,
        """
        create table partitions.analytics_events_p2031_01 partition of public.analytics_events
          for values from ('2031-01-01') to ('2031-02-01');
        alter table partitions.analytics_events_p2031_01 enable row level security;
        revoke all on table partitions.analytics_events_p2031_01
          from anon, authenticated, service_role;
        """,
    )
    # Monthly partitions are made at run time: without the flag they are left out.
    left_out = diff(diff_project, target, "-f", "add_partition")
    assert left_out.returncode == 0, left_out.stderr
    assert "left out 1 partition(s) made at run time" in left_out.stderr
    assert "no changes" in left_out.stderr
    text = diff_to_file(diff_project, target, "add_partition", "--with-partitions")
    # The differ re-creates what the partition inherits; that is left out (it would fail).
    assert "analytics_events_check_session" not in text
    query = rebuild(diff_project)
    assert query(
        "select pg_get_expr(c.relpartbound, c.oid), c.relrowsecurity,"
        " has_table_privilege('authenticated', c.oid, 'select')"
        " from pg_class as c where c.oid = 'partitions.analytics_events_p2031_01'::regclass"
    ) == [
        (
            "FOR VALUES FROM ('2031-01-01 00:00:00+00') TO ('2031-02-01 00:00:00+00')",
            True,
            False,
        )
    ]
    # Inherited from the parent, once: its indexes and its row triggers (statement triggers,
    # such as the roll-ups', stay on the parent, which every statement on it fires).
    assert query(
        "select count(*) from pg_index"
        " where indrelid = 'partitions.analytics_events_p2031_01'::regclass"
    ) == [(4,)]
    triggers = (
        "select tgname from pg_trigger where tgrelid = '{}'::regclass and not tgisinternal"
        " and tgtype::integer & 1 = 1 order by tgname"
    )
    inherited = query(triggers.format("partitions.analytics_events_p2031_01"))
    assert inherited == query(triggers.format("public.analytics_events"))
    assert ("analytics_events_check_session",) in inherited


def test_a_new_partitioned_table_with_a_default_partition(
    diff_project: Project, target: str, rebuild: Callable[[Project], Query]
) -> None:
    change(
        target,
        """
        create table public.metrics (
          id bigint not null, at timestamptz not null, value bigint,
          primary key (id, at)
        ) partition by range (at);
        alter table public.metrics enable row level security;
        create index metrics_value_idx on public.metrics (value);
        create table partitions.metrics_default partition of public.metrics default;
        alter table partitions.metrics_default enable row level security;
        """,
    )
    diff_to_file(diff_project, target, "add_metrics")
    query = rebuild(diff_project)
    assert query(
        "select pg_get_expr(relpartbound, oid), relrowsecurity from pg_class"
        " where oid = 'partitions.metrics_default'::regclass"
    ) == [("DEFAULT", True)]
    assert query(
        "select count(*) from pg_inherits where inhparent = 'public.metrics_value_idx'::regclass"
    ) == [(1,)]


def test_adding_a_table_to_supabase_realtime(
    diff_project: Project, target: str, rebuild: Callable[[Project], Query]
) -> None:
    change(target, "alter publication supabase_realtime add table public.session_shares;")
    text = diff_to_file(diff_project, target, "add_session_shares_to_realtime")
    assert "alter publication supabase_realtime add table public.session_shares;" in text
    query = rebuild(diff_project)
    assert ("session_shares",) in query(
        "select tablename from pg_publication_tables where pubname = 'supabase_realtime'"
    )


def test_a_trigger_on_auth_users_and_a_security_definer_function(
    diff_project: Project, target: str, rebuild: Callable[[Project], Query]
) -> None:
    change(
        target,
        """
        create function private.note_sign_up() returns trigger
        language plpgsql security definer set search_path = pg_catalog, pg_temp
        as $$ begin return new; end $$;
        revoke all on function private.note_sign_up() from public;
        create trigger on_auth_user_noted after insert on auth.users
          for each row execute function private.note_sign_up();
        """,
    )
    diff_to_file(diff_project, target, "add_sign_up_note")
    query = rebuild(diff_project)
    assert query(
        "select prosecdef, proconfig::text,"
        " has_function_privilege('anon', oid, 'execute'),"
        " has_function_privilege('authenticated', oid, 'execute')"
        " from pg_proc where oid = 'private.note_sign_up()'::regprocedure"
    ) == [(True, '{"search_path=pg_catalog, pg_temp"}', False, False)]
    assert query(
        "select tgfoid::regprocedure::text from pg_trigger"
        " where tgrelid = 'auth.users'::regclass and tgname = 'on_auth_user_noted'"
    ) == [("private.note_sign_up()",)]


def test_comments(diff_project: Project, target: str, rebuild: Callable[[Project], Query]) -> None:
    change(
        target,
        "comment on table public.session_shares is 'Who may read a session besides its owner.';"
        "comment on column public.sessions.prompt is 'What the user asked for, as typed.';",
    )
    diff_to_file(diff_project, target, "add_comments")
    query = rebuild(diff_project)
    assert query(
        "select obj_description('public.session_shares'::regclass, 'pg_class'),"
        " col_description('public.sessions'::regclass, 3)"
    ) == [("Who may read a session besides its owner.", "What the user asked for, as typed.")]


def test_a_pgvector_column_and_an_hnsw_index(
    diff_project: Project, target: str, rebuild: Callable[[Project], Query]
) -> None:
    change(
        target,
        """
        alter table public.comments add column embedding extensions.vector(3);
        create index comments_embedding_idx on public.comments
          using hnsw (embedding extensions.vector_cosine_ops);
        """,
    )
    diff_to_file(diff_project, target, "add_comments_embedding")
    query = rebuild(diff_project)
    assert query(
        "select format_type(atttypid, atttypmod) from pg_attribute"
        " where attrelid = 'public.comments'::regclass and attname = 'embedding'"
    ) == [("extensions.vector(3)",)]
    assert query(
        "select am.amname from pg_class as c join pg_am as am on am.oid = c.relam"
        " where c.oid = 'public.comments_embedding_idx'::regclass"
    ) == [("hnsw",)]


def test_a_dropped_column(
    diff_project: Project, target: str, rebuild: Callable[[Project], Query]
) -> None:
    change(target, "alter table public.comments drop column updated_at;")
    text = diff_to_file(diff_project, target, "drop_comments_updated_at")
    # The differ also drops and re-adds the table's unchanged foreign keys; they are left out.
    assert "drop constraint" not in text
    query = rebuild(diff_project)
    assert query(
        "select count(*) from pg_attribute where attrelid = 'public.comments'::regclass"
        " and attname = 'updated_at' and not attisdropped"
    ) == [(0,)]
    assert query(
        "select count(*) from pg_constraint where conrelid = 'public.comments'::regclass"
        " and contype = 'f'"
    ) == [(3,)]


def test_what_cannot_be_reproduced_is_refused_by_name(diff_project: Project, target: str) -> None:
    # Default privileges: the differ does not read them and no supplement writes them.
    change(
        target,
        "alter default privileges in schema private grant execute on functions to service_role;",
    )
    before = names(diff_project)
    result = diff(diff_project, target, "-f", "grant_default_execute")
    assert result.returncode == 2, result.stderr
    assert "refused, no file written" in result.stderr
    assert "case(s): default privileges" in result.stderr
    assert "ALTER DEFAULT PRIVILEGES" in result.stderr
    assert 'docs/migrations.md, "When `lift-db diff` refuses"' in result.stderr
    assert names(diff_project) == before


def test_to_stdout_without_a_file(diff_project: Project, target: str) -> None:
    change(target, "comment on table public.comments is 'Remarks on a session.';")
    before = names(diff_project)
    result = diff(diff_project, target)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("-- Why: ")
    # In the house style (.sqlfluff): lowercase, no needless quotes.
    assert "comment on table public.comments is 'Remarks on a session.';" in result.stdout
    assert names(diff_project) == before


def test_the_declarative_schema_is_the_target_when_config_names_it(tmp_path: Path) -> None:
    supabase = tmp_path / "supabase"
    (supabase / "migrations").mkdir(parents=True)
    (supabase / "schemas").mkdir()
    config = (ROOT / "supabase" / "config.toml").read_text()
    (supabase / "config.toml").write_text(
        config + '\n[db.migrations]\nschema_paths = ["./schemas/items.sql", "./schemas/*.sql"]\n'
    )
    (supabase / "migrations" / "20310101000000_add_items.sql").write_text(
        "create table public.items (id bigint primary key);\n"
    )
    (supabase / "schemas" / "items.sql").write_text(
        "create table public.items (id bigint primary key, label text not null default '');\n"
    )
    # Named second in the configured order although it sorts first.
    (supabase / "schemas" / "a_views.sql").write_text(
        "create view public.item_labels with (security_invoker = on) as"
        " select label from public.items;\n"
    )
    project = Project(tmp_path, state=Project(ROOT).state_dir)
    result = run_lift_db(
        "diff",
        env={"LIFT_DB_PROJECT": str(project.root), "LIFT_DB_STATE_DIR": str(project.state_dir)},
    )
    assert result.returncode == 0, result.stderr
    assert "target: the declarative schema" in result.stderr
    assert 'add column "label" text not null default' in result.stdout
    assert 'create or replace view "public"."item_labels"' in result.stdout.lower()
