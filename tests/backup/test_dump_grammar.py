"""The statement reader and the grammar of what `lift-db dump` writes, without a database."""

from __future__ import annotations

import io

import pytest

from lift_db.backup._dump_grammar import (
    END_OF_DATA,
    Context,
    RefusedError,
    Statement,
    check_app_statement,
    check_attachment,
    check_data_statement,
    read_script,
)

CTX = Context(frozenset({"public", "private"}), "postgres", "backup")


def _read(text: str) -> list[object]:
    return list(read_script(io.StringIO(text), "backup"))


def test_statements_are_cut_outside_literals_comments_and_bodies() -> None:
    items = _read(
        "-- a comment; not a statement\n"
        "SELECT E'it\\'s; still one', 'two '';'' quotes';\n"
        "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql\n"
        "AS $body$ select 1; select 2; $body$;\n"
        "CREATE FUNCTION public.g() RETURNS int LANGUAGE sql\n"
        "BEGIN ATOMIC\n SELECT CASE WHEN true THEN 1 END;\n SELECT 2;\nEND;\n"
        "/* block; /* nested; */ still */ SET row_security = off;\n"
    )
    texts = [i.text for i in items if isinstance(i, Statement)]
    assert len(texts) == 4, texts
    assert texts[0].startswith("SELECT E'it")
    assert texts[2].endswith("END;")
    assert texts[3].endswith("SET row_security = off;")


def test_copy_rows_are_data_until_the_end_marker() -> None:
    items = _read(
        "COPY public.t (a, b) FROM stdin;\n"
        "1\t\\! not a command\n"
        "2\tdrop table x;\n"
        "\\.\n"
        "SET row_security = off;\n"
    )
    assert items[1:4] == ["1\t\\! not a command\n", "2\tdrop table x;\n", END_OF_DATA]
    assert isinstance(items[4], Statement)


@pytest.mark.parametrize(
    "text",
    [
        "SET row_security = off \\! id\n;",
        "SET row_security = off;\n\\! id\n",
        "SET row_security = off; \\connect other\n",
    ],
)
def test_a_backslash_outside_a_literal_is_a_meta_command(text: str) -> None:
    def check_all() -> None:
        for item in _read(text):
            if isinstance(item, Statement):
                check_app_statement(item, CTX)

    with pytest.raises(RefusedError, match="meta-command"):
        check_all()


@pytest.mark.parametrize(
    "text",
    [
        "SET statement_timeout = 0;",
        "SELECT pg_catalog.set_config('search_path', '', false);",
        "SELECT pg_catalog.setval('public.s_id_seq', 42, true);",
        "CREATE SCHEMA private;",
        "ALTER SCHEMA private OWNER TO postgres;",
        "CREATE TABLE public.t (id integer, body text);",
        "ALTER TABLE public.t OWNER TO postgres;",
        "CREATE INDEX t_body ON ONLY public.t USING btree (body);",
        "CREATE TRIGGER t_touch BEFORE UPDATE ON public.t FOR EACH ROW"
        " EXECUTE FUNCTION private.touch();",
        "CREATE POLICY t_own ON public.t FOR SELECT TO authenticated USING (true);",
        "ALTER TABLE ONLY public.t ADD CONSTRAINT t_user FOREIGN KEY (id)"
        " REFERENCES auth.users(id);",
        "GRANT SELECT,INSERT ON TABLE public.t TO authenticated;",
        "GRANT INSERT(body) ON TABLE public.t TO authenticated;",
        "REVOKE ALL ON FUNCTION private.f(a integer) FROM PUBLIC;",
        "GRANT USAGE ON SCHEMA public TO anon;",
        "COMMENT ON COLUMN public.t.body IS 'the body; with a semicolon';",
        "ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON TABLES"
        " TO service_role;",
        "ALTER INDEX public.t_pkey ATTACH PARTITION private.t_1_pkey;",
    ],
)
def test_what_pg_dump_writes_for_app_schemas_passes(text: str) -> None:
    check_app_statement(Statement(text, 1), CTX)


@pytest.mark.parametrize(
    "text",
    [
        "DO $$ begin perform 1; end $$;",
        "CALL public.p();",
        "SELECT public.f();",
        "SET role = supabase_admin;",
        "SET standard_conforming_strings = off;",
        "RESET ALL;",
        "COMMIT;",
        "CREATE ROLE x LOGIN BYPASSRLS;",
        "ALTER ROLE postgres PASSWORD 'x';",
        "GRANT postgres TO anon;",
        "CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql AS $$ select null $$;",
        "CREATE OR REPLACE FUNCTION extensions.f() RETURNS int LANGUAGE sql AS $$ select 1 $$;",
        "CREATE TABLE public.t () INHERITS (auth.users);",
        "CREATE TABLE public.p PARTITION OF auth.audit FOR VALUES IN (1);",
        "ALTER TABLE public.t OWNER TO supabase_auth_admin;",
        "ALTER TABLE public.t SET SCHEMA auth;",
        "ALTER FUNCTION public.f() RENAME TO g;",
        "COPY public.t (a) TO PROGRAM 'id';",
        "COPY (select 1) TO '/tmp/x';",
        "CREATE EXTENSION dblink;",
        "CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION public.f();",
        "GRANT SELECT ON ALL TABLES IN SCHEMA auth TO anon;",
        "ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO anon;",
        "COMMENT ON FUNCTION auth.uid() IS 'x';",
        "CREATE SCHEMA auth;",
        "ALTER SYSTEM SET shared_preload_libraries = 'x';",
        "CREATE TABLE t (id integer);",
    ],
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(RefusedError, match="refused"):
        check_app_statement(Statement(text, 1), CTX)


def test_auth_data_is_only_copy_into_the_auth_tables() -> None:
    target = check_data_statement(
        Statement('copy "auth"."users" ("id", "email") from stdin;', 1), CTX
    )
    assert (target.schema, target.table, target.columns) == ("auth", "users", ("id", "email"))
    for text in (
        'copy "public"."t" ("id") from stdin;',
        'copy "auth"."users" ("id") from program \'id\';',
        "set role supabase_admin;",
    ):
        with pytest.raises(RefusedError):
            check_data_statement(Statement(text, 1), CTX)


def test_attachments_are_only_app_triggers_and_publication_tables() -> None:
    check_attachment(
        Statement(
            "CREATE TRIGGER t AFTER UPDATE OF email ON auth.users FOR EACH ROW WHEN"
            " ((old.email)::text IS DISTINCT FROM (new.email)::text)"
            " EXECUTE FUNCTION private.sync();",
            1,
        ),
        CTX,
    )
    check_attachment(Statement("alter publication supabase_realtime add table public.t;", 1), CTX)
    for text in (
        "CREATE TRIGGER t AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION auth.evil();",
        "CREATE TRIGGER t AFTER INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION private.f();",
        "alter publication supabase_realtime add table auth.users;",
        "create or replace function auth.uid() returns uuid language sql as $$ select null $$;",
    ):
        with pytest.raises(RefusedError):
            check_attachment(Statement(text, 1), CTX)
