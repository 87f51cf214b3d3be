"""What the stores share that is not storage: argument checks, the access decision, refusals.

Every implementation (in-memory, Postgres sync and async) checks a call's arguments here before
it reads or writes anything, decides what the acting user may do to a session here, and words
its refusals here, so they cannot drift apart. Only how rows are read and written differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from lift_db.store._validation import (
    parse_uuid,
    validate_description,
    validate_embedding,
    validate_event_data,
    validate_event_type,
    validate_ir_version,
    validate_latency,
    validate_limit,
    validate_model,
    validate_new_session,
    validate_search,
    validate_share_role,
    validate_update,
    validate_version,
)
from lift_db.store.errors import (
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    StoreError,
    VersionConflictError,
)
from lift_db.store.models import JsonObject, NewSession, PromptSession, ShareRole

# What the acting user is to a session; None: the session does not exist for them.
Access = Literal["service", "owner", "editor", "viewer"]
# What a refused call wanted to do, as its message says it.
Action = Literal["change", "delete", "embed", "share", "unshare"]
OWNER_ONLY: tuple[Access, ...] = ("owner", "service")
WRITERS: tuple[Access, ...] = ("owner", "service", "editor")


def access_of(
    acting_user: UUID | None, owner: UUID, share_role: str | None, *, service: bool = False
) -> Access | None:
    """The decision every store makes: service mode sees everything, an owner owns, a grantee
    has their share's role, anyone else (an anonymous caller too) has nothing: the session does
    not exist for them."""
    if service:
        return "service"
    if acting_user is None:
        return None
    if owner == acting_user:
        return "owner"
    if share_role == "editor":
        return "editor"
    if share_role == "viewer":
        return "viewer"
    return None


# -- refusals: the same words from every store -----------------------------------------------------
def not_found(sid: UUID | str) -> NotFoundError:
    return NotFoundError(f"session {sid} not found")


def not_shared(sid: UUID, grantee: UUID) -> NotFoundError:
    return NotFoundError(f"session {sid} is not shared with user {grantee}")


def refusal(sid: UUID, access: Access | None, action: Action) -> StoreError:
    """Why `action` was refused: the session is not found for us, or not ours to do it to."""
    if access is None:
        return not_found(sid)
    if action == "change" and access == "viewer":
        return PermissionDeniedError(
            f"session {sid} is shared with this user as viewer: it cannot be changed"
        )
    return PermissionDeniedError(f"only the owner of session {sid} can {action} it")


def require(sid: UUID, access: Access | None, action: Action, allowed: Sequence[Access]) -> None:
    if access is None or access not in allowed:
        raise refusal(sid, access, action)


def owner_field_refusal(sid: UUID, what: str) -> PermissionDeniedError:
    return PermissionDeniedError(f"only the owner of session {sid} can change its {what}")


OWNER_CHANGE = "a session cannot change its owner"
IR_REMOVED = "current_ir cannot be removed once a session has an IR"
NO_OWNER = "a session needs an owner: set NewSession.user_id"
OTHER_OWNER = "a user cannot create a session owned by another user"
SERVICE_SHARES = "service mode acts as no user: nothing is shared with it"
NO_VERIFIER = (
    "this store verifies no tokens: give make_store() jwt_secret and/or jwks (or set "
    "SUPABASE_JWT_SECRET / SUPABASE_JWKS), or use for_user() in trusted code"
)
ANONYMOUS = "an anonymous caller (anon key) has no sessions: act as a signed-in user"
CHOSEN_ID = (
    "session ids are assigned by the database: leave NewSession.id unset "
    "(only service mode may choose one)"
)


def check_stored(session: PromptSession, stored: PromptSession) -> None:
    """An update's checks against the row it replaces: same owner, same version as read."""
    if stored.user_id != session.user_id:
        raise PermissionDeniedError(OWNER_CHANGE)
    if stored.ir_version != session.ir_version:
        raise VersionConflictError(session.id, session.ir_version, stored.ir_version)
    if session.current_ir is None and stored.current_ir is not None:
        raise InvalidInputError(IR_REMOVED)


def owner_fields(session: PromptSession) -> tuple[object, ...]:
    """What only the owner may change."""
    return (session.prompt, session.status, session.holes, session.assists)


@dataclass(frozen=True)
class EventRequest:
    """A `record_event` call, checked: the session it names, its user and its data."""

    event_type: str
    session_id: UUID | None
    user_id: UUID | None  # None: the acting user
    event_data: JsonObject
    latency_ms: int | None


