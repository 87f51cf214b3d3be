"""The real Supabase CLI (npm supabase, pinned in package.json) agrees with our runner.

`supabase db push` must apply every migration to a platform-layer database, and after our runner
has migrated a database the CLI must see local = remote with nothing to push: the two histories
are indistinguishable.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import warnings
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from psycopg.conninfo import conninfo_to_dict

from lift_db.local.project import Project
from lift_db.local.target import Target
from lift_db.migrate import runner
from tests.conftest import IN_CI, ROOT, ScratchFactory

CLI = ROOT / "node_modules" / ".bin" / "supabase"
PINNED = "2.117.0"
_ROW = re.compile(r"^\s*`?(\d*)`?\s*\|\s*`?(\d*)`?\s*\|", re.MULTILINE)


@pytest.fixture(scope="module")
def cli() -> Path:
    if not CLI.exists() or shutil.which("node") is None:
        message = "Supabase CLI not installed (needs Node.js; `make cli` runs `npm ci`)"
        if IN_CI:
            pytest.fail(message)
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)
    return CLI


def _supabase(cli: Path, *args: str, db: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI; `db` becomes its --db-url, without the password, which travels in
    PGPASSWORD (the CLI reads it) rather than on a command line every local user can read."""
    env = dict(os.environ)
    if db is not None:
        params = conninfo_to_dict(db)
        password = params.pop("password", None)
        if password is not None:
            env["PGPASSWORD"] = str(password)
        # The CLI treats any port but config.toml's as a remote project and insists on TLS,
        # which the loopback-only local server does not offer.
        params.setdefault("sslmode", "disable")
        host, port = params.pop("host", "localhost"), params.pop("port", "5432")
        user, dbname = quote(str(params.pop("user", "postgres"))), params.pop("dbname", "postgres")
        query = urlencode(params)
        args = (*args, "--db-url", f"postgresql://{user}@{host}:{port}/{dbname}?{query}")
    return subprocess.run(
        [str(cli), *args, "--workdir", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        stdin=subprocess.DEVNULL,
        env=env,
    )


def _history(target: Target) -> list[tuple[str, str, list[str]]]:
    with target.connect() as conn:
        rows = conn.execute(
            "select version, name, statements from supabase_migrations.schema_migrations"
            " order by version"
        ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def test_the_cli_is_the_pinned_version(cli: Path) -> None:
    result = subprocess.run([str(cli), "--version"], capture_output=True, text=True, check=False)
    assert result.stdout.strip() == PINNED


def test_db_push_applies_every_migration_as_our_runner_records_it(
    cli: Path, scratch_db: ScratchFactory, project: Project
) -> None:
    files = runner.discover(project.migrations_dir)
    assert files, "the project has migrations"
    pushed = scratch_db()
    result = _supabase(cli, "db", "push", "--yes", db=pushed.url)
    assert result.returncode == 0, result.stdout + result.stderr
    for file in files:
        assert f"Applying migration {file.filename}" in result.stdout + result.stderr

    ours = scratch_db()
    with ours.connect() as conn:
        runner.migrate(conn, files)
    assert _history(pushed) == _history(ours)
    assert [v for v, _, _ in _history(ours)] == [f.version for f in files]

    # Our runner accepts the CLI's history (and records checksums for it).
    with pushed.connect() as conn:
        assert runner.migrate(conn, files) == []


def test_after_our_runner_the_cli_sees_nothing_to_push(
    cli: Path, scratch_db: ScratchFactory, project: Project
) -> None:
    files = runner.discover(project.migrations_dir)
    target = scratch_db()
    with target.connect() as conn:
        runner.migrate(conn, files)

    listed = _supabase(cli, "migration", "list", db=target.url)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    rows = [(local, remote) for local, remote in _ROW.findall(listed.stdout) if local or remote]
    assert rows == [(f.version, f.version) for f in files]

    dry = _supabase(cli, "db", "push", "--dry-run", db=target.url)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "database is up to date" in dry.stdout + dry.stderr
    assert "Would push" not in dry.stdout + dry.stderr


def test_after_lift_db_reset_the_cli_lists_local_equal_to_remote(
    cli: Path, project: Project
) -> None:
    """`make db` reset the checkout's database with our runner; the CLI must agree with it."""
    from lift_db.local.target import resolve_target

    url = resolve_target(project).url
    files = runner.discover(project.migrations_dir)
    listed = _supabase(cli, "migration", "list", db=url)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    rows = [(local, remote) for local, remote in _ROW.findall(listed.stdout) if local or remote]
    assert rows == [(f.version, f.version) for f in files]


def test_status_reads_a_database_deployed_by_the_cli_alone(
    cli: Path, scratch_db: ScratchFactory, project: Project
) -> None:
    from tests.conftest import run_lift_db

    target = scratch_db()
    pushed = _supabase(cli, "db", "push", "--yes", db=target.url)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    status = run_lift_db("--db-url", target.url, "status")
    assert status.returncode == 0, status.stderr
    files = runner.discover(project.migrations_dir)
    assert f"migrations: {len(files)} applied, 0 pending" in status.stdout
