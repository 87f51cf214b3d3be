"""A migration file cannot end, commit or replace the transaction it runs in.

Each attack writes a file that creates `public.kept`, then tries to step out of the runner's
transaction, then creates `public.after`. Refused means: nothing of the file is in the database
(unless the guard had to let a commit through, which it then reports), and no history row.
The text check refuses before anything runs; the transaction check after each statement is
proven separately with the text check switched off.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lift_db.errors import MigrationError
from lift_db.local.target import Target
from lift_db.migrate import runner
from tests.conftest import ScratchFactory

NAME = "20240101000000_sneaky.sql"
BEFORE = "create table public.kept (id int);\n"
AFTER = "\ncreate table public.after (id int);\n"

# Every way found to end or replace the transaction, as the statement between BEFORE and AFTER.
ESCAPES = {
    "commit and chain": "commit and chain;",
    "commented commit": "/* c */ commit;",
    "rollback after a comment line": "-- undo the first half\nrollback;",
    "end": "end;",
    "end work": "END WORK;",
    "abort": "abort;",
    "rollback and chain": "rollback and chain;",
    "commit after a nested comment": "/* a /* nested */ comment */\ncommit transaction;",
    "prepare transaction": "prepare transaction 'keep_me';",
    "nested begin": "begin;",
    "nested start transaction": "start transaction isolation level serializable;",
    "commit prepared": "commit prepared 'someone_else';",
}


# `begin atomic` makes a splitter take three statements for one chunk.
HIDDEN_COMMIT = """select begin atomic from (select 1 as begin) as t; commit;
create table public.after (id int);
select 1 as end;
"""


def _migrate(target: Target, folder: Path) -> list[str]:
    with target.connect() as conn:
        return [m.filename for m in runner.migrate(conn, runner.discover(folder))]


def _exists(target: Target, regclass: str) -> bool:
    with target.connect() as conn:
        row = conn.execute("select to_regclass(%s) is not null", (regclass,)).fetchone()
    return bool(row and row[0])


def _recorded(target: Target) -> list[str]:
    with target.connect() as conn:
        rows = conn.execute("select version from supabase_migrations.schema_migrations").fetchall()
    return [str(r[0]) for r in rows]


def _write(tmp_path: Path, sql: str) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir(exist_ok=True)
    (folder / NAME).write_text(sql)
    return folder


@pytest.mark.parametrize("escape", ESCAPES.values(), ids=ESCAPES.keys())
def test_a_file_stepping_out_of_its_transaction_is_refused_before_it_runs(
    scratch_db: ScratchFactory, tmp_path: Path, escape: str
) -> None:
    folder = _write(tmp_path, BEFORE + escape + AFTER)
    target = scratch_db()
    with pytest.raises(MigrationError) as refused:
        _migrate(target, folder)
    message = str(refused.value)
    assert f"{NAME} line 2: `" in message
    assert "manages the transaction itself; nothing of the file was run" in message
    assert not _exists(target, "public.kept")
    assert not _exists(target, "public.after")
    assert _recorded(target) == []


def test_a_failing_file_leaves_no_committed_table_behind(
    scratch_db: ScratchFactory, tmp_path: Path
) -> None:
    folder = _write(
        tmp_path, BEFORE + "/* c */ commit;\ncreate table public.broken (x nonsense_type);\n"
    )
    target = scratch_db()
    with pytest.raises(MigrationError):
        _migrate(target, folder)
    assert not _exists(target, "public.kept")
    assert _recorded(target) == []


# With the text check off, the transaction check alone: what each escape did, and what is left.
RUNTIME = {
    "commit and chain": ("commit and chain;", "were COMMITTED and stay", True),
    "commented commit": ("/* c */ commit;", "were COMMITTED and stay", True),
    "rollback after a comment line": ("-- undo\nrollback;", "were rolled back", False),
    "end": ("end;", "were COMMITTED and stay", True),
    "abort": ("abort;", "were rolled back", False),
    "rollback and chain": ("rollback and chain;", "were rolled back", False),
}


@pytest.mark.parametrize(("escape", "fate", "kept"), RUNTIME.values(), ids=RUNTIME.keys())
def test_the_transaction_is_checked_after_every_statement(
    scratch_db: ScratchFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    escape: str,
    fate: str,
    kept: bool,
) -> None:
    monkeypatch.setattr(runner, "transaction_control", lambda _stmt: None, raising=False)
    folder = _write(tmp_path, BEFORE + escape + AFTER)
    target = scratch_db()
    with pytest.raises(MigrationError) as refused:
        _migrate(target, folder)
    message = str(refused.value)
    assert f"{NAME} line 2: `" in message
    assert "ended the transaction the runner opened for the file" in message
    assert fate in message
    assert f"{NAME} is not recorded as applied" in message
    # What a commit let through is reported, never hidden; nothing after the escape survives.
    assert _exists(target, "public.kept") is kept
    assert not _exists(target, "public.after")
    assert _recorded(target) == []


def test_a_prepared_transaction_is_refused_by_the_server(
    scratch_db: ScratchFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "transaction_control", lambda _stmt: None, raising=False)
    folder = _write(tmp_path, BEFORE + "prepare transaction 'keep_me';" + AFTER)
    target = scratch_db()
    with pytest.raises(MigrationError):
        _migrate(target, folder)
    with target.connect() as conn:
        assert conn.execute("select count(*) from pg_prepared_xacts").fetchone() == (0,)
    assert not _exists(target, "public.kept")
    assert _recorded(target) == []


@pytest.mark.parametrize(
    "escape",
    [
        "do $$ begin commit; end $$;",
        "create procedure public.sneak() language plpgsql as $$ begin commit; end $$;\n"
        "call public.sneak();",
        "do $$ begin execute 'commit'; end $$;",
    ],
    ids=["do block", "procedure", "dynamic sql"],
)
def test_code_in_the_database_cannot_commit_the_file_either(
    scratch_db: ScratchFactory, tmp_path: Path, escape: str
) -> None:
    folder = _write(tmp_path, BEFORE + escape + AFTER)
    target = scratch_db()
    with pytest.raises(MigrationError, match="rolled back"):
        _migrate(target, folder)
    assert not _exists(target, "public.kept")
    assert not _exists(target, "public.after")
    assert _recorded(target) == []


def test_savepoints_and_set_transaction_stay_inside_the_file(
    scratch_db: ScratchFactory, tmp_path: Path
) -> None:
    folder = _write(
        tmp_path,
        "set transaction isolation level serializable;\n"
        "savepoint before_a;\n"
        "create table public.a (id int);\n"
        "release savepoint before_a;\n"
        "savepoint before_b;\n"
        "create table public.b (id int);\n"
        "rollback to savepoint before_b;\n"
        "/* still one transaction */ rollback transaction to before_b;\n"
        "set transaction read write;\n"
        "prepare probe as select 1;\n"
        "create table public.c (id int);\n",
    )
    target = scratch_db()
    assert _migrate(target, folder) == [NAME]
    assert _exists(target, "public.a")
    assert not _exists(target, "public.b")
    assert _exists(target, "public.c")
    assert _recorded(target) == ["20240101000000"]


def test_a_statement_never_hides_a_second_one(scratch_db: ScratchFactory, tmp_path: Path) -> None:
    # `begin atomic` fools a splitter into one chunk; the server is sent it as one statement
    # (extended protocol, as the Supabase CLI sends it), so the hidden commit cannot run.
    folder = _write(
        tmp_path,
        BEFORE + HIDDEN_COMMIT,
    )
    target = scratch_db()
    with pytest.raises(MigrationError):
        _migrate(target, folder)
    assert not _exists(target, "public.kept")
    assert not _exists(target, "public.after")
    assert _recorded(target) == []


FAKE_XID = """
create function public.pg_current_xact_id_if_assigned() returns xid8
language sql as $$ select pg_catalog.current_setting('x.xid')::pg_catalog.xid8 $$;
create function public.pg_current_xact_id() returns xid8
language sql as $$ select pg_catalog.current_setting('x.xid')::pg_catalog.xid8 $$;
select pg_catalog.set_config('x.xid', pg_catalog.pg_current_xact_id()::text, false);
set search_path = public, pg_catalog;
commit and chain;
"""


def test_a_file_cannot_redirect_the_runner_checks_with_search_path(
    scratch_db: ScratchFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Functions in public that answer with the first transaction's id, found first once the
    # file puts public before pg_catalog: the check must not call them.
    monkeypatch.setattr(runner, "transaction_control", lambda _stmt: None, raising=False)
    folder = _write(tmp_path, BEFORE + FAKE_XID + AFTER)
    target = scratch_db()
    with pytest.raises(MigrationError, match="ended the transaction the runner opened"):
        _migrate(target, folder)
    assert not _exists(target, "public.after")
    assert _recorded(target) == []
