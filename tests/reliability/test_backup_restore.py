"""`lift-db dump` then `lift-db restore` into a fresh local stack gives back the same database.

The source is a migrated, seeded database with awkward content on top (text that COPY must
escape, deep and large JSON, extreme numbers, OAuth identities, rolled-back histories). After the
round trip every table has the same rows (count and checksum), every grant is the same, the
migration history says nothing is pending, and the whole pgTAP suite passes on the restored
database. Bad input is refused with a clear message and changes nothing.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from lift_db.local.project import Project
from lift_db.local.target import Target, connect
from lift_db.migrate import commands
from lift_db.store import EMBEDDING_DIMENSIONS, PostgresSessionStore
from lift_db.testing import _pgtap
from tests.conftest import ROOT, ScratchFactory, free_port, run_lift_db
from tests.reliability import figures
from tests.reliability.support import (
    as_role,
    create_auth_user,
    history_violations,
    snapshot,
)

NASTY_TEXTS = [
    "tab\there",
    "new\nline",
    "crlf\r\nline",
    "back\\slash",
    "\\.",
    "line\n\\.\nafter the end-of-copy marker",
    "\\N",
    "quote ' and \" double",
    "'); drop table public.sessions; --",
    "$$ dollar $tag$ quoting",
    "emoji 🙂 and astral \U0001d518\U0001d52b",
    "right-to-left \u202eoverride",
    "zero\u200bwidth",
    "percent %s %(x)s {}",
]


def _deep(levels: int) -> dict[str, object]:
    node: dict[str, object] = {"leaf": NASTY_TEXTS}
    for level in range(levels):
        node = {f"level{level}": node}
    return node


def populate(url: str) -> dict[str, uuid.UUID]:
    """Users with identities and sessions whose IR histories went through the API functions."""
    users: dict[str, uuid.UUID] = {}
    with connect(url) as conn:
        users["ada"] = create_auth_user(conn, "ada", meta={"full_name": "Ada 'Tab\tNew\nline'"})
        users["linus"] = create_auth_user(conn, "linus", provider="github")
        users["mallory"] = create_auth_user(conn, "mallory", meta={"name": "\\N"})
        conn.execute(
            "insert into auth.identities (provider_id, user_id, identity_data, provider,"
            " created_at, updated_at) values ('gh-4242', %s, %s, 'github', now(), now())",
            (users["linus"], Jsonb({"sub": "gh-4242", "email": "linus@example.com"})),
        )
        for name, uid in users.items():
            for n, text in enumerate(NASTY_TEXTS):
                ir: dict[str, object] = {"text": text, "n": n, "owner": name}
                if n == 0:
                    ir["deep"] = _deep(80)
                    ir["large"] = "x" * 200_000
                    ir["numbers"] = [1e308, -0.0, 5e-324, 0.1, 2**63 - 1, -(2**63), 10**30]
                with as_role(conn, "authenticated", uid):
                    row = conn.execute(
                        "insert into public.sessions (prompt, status, current_ir, metadata)"
                        " values (%s, %s, %s, %s) returning id",
                        (
                            f"{name}: {text}",
                            ("active", "finalized", "abandoned")[n % 3],
                            Jsonb(ir),
                            Jsonb({"holes": [{"q": text}], "assists": [text]}),
                        ),
                    ).fetchone()
                assert row is not None
                for version in range(2, 2 + n % 4):
                    with as_role(conn, "authenticated", uid):
                        conn.execute(
                            "select public.update_session_ir(%s, %s, %s, %s)",
                            (row[0], Jsonb({**ir, "v": version}), version - 1, text),
                        )
                if n % 4 == 3:
                    with as_role(conn, "authenticated", uid):
                        conn.execute("select public.rollback_session(%s, 1)", (row[0],))
    share_comment_embed(url, users)
    return users


def share_comment_embed(url: str, users: dict[str, uuid.UUID]) -> None:
    """Shares, comments on a version, embeddings (vectors) and analytics events, so that the
    tables the app grew since the first backup are in the round trip too."""
    factory = PostgresSessionStore(url, max_size=1)
    try:
        ada = factory.for_user(users["ada"])
        for n, session in enumerate(ada.list_all()[:4]):
            ada.share(session.id, users["linus"], "editor" if n % 2 else "viewer")
            vector = [0.0] * EMBEDDING_DIMENSIONS
            vector[n] = 1.0
            vector[-1] = -0.5
            ada.set_embedding(session.id, vector, model="text-embedding-3-small", ir_version=1)
            with connect(url) as conn, as_role(conn, "authenticated", users["linus"]):
                conn.execute(
                    "insert into public.comments (session_id, version, body) values (%s, 1, %s)",
                    (session.id, NASTY_TEXTS[n]),
                )
            ada.record_event(
                "session_viewed",
                session_id=session.id,
                event_data={"prompt_type": "code", "text": NASTY_TEXTS[n + 4]},
                latency_ms=n * 10,
            )
    finally:
        factory.close()


@pytest.fixture
def source(scratch_db: ScratchFactory, project: Project) -> Target:
    """A migrated, seeded database with awkward content."""
    target = scratch_db()
    commands.migrate(project, target, lambda _: None)
    commands.seed(project, target, lambda _: None)
    populate(target.url)
    return target


def _env(state: Path, port: int) -> dict[str, str]:
    return {"LIFT_DB_STATE_DIR": str(state), "LIFT_DB_PORT": str(port)}


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def _refused(result: subprocess.CompletedProcess[str], *phrases: str) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr
    return result.stderr


def _run_pgtap_suite(url: str) -> int:
    """Every pgTAP file (helpers first, as pg_prove orders them); the number of assertions."""
    passed = 0
    for path in sorted((ROOT / "supabase" / "tests").glob("*.sql")):
        run = _pgtap.run_file(path, url)
        assert run.passed, f"{path.name} on the restored database:\n{run.report()}"
        passed += len(run.assertions)
    return passed


def test_dump_and_restore_into_a_fresh_local_stack_round_trips(
    source: Target, scratch_state: Path, tmp_path: Path
) -> None:
    backup = tmp_path / "lift.tar"
    out = _ok(run_lift_db("--db-url", source.url, "dump", "--output", str(backup)))
    assert f"backup written: {backup}" in out
    with connect(source.url) as conn:
        before = snapshot(conn)
        assert history_violations(conn) == []

    port = free_port()
    _ok(run_lift_db("start", env=_env(scratch_state, port)))
    restored = _ok(run_lift_db("restore", str(backup), env=_env(scratch_state, port)))
    assert "every row count and checksum matches the backup" in restored
    url = f"postgresql://postgres:postgres@127.0.0.1:{port}/postgres"
    with connect(url) as conn:
        after = snapshot(conn)
        assert history_violations(conn) == []
    assert after.tables == before.tables
    assert after.privileges == before.privileges
    assert after.catalog == before.catalog
    rows = sum(t.rows for t in after.tables.values())
    assert after.tables["public.session_history"].rows > after.tables["public.sessions"].rows > 40
    assert after.tables["auth.identities"].rows == before.tables["auth.identities"].rows >= 3
    for table in ["public.session_shares", "public.comments", "public.session_embeddings"]:
        assert after.tables[table].rows >= 4, table

    status = _ok(run_lift_db("status", env=_env(scratch_state, port)))
    assert "0 pending" in status

    assertions = _run_pgtap_suite(url)
    figures.add("backup: tables round-tripped", len(after.tables))
    figures.add("backup: rows round-tripped", rows)
    figures.add("backup: pgTAP assertions passed on the restored database", assertions)

    # The restored stack keeps working: histories continue, Auth still creates profiles.
    with connect(url) as conn:
        uid = create_auth_user(conn, "after-restore")
        profile = conn.execute("select count(*) from public.users where id = %s", (uid,))
        assert profile.fetchone() == (1,)
        sid, version = conn.execute(
            "select id, ir_version from public.sessions where ir_version > 1 limit 1"
        ).fetchone() or (None, None)
        owner = conn.execute("select user_id from public.sessions where id = %s", (sid,))
        owner_id = (owner.fetchone() or (None,))[0]
        with as_role(conn, "authenticated", owner_id):
            conn.execute(
                'select public.update_session_ir(%s, \'{"after": "restore"}\', %s)',
                (sid, version),
            )
        assert history_violations(conn) == []


def test_a_failed_local_restore_keeps_the_old_database(
    source: Target, scratch_state: Path, tmp_path: Path
) -> None:
    backup = tmp_path / "lift.tar"
    _ok(run_lift_db("--db-url", source.url, "dump", "--output", str(backup)))
    port = free_port()
    env = _env(scratch_state, port)
    _ok(run_lift_db("start", env=env))
    _ok(run_lift_db("reset", env=env))
    url = f"postgresql://postgres:postgres@127.0.0.1:{port}/postgres"
    with connect(url) as conn:
        before = snapshot(conn)

    # A manifest that promises other rows than the archive holds: the restore's own check fails.
    lying = tmp_path / "lying.tar"
    _rewrite_manifest(backup, lying, lambda m: _bump_rows(m, "public.sessions"))
    _refused(
        run_lift_db("restore", str(lying), env=env),
        "restored public.sessions differs from the backup",
        "rolled back",
    )
    damaged = tmp_path / "damaged.tar"
    _rewrite_member(backup, damaged, "app.pgdump", lambda b: b[: len(b) // 2])
    _refused(run_lift_db("restore", str(damaged), env=env), "is damaged", "app.pgdump")

    with connect(url) as conn:
        assert snapshot(conn) == before
    with connect(f"postgresql://supabase_admin:postgres@127.0.0.1:{port}/postgres") as conn:
        leftovers = conn.execute(
            "select datname from pg_database where datname like '%\\_restore\\_%'"
        ).fetchall()
    assert leftovers == [], "a failed restore leaves no staging database behind"


def _bump_rows(manifest: dict[str, Any], table: str) -> None:
    manifest["tables"][table]["rows"] += 1


def _rewrite_manifest(src: Path, dst: Path, change: Callable[[dict[str, Any]], None]) -> None:
    def edit(data: bytes) -> bytes:
        manifest = json.loads(data)
        change(manifest)
        return json.dumps(manifest).encode()

    _rewrite_member(src, dst, "manifest.json", edit)


def _rewrite_member(src: Path, dst: Path, name: str, change: Callable[[bytes], bytes]) -> None:
    with tarfile.open(src) as old, tarfile.open(dst, "w") as new:
        for member in old.getmembers():
            fh = old.extractfile(member)
            assert fh is not None
            data = fh.read()
            if member.name == name:
                data = change(data)
                member.size = len(data)
            new.addfile(member, io.BytesIO(data))


@pytest.fixture
def backup_file(source: Target, tmp_path: Path) -> Path:
    path = tmp_path / "lift.tar"
    _ok(run_lift_db("--db-url", source.url, "dump", "-o", str(path)))
    return path


def _fresh(scratch_db: ScratchFactory) -> Target:
    return scratch_db()


def test_restore_into_a_fresh_database_by_url(
    source: Target, backup_file: Path, scratch_db: ScratchFactory
) -> None:
    target = _fresh(scratch_db)
    out = _ok(run_lift_db("--db-url", target.url, "restore", str(backup_file)))
    assert "every row count and checksum matches the backup" in out
    with connect(source.url) as a, connect(target.url) as b:
        assert snapshot(a).tables == snapshot(b).tables


def test_restore_refuses_a_database_that_is_not_fresh(source: Target, backup_file: Path) -> None:
    with connect(source.url) as conn:
        before = snapshot(conn)
    _refused(
        run_lift_db("--db-url", source.url, "restore", str(backup_file)),
        "is not a fresh database",
        "schema private",
        "more",
        "nothing was changed",
    )
    with connect(source.url) as conn:
        assert snapshot(conn) == before


def test_restore_refuses_grants_the_backup_never_had(
    backup_file: Path, scratch_db: ScratchFactory
) -> None:
    """A target whose global default privileges would widen the restored tables' grants."""
    target = _fresh(scratch_db)
    with target.connect() as conn:
        conn.execute("alter default privileges for role postgres grant select on tables to anon")
    _refused(
        run_lift_db("--db-url", target.url, "restore", str(backup_file)),
        "restored privileges differ from the backup",
        "anon SELECT",
    )
    with target.connect() as conn:
        row = conn.execute("select to_regclass('public.sessions') is null").fetchone()
    assert row == (True,), "the failed restore was rolled back whole"


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        (None, "does not exist"),
        (b"not a tar file at all", "not a lift-db backup"),
        (b"", "not a lift-db backup"),
    ],
    ids=["missing", "garbage", "empty"],
)
def test_restore_refuses_what_is_not_a_backup(
    tmp_path: Path, scratch_db: ScratchFactory, content: bytes | None, phrase: str
) -> None:
    path = tmp_path / "file.tar"
    if content is not None:
        path.write_bytes(content)
    target = _fresh(scratch_db)
    _refused(run_lift_db("--db-url", target.url, "restore", str(path)), phrase)


