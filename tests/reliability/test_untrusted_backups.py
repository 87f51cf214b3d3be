"""A backup is untrusted input: a crafted one is refused whole, and the target stays as it was.

Each test builds the attack from a real backup of a small source database: a member edited
(the manifest's checksums recomputed, as an attacker would), app content that does its damage
while it is being restored, a pg_dump archive of more schemas than the app's, or a tar file of
links, sparse or oversized members. The restore must refuse with a clear message, run nothing
of it, and change nothing: no file, no role, no object in `auth` or `extensions`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from lift_db.local.binaries import find_install
from lift_db.local.target import Target, connect
from tests.conftest import ScratchFactory, run_lift_db

SOURCE_SQL = """
create table public.notes (id integer primary key, body text not null);
insert into public.notes values (1, 'first'), (2, 'second');
"""


def _refused(result: subprocess.CompletedProcess[str], *phrases: str) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr
    return result.stderr


def _state(target: Target) -> tuple[object, ...]:
    """What a refused restore must leave alone: the target's tables, roles, auth and extensions
    functions, and its publication."""
    with connect(target.url) as conn:
        return tuple(
            tuple(conn.execute(query).fetchall())
            for query in (
                "select c.oid::regclass::text from pg_class as c"
                " where c.relnamespace = 'public'::regnamespace order by 1",
                "select rolname, rolbypassrls, rolcanlogin from pg_roles order by 1",
                "select p.oid::regprocedure::text, md5(p.prosrc), p.prosecdef from pg_proc as p"
                " where p.pronamespace in ('auth'::regnamespace, 'extensions'::regnamespace)"
                " order by 1",
                "select prrelid::regclass::text from pg_publication_rel order by 1",
                "select count(*), md5(string_agg(u::text, ',' order by u.id)) from auth.users as u",
            )
        )


@pytest.fixture
def source(scratch_db: ScratchFactory) -> Target:
    target = scratch_db()
    with target.connect() as conn:
        conn.execute(SOURCE_SQL.encode())
    return target


@pytest.fixture
def backup(source: Target, tmp_path: Path) -> Path:
    path = tmp_path / "clean.tar"
    result = run_lift_db("--db-url", source.url, "dump", "-o", str(path))
    assert result.returncode == 0, result.stderr
    return path


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        out = {}
        for member in tar.getmembers():
            fh = tar.extractfile(member)
            assert fh is not None
            out[member.name] = fh.read()
        return out


def _write(path: Path, members: dict[str, bytes]) -> Path:
    """A backup of these members whose manifest's checksums match them, as an attacker would
    rewrite it."""
    manifest = json.loads(members["manifest.json"])
    for name in manifest["sha256"]:
        manifest["sha256"][name] = hashlib.sha256(members[name]).hexdigest()
    members = {**members, "manifest.json": json.dumps(manifest).encode()}
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _tampered(backup: Path, member: str, change: Callable[[bytes], bytes]) -> Path:
    members = _members(backup)
    members[member] = change(members[member])
    return _write(backup.with_name(f"tampered-{secrets.token_hex(3)}.tar"), members)


# -- 1. nothing in a backup reaches psql, or runs before it is checked -----------------------------

ATTACKS = {
    "shell-escape": ("auth-data.sql", "\\! touch {marker}\n", "psql meta-command"),
    "connect-escape": (
        "auth-data.sql",
        "\\connect {db}\ncreate table public.escaped (id integer);\n",
        "psql meta-command",
    ),
    "client-copy-to-program": (
        "platform-attachments.sql",
        "\\copy (select 1) to program 'touch {marker}'\n",
        "psql meta-command",
    ),
    "server-copy-to-program": (
        "platform-attachments.sql",
        "copy (select 1) to program 'touch {marker}';\n",
        "refused",
    ),
    "statement-smuggled-after-a-semicolon-in-a-string": (
        "platform-attachments.sql",
        "alter publication supabase_realtime add table public.notes where (body <> ';');"
        " create role lift_smuggled login bypassrls;\n",
        "refused",
    ),
    "do-block": (
        "auth-data.sql",
        "do $$ begin execute 'create role lift_smuggled login bypassrls'; end $$;\n",
        "refused",
    ),
    "set-role": ("auth-data.sql", "set role supabase_admin;\n", "refused"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_sql_in_a_backup_beyond_what_dump_writes_is_refused_before_any_runs(
    attack: str, backup: Path, scratch_db: ScratchFactory, tmp_path: Path
) -> None:
    member, text, phrase = ATTACKS[attack]
    target = scratch_db()
    marker = tmp_path / "ran"
    dbname = target.url.rsplit("/", 1)[1]
    crafted = _tampered(
        backup, member, lambda b: b + text.format(marker=marker, db=dbname).encode()
    )
    before = _state(target)
    _refused(
        run_lift_db("--db-url", target.url, "restore", str(crafted)),
        member,
        phrase,
        "nothing was run",
    )
    assert not marker.exists(), "a command from the backup ran"
    assert _state(target) == before
    with connect(target.url) as conn:
        assert conn.execute("select to_regclass('public.escaped')").fetchone() == (None,)
        assert conn.execute("select to_regclass('public.notes')").fetchone() == (None,)


def test_a_clean_backup_of_the_small_source_restores(
    backup: Path, scratch_db: ScratchFactory
) -> None:
    """The attacks above differ from this only by what they add."""
    target = scratch_db()
    result = run_lift_db("--db-url", target.url, "restore", str(backup))
    assert result.returncode == 0, result.stderr
    with connect(target.url) as conn:
        assert conn.execute("select count(*) from public.notes").fetchone() == (2,)


# -- 2. nothing outside the app's schemas changes -------------------------------------------------

# App content that does its damage while the restore loads the table (its check constraint runs
# for every row): pg_dump's SQL turns check_function_bodies off, so the function is harmless in
# the source and armed in the restore.
ARMED = """
create function public.armed(x integer) returns integer language plpgsql as $f$
begin
  if pg_catalog.current_setting('check_function_bodies') = 'off' then
    execute {attack};
  end if;
  return x;
