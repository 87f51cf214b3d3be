"""The contract both session stores implement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

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


class SessionStore(Protocol):
    """The sessions of one acting user (or, in service mode, of everyone).

    Every method either does all it says or nothing, and raises only `StoreError` subclasses for
    what callers must handle: `InvalidInputError`, `NotFoundError` (missing or someone else's),
    `PermissionDeniedError`, `VersionConflictError`.

    A session shared with the user counts as theirs to read: `get`, `history` and `shares` see
    it. A `viewer` changes nothing (`PermissionDeniedError`); an `editor` may write the IR through
    `update` and `rollback`, but changing the prompt, status, holes or assists, deleting, and
    sharing stay the owner's (`PermissionDeniedError`); a grantee may leave a share
    (`leave_share`). `list_active` and `list_all` list the
    user's own sessions; `list_shared_with_me` the others.
    """

    def create(self, new: NewSession) -> PromptSession:
        """Store a new session; with `current_ir` it starts at IR version 1.

        The database assigns its id (read it from the result); only service mode may set
        `NewSession.id` (`InvalidInputError` otherwise).
        """
        ...

    def get(self, session_id: UUID | str) -> PromptSession | None:
        """The session, or None when it does not exist for this user."""
        ...

    def update(
        self, session: PromptSession, *, change_description: str | None = None
    ) -> PromptSession:
        """Write prompt, status, holes, assists and, when it changed, the IR as a new version.

        `session.ir_version` is the version the caller read: if another writer has written a
        version since, `VersionConflictError` is raised and nothing is written.
        """
        ...

    def list_active(self, *, limit: int | None = None) -> list[PromptSession]:
        """Active sessions, newest first."""
        ...

    def list_all(self, *, limit: int | None = None) -> list[PromptSession]:
        """All sessions, newest first."""
        ...

    def delete(self, session_id: UUID | str) -> None:
        """Delete the session and its history; `NotFoundError` when there is none to delete."""
        ...

    def history(self, session_id: UUID | str) -> list[HistoryEntry]:
        """Every IR version of the session, oldest first."""
        ...

    def rollback(
        self,
        session_id: UUID | str,
        to_version: int,
        *,
        expected_version: int | None = None,
        change_description: str | None = None,
    ) -> PromptSession:
        """Restore version `to_version` as a new version; history is never rewritten."""
        ...

    def set_embedding(
        self,
        session_id: UUID | str,
        embedding: Sequence[float],
        *,
        model: str,
        ir_version: int,
    ) -> SessionEmbedding:
        """Store the embedding of the session's IR version `ir_version`, replacing its last one.

        `embedding` is a list or tuple of EMBEDDING_DIMENSIONS finite numbers, not all zero,
        stored as float4. Only the session's owner (or service mode) may store it.
        `NotFoundError` when the session, or that IR version of it, does not exist;
        `VersionConflictError` when the stored embedding was computed from a newer IR version
        (a late writer never replaces a fresher embedding).
        """
        ...

    def get_embedding(self, session_id: UUID | str) -> SessionEmbedding | None:
        """What is stored about the session's embedding (model, versions, staleness), or None."""
        ...

    def search_similar(
        self, embedding: Sequence[float], limit: int = 10, min_similarity: float = -1.0
    ) -> list[SimilarSession]:
        """The sessions this user may read whose IR embeddings are most similar to `embedding`.

        Cosine similarity, best first (ties by session id): at most `limit` (1..100) results,
        each with similarity >= `min_similarity` (-1..1), flagged when their embedding is stale.
        """
        ...

    def share(
        self, session_id: UUID | str, user_id: UUID | str, role: ShareRole = "viewer"
    ) -> Share:
        """Give another user `role` on the session (owner only); sharing again changes the role.

        Sharing with the owner, with a user who does not exist or with an unknown role is
        `InvalidInputError`.
        """
        ...

    def unshare(self, session_id: UUID | str, user_id: UUID | str) -> None:
        """Revoke a user's share; access ends at once. `NotFoundError` if none.

        The owner revokes any share; a grantee may remove only their own (see `leave_share`),
        anyone else's is `PermissionDeniedError`.
        """
        ...

    def leave_share(self, session_id: UUID | str) -> None:
        """Remove this user's own share of someone else's session (not in service mode).

        The session leaves the user's lists and search results at once. `NotFoundError` when the
        session is not shared with them (or does not exist for them).
        """
        ...

    def shares(self, session_id: UUID | str) -> list[Share]:
        """The session's shares, oldest first: all of them for the owner, one's own otherwise."""
        ...

    def list_shared_with_me(self, *, limit: int | None = None) -> list[PromptSession]:
        """Sessions other users shared with this user, newest first (not in service mode)."""
        ...

    def record_event(
        self,
        event_type: str,
        *,
        session_id: UUID | str | None = None,
        event_data: JsonObject | None = None,
        latency_ms: int | None = None,
        user_id: UUID | str | None = None,
    ) -> AnalyticsEvent:
        """Record an analytics event as this user, for no session or one they can read.

        `user_id` is the acting user by default; only service mode records for someone else (and
        must name them). Outcomes are `session_finalized` / `session_abandoned`;
        `event_data["prompt_type"]` classifies the prompt.
        """
        ...

    def events(
        self, *, session_id: UUID | str | None = None, limit: int | None = None
    ) -> list[AnalyticsEvent]:
        """This user's events (service mode: everyone's), newest first, optionally of a session."""
        ...


class SessionStoreFactory(Protocol):
    """Hands out stores that act as one user, and the explicit service mode."""

    def for_user(self, user_id: UUID | str) -> SessionStore:
        """A store whose every call acts as this user, so RLS isolates it from everyone else.

        Trusted: the caller vouches for the id (back-office jobs, code that verified the user
        itself). A request handler holding the user's access token uses `for_token`.
        """
        ...

    def for_token(self, access_token: str) -> SessionStore:
        """A store acting as the user of a Supabase access token, after verifying it.

        The token's signature, `exp`, `nbf`, `aud` and `role` are checked first; a refused token
        (expired, forged, wrongly signed, service_role) raises `AuthenticationError` and no
        query runs. Every call then acts with the token's role and complete claims, as PostgREST
        does.
        """
        ...

    def service(self) -> SessionStore:
        """Trusted maintenance: sees and changes every user's sessions (service_role)."""
        ...

    def close(self) -> None: ...