def test_restore_refuses_a_tar_that_lacks_members(tmp_path: Path) -> None:
    path = tmp_path / "other.tar"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("manifest.json")
        data = b'{"format": "something else"}'
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    _refused(
        run_lift_db("--db-url", "postgresql://postgres@127.0.0.1:1/x", "restore", str(path)),
        "lacks app.pgdump",
    )


def test_restore_and_dump_refuse_an_unreachable_database(backup_file: Path, tmp_path: Path) -> None:
    nowhere = f"postgresql://postgres:postgres@127.0.0.1:{free_port()}/postgres"
    _refused(run_lift_db("--db-url", nowhere, "restore", str(backup_file)), "cannot connect")
    _refused(
        run_lift_db("--db-url", nowhere, "dump", "-o", str(tmp_path / "x.tar")), "cannot connect"
    )
    assert not (tmp_path / "x.tar").exists()


def test_dump_never_overwrites_and_needs_an_existing_folder(
    source: Target, backup_file: Path, tmp_path: Path
) -> None:
    before = backup_file.read_bytes()
    _refused(run_lift_db("--db-url", source.url, "dump", "-o", str(backup_file)), "already exists")
    assert backup_file.read_bytes() == before
    _refused(
        run_lift_db("--db-url", source.url, "dump", "-o", str(tmp_path / "no" / "x.tar")),
        "does not exist",
    )


def test_a_dump_taken_while_clients_write_is_one_consistent_moment(
    source: Target, tmp_path: Path, scratch_db: ScratchFactory
) -> None:
    """Writers keep adding versions during the dump; the restored histories are still whole."""
    stop = threading.Event()
    with connect(source.url) as conn:
        sessions = conn.execute(
            "select id, user_id from public.sessions order by id limit 4"
        ).fetchall()

    def write() -> None:
        with psycopg.connect(source.url, autocommit=True) as conn:
            while not stop.is_set():
                for sid, uid in sessions:
                    with as_role(conn, "authenticated", uid):
                        conn.execute(
                            "select public.update_session_ir(%s, %s)",
                            (sid, Jsonb({"during": "dump"})),
                        )

    writer = threading.Thread(target=write)
    writer.start()
    try:
        path = tmp_path / "live.tar"
        _ok(run_lift_db("--db-url", source.url, "dump", "-o", str(path)))
    finally:
        stop.set()
        writer.join()
    target = _fresh(scratch_db)
    _ok(run_lift_db("--db-url", target.url, "restore", str(path)))
    with connect(target.url) as conn:
        assert history_violations(conn) == []
