"""AsyncPostgresSessionStore: the Postgres store for asyncio apps, on psycopg_pool's
AsyncConnectionPool.

The operations, their SQL, row mapping, access decisions and error mapping are the sync store's
(`_base`): this module only runs them with `await`. Open the pool inside the running loop:

    store = await AsyncPostgresSessionStore.connect(dsn)     # or make_async_store()
    alice = store.for_token(access_token)
    session = await alice.create(NewSession(prompt="a todo app"))
    ...
    await store.close()

Verifying a token is CPU work and runs in the calling task; only a JWKS URL's first fetch (then
once per cache period, or when a new key id appears) waits on the network.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool, PoolTimeout

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
from lift_db.store.postgres.replicas import DEFAULT_WAIT_S, AsyncReadRouter, Miss
from lift_db.store.postgres.sqlstate import is_disconnect, is_stale_prepared, map_error
from lift_db.store.tokens import TokenVerifier

T = TypeVar("T")


def _configurer(prepare: str) -> Callable[[psycopg.AsyncConnection[Any]], Awaitable[None]]:
    """The async twin of store._configurer."""

    async def configure(conn: psycopg.AsyncConnection[Any]) -> None:
        set_json_loads(decode_json, conn)
        if prepare == "auto":
            cur = await conn.execute(q.SERVER_PID, prepare=False)
            row = await cur.fetchone()
            conn.prepare_threshold = prepare_threshold(
                conn.info.backend_pid, None if row is None else row[0]
            )

    return configure


async def _check(conn: psycopg.AsyncConnection[Any]) -> None:
    try:
        await AsyncConnectionPool.check_connection(conn)
    except psycopg.Error:
        logger.info("store pool: a connection failed its check and is replaced")
        raise


class AsyncPostgresSessionStore(BasePostgresStore):
    """An async connection pool, and per-user (or service) views that act through it.

    Create it with `await AsyncPostgresSessionStore.connect(dsn, …)` (or construct it, then
    `await store.open()`), inside the event loop that will use it.
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
        self._pool: AsyncConnectionPool = AsyncConnectionPool(
            dsn,
            configure=configure,
            check=_check if chosen.check else None,
            **self._pool_arguments(),
        )
        # Reads that may be slightly stale go to these standbys (see replicas.AsyncReadRouter).
        self.replicas = (
            AsyncReadRouter(
                read_urls,
                wait=replica_wait,
                max_size=chosen.max_size,
                kwargs=self._pool_arguments()["kwargs"],
                configure=configure,
            )
            if read_urls
            else None
        )

    @classmethod
    async def connect(
        cls,
        dsn: str,
        *,
        min_size: int | None = None,
        max_size: int | None = None,
        timeout: float | None = None,
        settings: PoolSettings | None = None,
        verifier: TokenVerifier | None = None,
        read_urls: Sequence[str] = (),
        replica_wait: float = DEFAULT_WAIT_S,
    ) -> AsyncPostgresSessionStore:
        store = cls(
            dsn,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            settings=settings,
            verifier=verifier,
            read_urls=read_urls,
            replica_wait=replica_wait,
        )
        await store.open()
        return store

    async def open(self) -> None:
        try:
            await self._pool.open(wait=True, timeout=self.settings.timeout)
        except PoolTimeout as exc:
            await self._pool.close()
            raise StoreUnavailableError(f"cannot connect to the database: {exc}") from exc
        self._opened()
        if self.replicas is not None:
            await self.replicas.open()

    def for_user(
        self, user_id: UUID | str, *, read_after: str | None = None
    ) -> AsyncPostgresSessionView:
        """Act as this user, trusted: for back-office code that already knows who the user is.

        `read_after`: a `write_position()` of this user from another process of the app; with
        read replicas, this user's reads then see that write too."""
        view = self._view(*self._user_identity(user_id))
        if read_after is not None and self.replicas is not None:
            self.replicas.note_read_after(view.who, read_after)
        return view

    def for_token(self, access_token: str) -> AsyncPostgresSessionView:
        """Act as the user of a Supabase access token, after verifying it (AuthenticationError,
        and no query, when it is refused): its role and complete claims, as PostgREST does."""
        return self._view(*self._token_identity(access_token))

    def service(self) -> AsyncPostgresSessionView:
        return self._view(*SERVICE)

    def _view(self, role: str, claims: str, user_id: UUID | None) -> AsyncPostgresSessionView:
        return AsyncPostgresSessionView(
            self._pool,
            self._slow_seconds,
            role,
            claims,
            user_id,
            self._role_settings,
            self.replicas,
        )

    async def close(self) -> None:
        if self.replicas is not None:
            await self.replicas.close()
        await self._pool.close()
        logger.info("store pool closed")

    async def __aenter__(self) -> AsyncPostgresSessionStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class AsyncPostgresSessionView(BasePostgresView):
    """The store as one user (or as service_role) sees it; every contract method is awaited."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        slow_seconds: float,
        role: str,
        claims: str,
        user_id: UUID | None,
        settings: RoleSettingsCache,
        replicas: AsyncReadRouter | None = None,
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

    async def _run(self, op: Operation[T]) -> T:
        """Run `op` in one transaction as this view's role, with the sync store's rules for
        replicas, collisions and lost connections (lift_db.store.postgres._reconnect)."""
        if op.replica_ok and self._replicas is not None:
            try:
                return await self._replicas.read(self.who, lambda conn: self._on(conn, op))
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
                # getconn/putconn rather than pool.connection(), as the sync store does.
                conn = await self._pool.getconn()
                try:
                    result = await self._on(conn, op, answered)
                    if op.writes and self._replicas is not None:
                        await self._note_write(conn)
                    return result
                finally:
                    await self._pool.putconn(conn)
            except psycopg.Error as exc:
                if is_disconnect(exc):
                    # Those idle in the pool died with the same server: drop them too.
                    await self._pool.check()
                error = after_failure(op, exc, tries, bool(answered), self._pool.max_size)
                if error is not None:
                    raise error from exc
            except PoolTimeout as exc:
                raise pool_exhausted(op, exc) from exc

    async def _on(
        self, conn: psycopg.AsyncConnection[Any], op: Operation[T], sent: list[bool] | None = None
    ) -> T:
        """`op` in one transaction on `conn`; `sent` gets an entry once the server answered."""
        async with conn.transaction(), conn.cursor() as cur:
            steps = self._transaction(op)
            answer = await self._execute(cur, op.name, next(steps))
            if sent is not None:
                sent.append(True)
            return await self._drive(cur, op.name, steps, answer)

    async def _note_write(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Where the committed write's WAL ends (read after the commit); if that fails, this
        user's next reads go to the primary."""
        if self._replicas is None:
            return
        try:
            row = await (await conn.execute(q.WAL_INSERT_POSITION)).fetchone()
        except psycopg.Error as exc:
            self._replicas.note_position_unknown(self.who, exc)
            return
        self._replicas.note_written_at(self.who, row)

    async def _drive(
        self, cur: psycopg.AsyncCursor[Any], name: str, steps: Steps[T], answer: Any
    ) -> T:
        """Send the steps' statements after the first, which was answered with `answer`."""
        try:
            statement = steps.send(answer)
            while True:
                statement = steps.send(await self._execute(cur, name, statement))
        except StopIteration as done:
            result: T = done.value
            return result

    async def _execute(self, cur: psycopg.AsyncCursor[Any], name: str, statement: Statement) -> Any:
        """The one place a statement is sent to the database."""
        start = time.perf_counter()
        await cur.execute(statement.sql, statement.params)
        if statement.fetch == "one":
            result: Any = await cur.fetchone()
        elif statement.fetch == "all":
            result = await cur.fetchall()
        else:
            result = None
        log_statement(name, statement, time.perf_counter() - start, self._slow_seconds)
        return result

    # -- contract (lift_db.store.protocol.SessionStore, awaited) -------------------------------
    async def create(self, new: NewSession) -> PromptSession:
        return await self._run(self._create(new))

    async def get(self, session_id: UUID | str) -> PromptSession | None:
        return await self._run(self._get(session_id))

    async def update(
        self, session: PromptSession, *, change_description: str | None = None
    ) -> PromptSession:
        return await self._run(self._update(session, change_description))

    async def list_active(self, *, limit: int | None = None) -> list[PromptSession]:
        return await self._run(self._list("active", limit))

    async def list_all(self, *, limit: int | None = None) -> list[PromptSession]:
        return await self._run(self._list(None, limit))

    async def delete(self, session_id: UUID | str) -> None:
        await self._run(self._delete(session_id))

    async def history(self, session_id: UUID | str) -> list[HistoryEntry]:
        return await self._run(self._history(session_id))

    async def rollback(
        self,
        session_id: UUID | str,
        to_version: int,
        *,
        expected_version: int | None = None,
        change_description: str | None = None,
    ) -> PromptSession:
        return await self._run(
            self._rollback(session_id, to_version, expected_version, change_description)
        )

    async def set_embedding(
        self, session_id: UUID | str, embedding: Sequence[float], *, model: str, ir_version: int
    ) -> SessionEmbedding:
        return await self._run(self._set_embedding(session_id, embedding, model, ir_version))

    async def get_embedding(self, session_id: UUID | str) -> SessionEmbedding | None:
        return await self._run(self._get_embedding(session_id))

    async def search_similar(
        self, embedding: Sequence[float], limit: int = 10, min_similarity: float = -1.0
    ) -> list[SimilarSession]:
        return await self._run(self._search_similar(embedding, limit, min_similarity))

    async def share(
        self, session_id: UUID | str, user_id: UUID | str, role: ShareRole = "viewer"
    ) -> Share:
        return await self._run(self._share(session_id, user_id, role))

    async def unshare(self, session_id: UUID | str, user_id: UUID | str) -> None:
        await self._run(self._unshare(*self._check_unshare(session_id, user_id)))

    async def leave_share(self, session_id: UUID | str) -> None:
        await self._run(self._unshare(*self._check_leave(session_id), name="leave_share"))

    async def shares(self, session_id: UUID | str) -> list[Share]:
        return await self._run(self._shares(session_id))

    async def list_shared_with_me(self, *, limit: int | None = None) -> list[PromptSession]:
        return await self._run(self._list_shared_with_me(limit))

    async def record_event(
        self,
        event_type: str,
        *,
        session_id: UUID | str | None = None,
        event_data: JsonObject | None = None,
        latency_ms: int | None = None,
        user_id: UUID | str | None = None,
    ) -> AnalyticsEvent:
        return await self._run(
            self._record_event(event_type, session_id, event_data, latency_ms, user_id)
        )

    async def events(
        self, *, session_id: UUID | str | None = None, limit: int | None = None
    ) -> list[AnalyticsEvent]:
        return await self._run(self._events(session_id, limit))
