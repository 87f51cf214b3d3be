"""A pgTAP run against a database (DATABASE_URL) leaves nothing that anon or authenticated can use.

The helpers of the setup files (000_setup_identity.sql and the next) include SECURITY DEFINER
functions that create users, read sessions and share them, whoever calls them. They must not
outlive the run: not after a complete run, not after an interrupted one, and not after pg_prove
(`supabase test db`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lift_db.local.project import Project
from lift_db.local.target import Target
from lift_db.migrate import commands
from lift_db.testing import _pgtap
from tests.conftest import ROOT, ScratchFactory

# Everything outside the system catalogs that anon or authenticated may use (PUBLIC's grants
# included: both roles are members of PUBLIC).
USABLE = """
select r.rolname || ' uses schema ' || n.nspname
  from pg_namespace as n cross join pg_roles as r
 where r.rolname in ('anon', 'authenticated') and has_schema_privilege(r.oid, n.oid, 'usage')
union all
select r.rolname || ' executes ' || p.oid::regprocedure::text
  from pg_proc as p
  join pg_namespace as n on n.oid = p.pronamespace
 cross join pg_roles as r
 where r.rolname in ('anon', 'authenticated')
   and n.nspname not in ('pg_catalog', 'information_schema')
   and has_schema_privilege(r.oid, n.oid, 'usage')
   and has_function_privilege(r.oid, p.oid, 'execute')
union all
select r.rolname || ' reads ' || c.oid::regclass::text
  from pg_class as c
  join pg_namespace as n on n.oid = c.relnamespace
 cross join pg_roles as r
 where r.rolname in ('anon', 'authenticated')
   and n.nspname not in ('pg_catalog', 'information_schema')
   and c.relkind in ('r', 'p', 'v', 'm', 'f')
   and has_any_column_privilege(r.oid, c.oid, 'select')
"""


def _usable(target: Target) -> set[str]:
    with target.connect() as conn:
        return {str(row[0]) for row in conn.execute(USABLE).fetchall()}


def _tests_schema(target: Target) -> bool:
    with target.connect() as conn:
        row = conn.execute("select to_regnamespace('tests') is not null").fetchone()
    return bool(row and row[0])


def _project_database(scratch_db: ScratchFactory) -> Target:
    target = scratch_db()
    project = Project(ROOT)
    commands.migrate(project, target, lambda _: None)
    commands.seed(project, target, lambda _: None)
    return target


def _default_sigint() -> None:
    # A shell starts background jobs with SIGINT ignored, and the child inherits that: Python
    # then installs no KeyboardInterrupt handler, and the Ctrl-C below would be lost whenever
    # the outer run is itself a background job.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _pytest(target: Target, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "DATABASE_URL": target.url}
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_default_sigint,
    )


def test_a_full_pgtap_run_leaves_nothing_anon_or_authenticated_can_use(
    scratch_db: ScratchFactory,
) -> None:
    target = _project_database(scratch_db)
    before = _usable(target)
    run = _pytest(target, "supabase/tests")
    output, _ = run.communicate(timeout=600)
    assert run.returncode == 0, output
    assert not _tests_schema(target)
    assert _usable(target) - before == set()


def test_a_leftover_from_an_interrupted_run_is_dropped(
    scratch_db: ScratchFactory,
) -> None:
    target = _project_database(scratch_db)
    with target.connect() as conn:
        # pgTAP itself stays: the next run cannot tell who installed it.
        conn.execute("create extension pgtap with schema extensions")
    before = _usable(target)
    # A run killed outright after the helpers were installed leaves them behind...
    for helpers in sorted((ROOT / "supabase" / "tests").glob("*_setup_*.sql")):
        assert _pgtap.run_file(helpers, target.url).passed
    assert _tests_schema(target)
    # ...and the next run, here one file only, drops them at its end.
    run = _pytest(target, "supabase/tests/110_rls_users.sql")
    output, _ = run.communicate(timeout=600)
    assert run.returncode == 0, output
    assert not _tests_schema(target)
    assert _usable(target) - before == set()


def test_a_run_stopped_with_ctrl_c_drops_the_helpers(scratch_db: ScratchFactory) -> None:
    target = _project_database(scratch_db)
    before = _usable(target)
    run = _pytest(target, "supabase/tests")
    deadline = time.monotonic() + 120
    while not _tests_schema(target):
        assert run.poll() is None, "the run ended before it installed the helpers"
        assert time.monotonic() < deadline, "the helpers never appeared"
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    output, _ = run.communicate(timeout=120)
    assert run.returncode == 2, output  # pytest's exit status for an interrupted run
    assert not _tests_schema(target), output
    assert _usable(target) - before == set()


def test_helpers_are_not_callable_by_other_roles_while_a_run_lasts(
    scratch_db: ScratchFactory,
) -> None:
    target = _project_database(scratch_db)
    for helpers in sorted((ROOT / "supabase" / "tests").glob("*_setup_*.sql")):
        assert _pgtap.run_file(helpers, target.url).passed
    with target.connect() as conn:
        conn.execute("create role lift_bystander nologin")
        try:
            row = conn.execute(
                "select count(*) from pg_proc"
                " where pronamespace = 'tests'::regnamespace"
                "   and has_function_privilege('lift_bystander', oid, 'execute')"
            ).fetchone()
            usage = conn.execute(
                "select has_schema_privilege('lift_bystander', 'tests', 'usage')"
            ).fetchone()
        finally:
            conn.execute("drop role lift_bystander")
    assert row == (0,)
    assert usage == (False,)


def test_the_setup_files_sort_first_and_the_teardown_last() -> None:
    names = sorted(p.name for p in Path(ROOT / "supabase" / "tests").glob("*.sql"))
    setup = ["000_setup_identity.sql", "001_setup_fixtures.sql", "002_setup_catalog_guards.sql"]
    assert names[: len(setup)] == setup
    assert not [n for n in names[len(setup) :] if "_setup_" in n]
    assert names[-1] == "999_teardown_test_helpers.sql"
