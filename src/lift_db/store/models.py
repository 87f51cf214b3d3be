"""The values the session store takes and returns: PromptSession, its IR history, embeddings,
shares and analytics events. Dataclasses only; what makes a value acceptable is checked by the
stores (lift_db.store._validation), once, the same way in every implementation."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

SessionStatus = Literal["active", "finalized", "abandoned"]
ShareRole = Literal["viewer", "editor"]
JsonObject = dict[str, Any]


@dataclass(frozen=True)
class NewSession:
    """What a caller supplies to create a session; the store assigns the rest."""

    prompt: str
    status: SessionStatus = "active"
    current_ir: JsonObject | None = None
    holes: list[Any] = field(default_factory=list)
    assists: list[Any] = field(default_factory=list)
    # Service mode only: a user's sessions get their id from the database.
    id: UUID | None = None
    # Owner: the acting user by default; only the service store creates for someone else.
    user_id: UUID | None = None
    change_description: str | None = None  # recorded with version 1 when current_ir is given


@dataclass(frozen=True)
class PromptSession:
    """One user's prompt, its current IR and the typed holes and assists around it."""

    id: UUID
    user_id: UUID
    prompt: str
    status: SessionStatus
    current_ir: JsonObject | None
    ir_version: int
    holes: list[Any]
    assists: list[Any]
    created_at: datetime
    updated_at: datetime

    def with_ir(self, ir: JsonObject) -> PromptSession:
        """A copy carrying a new IR, still naming the version it was read at."""
        return replace(self, current_ir=ir)

    @property
    def metadata(self) -> JsonObject:
        return {"holes": self.holes, "assists": self.assists}


@dataclass(frozen=True)
class HistoryEntry:
    session_id: UUID
    version: int
    ir_snapshot: JsonObject
    change_description: str | None
    created_at: datetime
    # The signed-in user who wrote the version; None when the service (or no user) wrote it.
    author_id: UUID | None = None


@dataclass(frozen=True)
class SessionEmbedding:
    """What is known about a session's stored IR embedding (the vector itself stays stored)."""

    session_id: UUID
    model: str
    ir_version: int  # the IR version it was computed from
    current_ir_version: int  # the session's IR version now
    created_at: datetime
    updated_at: datetime

    @property
    def is_stale(self) -> bool:
        """The session's IR has changed since the embedding was computed."""
        return self.ir_version != self.current_ir_version


@dataclass(frozen=True)
class SimilarSession:
    """One search result: a readable session and its IR's cosine similarity to the query."""

    session_id: UUID
    similarity: float
    is_stale: bool


@dataclass(frozen=True)
class Share:
    """Another user's access to a session: `viewer` reads it, `editor` may also write its IR."""

    session_id: UUID
    user_id: UUID
    role: ShareRole
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class AnalyticsEvent:
    """One recorded event; `event_data["prompt_type"]` (a string) classifies the prompt."""

    id: UUID
    session_id: UUID | None  # None for no session, or once the session was deleted
    user_id: UUID
    event_type: str
    event_data: JsonObject
    latency_ms: int | None
    created_at: datetime
