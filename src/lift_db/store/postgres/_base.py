"""What the sync and async Postgres stores share: every operation, written once.

An operation is a generator of the statements it sends (`Statement`), receiving each one's rows;
it decides what to send next and what to return or raise, and never touches a connection. The
sync and async stores each drive the same generators through their own pool, so the SQL, the
order of statements, the row mapping, the access decisions and the error mapping exist once.
psycopg_pool splits ConnectionPool and AsyncConnectionPool over a shared base the same way.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, LiteralString, TypeVar
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from lift_db.store._base import (
    NO_VERIFIER,
    OWNER_ONLY,
    WRITERS,
    Access,
    ViewChecks,
    access_of,
    check_stored,
    not_found,
    not_shared,
    owner_fields,
    refusal,
    require,
)
from lift_db.store._log import logger
from lift_db.store._validation import embedding_text, parse_uuid
from lift_db.store.errors import (
    AuthenticationError,
    PermissionDeniedError,
    StoreError,
    StoreUnavailableError,
    UndecodableValueError,
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
from lift_db.store.postgres import queries as q
from lift_db.store.postgres.pool import PoolSettings
from lift_db.store.postgres.rows import (
    Row,
    embedding_from_row,
    event_from_row,
    history_from_row,
    session_from_row,
    share_from_row,
    similar_from_row,
)
from lift_db.store.postgres.sqlstate import is_retryable, map_error
from lift_db.store.tokens import TokenVerifier

T = TypeVar("T")
Params = Sequence[Any] | Mapping[str, Any] | None
Fetch = Literal["none", "one", "all"]
# Attempts of a transaction that collided (serialization failure, deadlock): nothing was written.
MAX_ATTEMPTS = 3
# A role's settings as ROLE_SETTINGS reads them: names and values, in the order to apply them.
RoleSettings = tuple[list[str], list[str]]


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement an operation sends, and what it wants back: nothing, a row (or None) or
    every row."""

    sql: LiteralString
    params: Params
    fetch: Fetch


# An operation's body: yields statements, is sent each one's result, returns the call's result.
Steps = Generator[Statement, Any, T]


@dataclass(frozen=True, slots=True)
class Operation(Generic[T]):
    """A contract call, checked and ready to run in one transaction (again, if it collided)."""

    name: str  # the contract method, as logs and errors name it
    steps: Callable[[], Steps[T]]  # a fresh run of the body
    session_id: UUID | None = None  # named by a VersionConflictError
    # False: the call only reads (a replica that has replayed the caller's writes may serve it).
    writes: bool = False
    # A read that may be slightly stale (lists, search, history, events): a read replica that
    # has replayed the caller's own writes may serve it.
    replica_ok: bool = False
    # A write that may be sent again after its connection broke mid-way: it takes effect once
    # (a create with an idempotency key).
    repeatable: bool = False
    # Planner settings for this transaction alone, set with the role's (set_config(…, true)).
    settings: tuple[tuple[str, str], ...] = ()


def execute(sql: LiteralString, params: Params = None) -> Statement:
    return Statement(sql, params, "none")


def one(sql: LiteralString, params: Params = None) -> Statement:
    return Statement(sql, params, "one")


def every(sql: LiteralString, params: Params = None) -> Statement:
    return Statement(sql, params, "all")


def decode_json(data: bytes | bytearray | memoryview | str) -> Any:
    """The jsonb values of every row, decoded: the store's hottest client-side code.

    PostgreSQL sends jsonb as compact UTF-8 text, so the text is decoded once and scanned
    without json.loads's encoding detection and whitespace handling; anything else takes
    json.loads. A value too deep for Python's decoder is the store's own error.
    """
    try:
        text = data if isinstance(data, str) else str(data, "utf-8")
        try:
            value, end = _scan(text)
        except ValueError:
            return json.loads(text)
        return value if end == len(text) else json.loads(text)
    except RecursionError:
        raise UndecodableValueError(
            "the database returned JSON nested too deeply to decode; an operator must repair the "
            "row (values written now are capped at 100 levels)"
        ) from None


