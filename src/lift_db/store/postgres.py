"""PostgresSessionStore: sessions in PostgreSQL through psycopg 3, isolated by RLS.

Every call runs in one transaction that first switches to the API role and sets the JWT claims,
exactly as PostgREST does per request (`set_config('role', …, true)`,
`set_config('request.jwt.claims', …, true)`), so the same policies that guard the Supabase API
guard this store: a bug in the app cannot read or change another user's sessions. Like
PostgREST, it also applies the role's own settings (`alter role … set`, such as
statement_timeout: 8 s for authenticated), which a role would otherwise get only at login; they
are read once per store and role. JSON the store cannot decode (nested beyond what Python's
decoder follows) raises UndecodableValueError rather than crashing the caller. Nothing is
prepared server-side and no session state outlives a transaction, so the store works behind
Supabase's transaction-mode pooler.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar
from uuid import UUID

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb, set_json_loads
from psycopg_pool import ConnectionPool, PoolTimeout

from lift_db.store import queries as q
from lift_db.store.errors import (
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    StoreUnavailableError,
    UndecodableValueError,
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
    check_event,
    check_new_session_id,
    embedding_from_row,
    embedding_text,
    event_from_row,
    history_from_row,
    parse_uuid,
    session_from_row,
    share_from_row,
    similar_from_row,
    validate_description,
    validate_embedding,
    validate_ir_version,
    validate_limit,
    validate_model,
    validate_search,
    validate_share_role,
    validate_update,
    validate_version,
)
from lift_db.store.replicas import DEFAULT_WAIT_S, Miss, ReadRouter, format_lsn, parse_lsn
from lift_db.store.sqlstate import is_disconnect, is_retryable, map_error

T = TypeVar("T")
Cursor = psycopg.Cursor[DictRow]
MAX_ATTEMPTS = 3
# A read, or a write that had not started, whose connection broke is tried again this often
# (after the pool dropped its broken connections): a restart of the server never surfaces.
MAX_RECONNECTS = 1
# What a call does: `write` changes data (primary; tried again only if nothing was sent),
# `read` must be current (primary), `stale_ok` may be served by a replica that has replayed
# this user's writes (lists, search, history, events).
Kind = Literal["write", "read", "stale_ok"]
log = logging.getLogger("lift_db.store")
# A role's settings as ROLE_SETTINGS reads them: names and values, in the order to apply them.
RoleSettings = tuple[list[str], list[str]]


def _decode_json(data: bytes | bytearray | memoryview | str) -> Any:
    """json.loads, except that a value too deep for Python's decoder is the store's own error."""
    try:
        return json.loads(bytes(data) if isinstance(data, memoryview) else data)
    except RecursionError:
        raise UndecodableValueError(
            "the database returned JSON nested too deeply to decode; an operator must repair the "
            "row (values written now are capped at 100 levels)"
        ) from None


def _configure(conn: psycopg.Connection[Any]) -> None:
    set_json_loads(_decode_json, conn)


class _RoleSettingsCache:
    """Each role's settings, read on first use (PostgREST likewise reads them once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_role: dict[str, RoleSettings] = {}

    def get(self, cur: Cursor, role: str) -> RoleSettings:
        with self._lock:
            cached = self._by_role.get(role)
        if cached is not None:
            return cached
        cur.execute(q.ROLE_SETTINGS, (role,))
        rows = cur.fetchall()
        settings: RoleSettings = ([r["name"] for r in rows], [r["value"] for r in rows])
        with self._lock:
            self._by_role[role] = settings
        return settings


