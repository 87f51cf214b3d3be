"""Quickstart: the lift-sys session store against the local stack.

    make db                       # starts the local stack and prints its URL
    .venv/bin/python examples/quickstart.py

Uses DATABASE_URL when set, else the local stack's default URL. Two users sign up, keep
sessions, update IRs, collide on a stale version, roll back, and cannot see each other's work
until one shares a session with the other; they record analytics events along the way.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import replace

from lift_db.local.target import connect
from lift_db.store import (
    NewSession,
    PermissionDeniedError,
    PostgresSessionStore,
    VersionConflictError,
)

DATABASE_URL = os.environ.get(
    "DATABASE_URL", "postgresql://postgres:postgres@127.0.0.1:54322/postgres"
)


def sign_up(email: str) -> uuid.UUID:
    """What Supabase Auth does at sign-up; the database then creates the user's profile."""
    user_id = uuid.uuid4()
    with connect(DATABASE_URL) as conn:
        conn.execute(
            "insert into auth.users (id, aud, role, email, raw_app_meta_data, created_at)"
            " values (%s, 'authenticated', 'authenticated', %s,"
            ' \'{"provider": "email"}\', now())',
            (user_id, email),
        )
    return user_id


def main() -> None:
    alice_id = sign_up(f"alice-{uuid.uuid4().hex[:8]}@example.com")
    bob_id = sign_up(f"bob-{uuid.uuid4().hex[:8]}@example.com")
    with PostgresSessionStore(DATABASE_URL) as store:
        alice = store.for_user(alice_id)
        bob = store.for_user(bob_id)

        session = alice.create(NewSession(prompt="A todo app with due dates"))
        print(f"alice created session {session.id} (IR version {session.ir_version})")

        session = alice.update(
            session.with_ir({"entities": [{"name": "Todo", "fields": ["title"]}]}),
            change_description="first IR",
        )
        session = alice.update(
            session.with_ir({"entities": [{"name": "Todo", "fields": ["title", "due"]}]}),
            change_description="add due dates",
        )
        print(f"after two updates: IR version {session.ir_version}")

        stale = replace(session, ir_version=1)
        try:
            alice.update(stale.with_ir({"entities": []}))
        except VersionConflictError as conflict:
            print(f"stale update refused: {conflict}")

        session = alice.rollback(session.id, 1)
        print(f"rolled back to version 1 as new version {session.ir_version}: {session.current_ir}")
        for entry in alice.history(session.id):
            print(f"  v{entry.version}: {entry.change_description}")

        if bob.get(session.id) is not None or bob.list_all():
            raise SystemExit("isolation broken: bob sees alice's session")
        print("bob cannot see alice's session: isolation holds")

        bob_session = bob.create(NewSession(prompt="A chess clock"))
        if [s.id for s in alice.list_active()] != [session.id]:
            raise SystemExit("isolation broken: alice's list holds someone else's session")
        print(f"bob's own session {bob_session.id} stays his")

        alice.share(session.id, bob_id, "viewer")
        if bob.get(session.id) != session:
            raise SystemExit("sharing broken: bob cannot read the session alice shared")
        try:
            bob.update(session.with_ir({"entities": []}))
            raise SystemExit("sharing broken: a viewer changed the IR")
        except PermissionDeniedError as refused:
            print(f"bob reads alice's shared session; his edit is refused: {refused}")
        alice.share(session.id, bob_id, "editor")
        edited = bob.update(
            session.with_ir({"entities": [{"name": "Todo"}]}), change_description="bob's edit"
        )
        print(f"as editor, bob writes IR version {edited.ir_version}")
        alice.unshare(session.id, bob_id)
        if bob.get(session.id) is not None:
            raise SystemExit("sharing broken: access outlived the share")
        print("alice unshares: bob sees nothing again")

        alice.record_event(
            "session_finalized",
            session_id=session.id,
            event_data={"prompt_type": "web_app"},
            latency_ms=1840,
        )
        print(f"alice's events: {[e.event_type for e in alice.events()]}; bob's: {bob.events()}")

    with connect(DATABASE_URL) as conn:
        conn.execute("delete from auth.users where id = any(%s)", ([alice_id, bob_id],))
    print("done: demo users and their sessions removed")


if __name__ == "__main__":
    main()
