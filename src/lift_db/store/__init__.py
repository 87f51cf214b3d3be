"""The session store lift-sys talks to: one contract, a Postgres and an in-memory implementation.

from lift_db.store import make_store

store = make_store()                  # DATABASE_URL / USE_SUPABASE pick the implementation
alice = store.for_token(access_token) # a request's user, verified; RLS does the isolation
session = alice.create(NewSession(prompt="a todo app"))
session = alice.update(session.with_ir({"entities": []}), change_description="first IR")
alice.set_embedding(session.id, embed(session.current_ir), model="m", ir_version=session.ir_version)
alice.search_similar(embed(query), limit=5)   # the user's most similar sessions, best first
alice.share(session.id, bob_id, "editor")   # Bob may now write the IR, nothing else
alice.record_event("ir_generated", session_id=session.id, latency_ms=840)

This module is the public API; modules with a leading underscore are internal. The package
imports nothing of lift_db outside lift_db.store: it is installed on its own.
"""

import logging

from lift_db.store._validation import EMBEDDING_DIMENSIONS
from lift_db.store.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    SchemaMismatchError,
    StatementTimeoutError,
    StoreError,
    StoreUnavailableError,
    UndecodableValueError,
    VersionConflictError,
)
from lift_db.store.factory import make_store
from lift_db.store.memory import InMemorySessionStore
from lift_db.store.models import (
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
from lift_db.store.postgres import PoolSettings, PostgresSessionStore
from lift_db.store.protocol import SessionStore, SessionStoreFactory
from lift_db.store.tokens import TokenVerifier, VerifiedToken

# Silent unless the app configures logging (the library convention).
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "EMBEDDING_DIMENSIONS",
    "AnalyticsEvent",
    "AuthenticationError",
    "ConflictError",
    "HistoryEntry",
    "InMemorySessionStore",
    "InvalidInputError",
    "NewSession",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PoolSettings",
    "PostgresSessionStore",
    "PromptSession",
    "SchemaMismatchError",
    "SessionEmbedding",
    "SessionStatus",
    "SessionStore",
    "SessionStoreFactory",
    "Share",
    "ShareRole",
    "SimilarSession",
    "StatementTimeoutError",
    "StoreError",
    "StoreUnavailableError",
    "TokenVerifier",
    "UndecodableValueError",
    "VerifiedToken",
    "VersionConflictError",
    "make_store",
]
