"""The store as a package: installed alone, silent unless logging is configured, and its two
implementations agreeing on what they refuse and how they say it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from lift_db.store import (
    InMemorySessionStore,
    InvalidInputError,
    NewSession,
    PostgresSessionStore,
    SessionStoreFactory,
    StoreError,
)
from tests.conftest import ROOT

STORE = ROOT / "src" / "lift_db" / "store"


def store_modules() -> list[Path]:
    return sorted(STORE.rglob("*.py"))


def imported_modules(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_the_store_imports_nothing_of_lift_db_outside_itself() -> None:
    outside = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in store_modules()
        for name in imported_modules(path)
        if (name == "lift_db" or name.startswith("lift_db."))
        and not (name == "lift_db.store" or name.startswith("lift_db.store."))
    ]
    assert outside == []
    # And at run time: importing it loads no other lift_db module.
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys, lift_db.store, lift_db.store.postgres;"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('lift_db'))))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    modules = json.loads(loaded.stdout)
    assert [m for m in modules if m != "lift_db" and not m.startswith("lift_db.store")] == []


def test_no_module_of_the_store_prints() -> None:
    printing = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in store_modules()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "print"
    ]
    assert printing == []


def test_the_store_logs_nothing_unless_logging_is_configured() -> None:
    """A library adds a NullHandler and nothing else: no output, even for warnings."""
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import logging, lift_db.store\n"
            "log = logging.getLogger('lift_db.store')\n"
            "assert [type(h).__name__ for h in log.handlers] == ['NullHandler'], log.handlers\n"
            "assert log.level == logging.NOTSET and log.propagate\n"
            "lift_db.store.make_store({'USE_SUPABASE': 'false'})\n"
            "log.warning('a warning nobody configured a handler for')\n",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert (run.stdout, run.stderr) == ("", "")


def test_the_in_memory_fallback_is_logged_as_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    from lift_db.store import make_store

    with caplog.at_level("WARNING", logger="lift_db.store"):
        make_store({"USE_SUPABASE": "false"})
    assert [r.name for r in caplog.records] == ["lift_db.store"]
    assert "in memory" in caplog.records[0].getMessage()


@pytest.mark.parametrize("limit", ["5", 2.0, True, -1])
def test_every_list_refuses_a_limit_that_is_not_a_count(
    limit: object, pg_factory: PostgresSessionStore, auth_users: Callable[[], uuid.UUID]
) -> None:
    memory = InMemorySessionStore()
    for store in (memory.for_user(memory.add_user()), pg_factory.for_user(auth_users())):
        for call in (store.list_active, store.list_all, store.list_shared_with_me, store.events):
            with pytest.raises(InvalidInputError, match="limit must be 0 or more"):
                call(limit=limit)  # type: ignore[arg-type]


def refusals(factory: SessionStoreFactory, owner_id: uuid.UUID, viewer_id: uuid.UUID) -> list[str]:
    """What every refusal of the contract says, for sessions whose ids are then masked."""
    owner, viewer = factory.for_user(owner_id), factory.for_user(viewer_id)
    session = owner.create(NewSession(prompt="p", current_ir={"v": 1}))
    owner.share(session.id, viewer_id, "viewer")
    seen = viewer.get(session.id)
    assert seen is not None
    missing = uuid.uuid4()
    attempts: list[Callable[[], object]] = [
        lambda: viewer.update(seen.with_ir({"v": 2})),
        lambda: viewer.rollback(session.id, 1),
        lambda: viewer.delete(session.id),
        lambda: viewer.share(session.id, owner_id),
        lambda: viewer.set_embedding(session.id, [1.0] * 1536, model="m", ir_version=1),
        lambda: viewer.unshare(session.id, owner_id),
        lambda: owner.get_embedding(missing) or owner.history(missing),
        lambda: owner.rollback(missing, 1),
        lambda: owner.shares(missing),
        lambda: owner.create(NewSession(prompt="p", user_id=viewer_id)),
        lambda: owner.create(NewSession(prompt="p", id=uuid.uuid4())),
        lambda: factory.service().leave_share(session.id),
        lambda: factory.service().create(NewSession(prompt="p")),
    ]
    said = []
    for attempt in attempts:
        with pytest.raises(StoreError) as refused:
            attempt()
        said.append(
            f"{type(refused.value).__name__}: "
            + str(refused.value).replace(str(session.id), "<s>").replace(str(missing), "<m>")
        )
    return said


def test_both_stores_refuse_alike_in_the_same_words(
    pg_factory: PostgresSessionStore, auth_users: Callable[[], uuid.UUID]
) -> None:
    memory = InMemorySessionStore()
    in_memory = refusals(memory, memory.add_user(), memory.add_user())
    in_postgres = refusals(pg_factory, auth_users(), auth_users())
    assert in_memory == in_postgres