class PostgresSessionStore:
    """A connection pool, and per-user (or service) views that act through it."""

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 8,
        timeout: float = 30.0,
        read_urls: Sequence[str] = (),
        replica_wait: float = DEFAULT_WAIT_S,
    ) -> None:
        # Autocommit: transactions are explicit; no prepared statements (pooler-safe).
        kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": None}
        self._pool = ConnectionPool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            kwargs=kwargs,
            configure=_configure,
            open=False,
            name="lift-db-store",
        )
        try:
            self._pool.open(wait=True, timeout=timeout)
        except PoolTimeout as exc:
            self._pool.close()
            raise StoreUnavailableError(f"cannot connect to the database: {exc}") from exc
        self._settings = _RoleSettingsCache()
        if replica_wait < 0:
            raise InvalidInputError("replica_wait must be 0 seconds or more")
        self.replicas = (
            ReadRouter(
                read_urls,
                wait=replica_wait,
                max_size=max_size,
                kwargs=kwargs,
                configure=_configure,
            )
            if read_urls
            else None
        )

    def for_user(
        self, user_id: UUID | str, *, read_after: str | None = None
    ) -> PostgresSessionView:
        """Act as this user. `read_after`: a `write_position()` this user's reads must see
        (from another process of the app, when replicas serve reads)."""
        uid = parse_uuid(user_id, "user id")
        claims = {"sub": str(uid), "role": "authenticated", "aud": "authenticated"}
        view = PostgresSessionView(
            self._pool, "authenticated", claims, uid, self._settings, self.replicas
        )
        if read_after is not None and self.replicas is not None:
            try:
                self.replicas.note_write(view.who, parse_lsn(read_after))
            except ValueError:
                raise InvalidInputError(f"not a write position: {read_after!r}") from None
        return view

    def service(self) -> PostgresSessionView:
        return PostgresSessionView(
            self._pool,
            "service_role",
            {"role": "service_role"},
            None,
            self._settings,
            self.replicas,
        )

    def close(self) -> None:
        if self.replicas is not None:
            self.replicas.close()
        self._pool.close()

    def __enter__(self) -> PostgresSessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PostgresSessionView:
    """The store as one user (or as service_role) sees it."""

    def __init__(
        self,
        pool: ConnectionPool,
        role: str,
        claims: dict[str, str],
        user_id: UUID | None,
        settings: _RoleSettingsCache,
        replicas: ReadRouter | None = None,
    ) -> None:
        self._pool = pool
        self._role = role
        self._claims = json.dumps(claims)
        self._user = user_id
        self._settings = settings
        self._replicas = replicas
        # Whose writes this view's reads must see: one key per user (and one for service mode).
        self.who = str(user_id) if user_id is not None else role

    def write_position(self) -> str | None:
        """Where the primary's WAL ended after this user's last write (None: no write seen, or
        no replicas): hand it to another process's `for_user(…, read_after=…)`."""
        if self._replicas is None:
            return None
        lsn = self._replicas.position(self.who)
        return None if lsn is None else format_lsn(lsn)

    def _transaction(self, conn: psycopg.Connection[Any], work: Callable[[Cursor], T]) -> T:
        with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            names, values = self._settings.get(cur, self._role)
            cur.execute(q.ACT_AS, (self._role, self._claims, names, values))
            return work(cur)

    def _run(
        self,
        work: Callable[[Cursor], T],
        session_id: UUID | None = None,
        kind: Kind = "read",
        *,
        repeatable: bool = False,
    ) -> T:
        """Run `work` in one transaction as this view's role.

        Collisions (serialization failures, deadlocks: nothing was written) are retried. A
        connection that died idle in the pool (nothing sent on it) is dropped with every other
        dead one and the call goes on with a fresh one. A connection that broke during the call
        (the server restarted, failed over, or the pooler lost it) is retried once for a read,
        and for a write only when it is `repeatable` (a create with an idempotency key); any
        other write whose connection broke raises StoreUnavailableError with
        `may_have_committed`: it committed exactly once or not at all.
        """
        if kind == "stale_ok" and self._replicas is not None:
            try:
                return self._replicas.read(self.who, lambda conn: self._transaction(conn, work))
            except Miss:
                pass
            except psycopg.Error as exc:
                raise map_error(exc, session_id) from exc
        reconnects = 0
        stale = 0
        attempt = 0
        while True:
            attempt += 1
            sent = False
            try:
                with self._pool.connection() as conn:
                    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
                        names, values = self._settings.get(cur, self._role)
                        cur.execute(q.ACT_AS, (self._role, self._claims, names, values))
                        sent = True
                        result = work(cur)
                    if kind == "write" and self._replicas is not None:
                        self._note_write(conn)
                    return result
            except psycopg.Error as exc:
                if is_retryable(exc) and attempt < MAX_ATTEMPTS:
                    continue
                if is_disconnect(exc):
                    # The pool drops the broken connection when it comes back; the others of
                    # the same server are as dead: drop them too before trying again.
                    self._pool.check()
                    if not sent and stale <= self._pool.max_size:
                        # A connection that died while idle in the pool: nothing was sent on
                        # it, and each one found is one fewer (so this ends).
                        stale += 1
                        continue
                    if (kind != "write" or repeatable) and reconnects < MAX_RECONNECTS:
                        reconnects += 1
                        log.warning("connection lost (%s); trying the %s again", exc, kind)
                        continue
                    if kind == "write":
                        raise StoreUnavailableError(
                            f"the connection broke during a write ({type(exc).__name__}): it "
                            "may or may not have committed; retry it (a create with an "
                            "idempotency key is safe to retry)",
                            may_have_committed=True,
                        ) from exc
                raise map_error(exc, session_id) from exc
            except PoolTimeout as exc:
                raise StoreUnavailableError(f"no database connection available: {exc}") from exc

    def _note_write(self, conn: psycopg.Connection[Any]) -> None:
        """Where the committed write's WAL ends (read after the commit); a failure here only
        sends this user's next reads to the primary."""
        if self._replicas is None:
            return
        try:
            row = conn.execute(q.WAL_INSERT_POSITION).fetchone()
        except psycopg.Error as exc:
            log.warning("write position unknown (%s): reads go to the primary", exc)
            self._replicas.note_write(self.who, 2**64 - 1)
            return
        if row is not None:
            self._replicas.note_write(self.who, parse_lsn(str(row[0])))

    # -- contract --------------------------------------------------------------------------------
    def create(self, new: NewSession) -> PromptSession:
        new.validate()
        if self._user is not None and new.user_id not in (None, self._user):
            raise PermissionDeniedError("a user cannot create a session owned by another user")
        if self._user is None and new.user_id is None:
            raise InvalidInputError("a session needs an owner: set NewSession.user_id")
        check_new_session_id(new, self._user)
        fields = (
            new.user_id,
            new.prompt,
            new.status,
            _json(new.current_ir),
            Jsonb({"holes": new.holes, "assists": new.assists}),
        )

        key = new.idempotency_key

        def work(cur: Cursor) -> PromptSession:
            if new.change_description is not None:
                cur.execute(q.SET_CHANGE_DESCRIPTION, (new.change_description,))
            if key is None and new.id is None:
                cur.execute(q.CREATE_SESSION, fields)
            elif key is None:
                cur.execute(q.CREATE_SESSION_WITH_ID, (new.id, *fields))
            else:
                if new.id is None:
                    cur.execute(q.CREATE_SESSION_ONCE, (*fields, key))
                else:
                    cur.execute(q.CREATE_SESSION_WITH_ID_ONCE, (new.id, *fields, key))
                row = cur.fetchone()
                if row is not None:
                    return session_from_row(row)
                # Made before (this is a retry): the first session, as it is now.
                cur.execute(q.FIND_BY_IDEMPOTENCY_KEY, (new.user_id, key))
            return session_from_row(_one(cur))

        # With a key, a create whose connection broke is repeated: the key makes it once.
        return self._run(work, new.id, "write", repeatable=key is not None)

    def get(self, session_id: UUID | str) -> PromptSession | None:
        sid = parse_uuid(session_id)

        def work(cur: Cursor) -> PromptSession | None:
            cur.execute(q.GET_SESSION, (sid,))
            row = cur.fetchone()
            return session_from_row(row) if row else None

        return self._run(work, sid)

    def update(
        self, session: PromptSession, *, change_description: str | None = None
    ) -> PromptSession:
        sid = parse_uuid(session.id)
        validate_update(session, change_description)

        def work(cur: Cursor) -> PromptSession:
            cur.execute(q.LOCK_SESSION, (sid,))
            row = cur.fetchone()
            if row is None:  # missing, someone else's, or shared read-only
                raise self._refusal(sid, self._access(cur, sid), "change")
            stored = session_from_row(row)
            if stored.user_id != session.user_id:
                raise PermissionDeniedError("a session cannot change its owner")
            if stored.ir_version != session.ir_version:
                raise VersionConflictError(sid, session.ir_version, stored.ir_version)
            ir_changed = session.current_ir != stored.current_ir
            if ir_changed:
                if session.current_ir is None:
                    raise InvalidInputError("current_ir cannot be removed once a session has an IR")
                cur.execute(q.SET_CHANGE_DESCRIPTION, (change_description or "",))
            # An editor who leaves the owner's fields alone does not write them (the stored
            # metadata may hold keys this model does not carry); if they changed, the database
            # refuses the write. Either way one UPDATE at most: see queries.UPDATE_FIELDS.
            owner_fields = (
                stored.user_id == self._user
                or self._user is None
                or _fields(session) != _fields(stored)
            )
            fields = (session.prompt, session.status, Jsonb(session.metadata))
            if owner_fields and ir_changed:
                cur.execute(q.UPDATE_FIELDS_AND_IR, (*fields, Jsonb(session.current_ir), sid))
            elif owner_fields:
                cur.execute(q.UPDATE_FIELDS, (*fields, sid))
            elif ir_changed:
                cur.execute(q.UPDATE_IR, (Jsonb(session.current_ir), sid))
            else:
                cur.execute(q.GET_SESSION, (sid,))
            return session_from_row(_one(cur))

        return self._run(work, sid, "write")

    def _list(self, status: str | None, limit: int | None) -> list[PromptSession]:
        if limit is not None and limit < 0:
            raise InvalidInputError("limit must be 0 or more")
        params = {"user_id": self._user, "status": status, "limit": limit}

        def work(cur: Cursor) -> list[PromptSession]:
            cur.execute(q.LIST_SESSIONS, params)
            return [session_from_row(r) for r in cur.fetchall()]

        return self._run(work, kind="stale_ok")

    def list_active(self, *, limit: int | None = None) -> list[PromptSession]:
        return self._list("active", limit)

    def list_all(self, *, limit: int | None = None) -> list[PromptSession]:
        return self._list(None, limit)

    def delete(self, session_id: UUID | str) -> None:
        sid = parse_uuid(session_id)

        def work(cur: Cursor) -> None:
            if self._user is not None:  # the function says why: PT404 or 42501
                cur.execute(q.DELETE_SESSION, (sid,))
                return
            cur.execute(q.SERVICE_DELETE_SESSION, (sid,))
            if cur.fetchone() is None:
                raise NotFoundError(f"session {sid} not found")

        self._run(work, sid, "write")

    def history(self, session_id: UUID | str) -> list[HistoryEntry]:
        sid = parse_uuid(session_id)

        def work(cur: Cursor) -> list[HistoryEntry]:
            cur.execute(q.SESSION_EXISTS, (sid,))
            if cur.fetchone() is None:
                raise NotFoundError(f"session {sid} not found")
            cur.execute(q.HISTORY, (sid,))
            return [history_from_row(r) for r in cur.fetchall()]

        return self._run(work, sid, "stale_ok")

    def rollback(
        self,
        session_id: UUID | str,
        to_version: int,
        *,
        expected_version: int | None = None,
        change_description: str | None = None,
    ) -> PromptSession:
        sid = parse_uuid(session_id)
        validate_description(change_description)
        validate_version(to_version, "to_version")
        if expected_version is not None:
            validate_version(expected_version, "expected_version", expected=True)

        def work(cur: Cursor) -> PromptSession:
            access = self._access(cur, sid)
            if access in (None, "viewer"):
                raise self._refusal(sid, access, "change")
            cur.execute(
                q.ROLLBACK,
                (sid, to_version, expected_version, change_description),
            )
            return session_from_row(_one(cur))

        return self._run(work, sid, "write")

    def set_embedding(
        self,
        session_id: UUID | str,
        embedding: Sequence[float],
        *,
        model: str,
        ir_version: int,
    ) -> SessionEmbedding:
        sid = parse_uuid(session_id)
        vector = embedding_text(validate_embedding(embedding))
        validate_model(model)
        validate_ir_version(ir_version)

        def work(cur: Cursor) -> SessionEmbedding:
            # Readers of a shared session may search it; only its owner writes its embedding.
            access = self._access(cur, sid)
            if access not in ("owner", "service"):
                raise self._refusal(sid, access, "embed")
            cur.execute(q.SET_EMBEDDING, (sid, vector, model, ir_version))
            cur.execute(q.GET_EMBEDDING, (sid,))
            return embedding_from_row(_one(cur))

        return self._run(work, sid, "write")

    def get_embedding(self, session_id: UUID | str) -> SessionEmbedding | None:
        sid = parse_uuid(session_id)

        def work(cur: Cursor) -> SessionEmbedding | None:
            cur.execute(q.GET_EMBEDDING, (sid,))
            row = cur.fetchone()
            return embedding_from_row(row) if row else None

        return self._run(work, sid)

    def search_similar(
        self, embedding: Sequence[float], limit: int = 10, min_similarity: float = -1.0
    ) -> list[SimilarSession]:
        vector = embedding_text(validate_embedding(embedding))
        count, threshold = validate_search(limit, min_similarity)

        def work(cur: Cursor) -> list[SimilarSession]:
            cur.execute(q.SEARCH_SIMILAR, (vector, count, threshold))
            return [similar_from_row(r) for r in cur.fetchall()]

        return self._run(work, kind="stale_ok")

    def share(
        self, session_id: UUID | str, user_id: UUID | str, role: ShareRole = "viewer"
    ) -> Share:
        sid = parse_uuid(session_id)
        grantee = parse_uuid(user_id, "user id")
        validate_share_role(role)

        def work(cur: Cursor) -> Share:
            access = self._access(cur, sid)
            if access not in ("owner", "service"):
                raise self._refusal(sid, access, "share")
            cur.execute(q.SHARE, (sid, grantee, role))
            return share_from_row(_one(cur))

        return self._run(work, sid, "write")

    def unshare(self, session_id: UUID | str, user_id: UUID | str) -> None:
        sid = parse_uuid(session_id)
        grantee = parse_uuid(user_id, "user id")

        def work(cur: Cursor) -> None:
            if self._user is not None:  # the function says why: PT404 or 42501
                cur.execute(q.UNSHARE, (sid, grantee))
                return
            if self._access(cur, sid) is None:
                raise NotFoundError(f"session {sid} not found")
            cur.execute(q.SERVICE_UNSHARE, (sid, grantee))
            if cur.fetchone() is None:
                raise NotFoundError(f"session {sid} is not shared with user {grantee}")

        self._run(work, sid, "write")

    def leave_share(self, session_id: UUID | str) -> None:
        sid = parse_uuid(session_id)
        if self._user is None:
            raise InvalidInputError("service mode acts as no user: nothing is shared with it")
        self.unshare(sid, self._user)

    def shares(self, session_id: UUID | str) -> list[Share]:
        sid = parse_uuid(session_id)

        def work(cur: Cursor) -> list[Share]:
            if self._access(cur, sid) is None:
                raise NotFoundError(f"session {sid} not found")
            cur.execute(q.SHARES, (sid,))
            return [share_from_row(r) for r in cur.fetchall()]

        return self._run(work, sid)

    def list_shared_with_me(self, *, limit: int | None = None) -> list[PromptSession]:
        validate_limit(limit)
        if self._user is None:
            raise InvalidInputError("service mode acts as no user: nothing is shared with it")

        def work(cur: Cursor) -> list[PromptSession]:
            cur.execute(q.LIST_SHARED_WITH_ME, (limit,))
            return [session_from_row(r) for r in cur.fetchall()]

        return self._run(work, kind="stale_ok")

    def record_event(
        self,
        event_type: str,
        *,
        session_id: UUID | str | None = None,
        event_data: JsonObject | None = None,
        latency_ms: int | None = None,
        user_id: UUID | str | None = None,
    ) -> AnalyticsEvent:
        request = check_event(self._user, event_type, session_id, event_data, latency_ms, user_id)
        sid, owner, data = request.session_id, request.user_id, request.event_data

        def work(cur: Cursor) -> AnalyticsEvent:
            cur.execute(q.RECORD_EVENT, (sid, owner, event_type, Jsonb(data), latency_ms))
            return event_from_row(_one(cur))

        return self._run(work, sid, "write")

    def events(
        self, *, session_id: UUID | str | None = None, limit: int | None = None
    ) -> list[AnalyticsEvent]:
        validate_limit(limit)
        sid = None if session_id is None else parse_uuid(session_id)
        params = {"user_id": self._user, "session_id": sid, "limit": limit}

        def work(cur: Cursor) -> list[AnalyticsEvent]:
            cur.execute(q.LIST_EVENTS, params)
            return [event_from_row(r) for r in cur.fetchall()]

        return self._run(work, kind="stale_ok")

    # -- access ----------------------------------------------------------------------------------
    def _access(self, cur: Cursor, sid: UUID) -> str | None:
        """'service', 'owner', 'editor' or 'viewer'; None when the session does not exist for us."""
        cur.execute(q.SESSION_ACCESS, (sid,))
        row = cur.fetchone()
        if row is None:
            return None
        if self._user is None:
            return "service"
        if row["user_id"] == self._user:
            return "owner"
        role: str = row["share_role"]
        return role

    @staticmethod
    def _refusal(sid: UUID, access: str | None, action: str) -> Exception:
        """Why `action` was refused: the session is not found for us, or not ours to do it to."""
        if access is None:
            return NotFoundError(f"session {sid} not found")
        if action == "change" and access == "viewer":
            return PermissionDeniedError(
                f"session {sid} is shared with this user as viewer: it cannot be changed"
            )
        return PermissionDeniedError(f"only the owner of session {sid} can {action} it")


def _fields(session: PromptSession) -> tuple[object, ...]:
    """What only the owner may change."""
    return (session.prompt, session.status, session.holes, session.assists)


def _json(value: dict[str, Any] | None) -> Jsonb | None:
    return None if value is None else Jsonb(value)


def _one(cur: Cursor) -> DictRow:
    row = cur.fetchone()
    if row is None:  # RLS hid the row the statement just wrote
        raise PermissionDeniedError("the database refused to return the written row")
    return row
