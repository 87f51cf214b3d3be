"""The pgTAP files run unchanged under pg_prove, exactly as `supabase test db` invokes it."""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from lift_db.local.binaries import find_install
from lift_db.local.project import Project
from lift_db.local.target import resolve_target
from tests.conftest import IN_CI


def test_supabase_test_db_invocation_passes(project: Project) -> None:
    pg_prove = shutil.which("pg_prove")
    if pg_prove is None:
        message = "pg_prove not installed (Debian: libtap-parser-sourcehandler-pgtap-perl)"
        if IN_CI:
            pytest.fail(message)
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)
    params = conninfo_to_dict(resolve_target(project).url)
    env = {**os.environ, "PGPASSWORD": str(params.get("password", ""))}
    result = subprocess.run(
        [
            pg_prove,
            "--psql-bin",
            str(find_install().bin("psql")),
            "--host",
            str(params.get("host", "127.0.0.1")),
            "--port",
            str(params.get("port", "5432")),
            "--username",
            str(params.get("user", "postgres")),
            "--dbname",
            str(params.get("dbname", "postgres")),
            # The arguments of `supabase test db`.
            "--ext",
            ".pg",
            "--ext",
            ".sql",
            "-r",
            str(project.tests_dir),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Result: PASS" in result.stdout
    # Each file ran in its own session; the last one dropped what the first one committed.
    with psycopg.connect(resolve_target(project).url) as conn:
        row = conn.execute("select to_regnamespace('tests') is null").fetchone()
    assert row == (True,), "pg_prove left schema tests (the helpers) behind"
