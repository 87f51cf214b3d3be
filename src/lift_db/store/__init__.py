"""The session store lift-sys talks to: one contract, a Postgres and an in-memory implementation.

from lift_db.store import make_store

store = make_store()                  # DATABASE_URL / USE_SUPABASE pick the implementation
alice = store.for_user(alice_id)      # every call acts as this user; RLS does the isolation
session = alice.create(NewSession(prompt="a todo app"))
session = alice.update(session.with_ir({"entities": []}), change_description="first IR")
alice.set_embedding(session.id, embed(session.current_ir), model="m", ir_version=session.ir_version)
alice.search_similar(embed(query), limit=5)   # the user's most similar sessions, best first
alice.share(session.id, bob_id, "editor")   # Bob may now write the IR, nothing else
alice.record_event("ir_generated", session_id=session.id, latency_ms=840)
"""

from lift_db.store.errors import (
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    StoreError,
    StoreUnavailableError,
    UndecodableValueError,
    VersionConflictError,
)
from lift_db.store.factory import make_store
from lift_db.store.memory import InMemorySessionStore
from lift_db.store.models import (
    EMBEDDING_DIMENSIONS,
    AnalyticsEvent,
    HistoryEntry,
    NewSession,
    PromptSession,
    SessionEmbedding,
    SessionStatus,
    Share,
    ShareRole,
    SimilarSession,
)
from lift_db.store.postgres import PostgresSessionStore
from lift_db.store.protocol import SessionStore, SessionStoreFactory

__all__ = [
    "EMBEDDING_DIMENSIONS",
    "AnalyticsEvent",
    "HistoryEntry",
    "InMemorySessionStore",
    "InvalidInputError",
    "NewSession",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PostgresSessionStore",
    "PromptSession",
    "SessionEmbedding",
    "SessionStatus",
    "SessionStore",
    "SessionStoreFactory",
    "Share",
    "ShareRole",
    "SimilarSession",
    "StoreError",
    "StoreUnavailableError",
    "UndecodableValueError",
    "VersionConflictError",
    "make_store",
]
