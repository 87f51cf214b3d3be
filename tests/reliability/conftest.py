"""Reliability suite: the database under test, users to act as, and the figures report."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from lift_db.local.project import find_project
from lift_db.local.target import connect, resolve_target
from tests.conftest import ROOT
from tests.reliability import figures
from tests.reliability.support import (
    CRASH_ROUNDS,
    FUZZ_EXAMPLES,
    FUZZ_STEPS,
    create_auth_user,
    database_url,
    delete_auth_users,
)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    counts = figures.snapshot()
    if not counts:
        return
    terminalreporter.section("reliability figures")
    settings = (
        f"LIFT_FUZZ_EXAMPLES={FUZZ_EXAMPLES} LIFT_FUZZ_STEPS={FUZZ_STEPS} "
        f"LIFT_CRASH_ROUNDS={CRASH_ROUNDS}"
    )
    terminalreporter.write_line(settings)
    for name, value in counts.items():
        terminalreporter.write_line(f"{name}: {value}")
    state = find_project(ROOT).state_dir
    if state.is_dir():
        record = {
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "settings": settings,
            "figures": counts,
        }
        (state / "reliability-figures.json").write_text(json.dumps(record, indent=2) + "\n")


@pytest.fixture(scope="session")
def db_url() -> str:
    """The database the suite tests (the local stack, or DATABASE_URL)."""
    return database_url()


@pytest.fixture(scope="session")
def admin_url() -> str:
    """The superuser URL of the local server; tests that need one skip on a real Supabase."""
    target = resolve_target(find_project(ROOT))
    if target.admin_url is None:
        pytest.skip("needs the local server's superuser (DATABASE_URL names another database)")
    return target.admin_url


@pytest.fixture
def api_users(db_url: str) -> Iterator[Callable[[str], uuid.UUID]]:
    """Signed-up users (profiles by trigger); deleted with everything they own afterwards."""
    made: list[uuid.UUID] = []

    def make(label: str) -> uuid.UUID:
        with connect(db_url) as conn:
            uid = create_auth_user(conn, label)
        made.append(uid)
        return uid

    yield make
    with connect(db_url) as conn:
        delete_auth_users(conn, made)
