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

The operations themselves live in `_base` and are shared with the async store; this module only
runs them on a ConnectionPool.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool, PoolTimeout

from lift_db.store._log import logger
from lift_db.store.errors import StoreUnavailableError
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
from lift_db.store.postgres._base import (
    MAX_ATTEMPTS,
    SERVICE,
    BasePostgresStore,
    BasePostgresView,
    Operation,
    RoleSettingsCache,
    Statement,
    Steps,
    decode_json,
    log_retry,
    log_statement,
)
from lift_db.store.postgres.pool import PoolSettings
from lift_db.store.postgres.sqlstate import is_retryable, map_error
from lift_db.store.tokens import TokenVerifier

T = TypeVar("T")


def _configure(conn: psycopg.Connection[Any]) -> None:
    set_json_loads(decode_json, conn)


def _check(conn: psycopg.Connection[Any]) -> None:
    try:
        ConnectionPool.check_connection(conn)
    except psycopg.Error:
        logger.info("store pool: a connection failed its check and is replaced")
        raise


class PostgresSessionStore(BasePostgresStore):
    """A connection pool, and per-user (or service) views that act through it.

    Pool settings come from `settings` (see PoolSettings, or make_store() for the environment);
    the keyword arguments override single fields of it.
    """

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int | None = None,
        max_size: int | None = None,
        timeout: float | None = None,
        settings: PoolSettings | None = None,
        verifier: TokenVerifier | None = None,
    ) -> None:
        chosen = (settings or PoolSettings()).with_overrides(
            min_size=min_size, max_size=max_size, timeout=timeout
        )
        super().__init__(dsn, chosen, verifier)
        self._pool: ConnectionPool = ConnectionPool(
            dsn,
            configure=_configure,
            check=_check if chosen.check else None,
            **self._pool_arguments(),
        )
        try:
            self._pool.open(wait=True, timeout=chosen.timeout)
        except PoolTimeout as exc:
            self._pool.close()
            raise StoreUnavailableError(f"cannot connect to the database: {exc}") from exc
        self._opened()

    def for_user(self, user_id: UUID | str) -> PostgresSessionView:
        """Act as this user, trusted: for back-office code that already knows who the user is."""
        return self._view(*self._user_identity(user_id))

    def for_token(self, access_token: str) -> PostgresSessionView:
        """Act as the user of a Supabase access token, after verifying it (AuthenticationError,
        and no query, when it is refused): its role and complete claims, as PostgREST does."""
        return self._view(*self._token_identity(access_token))

    def service(self) -> PostgresSessionView:
        return self._view(*SERVICE)

    def _view(self, role: str, claims: str, user_id: UUID | None) -> PostgresSessionView:
        return PostgresSessionView(
            self._pool, self._slow_seconds, role, claims, user_id, self._role_settings
        )

    def close(self) -> None:
        self._pool.close()
        logger.info("store pool closed")

    def __enter__(self) -> PostgresSessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PostgresSessionView(BasePostgresView):
    """The store as one user (or as service_role) sees it."""

    def __init__(
        self,
        pool: ConnectionPool,
        slow_seconds: float,
        role: str,
        claims: str,
        user_id: UUID | None,
        settings: RoleSettingsCache,
    ) -> None:
        super().__init__(role, claims, user_id, settings)
        self._pool = pool
        self._slow_seconds = slow_seconds

    def _run(self, op: Operation[T]) -> T:
        """Run `op` in one transaction as this view's role, again if it collided (no writes)."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with (
                    self._pool.connection() as conn,
                    conn.transaction(),
                    conn.cursor() as cur,
                ):
                    return self._drive(cur, op.name, self._transaction(op))
            except psycopg.Error as exc:
                if is_retryable(exc) and attempt < MAX_ATTEMPTS:
                    log_retry(op.name, exc.sqlstate, attempt)
                    continue
                raise map_error(exc, op.session_id) from exc
            except PoolTimeout as exc:
                logger.warning("store pool exhausted: %s waited %s", op.name, exc)
                raise StoreUnavailableError(f"no database connection available: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _drive(self, cur: psycopg.Cursor[Any], name: str, steps: Steps[T]) -> T:
        try:
            statement = next(steps)
            while True:
                statement = steps.send(self._execute(cur, name, statement))
        except StopIteration as done:
            result: T = done.value
            return result

    def _execute(self, cur: psycopg.Cursor[Any], name: str, statement: Statement) -> Any:
        """The one place a statement is sent to the database."""
        start = time.perf_counter()
        cur.execute(statement.sql, statement.params)
        if statement.fetch == "one":
            result: Any = cur.fetchone()
        elif statement.fetch == "all":
            result = cur.fetchall()
        else:
            result = None
        log_statement(name, statement, time.perf_counter() - start, self._slow_seconds)
        return result

    # -- contract (lift_db.store.protocol.SessionStore) ----------------------------------------
    def create(self, new: NewSession) -> PromptSession:
        return self._run(self._create(new))

    def get(self, session_id: UUID | str) -> PromptSession | None:
        return self._run(self._get(session_id))

    def update(
        self, session: PromptSession, *, change_description: str | None = None
    ) -> PromptSession:
        return self._run(self._update(session, change_description))

    def list_active(self, *, limit: int | None = None) -> list[PromptSession]:
        return self._run(self._list("active", limit))

    def list_all(self, *, limit: int | None = None) -> list[PromptSession]:
        return self._run(self._list(None, limit))

    def delete(self, session_id: UUID | str) -> None:
        self._run(self._delete(session_id))

    def history(self, session_id: UUID | str) -> list[HistoryEntry]:
        return self._run(self._history(session_id))

    def rollback(
        self,
        session_id: UUID | str,
        to_version: int,
        *,
        expected_version: int | None = None,
        change_description: str | None = None,
    ) -> PromptSession:
        return self._run(
            self._rollback(session_id, to_version, expected_version, change_description)
        )

    def set_embedding(
        self, session_id: UUID | str, embedding: Sequence[float], *, model: str, ir_version: int
    ) -> SessionEmbedding:
        return self._run(self._set_embedding(session_id, embedding, model, ir_version))

    def get_embedding(self, session_id: UUID | str) -> SessionEmbedding | None:
        return self._run(self._get_embedding(session_id))

    def search_similar(
        self, embedding: Sequence[float], limit: int = 10, min_similarity: float = -1.0
    ) -> list[SimilarSession]:
        return self._run(self._search_similar(embedding, limit, min_similarity))

    def share(
        self, session_id: UUID | str, user_id: UUID | str, role: ShareRole = "viewer"
    ) -> Share:
        return self._run(self._share(session_id, user_id, role))

    def unshare(self, session_id: UUID | str, user_id: UUID | str) -> None:
        self._run(self._unshare(*self._check_unshare(session_id, user_id)))

    def leave_share(self, session_id: UUID | str) -> None:
        self._run(self._unshare(*self._check_leave(session_id), name="leave_share"))

    def shares(self, session_id: UUID | str) -> list[Share]:
        return self._run(self._shares(session_id))

    def list_shared_with_me(self, *, limit: int | None = None) -> list[PromptSession]:
        return self._run(self._list_shared_with_me(limit))

    def record_event(
        self,
        event_type: str,
        *,
        session_id: UUID | str | None = None,
        event_data: JsonObject | None = None,
        latency_ms: int | None = None,
        user_id: UUID | str | None = None,
    ) -> AnalyticsEvent:
        return self._run(
            self._record_event(event_type, session_id, event_data, latency_ms, user_id)
        )

    def events(
        self, *, session_id: UUID | str | None = None, limit: int | None = None
    ) -> list[AnalyticsEvent]:
        return self._run(self._events(session_id, limit))
