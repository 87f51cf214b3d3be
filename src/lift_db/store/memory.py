"""InMemorySessionStore: the fallback behind `USE_SUPABASE=false`, with the database's semantics.

Per-user isolation, database-owned versions, optimistic concurrency, rollback, sharing and
analytics events behave as in PostgreSQL, so the contract suite runs unchanged against both
stores. A user exists once a view was made for them (`for_user`) or `add_user` named them, the
way a signed-in user exists in Auth; sharing with anyone else fails as it does in the database.
Data lives in the process and is gone when it exits: this store is for tests and for keeping the
service up while the database is away, not for keeping sessions.
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from lift_db.store._base import (
    NO_VERIFIER,
    OWNER_ONLY,
    WRITERS,
    Access,
    Action,
    ViewChecks,
    access_of,
    check_stored,
    not_found,
    not_shared,
    owner_field_refusal,
    require,
)
from lift_db.store._validation import parse_uuid
from lift_db.store.errors import (
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    VersionConflictError,
)
from lift_db.store.models import (
    AnalyticsEvent,
    HistoryEntry,
    JsonObject,
    NewSession,
    PromptSession,
    SessionEmbedding,
    Share,
    ShareRole,
    SimilarSession,
)
from lift_db.store.tokens import TokenVerifier


@dataclass(frozen=True)
class _Embedding:
    vector: tuple[float, ...]  # float4-rounded, as the database stores it
    norm: float
    model: str
    ir_version: int
    created_at: datetime
    updated_at: datetime


@dataclass
class _Data:
    lock: threading.RLock = field(default_factory=threading.RLock)
    sessions: dict[UUID, PromptSession] = field(default_factory=dict)
    history: dict[UUID, list[HistoryEntry]] = field(default_factory=dict)
    embeddings: dict[UUID, _Embedding] = field(default_factory=dict)
    users: set[UUID] = field(default_factory=set)
    shares: dict[tuple[UUID, UUID], Share] = field(default_factory=dict)  # (session, grantee)
    events: list[AnalyticsEvent] = field(default_factory=list)


class InMemorySessionStore:
    """Factory of per-user views over one shared in-process dataset."""

    def __init__(self, *, verifier: TokenVerifier | None = None) -> None:
        self._data = _Data()
        self._verifier = verifier

    def for_user(self, user_id: UUID | str) -> _MemoryView:
        uid = self.add_user(user_id)
        return _MemoryView(self._data, uid)

    def for_token(self, access_token: str) -> _MemoryView:
        """The token's user after verifying it, as the Postgres store does; anon: no user."""
        if self._verifier is None:
            raise AuthenticationError(NO_VERIFIER, "unconfigured")
        verified = self._verifier.verify(access_token)
        if verified.user_id is None:
            return _MemoryView(self._data, None, service=False)
        return self.for_user(verified.user_id)

    def add_user(self, user_id: UUID | str | None = None) -> UUID:
        """Make a user exist (what signing up does); a new id when none is given."""
        uid = uuid4() if user_id is None else parse_uuid(user_id, "user id")
        with self._data.lock:
            self._data.users.add(uid)
        return uid

    def service(self) -> _MemoryView:
        return _MemoryView(self._data, None, service=True)

    def close(self) -> None:
        pass