class ViewChecks:
    """Argument checks of every contract method, as one acting user, as service mode, or as an
    anonymous caller (no user, not service: an anon token).

    Each returns the parsed arguments the store then uses, or raises before anything is read.
    """

    _user: UUID | None  # the acting user; None in service mode and for an anonymous caller
    _service: bool

    def _acting_user(self, service_message: str) -> UUID:
        if self._user is not None:
            return self._user
        raise InvalidInputError(service_message if self._service else ANONYMOUS)

    def _check_create(self, new: NewSession) -> UUID:
        """The new session's owner: the acting user, or whom service mode names."""
        if not isinstance(new, NewSession):
            raise InvalidInputError(f"create takes a NewSession, not {type(new).__name__}")
        validate_new_session(new)
        owner = new.user_id if new.user_id is not None else self._user
        if not self._service and (self._user is None or owner != self._user):
            if self._user is None:
                raise PermissionDeniedError(ANONYMOUS)
            raise PermissionDeniedError(OTHER_OWNER)
        if owner is None:
            raise InvalidInputError(NO_OWNER)
        # A user-chosen id could collide with a session the user cannot see, and INSERT … ON
        # CONFLICT would then read or lock that row before RLS refused it: the schema grants API
        # roles no INSERT on key columns, and the store refuses before asking.
        if new.id is not None and not self._service:
            raise InvalidInputError(CHOSEN_ID)
        return owner

    @staticmethod
    def _check_id(session_id: UUID | str) -> UUID:
        return parse_uuid(session_id)

    def _check_update(self, session: PromptSession, change_description: str | None) -> UUID:
        sid = parse_uuid(session.id)
        validate_update(session, change_description)
        return sid

    def _check_rollback(
        self,
        session_id: UUID | str,
        to_version: int,
        expected_version: int | None,
        change_description: str | None,
    ) -> UUID:
        sid = parse_uuid(session_id)
        validate_description(change_description)
        validate_version(to_version, "to_version")
        if expected_version is not None:
            validate_version(expected_version, "expected_version", expected=True)
        return sid

    def _check_embedding(
        self, session_id: UUID | str, embedding: Sequence[float], model: str, ir_version: int
    ) -> tuple[UUID, tuple[float, ...]]:
        sid = parse_uuid(session_id)
        vector = validate_embedding(embedding)
        validate_model(model)
        validate_ir_version(ir_version)
        return sid, vector

    @staticmethod
    def _check_search(
        embedding: Sequence[float], limit: int, min_similarity: float
    ) -> tuple[tuple[float, ...], int, float]:
        vector = validate_embedding(embedding)
        count, threshold = validate_search(limit, min_similarity)
        return vector, count, threshold

    @staticmethod
    def _check_share(
        session_id: UUID | str, user_id: UUID | str, role: ShareRole
    ) -> tuple[UUID, UUID]:
        sid = parse_uuid(session_id)
        grantee = parse_uuid(user_id, "user id")
        validate_share_role(role)
        return sid, grantee

    @staticmethod
    def _check_unshare(session_id: UUID | str, user_id: UUID | str) -> tuple[UUID, UUID]:
        return parse_uuid(session_id), parse_uuid(user_id, "user id")

    def _check_leave(self, session_id: UUID | str) -> tuple[UUID, UUID]:
        sid = parse_uuid(session_id)
        return sid, self._acting_user(SERVICE_SHARES)

    @staticmethod
    def _check_list(limit: int | None) -> int | None:
        return validate_limit(limit)

    def _check_shared_with_me(self, limit: int | None) -> int | None:
        checked = validate_limit(limit)
        self._acting_user(SERVICE_SHARES)
        return checked

    def _check_event(
        self,
        event_type: object,
        session_id: object,
        event_data: object,
        latency_ms: object,
        user_id: object,
    ) -> EventRequest:
        kind = validate_event_type(event_type)
        data = validate_event_data({} if event_data is None else event_data)
        latency = validate_latency(latency_ms)
        sid = None if session_id is None else parse_uuid(session_id)
        owner = None if user_id is None else parse_uuid(user_id, "user id")
        if not self._service and (self._user is None or owner not in (None, self._user)):
            if self._user is None:
                raise PermissionDeniedError(ANONYMOUS)
            raise PermissionDeniedError("a user records events only as themselves")
        if self._service and owner is None:
            raise InvalidInputError("an event needs a user: pass user_id")
        return EventRequest(kind, sid, owner, data, latency)

    @staticmethod
    def _check_events(
        session_id: UUID | str | None, limit: int | None
    ) -> tuple[UUID | None, int | None]:
        checked = validate_limit(limit)
        return (None if session_id is None else parse_uuid(session_id)), checked
