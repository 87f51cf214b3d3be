"""The session store lift-sys talks to: one contract, a Postgres and an in-memory implementation.

from lift_db.store import make_store

store = make_store()                  # DATABASE_URL / USE_SUPABASE pick the implementation
alice = store.for_user(alice_id)      # every call acts as this user; RLS does the isolation
session = alice.create(NewSession(prompt="a todo app"))
session = alice.update(session.with_ir({"entities": []}), change_description="first IR")
"""

from lift_db.store.errors import (
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    StoreError,
    StoreUnavailableError,
    VersionConflictError,
)
from lift_db.store.factory import make_store
from lift_db.store.memory import InMemorySessionStore
from lift_db.store.models import HistoryEntry, NewSession, PromptSession, SessionStatus
from lift_db.store.postgres import PostgresSessionStore
from lift_db.store.protocol import SessionStore, SessionStoreFactory

__all__ = [
    "HistoryEntry",
    "InMemorySessionStore",
    "InvalidInputError",
    "NewSession",
    "NotFoundError",
    "PermissionDeniedError",
    "PostgresSessionStore",
    "PromptSession",
    "SessionStatus",
    "SessionStore",
    "SessionStoreFactory",
    "StoreError",
    "StoreUnavailableError",
    "VersionConflictError",
    "make_store",
]