class _MemoryView(ViewChecks):
    def __init__(self, data: _Data, user_id: UUID | None, *, service: bool = False) -> None:
        self._data = data
        self._user = user_id
        self._service = service

    # -- helpers ---------------------------------------------------------------------------------
    def _access(self, session: PromptSession) -> Access | None:
        share = None if self._user is None else self._data.shares.get((session.id, self._user))
        role = None if share is None else share.role
        return access_of(self._user, session.user_id, role, service=self._service)

    def _visible(self, session_id: UUID | str) -> PromptSession | None:
        sid = parse_uuid(session_id)
        session = self._data.sessions.get(sid)
        if session is None or self._access(session) is None:
            return None
        return session

    def _require(
        self, session_id: UUID | str, action: Action | None = None, allowed: tuple[Access, ...] = ()
    ) -> PromptSession:
        """The session, if it exists for us and (given an action) we may do it to it."""
        session = self._visible(session_id)
        if session is None:
            raise not_found(session_id)
        if action is not None:
            require(session.id, self._access(session), action, allowed)
        return session

    def _write_version(
        self, session: PromptSession, ir: dict[str, Any], description: str | None, now: datetime
    ) -> PromptSession:
        version = session.ir_version + 1
        entries = self._data.history.setdefault(session.id, [])
        # The database stores an empty description as none; so does this store.
        entries.append(
            HistoryEntry(
                session.id, version, copy.deepcopy(ir), description or None, now, self._user
            )
        )
        return replace(session, current_ir=copy.deepcopy(ir), ir_version=version)

    # -- contract --------------------------------------------------------------------------------
    def create(self, new: NewSession) -> PromptSession:
        owner = self._check_create(new)
        now = datetime.now(UTC)
        with self._data.lock:
            sid = new.id or uuid4()
            if sid in self._data.sessions:
                raise InvalidInputError(f"session {sid} already exists")
            session = PromptSession(
                id=sid,
                user_id=owner,
                prompt=new.prompt,
                status=new.status,
                current_ir=None,
                ir_version=0,
                holes=copy.deepcopy(new.holes),
                assists=copy.deepcopy(new.assists),
                created_at=now,
                updated_at=now,
            )
            if new.current_ir is not None:
                session = self._write_version(session, new.current_ir, new.change_description, now)
            self._data.sessions[sid] = session
            return copy.deepcopy(session)

    def get(self, session_id: UUID | str) -> PromptSession | None:
        with self._data.lock:
            session = self._visible(session_id)
            return copy.deepcopy(session)

    def update(
        self, session: PromptSession, *, change_description: str | None = None
    ) -> PromptSession:
        sid = self._check_update(session, change_description)
        with self._data.lock:
            stored = self._require(sid, "change", WRITERS)
            check_stored(session, stored)
            if self._access(stored) == "editor":
                for what, mine, theirs in (
                    ("status", session.status, stored.status),
                    ("prompt", session.prompt, stored.prompt),
                    ("holes and assists", (session.holes, session.assists),
                     (stored.holes, stored.assists)),
                ):  # fmt: skip
                    if mine != theirs:
                        raise owner_field_refusal(stored.id, what)
                if session.current_ir == stored.current_ir:
                    return copy.deepcopy(stored)  # nothing to write
            now = datetime.now(UTC)
            result = stored
            if session.current_ir is not None and session.current_ir != stored.current_ir:
                result = self._write_version(result, session.current_ir, change_description, now)
            result = replace(
                result,
                prompt=session.prompt,
                status=session.status,
                holes=copy.deepcopy(session.holes),
                assists=copy.deepcopy(session.assists),
                updated_at=now,
            )
            self._data.sessions[result.id] = result
            return copy.deepcopy(result)

    def _list(self, status: str | None, limit: int | None) -> list[PromptSession]:
        limit = self._check_list(limit)
        with self._data.lock:
            rows = [
                s
                for s in self._data.sessions.values()
                if (self._service or s.user_id == self._user)
                and (status is None or s.status == status)
            ]
            rows.sort(key=lambda s: (s.created_at, s.id.bytes), reverse=True)
            return copy.deepcopy(rows[:limit] if limit is not None else rows)

    def list_active(self, *, limit: int | None = None) -> list[PromptSession]:
        return self._list("active", limit)

    def list_all(self, *, limit: int | None = None) -> list[PromptSession]:
        return self._list(None, limit)

    def delete(self, session_id: UUID | str) -> None:
        with self._data.lock:
            session = self._require(session_id, "delete", OWNER_ONLY)
            del self._data.sessions[session.id]
            self._data.history.pop(session.id, None)
            self._data.embeddings.pop(session.id, None)
            for key in [k for k in self._data.shares if k[0] == session.id]:
                del self._data.shares[key]
            # Events outlive their session (on delete set null).
            self._data.events = [
                replace(e, session_id=None) if e.session_id == session.id else e
                for e in self._data.events
            ]

    def history(self, session_id: UUID | str) -> list[HistoryEntry]:
        with self._data.lock:
            session = self._require(session_id)
            return copy.deepcopy(self._data.history.get(session.id, []))

    def rollback(
        self,
        session_id: UUID | str,
        to_version: int,
        *,
        expected_version: int | None = None,
        change_description: str | None = None,
    ) -> PromptSession:
        sid = self._check_rollback(session_id, to_version, expected_version, change_description)
        with self._data.lock:
            stored = self._require(sid, "change", WRITERS)
            entry = next(
                (h for h in self._data.history.get(stored.id, []) if h.version == to_version),
                None,
            )
            if entry is None:
                raise NotFoundError(f"session {stored.id} has no version {to_version}")
            if expected_version is not None and stored.ir_version != expected_version:
                raise VersionConflictError(stored.id, expected_version, stored.ir_version)
            now = datetime.now(UTC)
            description = change_description or f"rollback to version {to_version}"
            result = self._write_version(stored, entry.ir_snapshot, description, now)
            result = replace(result, updated_at=now)
            self._data.sessions[result.id] = result
            return copy.deepcopy(result)

    def set_embedding(
        self,
        session_id: UUID | str,
        embedding: Sequence[float],
        *,
        model: str,
        ir_version: int,
    ) -> SessionEmbedding:
        sid, vector = self._check_embedding(session_id, embedding, model, ir_version)
        with self._data.lock:
            # Readers of a shared session may search it; only its owner writes its embedding.
            session = self._require(sid, "embed", OWNER_ONLY)
            if not 1 <= ir_version <= session.ir_version:
                raise NotFoundError(f"session {session.id} has no ir version {ir_version}")
            stored = self._data.embeddings.get(session.id)
            if stored is not None and ir_version < stored.ir_version:
                raise VersionConflictError(
                    session.id,
                    ir_version,
                    stored.ir_version,
                    f"embedding version conflict on session {session.id}: it was computed from "
                    f"ir version {stored.ir_version}, newer than version {ir_version}",
                )
            now = datetime.now(UTC)
            self._data.embeddings[session.id] = _Embedding(
                vector=vector,
                norm=math.sqrt(math.fsum(x * x for x in vector)),
                model=model,
                ir_version=ir_version,
                created_at=stored.created_at if stored else now,
                updated_at=now,
            )
            return self._embedding_status(session)

    def get_embedding(self, session_id: UUID | str) -> SessionEmbedding | None:
        with self._data.lock:
            session = self._visible(session_id)
            if session is None or session.id not in self._data.embeddings:
                return None
            return self._embedding_status(session)

    def search_similar(
        self, embedding: Sequence[float], limit: int = 10, min_similarity: float = -1.0
    ) -> list[SimilarSession]:
        query, count, threshold = self._check_search(embedding, limit, min_similarity)
        query_norm = math.sqrt(math.fsum(x * x for x in query))
        with self._data.lock:
            scored = []
            for sid, stored in self._data.embeddings.items():
                session = self._visible(sid)
                if session is None:
                    continue
                dot = math.fsum(a * b for a, b in zip(query, stored.vector, strict=True))
                # Clamped as pgvector clamps it: rounding must not leave [-1, 1].
                similarity = max(-1.0, min(1.0, dot / (query_norm * stored.norm)))
                scored.append(
                    SimilarSession(sid, similarity, stored.ir_version != session.ir_version)
                )
        scored.sort(key=lambda r: (-r.similarity, r.session_id))
        return [r for r in scored[:count] if r.similarity >= threshold]

    def _embedding_status(self, session: PromptSession) -> SessionEmbedding:
        stored = self._data.embeddings[session.id]
        return SessionEmbedding(
            session_id=session.id,
            model=stored.model,
            ir_version=stored.ir_version,
            current_ir_version=session.ir_version,
            created_at=stored.created_at,
            updated_at=stored.updated_at,
        )

    def share(
        self, session_id: UUID | str, user_id: UUID | str, role: ShareRole = "viewer"
    ) -> Share:
        sid, grantee = self._check_share(session_id, user_id, role)
        with self._data.lock:
            session = self._require(sid, "share", OWNER_ONLY)
            if grantee == session.user_id:
                raise InvalidInputError("a session cannot be shared with its owner")
            if grantee not in self._data.users:
                raise InvalidInputError(f"user {grantee} does not exist")
            now = datetime.now(UTC)
            existing = self._data.shares.get((sid, grantee))
            share = (
                Share(sid, grantee, role, now, now)
                if existing is None
                else replace(existing, role=role, updated_at=now)
            )
            self._data.shares[(sid, grantee)] = share
            return share

    def unshare(self, session_id: UUID | str, user_id: UUID | str) -> None:
        sid, grantee = self._check_unshare(session_id, user_id)
        with self._data.lock:
            session = self._require(sid)
            if grantee != self._user:  # anyone may leave; only the owner removes others
                require(sid, self._access(session), "unshare", OWNER_ONLY)
            if self._data.shares.pop((sid, grantee), None) is None:
                raise not_shared(sid, grantee)

    def leave_share(self, session_id: UUID | str) -> None:
        self.unshare(*self._check_leave(session_id))

    def shares(self, session_id: UUID | str) -> list[Share]:
        with self._data.lock:
            session = self._require(session_id)
            mine_only = self._access(session) in ("editor", "viewer")
            rows = [
                share
                for (sid, grantee), share in self._data.shares.items()
                if sid == session.id and (not mine_only or grantee == self._user)
            ]
            rows.sort(key=lambda s: (s.created_at, s.user_id.bytes))
            return rows

    def list_shared_with_me(self, *, limit: int | None = None) -> list[PromptSession]:
        limit = self._check_shared_with_me(limit)
        with self._data.lock:
            rows = [
                self._data.sessions[sid]
                for (sid, grantee) in self._data.shares
                if grantee == self._user and sid in self._data.sessions
            ]
            rows.sort(key=lambda s: (s.created_at, s.id.bytes), reverse=True)
            return copy.deepcopy(rows[:limit] if limit is not None else rows)

    def record_event(
        self,
        event_type: str,
        *,
        session_id: UUID | str | None = None,
        event_data: JsonObject | None = None,
        latency_ms: int | None = None,
        user_id: UUID | str | None = None,
    ) -> AnalyticsEvent:
        request = self._check_event(event_type, session_id, event_data, latency_ms, user_id)
        sid, data = request.session_id, request.event_data
        actor = request.user_id if request.user_id is not None else self._user
        with self._data.lock:
            if sid is not None and self._visible(sid) is None:
                raise not_found(sid)
            if actor is None or actor not in self._data.users:
                raise InvalidInputError(f"user {actor} does not exist")
            event = AnalyticsEvent(
                id=uuid4(),
                session_id=sid,
                user_id=actor,
                event_type=request.event_type,
                event_data=copy.deepcopy(data),
                latency_ms=request.latency_ms,
                created_at=datetime.now(UTC),
            )
            self._data.events.append(event)
            return copy.deepcopy(event)

    def events(
        self, *, session_id: UUID | str | None = None, limit: int | None = None
    ) -> list[AnalyticsEvent]:
        sid, limit = self._check_events(session_id, limit)
        with self._data.lock:
            rows = [
                e
                for e in self._data.events
                if (self._service or e.user_id == self._user)
                and (sid is None or e.session_id == sid)
            ]
            rows.sort(key=lambda e: (e.created_at, e.id.bytes), reverse=True)
            return copy.deepcopy(rows[:limit] if limit is not None else rows)
