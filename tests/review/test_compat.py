"""The production-version gate: SQL only PostgreSQL 18 accepts fails `lift-db compat`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from lift_db.errors import BinariesMissingError
from lift_db.local.project import Project
from lift_db.review import _compat, compat_catalog
from lift_db.review._compat import Additions, CompatibilityError
from tests.conftest import IN_CI, ROOT


@pytest.fixture(scope="module")
def additions() -> Additions:
    return Additions.load()


def findings(sql: str, additions: Additions, tmp_path: Path) -> list[str]:
    path = tmp_path / "candidate.sql"
    path.write_text(sql)
    return [f"{f.line}: {f.message}" for f in _compat.check_file(path, additions)]


def test_every_project_sql_file_runs_on_production(project: Project) -> None:
    files, found = _compat.check_project(project)
    assert [f.render(project.root) for f in found] == []
    names = {f.name for f in files}
    # Migrations, pgTAP files and the seed are all read.
    assert {"20261126001200_sessions.sql", "000_setup_identity.sql", "seed.sql"} <= names


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("select uuidv7();", "function uuidv7() is new in PostgreSQL 18"),
        ("select pg_catalog.casefold('A');", "function casefold() is new in PostgreSQL 18"),
        (
            "create table t (a int, b int generated always as (a * 2) virtual);",
            'does not parse with PostgreSQL 17\'s grammar: syntax error at or near "virtual"',
        ),
        ("set io_method = 'worker';", "setting io_method is new in PostgreSQL 18"),
        (
            "select set_config('enable_self_join_elimination', 'off', true);",
            "setting enable_self_join_elimination is new",
        ),
        (
            "alter function f() set vacuum_truncate = off;",
            "setting vacuum_truncate is new in PostgreSQL 18",
        ),
        ("select * from pg_catalog.pg_aios;", "relation pg_catalog.pg_aios is new"),
        (
            "select jsonb_strip_nulls('{}'::jsonb, true);",
            "jsonb_strip_nulls() with 2 argument(s) is new in PostgreSQL 18.6; 17.10 accepts 1",
        ),
        (
            "create function f() returns uuid language sql as $$ select uuidv4() $$;",
            "function uuidv4() is new",
        ),
        (
            "create function g() returns void language plpgsql as $$\n"
            "declare x text := casefold('A');\nbegin\n  x := crc32('a'::bytea)::text;\nend $$;",
            "function crc32() is new",
        ),
        ("do $$ begin perform gamma(1.0); end $$;", "function gamma() is new"),
    ],
)
def test_the_gate_refuses_what_only_18_has(
    sql: str, expected: str, additions: Additions, tmp_path: Path
) -> None:
    found = findings(f"-- why this file exists\n\n{sql}\n", additions, tmp_path)
    assert any(line.startswith("3: ") and expected in line for line in found), found


def test_what_17_has_passes(additions: Additions, tmp_path: Path) -> None:
    sql = (
        "select gen_random_uuid(), jsonb_strip_nulls('{}'::jsonb), extensions.uuidv7();\n"
        "set local statement_timeout = '5s';\n"
        "create function f() returns int language plpgsql as $$\n"
        "declare n int := 0;\nbegin\n  n := n + pg_catalog.length('x');\n  return n;\nend $$;\n"
    )
    assert findings(sql, additions, tmp_path) == []


def test_one_error_hides_no_other(additions: Additions, tmp_path: Path) -> None:
    found = findings(
        "select 1;\ncreate table t (a int generated always as (1) virtual);\nselect uuidv7();\n",
        additions,
        tmp_path,
    )
    assert [line.split(":")[0] for line in found] == ["2", "3"]


@pytest.fixture
def scratch_project(tmp_path: Path) -> Project:
    (tmp_path / "supabase" / "migrations").mkdir(parents=True)
    (tmp_path / "supabase" / "tests").mkdir()
    shutil.copy(ROOT / "supabase" / "config.toml", tmp_path / "supabase" / "config.toml")
    (tmp_path / "supabase" / "seed.sql").write_text("select 1;\n")
    return Project(tmp_path)


def test_the_command_names_the_file_and_line_and_fails(scratch_project: Project) -> None:
    migration = scratch_project.migrations_dir / "20990101000000_add_ids.sql"
    migration.write_text("-- ids\nalter table public.t alter column id set default uuidv7();\n")
    result = subprocess.run(
        [sys.executable, "-m", "lift_db.cli", "compat"],
        cwd=scratch_project.root,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "LIFT_DB_PROJECT": str(scratch_project.root)},
    )
    assert result.returncode == 1, result
    assert (
        "supabase/migrations/20990101000000_add_ids.sql:2: function uuidv7() is new in "
        "PostgreSQL 18.6" in result.stdout
    )
    assert "1 use(s) of what PostgreSQL 17 (production) does not have" in result.stderr


def test_a_grammar_other_than_production_is_refused(scratch_project: Project) -> None:
    config = scratch_project.config_file
    config.write_text(config.read_text().replace("major_version = 17", "major_version = 15"))
    with pytest.raises(CompatibilityError, match="parses PostgreSQL 17's grammar; production"):
        _compat.check_project(scratch_project)


def test_the_list_is_what_both_servers_catalogs_give(project: Project) -> None:
    try:
        fresh = compat_catalog.additions(project)
    except BinariesMissingError as exc:
        if IN_CI:
            raise
        warnings.warn(str(exc), stacklevel=1)
        pytest.skip(str(exc))
    committed = compat_catalog.load_additions()
    assert committed == _as_json(fresh), "pg_additions.json is stale: run `make compat-list`"
    # The list holds what the gate is known to need, from the catalogs themselves.
    functions = committed["functions"]
    assert isinstance(functions, dict)
    assert {"uuidv7", "casefold", "array_sort"} <= set(functions)
    assert "gen_random_uuid" not in functions


def _as_json(data: dict[str, object]) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(json.dumps(data))
    return loaded


def test_a_sql_standard_body_is_one_statement(additions: Additions, tmp_path: Path) -> None:
    sql = (
        "create function public.f(x uuid) returns void language sql\n"
        "begin atomic\n  select 1;\n  select private.g(x);\nend;\n"
        "create function public.h() returns uuid language sql\n"
        "begin atomic\n  select uuidv7();\nend;\n"
    )
    assert findings(sql, additions, tmp_path) == ["6: function uuidv7() is new in PostgreSQL 18.6"]


def test_a_parse_error_without_a_position_is_still_reported(
    additions: Additions, tmp_path: Path
) -> None:
    found = findings(
        "select 1;\ncreate function f() returns int language sql begin atomic", additions, tmp_path
    )
    assert found == ["2: does not parse with PostgreSQL 17's grammar: syntax error at end of input"]
