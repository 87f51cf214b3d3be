"""The schema snapshot for review: `docs/schema/` and `docs/ERD.md`, built from the migrations.

A migration's diff does not show what the schema becomes. The snapshot does: every pull request
that adds a migration also changes the files of the objects it touches (one per table, view,
function and publication: `lift_db.review._schema_files`), so the reviewer reads the resulting
table, its policies and grants next to the SQL that makes them.

How it is built: a scratch database on the local server gets the platform layer, is dumped
(schema only), gets every migration, and is dumped again; `docs/schema/` holds the dump entries
the migrations added or changed, normalized so that the same migrations always give the same text.
Working from the difference rather than from a list of schemas also keeps what migrations do to
platform schemas (a trigger on `auth.users`, a table joining `supabase_realtime`).
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import secrets
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from lift_db.errors import LiftDbError
from lift_db.local.platform_layer import ensure_platform_layer
from lift_db.local.server import LocalServer
from lift_db.local.target import client_env, connect
from lift_db.migrate.runner import MigrationFile, migrate
from lift_db.review import _erd, _schema_files

SCHEMA_DIR = _schema_files.ROOT
ERD_FILE = "ERD.md"
REGENERATE = "run `make snapshot` (or `lift-db snapshot`) and commit docs/schema/ and docs/ERD.md"
SCRATCH_PREFIX = "lift_snapshot_"
# The migration runner's own bookkeeping, not part of the app's schema.
EXCLUDED_SCHEMAS = ("supabase_migrations",)
DUMP_TIMEOUT_S = 300

# Session settings pg_dump writes at the top of a dump and before some entries.
_SET_LINE = re.compile(
    r"^SET (statement_timeout|lock_timeout|idle_in_transaction_session_timeout|"
    r"transaction_timeout|client_encoding|standard_conforming_strings|check_function_bodies|"
    r"xmloption|client_min_messages|row_security|default_tablespace|"
    r"default_table_access_method|default_with_oids) = .*;$"
)
# The migrations run as postgres, which owns nearly everything: only other owners are news.
_OWNED_BY_POSTGRES = re.compile(r"^ALTER [A-Z ]+ .+ OWNER TO postgres;$")
_ENTRY_HEADER = re.compile(r"^-- (Data for )?Name: .*; Type: .*; Schema: .*$")
_EXTENSION_ENTRY = re.compile(r"^-- Name: [^;]+; Type: EXTENSION;", re.MULTILINE)
# An extension's packaged description, not the project's words.
_EXTENSION_COMMENT = re.compile(r"^-- Name: EXTENSION [^;]+; Type: COMMENT;", re.MULTILINE)


class SnapshotError(LiftDbError):
    """The snapshot could not be built, or the committed one is stale."""


@dataclass(frozen=True)
class Snapshot:
    """The generated files, by name under `docs/`."""

    files: dict[str, str]


@dataclass(frozen=True)
class StaleFile:
    name: str
    diff: str  # unified diff, committed → generated; empty when the committed file is missing
    left_over: bool = False  # committed, but no migration makes it any more


def build(server: LocalServer, files: list[MigrationFile]) -> Snapshot:
    """Apply the platform layer and `files` to a scratch database and describe the result."""
    if not server.is_running():
        raise SnapshotError(
            "the local server is not running; the snapshot is built on a scratch database there",
            "start it with `make db` (or `lift-db start`)",
        )
    pg_dump = server.install.bin("pg_dump")
    with scratch_database(server) as dbname:
        admin_url = server.admin_url(dbname)
        with connect(admin_url) as conn:
            ensure_platform_layer(conn)
            platform_tables = _erd.table_names(conn)
        baseline = normalize(dump(pg_dump, admin_url))
        with connect(server.url(dbname=dbname)) as conn:
            migrate(conn, files)
        after = normalize(dump(pg_dump, admin_url))
        with connect(admin_url) as conn:
            tables = _erd.read_tables(conn)
    project_tables = {t.qualified for t in tables} - platform_tables
    filed = _schema_files.file_entries(added_entries(baseline, after))
    generated = {path: _schema_files.render(path, texts) for path, texts in filed.items()}
    return Snapshot({**generated, ERD_FILE: _erd.render(tables, project_tables)})


@contextlib.contextmanager
def scratch_database(server: LocalServer) -> Iterator[str]:
    """A new empty database on the local server, dropped on exit."""
    dbname = f"{SCRATCH_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    ident = sql.Identifier(dbname)
    try:
        with connect(server.admin_url()) as conn:
            conn.execute(sql.SQL("create database {} template template0").format(ident))
    except psycopg.Error as exc:
        raise SnapshotError(
            f"cannot create scratch database {dbname}: {exc.diag.message_primary or exc}"
        ) from exc
    try:
        yield dbname
    finally:
        with connect(server.admin_url()) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(ident))


def dump(pg_dump: Path, url: str, exclude: Sequence[str] = ()) -> str:
    """`pg_dump --schema-only` of the whole database but the runner's bookkeeping and `exclude`.

    The password travels in the environment, never on the command line.
    """
    conninfo, env = client_env(url)
    argv = [str(pg_dump), "--schema-only", "--no-password", f"--dbname={conninfo}"]
    argv += [f"--exclude-schema={s}" for s in (*EXCLUDED_SCHEMAS, *exclude)]
    try:
        result = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            check=False,
            timeout=DUMP_TIMEOUT_S,
            env={**env, "LC_ALL": "C", "PGTZ": "UTC"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SnapshotError(f"pg_dump could not run: {exc}") from exc
    if result.returncode != 0:
        raise SnapshotError(f"pg_dump failed (exit {result.returncode}): {result.stderr.strip()}")
    return result.stdout


def normalize(dump_text: str) -> list[str]:
    """The dump as a list of entries, free of what changes between runs or says nothing.

    Dropped: the preamble and trailer, version comments, session `SET` lines, pg_dump 18's
    `\\restrict` / `\\unrestrict` lines (a random key each run), `ALTER … OWNER TO postgres`,
    `Owner: postgres` in entry headers, and extensions' packaged comments. Runs of blank lines
    become one.
    """
    lines = dump_text.splitlines()
    starts = [
        i
        for i in range(len(lines) - 2)
        if lines[i] == "--" and _ENTRY_HEADER.match(lines[i + 1]) and lines[i + 2] == "--"
    ]
    entries: list[str] = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        kept: list[str] = []
        for line in lines[start:end]:
            if line.startswith(("\\restrict", "\\unrestrict")) or _SET_LINE.match(line):
                continue
            if _OWNED_BY_POSTGRES.match(line):
                continue
            if _ENTRY_HEADER.match(line):
                line = line.removesuffix("; Owner: postgres")
            if not line.strip() and kept and not kept[-1].strip():
                continue
            kept.append(line.rstrip())
        text = "\n".join(kept).strip()
        text = text.removesuffix("--\n-- PostgreSQL database dump complete\n--").strip()
        if not _EXTENSION_COMMENT.search(text):
            entries.append(text)
    return entries


def added_entries(baseline: list[str], after: list[str]) -> list[str]:
    """The entries of `after` that `baseline` lacks (new or changed), in `after`'s order.

    Extensions are always kept: the platform layer pre-installs the ones plain PostgreSQL does not
    let `postgres` create (pgvector), which a Supabase project creates in its own migration.
    """
    known = set(baseline)
    return [e for e in after if e not in known or _EXTENSION_ENTRY.search(e)]


def write(snapshot: Snapshot, docs_dir: Path) -> list[Path]:
    """Write the files that differ and delete those no migration makes; returns both."""
    docs_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, text in sorted(snapshot.files.items()):
        path = docs_dir / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    for name in left_over(snapshot, docs_dir):
        (docs_dir / name).unlink()
        written.append(docs_dir / name)
    for folder in sorted((docs_dir / SCHEMA_DIR).glob("**/"), reverse=True):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return written


def left_over(snapshot: Snapshot, docs_dir: Path) -> list[str]:
    """Files under docs/schema/ that the migrations no longer make (a dropped table's)."""
    found = sorted(
        p.relative_to(docs_dir).as_posix()
        for p in (docs_dir / SCHEMA_DIR).rglob("*")
        if p.is_file() or p.is_symlink()
    )
    return [name for name in found if name not in snapshot.files]


def stale_files(snapshot: Snapshot, docs_dir: Path) -> list[StaleFile]:
    stale: list[StaleFile] = []
    for name, text in sorted(snapshot.files.items()):
        path = docs_dir / name
        if not path.is_file():
            stale.append(StaleFile(name, ""))
            continue
        committed = path.read_text(encoding="utf-8")
        if committed != text:
            diff = difflib.unified_diff(
                committed.splitlines(),
                text.splitlines(),
                f"docs/{name} (committed)",
                f"docs/{name} (from the migrations)",
                lineterm="",
            )
            stale.append(StaleFile(name, "\n".join(diff)))
    for name in left_over(snapshot, docs_dir):
        stale.append(StaleFile(name, "", left_over=True))
    return stale


def verify(snapshot: Snapshot, docs_dir: Path, max_diff_lines: int = 40) -> None:
    """Raise, naming each stale file with the start of its diff, unless both are current."""
    stale = stale_files(snapshot, docs_dir)
    if not stale:
        return
    parts: list[str] = []
    for item in stale:
        if item.left_over:
            parts.append(f"docs/{item.name} is left over: no migration makes it")
            continue
        if not item.diff:
            parts.append(f"docs/{item.name} is missing")
            continue
        diff = item.diff.splitlines()
        shown = "\n    ".join(diff[:max_diff_lines])
        more = ""
        if len(diff) > max_diff_lines:
            more = f"\n    … {len(diff) - max_diff_lines} more diff lines"
        parts.append(
            f"docs/{item.name} is stale (it does not match the migrations):\n    {shown}{more}"
        )
    raise SnapshotError("\n".join(parts), REGENERATE)
