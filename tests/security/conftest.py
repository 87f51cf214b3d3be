"""Red team: the world its attacks aim at, what it aims at, and the report printed at the end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from lift_db.local.project import find_project
from lift_db.local.target import connect, resolve_target
from tests.conftest import ROOT
from tests.reliability.support import Conn, database_url
from tests.security import tally
from tests.security.attacks import Rows, Targets, discover
from tests.security.identity import login_url
from tests.security.world import World, build_world


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    tallies, notes = tally.snapshot()
    if not tallies:
        return
    terminalreporter.section("red team figures")
    record: dict[str, dict[str, int]] = {}
    for name in tally.CLASSES:
        t = tallies.get(name)
        if t is None:
            continue
        terminalreporter.write_line(
            f"{name}: {t.tried} attacks tried, {t.refused} refused, {len(t.succeeded)} succeeded"
        )
        record[name] = {"tried": t.tried, "refused": t.refused, "succeeded": len(t.succeeded)}
    for name, value in notes.items():
        terminalreporter.write_line(f"  {name}: {value}")
    state = find_project(ROOT).state_dir
    if state.is_dir():
        out = {
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "classes": record,
            "notes": notes,
        }
        (state / "red-team-figures.json").write_text(json.dumps(out, indent=2) + "\n")


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    url = database_url()
    try:
        psycopg.connect(login_url(url, "authenticator"), connect_timeout=10).close()
    except psycopg.OperationalError as exc:
        # The local stack's authenticator has a known password; a real project's does not.
        if resolve_target(find_project(ROOT)).admin_url is not None:
            raise
        pytest.skip(f"the red team logs in as authenticator, which it cannot do here: {exc}")
    with build_world(url) as built:
        yield built


@pytest.fixture(scope="module")
def admin(world: World) -> Iterator[Conn]:
    with connect(world.url) as conn:
        yield conn


@pytest.fixture(scope="module")
def targets(admin: Conn) -> Targets:
    found = discover(admin)
    tally.note("targets: relations", len(found.relations))
    tally.note("targets: functions", len(found.functions))
    return found


@pytest.fixture(scope="module")
def rows(world: World, admin: Conn) -> Rows:
    return Rows(world, admin)