_scan = json.JSONDecoder().raw_decode


def user_claims(user_id: UUID) -> str:
    """The claims a trusted caller acts with for a bare user id, as JSON (a UUID's text needs no
    escaping, so no encoder runs per call)."""
    return f'{{"sub":"{user_id}","role":"authenticated","aud":"authenticated"}}'


SERVICE_CLAIMS = '{"role":"service_role"}'


class RoleSettingsCache:
    """Each role's settings, read on first use (PostgREST likewise reads them once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_role: dict[str, RoleSettings] = {}

    def steps(self, role: str) -> Steps[RoleSettings]:
        cached = self._by_role.get(role)
        if cached is not None:
            return cached
        rows: list[Row] = yield every(q.ROLE_SETTINGS, (role,))
        settings: RoleSettings = ([str(r[0]) for r in rows], [str(r[1]) for r in rows])
        with self._lock:
            self._by_role.setdefault(role, settings)
        return settings


class BasePostgresView(ViewChecks):
    """The store as one user (or service_role) sees it, as operations; the sync and async views
    add how they are run."""

    def __init__(
        self, role: str, claims: str, user_id: UUID | None, settings: RoleSettingsCache
    ) -> None:
        self._role = role
        self._claims = claims  # JSON, serialised once per view
        self._user = user_id
        self._service = role == "service_role"
        self._settings = settings

    def _transaction(self, op: Operation[T]) -> Steps[T]:
        """Everything one transaction sends: what PostgREST does first, then the operation."""
        names, values = yield from self._settings.steps(self._role)
        if op.settings:
            names = [*names, *(name for name, _ in op.settings)]
            values = [*values, *(value for _, value in op.settings)]
        yield execute(q.ACT_AS, (self._role, self._claims, self._claims, names, values))
        return (yield from op.steps())

    def _access(self, sid: UUID) -> Steps[Access | None]:
        row = yield one(q.SESSION_ACCESS, (sid,))
        return None if row is None else access_of(self._user, row[0], row[1], service=self._service)

    # -- the contract's operations -------------------------------------------------------------
    def _create(self, new: NewSession) -> Operation[PromptSession]:
        self._check_create(new)
        fields = (
            new.user_id,
            new.prompt,
            new.status,
            None if new.current_ir is None else Jsonb(new.current_ir),
            Jsonb({"holes": new.holes, "assists": new.assists}),
        )

        key = new.idempotency_key

        def steps() -> Steps[PromptSession]:
            if new.change_description is not None:
                yield execute(q.SET_CHANGE_DESCRIPTION, (new.change_description,))
            if key is not None:
                if new.id is None:
                    row = yield one(q.CREATE_SESSION_ONCE, (*fields, key))
                else:
                    row = yield one(q.CREATE_SESSION_WITH_ID_ONCE, (new.id, *fields, key))
                if row is None:  # made before (this is a retry): the first session, as it is
                    row = yield one(q.FIND_BY_IDEMPOTENCY_KEY, (new.user_id, key))
            elif new.id is None:
                row = yield one(q.CREATE_SESSION, fields)
            else:
                row = yield one(q.CREATE_SESSION_WITH_ID, (new.id, *fields))
            return session_from_row(_written(row))

        # With a key, a create whose connection broke is sent again: the key makes it once.
        return Operation("create", steps, new.id, writes=True, repeatable=key is not None)

    def _get(self, session_id: UUID | str) -> Operation[PromptSession | None]:
        sid = self._check_id(session_id)

        def steps() -> Steps[PromptSession | None]:
            row = yield one(q.GET_SESSION, (sid,))
            return None if row is None else session_from_row(row)

        return Operation("get", steps, sid)

    def _update(
        self, session: PromptSession, change_description: str | None
    ) -> Operation[PromptSession]:
        sid = self._check_update(session, change_description)

        def steps() -> Steps[PromptSession]:
            row = yield one(q.LOCK_SESSION, (sid,))
            if row is None:  # missing, someone else's, or shared read-only
                raise refusal(sid, (yield from self._access(sid)), "change")
            stored = session_from_row(row)
            check_stored(session, stored)
            ir_changed = session.current_ir is not None and session.current_ir != stored.current_ir
            if ir_changed:
                yield execute(q.SET_CHANGE_DESCRIPTION, (change_description or "",))
            # An editor who leaves the owner's fields alone does not write them (the stored
            # metadata may hold keys this model does not carry); if they changed, the database
            # refuses the write. Either way one UPDATE at most: see queries.UPDATE_FIELDS.
            write_fields = (
                self._service
                or stored.user_id == self._user
                or owner_fields(session) != owner_fields(stored)
            )
            fields = (session.prompt, session.status, Jsonb(session.metadata))
            if write_fields and ir_changed:
                row = yield one(q.UPDATE_FIELDS_AND_IR, (*fields, Jsonb(session.current_ir), sid))
            elif write_fields:
                row = yield one(q.UPDATE_FIELDS, (*fields, sid))
            elif ir_changed:
                row = yield one(q.UPDATE_IR, (Jsonb(session.current_ir), sid))
            else:
                return stored
            return session_from_row(_written(row))

        return Operation("update", steps, sid, writes=True)

    def _list(self, status: str | None, limit: int | None) -> Operation[list[PromptSession]]:
        limit = self._check_list(limit)
        name = "list_active" if status == "active" else "list_all"
        if self._user is None:
            params: Params = {"status": status, "limit": limit}
            statement = every(q.LIST_SESSIONS, params)
            settings: tuple[tuple[str, str], ...] = q.CUSTOM_PLANS
        else:
            if status is None:
                statement = every(q.LIST_OWN_SESSIONS, (self._user, limit))
            else:
                statement = every(q.LIST_OWN_SESSIONS_BY_STATUS, (self._user, status, limit))
            settings = q.OWN_LIST_SETTINGS

        def steps() -> Steps[list[PromptSession]]:
            rows = yield statement
            return [session_from_row(r) for r in rows]

        return Operation(name, steps, replica_ok=True, settings=settings)

    def _delete(self, session_id: UUID | str) -> Operation[None]:
        sid = self._check_id(session_id)

        def steps() -> Steps[None]:
            if not self._service:  # the function says why: PT404 or 42501
                yield execute(q.DELETE_SESSION, (sid,))
                return
            if (yield one(q.SERVICE_DELETE_SESSION, (sid,))) is None:
                raise not_found(sid)

        return Operation("delete", steps, sid, writes=True)

    def _history(self, session_id: UUID | str) -> Operation[list[HistoryEntry]]:
        sid = self._check_id(session_id)

        def steps() -> Steps[list[HistoryEntry]]:
            if (yield one(q.SESSION_EXISTS, (sid,))) is None:
                raise not_found(sid)
            rows = yield every(q.HISTORY, (sid,))
            return [history_from_row(r) for r in rows]

        return Operation("history", steps, sid, replica_ok=True)

    def _rollback(
        self,
        session_id: UUID | str,
        to_version: int,
        expected_version: int | None,
        change_description: str | None,
    ) -> Operation[PromptSession]:
        sid = self._check_rollback(session_id, to_version, expected_version, change_description)
        params = (sid, to_version, expected_version, change_description)

        def steps() -> Steps[PromptSession]:
            require(sid, (yield from self._access(sid)), "change", WRITERS)
            row = yield one(q.ROLLBACK, params)
            return session_from_row(_written(row))

        return Operation("rollback", steps, sid, writes=True)

    def _set_embedding(
        self, session_id: UUID | str, embedding: Sequence[float], model: str, ir_version: int
    ) -> Operation[SessionEmbedding]:
        sid, vector = self._check_embedding(session_id, embedding, model, ir_version)
        params = (sid, embedding_text(vector), model, ir_version)

        def steps() -> Steps[SessionEmbedding]:
            # Readers of a shared session may search it; only its owner writes its embedding.
            require(sid, (yield from self._access(sid)), "embed", OWNER_ONLY)
            yield execute(q.SET_EMBEDDING, params)
            row = yield one(q.GET_EMBEDDING, (sid,))
            return embedding_from_row(_written(row))

        return Operation("set_embedding", steps, sid, writes=True)

    def _get_embedding(self, session_id: UUID | str) -> Operation[SessionEmbedding | None]:
        sid = self._check_id(session_id)

        def steps() -> Steps[SessionEmbedding | None]:
            row = yield one(q.GET_EMBEDDING, (sid,))
            return None if row is None else embedding_from_row(row)

        return Operation("get_embedding", steps, sid)

    def _search_similar(
        self, embedding: Sequence[float], limit: int, min_similarity: float
    ) -> Operation[list[SimilarSession]]:
        vector, count, threshold = self._check_search(embedding, limit, min_similarity)
        params = (embedding_text(vector), count, threshold)

        def steps() -> Steps[list[SimilarSession]]:
            rows = yield every(q.SEARCH_SIMILAR, params)
            return [similar_from_row(r) for r in rows]

        return Operation("search_similar", steps, replica_ok=True)

    def _share(
        self, session_id: UUID | str, user_id: UUID | str, role: ShareRole
    ) -> Operation[Share]:
        sid, grantee = self._check_share(session_id, user_id, role)

        def steps() -> Steps[Share]:
            require(sid, (yield from self._access(sid)), "share", OWNER_ONLY)
            row = yield one(q.SHARE, (sid, grantee, role))
            return share_from_row(_written(row))

        return Operation("share", steps, sid, writes=True)

    def _unshare(self, sid: UUID, grantee: UUID, name: str = "unshare") -> Operation[None]:
        def steps() -> Steps[None]:
            if not self._service:  # the function says why: PT404 or 42501
                yield execute(q.UNSHARE, (sid, grantee))
                return
            if (yield from self._access(sid)) is None:
                raise not_found(sid)
            if (yield one(q.SERVICE_UNSHARE, (sid, grantee))) is None:
                raise not_shared(sid, grantee)

        return Operation(name, steps, sid, writes=True)

    def _shares(self, session_id: UUID | str) -> Operation[list[Share]]:
        sid = self._check_id(session_id)

        def steps() -> Steps[list[Share]]:
            if (yield from self._access(sid)) is None:
                raise not_found(sid)
            rows = yield every(q.SHARES, (sid,))
            return [share_from_row(r) for r in rows]

        return Operation("shares", steps, sid)

    def _list_shared_with_me(self, limit: int | None) -> Operation[list[PromptSession]]:
        params = (self._check_shared_with_me(limit),)

        def steps() -> Steps[list[PromptSession]]:
            rows = yield every(q.LIST_SHARED_WITH_ME, params)
            return [session_from_row(r) for r in rows]

        return Operation("list_shared_with_me", steps, replica_ok=True)

    def _record_event(
        self,
        event_type: str,
        session_id: UUID | str | None,
        event_data: JsonObject | None,
        latency_ms: int | None,
        user_id: UUID | str | None,
    ) -> Operation[AnalyticsEvent]:
        r = self._check_event(event_type, session_id, event_data, latency_ms, user_id)
        params = (r.session_id, r.user_id, r.event_type, Jsonb(r.event_data), r.latency_ms)

        def steps() -> Steps[AnalyticsEvent]:
            row = yield one(q.RECORD_EVENT, params)
            return event_from_row(_written(row))

        return Operation("record_event", steps, r.session_id, writes=True)

    def _events(
        self, session_id: UUID | str | None, limit: int | None
    ) -> Operation[list[AnalyticsEvent]]:
        sid, checked = self._check_events(session_id, limit)
        params = {"user_id": self._user, "session_id": sid, "limit": checked}

        def steps() -> Steps[list[AnalyticsEvent]]:
            rows = yield every(q.LIST_EVENTS, params)
            return [event_from_row(r) for r in rows]

        return Operation("events", steps, replica_ok=True, settings=q.CUSTOM_PLANS)


def _written(row: Row | None) -> Row:
    if row is None:  # RLS hid the row the statement just wrote
        raise PermissionDeniedError("the database refused to return the written row")
    return row


Identity = tuple[str, str, UUID | None]  # role, claims (JSON), acting user
SERVICE: Identity = ("service_role", SERVICE_CLAIMS, None)


class BasePostgresStore:
    """What the sync and async stores share: pool settings, who a view acts as, role settings."""

    def __init__(
        self, dsn: str, settings: PoolSettings, verifier: TokenVerifier | None = None
    ) -> None:
        self._dsn = dsn
        self.settings = settings
        self._verifier = verifier
        self._role_settings = RoleSettingsCache()
        self._slow_seconds = settings.slow_statement_ms / 1000.0

    def _pool_arguments(self) -> dict[str, Any]:
        s = self.settings
        return {
            "min_size": s.min_size,
            "max_size": s.max_size,
            "max_lifetime": s.max_lifetime,
            "max_idle": s.max_idle,
            "timeout": s.timeout,
            # Autocommit: transactions are explicit. Prepared statements: see prepare_threshold().
            "kwargs": {
                "autocommit": True,
                "prepare_threshold": PREPARE_ON_FIRST_USE if s.prepare == "always" else None,
            },
            "open": False,
            "name": "lift-db-store",
        }

    @staticmethod
    def _user_identity(user_id: UUID | str) -> Identity:
        uid = parse_uuid(user_id, "user id")
        return "authenticated", user_claims(uid), uid

    def _token_identity(self, access_token: str) -> Identity:
        """Verify first: a refused token raises AuthenticationError and no query runs."""
        if self._verifier is None:
            raise AuthenticationError(NO_VERIFIER, "unconfigured")
        verified = self._verifier.verify(access_token)
        return verified.role, verified.claims_json(), verified.user_id

    def _opened(self) -> None:
        s = self.settings
        logger.info(
            "store pool open: min_size=%d max_size=%d max_lifetime=%.0fs check=%s prepare=%s",
            s.min_size,
            s.max_size,
            s.max_lifetime,
            s.check,
            s.prepare,
        )


# The store sends a small, fixed set of statements: each is worth preparing on first use.
PREPARE_ON_FIRST_USE = 0


def prepare_threshold(given_pid: int, server_pid: int | None) -> int | None:
    """psycopg's prepare_threshold for a connection under `prepare=auto`.

    A pooler answers a client with a backend key of its own, so the process id the connection
    was given differs from the one its server reports: behind one, statements prepared on one
    server connection would be missing on the next (transaction mode), so none are prepared.
    """
    direct = server_pid is not None and given_pid == server_pid
    logger.debug(
        "store connection: backend pid %s, server pid %s: %s",
        given_pid,
        server_pid,
        "direct, statements prepared" if direct else "through a pooler, nothing prepared",
    )
    return PREPARE_ON_FIRST_USE if direct else None


def log_statement(name: str, statement: Statement, seconds: float, slow_seconds: float) -> None:
    if seconds >= slow_seconds:
        logger.warning(
            "slow statement in %s: %.1f ms: %s",
            name,
            seconds * 1000.0,
            " ".join(statement.sql.split())[:200],
        )
    elif logger.isEnabledFor(logging.DEBUG):
        text = " ".join(statement.sql.split())[:80]
        logger.debug("%s: %.3f ms: %s", name, seconds * 1000.0, text)


def collided(op: Operation[Any], exc: psycopg.Error, attempt: int) -> StoreError | None:
    """None when `op` should simply run again (its transaction collided, attempts are left);
    otherwise the store error to raise."""
    if is_retryable(exc) and attempt < MAX_ATTEMPTS:
        logger.info(
            "%s collided with a concurrent transaction (%s): attempt %d of %d",
            op.name,
            exc.sqlstate,
            attempt + 1,
            MAX_ATTEMPTS,
        )
        return None
    return map_error(exc, op.session_id)


def pool_exhausted(op: Operation[Any], exc: Exception) -> StoreUnavailableError:
    logger.warning("store pool exhausted: %s got no connection: %s", op.name, exc)
    return StoreUnavailableError(f"no database connection available: {exc}")
