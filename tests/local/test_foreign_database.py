"""`lift-db --db-url` against a database that is not a Supabase database.

The platform layer with its known password is for the local server. On a plain PostgreSQL that
someone else runs, lift-db must create no role and set no password unless told to, and then
only roles that cannot log in.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from lift_db.local.project import Project
from lift_db.local.server import LocalServer
from tests.conftest import ROOT, admin_url_of, free_port, run_lift_db

PLATFORM_ROLES = (
    "postgres",
    "anon",
    "authenticated",
    "service_role",
    "authenticator",
    "supabase_auth_admin",
)
ROLES = """
select a.rolname, a.rolsuper, a.rolcanlogin, a.rolbypassrls, a.rolreplication, a.rolcreaterole,
       a.rolpassword, s.setconfig
  from pg_catalog.pg_authid as a
  left join pg_catalog.pg_db_role_setting as s on s.setrole = a.oid
 order by a.rolname, s.setdatabase
"""


@pytest.fixture
def plain_cluster(scratch_state: Path, local_server: LocalServer) -> tuple[int, str]:
    """A bare PostgreSQL cluster (superuser `supabase_admin`, no platform layer): its port and
    superuser URL. The server is started directly, without what `lift-db start` adds; the
    scratch_state fixture stops it."""
    port = free_port()
    server = LocalServer(Project(ROOT, scratch_state), local_server.install)
    server.start(port=port, out=None)
    return port, admin_url_of(port)


def _query(url: str, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def test_a_database_without_the_platform_layer_is_refused_and_left_unchanged(
    plain_cluster: tuple[int, str],
) -> None:
    _, url = plain_cluster
    before = _query(url, ROLES)

    result = run_lift_db("--db-url", url, "migrate")

    assert result.returncode == 1
    for part in ("role postgres", "role anon", "role authenticator", "schema auth",
                 "function auth.uid()", "publication supabase_realtime"):  # fmt: skip
        assert part in result.stderr, result.stderr
    assert "--install-platform" in result.stderr
    assert "Traceback" not in result.stderr
    assert _query(url, ROLES) == before
    assert _query(url, "select to_regnamespace('auth'), to_regnamespace('extensions')") == [
        (None, None)
    ]


def test_install_platform_creates_roles_nobody_can_log_in_as(
    plain_cluster: tuple[int, str],
) -> None:
    port, url = plain_cluster

    result = run_lift_db("--db-url", url, "--install-platform", "migrate")

    assert result.returncode == 0, result.stderr
    assert "without login or password" in result.stdout
    roles = {
        str(r[0]): (r[1], r[2])
        for r in _query(
            url,
            "select rolname, rolcanlogin, rolpassword is not null from pg_catalog.pg_authid",
        )
    }
    for role in PLATFORM_ROLES:
        assert roles[role] == (False, False), f"{role} can log in or has a password"
    for role in ("postgres", "authenticator", "supabase_auth_admin"):
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(f"postgresql://{role}:postgres@127.0.0.1:{port}/postgres").close()
    # The layer is complete: the migrations ran, and a second run finds nothing missing.
    [(applied,)] = _query(url, "select count(*) from supabase_migrations.schema_migrations")
    assert isinstance(applied, int)
    assert applied > 0
    again = run_lift_db("--db-url", url, "migrate")
    assert again.returncode == 0, again.stderr


def test_install_platform_is_refused_for_the_local_server() -> None:
    result = run_lift_db("--install-platform", "migrate")
    assert result.returncode == 1
    assert "--install-platform is for a database named by --db-url" in result.stderr
