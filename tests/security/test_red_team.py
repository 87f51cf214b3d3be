"""The red team: every attack class of docs/security.md, on every target the catalog shows.

Each class discovers its targets from the catalog (relations, columns and their privileges,
unique keys, foreign keys, functions and what reaches them, settings the schema reads), so a
table, column or function a new migration adds is attacked without a change here. Each attack
runs for each identity the trusted layer can give an attacker: `authenticator` + `set role`,
and `postgres` + `set local role`, as `authenticated` (signed in as the attacker) and as `anon`
wherever anon has a way in. Every attack is rolled back. An attack counts as refused only when
the database kept its promise; the test fails, listing each attack that got through, otherwise.
The figures (tried and refused per class) are printed at the end of the run.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lift_db.local.project import Project
from lift_db.local.target import connect
from lift_db.migrate import commands
from tests.conftest import ScratchFactory
from tests.reliability.support import Conn
from tests.security.attacks import (
    Attacks,
    Rows,
    Targets,
    discover,
    on_conflict,
    oracles,
    payloads,
    pg_temp_shadowing,
    settings,
    table_locks,
)
from tests.security.world import World, build_world

AttackClass = Callable[[World, Targets, Rows, Conn, bool], Attacks]


def test_pg_temp_shadows_never_run_with_more_privilege(
    world: World, targets: Targets, rows: Rows, admin: Conn
) -> None:
    pg_temp_shadowing(world, targets, rows, admin, True).verdict()


def test_on_conflict_never_reads_or_locks_another_users_row(
    world: World, targets: Targets, rows: Rows, admin: Conn
) -> None:
    on_conflict(world, targets, rows, admin, True).verdict()


def test_oversized_and_deep_values_are_refused_with_a_typed_error(
    world: World, targets: Targets, rows: Rows, admin: Conn
) -> None:
    payloads(world, targets, rows, admin, True).verdict()


def test_no_lock_mode_that_blocks_others_is_granted(
    world: World, targets: Targets, rows: Rows, admin: Conn
) -> None:
    table_locks(world, targets, rows, admin, True).verdict()


def test_errors_do_not_tell_hidden_rows_from_missing_ones(
    world: World, targets: Targets, rows: Rows, admin: Conn
) -> None:
    oracles(world, targets, rows, admin, True).verdict()


def test_settings_cannot_widen_access(
    world: World, targets: Targets, rows: Rows, admin: Conn
) -> None:
    settings(world, targets, rows, admin, True).verdict()


# -- the red team finds what it is there to find ------------------------------------------------

# One hole per class, each of a kind a migration could bring back, planted in a scratch copy of
# the schema; the relations and functions they touch are the only targets, to keep it short.
HOLES: list[tuple[str, AttackClass, str, set[str], set[str]]] = [
    (
        "a definer helper casts to an unqualified type",
        pg_temp_shadowing,
        "create or replace function private.owned_session_ids() returns setof uuid"
        " language sql stable security definer set search_path = '' as $$"
        " select s.id from public.sessions as s where s.user_id = (select auth.uid())::uuid $$",
        {"public.session_shares"},
        {"private.owned_session_ids"},
    ),
    (
        "comment ids chosen by the client",
        on_conflict,
        "grant insert (id), update (body) on public.comments to authenticated",
        {"public.comments"},
        set(),
    ),
    (
        "preferences without their caps",
        payloads,
        "alter table public.user_preferences disable trigger user;"
        " alter table public.user_preferences drop constraint if exists"
        " user_preferences_settings_size",
        {"public.user_preferences"},
        set(),
    ),
    (
        "table-level delete on comments",
        table_locks,
        "grant delete on public.comments to authenticated",
        {"public.comments"},
        set(),
    ),
    (
        "comment ids chosen by the client, seen by their collisions",
        oracles,
        "grant insert (id) on public.comments to authenticated",
        {"public.comments"},
        set(),
    ),
    (
        "a policy that trusts a setting",
        settings,
        "create policy leak on public.sessions for select to authenticated"
        " using (pg_catalog.current_setting('lift.debug', true) = 'on')",
        {"public.sessions"},
        set(),
    ),
]


def _only(targets: Targets, relations: set[str], functions: set[str]) -> Targets:
    targets.relations = [r for r in targets.relations if r.qualified in relations]
    targets.functions = [f for f in targets.functions if f.qualified in functions]
    targets.by_oid = {r.oid: r for r in targets.relations}
    return targets


@pytest.mark.parametrize(
    ("hole", "attack", "statement", "relations", "functions"),
    HOLES,
    ids=[h[0] for h in HOLES],
)
def test_the_red_team_finds_a_planted_hole(
    scratch_db: ScratchFactory,
    project: Project,
    hole: str,
    attack: AttackClass,
    statement: str,
    relations: set[str],
    functions: set[str],
) -> None:
    target = scratch_db()
    commands.migrate(project, target, lambda _: None)
    with connect(target.url) as conn:
        conn.execute(statement)
    with build_world(target.url) as world, connect(target.url) as admin:
        targets = _only(discover(admin), relations, functions)
        found = attack(world, targets, Rows(world, admin), admin, False)
    assert found.tried > 0, f"{hole}: nothing was attacked"
    assert found.succeeded, f"{hole}: {found.tried} attacks, and none found the hole"