end
$f$;
delete from public.notes where id > 1;  -- one row: the attack runs once
alter table public.notes add constraint notes_armed check (public.armed(id) = id);
"""
OUTSIDE = {
    "redefines-auth-uid": "create or replace function auth.uid() returns uuid language sql"
    " stable as $q$ select '00000000-0000-0000-0000-000000000001'::uuid $q$",
    "creates-a-bypassrls-login-role": "create role lift_intruder login bypassrls"
    " password 'intruder'",
    "plants-a-security-definer-function-in-extensions": "create function extensions.planted()"
    " returns void language sql security definer as $q$ select $q$",
    "inserts-an-auth-user": "insert into auth.users (id, email) values"
    " ('00000000-0000-4000-8000-00000000dead', 'intruder@example.com')",
    "empties-auth-identities": "truncate auth.identities",
}


@pytest.mark.parametrize("change", sorted(OUTSIDE))
def test_a_backup_that_changes_what_lies_outside_the_app_is_rolled_back(
    change: str, source: Target, scratch_db: ScratchFactory, tmp_path: Path
) -> None:
    with source.connect() as conn:
        conn.execute(
            sql.SQL(ARMED).format(attack=sql.Literal(OUTSIDE[change])).as_string(conn).encode()
        )
    path = tmp_path / "armed.tar"
    assert run_lift_db("--db-url", source.url, "dump", "-o", str(path)).returncode == 0
    target = scratch_db()
    before = _state(target)
    _refused(
        run_lift_db("--db-url", target.url, "restore", str(path)),
        "changed what lies outside its own schemas",
        "rolled back",
    )
    assert _state(target) == before
    with connect(target.url) as conn:
        assert conn.execute("select to_regclass('public.notes')").fetchone() == (None,)


def test_a_pg_dump_archive_with_entries_outside_the_app_schemas_is_refused(
    source: Target, backup: Path, scratch_db: ScratchFactory, tmp_path: Path
) -> None:
    """The archive's table of contents is checked before pg_restore turns any of it into SQL."""
    with source.connect() as conn:
        conn.execute(
            "create schema planted; create function planted.escalate() returns void"
            " language sql security definer as $q$ select $q$"
        )
    crafted_dump = tmp_path / "wider.pgdump"
    params = conninfo_to_dict(source.url)
    env = {**os.environ, "PGPASSWORD": str(params.pop("password", ""))}
    conninfo = make_conninfo(**params)  # type: ignore[arg-type]
    subprocess.run(
        [
            str(find_install().bin("pg_dump")),
            "--format=custom",
            f"--file={crafted_dump}",
            "--schema=public",
            "--schema=planted",
            f"--dbname={conninfo}",
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    crafted = _tampered(backup, "app.pgdump", lambda _: crafted_dump.read_bytes())
    target = scratch_db()
    before = _state(target)
    _refused(
        run_lift_db("--db-url", target.url, "restore", str(crafted)),
        "table of contents entry",
        "planted",
        "lies outside the backup's schemas",
    )
    assert _state(target) == before
    with connect(target.url) as conn:
        assert conn.execute("select to_regnamespace('planted')").fetchone() == (None,)


def test_a_manifest_that_claims_a_platform_schema_is_refused(
    backup: Path, scratch_db: ScratchFactory
) -> None:
    def claim_auth(data: bytes) -> bytes:
        manifest = json.loads(data)
        manifest["schemas"].append("auth")
        return json.dumps(manifest).encode()

    crafted = _tampered(backup, "manifest.json", claim_auth)
    target = scratch_db()
    _refused(
        run_lift_db("--db-url", target.url, "restore", str(crafted)),
        "claims schema 'auth' as the app's",
    )


# -- 3. tar bombs: refused from their headers, in little memory ------------------------------------

PROBE = """
import resource, sys
from pathlib import Path
from lift_db.backup.dump import open_backup
from lift_db.errors import LiftDbError
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    with open_backup(Path(sys.argv[1])):
        print("ACCEPTED")
except LiftDbError as exc:
    print("REFUSED", str(exc).replace("\\n", " "))
except MemoryError:
    print("MEMORY")
print("GROWTH_KIB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""
# A refusal reads headers only: the peak memory of the process may grow by no more than this.
MAX_GROWTH_KIB = 32 * 1024
HUNDRED_GIB = 100 << 30


def _probe(path: Path) -> tuple[str, int]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = result.stdout.splitlines()
    assert lines, result.stderr
    assert lines[-1].startswith("GROWTH_KIB"), result.stdout + result.stderr
    return "\n".join(lines[:-1]), int(lines[-1].split()[1])


def _sparse_bomb(folder: Path, backup: Path) -> Path:
    members = _members(backup)
    work = folder / "sparse"
    work.mkdir()
    for name, data in members.items():
        (work / name).write_bytes(data)
    with (work / "app.pgdump").open("r+b") as fh:
        fh.truncate(HUNDRED_GIB)
    out = folder / "sparse.tar"
    subprocess.run(
        ["tar", "--sparse", "--format=gnu", "-cf", str(out), "-C", str(work), *members],
        check=True,
    )
    (work / "app.pgdump").unlink()
    return out


def _declared_bomb(folder: Path, backup: Path) -> Path:
    """A plain member whose header declares 100 GiB that the file does not hold."""
    members = _members(backup)
    out = folder / "declared.tar"
    with out.open("wb") as fh:
        for name in ("manifest.json", "app.pgdump"):
            info = tarfile.TarInfo(name)
            info.size = HUNDRED_GIB if name == "app.pgdump" else len(members[name])
            fh.write(info.tobuf(format=tarfile.GNU_FORMAT))
            if name == "manifest.json":
                data = members[name]
                fh.write(data + bytes(-len(data) % 512))
        fh.write(os.urandom(40 * 1024))
    return out


def _special(kind: str) -> Callable[[Path, Path], Path]:
    def build(folder: Path, backup: Path) -> Path:
        members = _members(backup)
        out = folder / f"{kind}.tar"
        with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tar:
            for name, data in members.items():
                if name == "app.pgdump" and kind in ("symlink", "hardlink", "device"):
                    info = tarfile.TarInfo(name)
                    info.type = {
                        "symlink": tarfile.SYMTYPE,
                        "hardlink": tarfile.LNKTYPE,
                        "device": tarfile.CHRTYPE,
                    }[kind]
                    info.linkname = "/etc/shadow"
                    tar.addfile(info)
                    continue
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            if kind == "duplicate":
                info = tarfile.TarInfo("app.pgdump")
                info.size = 5
                tar.addfile(info, io.BytesIO(b"again"))
            if kind in ("traversal", "absolute", "nested", "unexpected"):
                name = {
                    "traversal": "../../escaped",
                    "absolute": "/tmp/escaped",
                    "nested": "sub/app.pgdump",
                    "unexpected": "run-me.sh",
                }[kind]
                info = tarfile.TarInfo(name)
                info.size = 3
                tar.addfile(info, io.BytesIO(b"boo"))
        return out

    return build


BOMBS: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "sparse-100-gib": (_sparse_bomb, "is a sparse file"),
    "declares-100-gib": (_declared_bomb, "more than the file holds"),
    "symlink": (_special("symlink"), "is a symbolic link"),
    "hardlink": (_special("hardlink"), "is a hard link"),
    "device": (_special("device"), "is a character device"),
    "duplicate": (_special("duplicate"), "appears twice"),
    "traversal": (_special("traversal"), "unexpected member '../../escaped'"),
    "absolute": (_special("absolute"), "unexpected member '/tmp/escaped'"),
    "nested": (_special("nested"), "unexpected member 'sub/app.pgdump'"),
    "unexpected": (_special("unexpected"), "unexpected member 'run-me.sh'"),
}


@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_a_tar_bomb_is_refused_from_its_headers_in_little_memory(
    bomb: str, backup: Path, tmp_path: Path
) -> None:
    build, phrase = BOMBS[bomb]
    path = build(tmp_path, backup)
    assert path.stat().st_size < 1 << 20, "the bomb itself is small"
    outcome, growth_kib = _probe(path)
    assert outcome.startswith("REFUSED"), outcome
    assert phrase in outcome, outcome
    assert growth_kib < MAX_GROWTH_KIB, f"peak memory grew by {growth_kib} KiB"
    assert not (tmp_path.parent / "escaped").exists()


def test_a_member_over_the_configured_limit_is_refused(backup: Path) -> None:
    result = run_lift_db(
        "--db-url",
        "postgresql://postgres@127.0.0.1:1/x",
        "restore",
        str(backup),
        env={"LIFT_DB_BACKUP_MAX_BYTES": "1000"},
    )
    _refused(result, "more than the limit of 1000", "LIFT_DB_BACKUP_MAX_BYTES")


def test_a_restore_as_a_superuser_is_refused(backup: Path, scratch_db: ScratchFactory) -> None:
    """SQL from a backup runs with the restoring role's rights: never a superuser's."""
    target = scratch_db()
    assert target.admin_url is not None
    before = _state(target)
    _refused(
        run_lift_db("--db-url", target.admin_url, "restore", str(backup)),
        "refusing to restore as supabase_admin: it is a superuser",
    )
    assert _state(target) == before
