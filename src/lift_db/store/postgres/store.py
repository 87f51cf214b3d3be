"""PostgresSessionStore: sessions in PostgreSQL through psycopg 3, isolated by RLS.

Every call runs in one transaction that first switches to the API role and sets the JWT claims,
exactly as PostgREST does per request (`set_config('role', …, true)`,
`set_config('request.jwt.claims', …, true)`), so the same policies that guard the Supabase API
guard this store: a bug in the app cannot read or change another user's sessions. Like
PostgREST, it also applies the role's own settings (`alter role … set`, such as
statement_timeout: 8 s for authenticated), which a role would otherwise get only at login; they
are read once per store and role. JSON the store cannot decode (nested beyond what Python's
decoder follows) raises UndecodableValueError rather than crashing the caller. No session state
outlives a transaction, and statements are prepared server-side only on a connection that reaches
PostgreSQL itself (PoolSettings.prepare), so the store works behind Supabase's transaction-mode
pooler too.

The operations themselves live in `_base` and are shared with the async store; this module only
runs them on a ConnectionPool.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool, PoolTimeout

from lift_db.store._log import logger
from lift_db.store.errors import InvalidInputError, StoreUnavailableError
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
from lift_db.store.postgres._base import (
    SERVICE,
    BasePostgresStore,
    BasePostgresView,
    Operation,
    RoleSettingsCache,
    Statement,
    Steps,
    decode_json,
    log_statement,
    pool_exhausted,
    prepare_threshold,
)
from lift_db.store.postgres._reconnect import Tries, after_failure
from lift_db.store.postgres.pool import PoolSettings
from lift_db.store.postgres.replicas import DEFAULT_WAIT_S, Miss, ReadRouter
from lift_db.store.postgres.sqlstate import is_disconnect, is_stale_prepared, map_error
from lift_db.store.tokens import TokenVerifier

T = TypeVar("T")


def _configurer(prepare: str) -> Callable[[psycopg.Connection[Any]], None]:
    """What every new connection of the store's pools gets: the JSON decoder, and under
    `prepare=auto` prepared statements when nothing stands between it and the server."""

    def configure(conn: psycopg.Connection[Any]) -> None:
        set_json_loads(decode_json, conn)
        if prepare == "auto":
            row = conn.execute(q.SERVER_PID, prepare=False).fetchone()
            conn.prepare_threshold = prepare_threshold(
                conn.info.backend_pid, None if row is None else row[0]
            )

    return configure


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
        read_urls: Sequence[str] = (),
        replica_wait: float = DEFAULT_WAIT_S,
    ) -> None:
        chosen = (settings or PoolSettings()).with_overrides(
            min_size=min_size, max_size=max_size, timeout=timeout
        )
        super().__init__(dsn, chosen, verifier)
        if not replica_wait >= 0:
            raise InvalidInputError("replica_wait must be 0 seconds or more")
        configure = _configurer(chosen.prepare)
        self._pool: ConnectionPool = ConnectionPool(
            dsn,
            configure=configure,
            check=_check if chosen.check else None,
            **self._pool_arguments(),
        )
        try:
            self._pool.open(wait=True, timeout=chosen.timeout)
        except PoolTimeout as exc:
            self._pool.close()
            raise StoreUnavailableError(f"cannot connect to the database: {exc}") from exc
        self._opened()
        # Reads that may be slightly stale go to these standbys (see replicas.ReadRouter).
        self.replicas = (
            ReadRouter(
                read_urls,
                wait=replica_wait,
                max_size=chosen.max_size,
                kwargs=self._pool_arguments()["kwargs"],
                configure=configure,
            )
            if read_urls
            else None
        )

    def for_user(
        self, user_id: UUID | str, *, read_after: str | None = None
    ) -> PostgresSessionView:
        """Act as this user, trusted: for back-office code that already knows who the user is.

        `read_after`: a `write_position()` of this user from another process of the app; with
        read replicas, this user's reads then see that write too."""
        view = self._view(*self._user_identity(user_id))
        if read_after is not None and self.replicas is not None:
            self.replicas.note_read_after(view.who, read_after)
        return view

    def for_token(self, access_token: str) -> PostgresSessionView:
        """Act as the user of a Supabase access token, after verifying it (AuthenticationError,
        and no query, when it is refused): its role and complete claims, as PostgREST does."""
        return self._view(*self._token_identity(access_token))

    def service(self) -> PostgresSessionView:
        return self._view(*SERVICE)

    def _view(self, role: str, claims: str, user_id: UUID | None) -> PostgresSessionView:
        return PostgresSessionView(
            self._pool,
            self._slow_seconds,
            role,
            claims,
            user_id,
            self._role_settings,
            self.replicas,
        )

    def close(self) -> None:
        if self.replicas is not None:
            self.replicas.close()
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
        replicas: ReadRouter | None = None,
    ) -> None:
        super().__init__(role, claims, user_id, settings)
        self._pool = pool
        self._slow_seconds = slow_seconds
        self._replicas = replicas
        # Whose writes this view's reads must see: one key per user (and one for service mode).
        self.who = str(user_id) if user_id is not None else role

    def write_position(self) -> str | None:
        """Where the primary's WAL ended after this user's last write seen here (None: none,
        or no replicas): another process passes it to `for_user(…, read_after=…)`."""
        return None if self._replicas is None else self._replicas.write_position(self.who)

    def _run(self, op: Operation[T]) -> T:
        """Run `op` in one transaction as this view's role.

        Collisions (serialization failures, deadlocks: nothing was written) run again. A read
        that may be slightly stale goes to a replica that has replayed this user's writes, else
        to the primary. A connection that died idle in the pool (nothing sent on it) is dropped
        with every other dead one and the call goes on on a fresh one. A connection that broke
        during the call (the server restarted, failed over, or the pooler lost it) is tried
        once more for a read and a repeatable write (a create with an idempotency key); any
        other write then raises StoreUnavailableError with `may_have_committed`: it committed
        exactly once or not at all.
        """
        if op.replica_ok and self._replicas is not None:
            try:
                return self._replicas.read(self.who, lambda conn: self._on(conn, op))
            except Miss:
                pass
            except psycopg.Error as exc:
                # A statement the replica connection prepared before a schema change replayed
                # there: the primary answers this call (and the retries below apply there).
                if not is_stale_prepared(exc):
                    raise map_error(exc, op.session_id) from exc
        tries = Tries()
        while True:
            tries.attempt += 1
            answered: list[bool] = []
            try:
                # getconn/putconn rather than pool.connection(): the same checkout without its
                # context managers, which cost more than the checkout itself. putconn discards a
                # connection that broke.
                conn = self._pool.getconn()
                try:
                    result = self._on(conn, op, answered)
                    if op.writes and self._replicas is not None:
                        self._note_write(conn)
                    return result
                finally:
                    self._pool.putconn(conn)
            except psycopg.Error as exc:
                if is_disconnect(exc):
                    # The pool drops the broken connection when it comes back; those idle in it
                    # died with the same server: drop them too before going on.
                    self._pool.check()
                error = after_failure(op, exc, tries, bool(answered), self._pool.max_size)
                if error is not None:
                    raise error from exc
            except PoolTimeout as exc:
                raise pool_exhausted(op, exc) from exc

    def _on(
        self, conn: psycopg.Connection[Any], op: Operation[T], sent: list[bool] | None = None
    ) -> T:
        """`op` in one transaction on `conn`; `sent` gets an entry once the server answered."""
        with conn.transaction(), conn.cursor() as cur:
            steps = self._transaction(op)
            first = next(steps)
            answer = self._execute(cur, op.name, first)
            if sent is not None:
                sent.append(True)
            return self._drive(cur, op.name, steps, answer)

    def _note_write(self, conn: psycopg.Connection[Any]) -> None:
        """Where the committed write's WAL ends (read after the commit); if that fails, this
        user's next reads go to the primary."""
        if self._replicas is None:
            return
        try:
            row = conn.execute(q.WAL_INSERT_POSITION).fetchone()
        except psycopg.Error as exc:
            self._replicas.note_position_unknown(self.who, exc)
            return
        self._replicas.note_written_at(self.who, row)

    def _drive(self, cur: psycopg.Cursor[Any], name: str, steps: Steps[T], answer: Any) -> T:
        """Send the steps' statements after the first, which was answered with `answer`."""
        try:
            statement = steps.send(answer)
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
