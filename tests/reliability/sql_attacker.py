"""The adversarial model's SQL-level attacker: a client that sends its own SQL as the API role.

Mixed into the isolation state machine, these rules act as a user (or anon) on a session of the
game the way an attacker who holds a connection would: they plant pg_temp shadows of the types
the policies' helpers use before reading, try INSERT … ON CONFLICT DO UPDATE … WHERE on a
session's id, take table locks, and set settings the schema reads or the server honours before
reading. Each runs in a new session (nothing cached from before the shadows) and is rolled back.
The answer must match the reference model exactly as the plain operations' answers do: no row
beyond the model's, no spy running as anyone but the actor, no byte of a session the actor may
not read, no lock on a session the actor may not write, no lock mode that blocks others.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

import psycopg
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, rule
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.reliability.support import Conn

if TYPE_CHECKING:
    from tests.reliability.test_adversarial_rls import Model

SPY = (
    "create function pg_temp.red_team_spy(what pg_catalog.text) returns pg_catalog.bool"
    " language plpgsql set search_path = pg_catalog, pg_temp as $spy$"
    " begin raise notice 'red-team-spy|%|%', what, current_user; return true; end $spy$"
)
# The types the policies' helpers and auth.uid() name.
SHADOWED_TYPES = {"uuid": "pg_catalog.uuid", "jsonb": "pg_catalog.jsonb", "text": "pg_catalog.text"}
SETTINGS = st.sampled_from(
    [
        ("lift.change_description", "forged"),
        ("row_security", "off"),
        ("search_path", "pg_temp, public, private"),
        ("statement_timeout", "0"),
        ("plan_cache_mode", "force_generic_plan"),
        ("hnsw.ef_search", "1000"),
    ]
)
LOCKS = st.sampled_from(
    ["share update exclusive", "share", "share row exclusive", "exclusive", "access exclusive"]
)
TABLES = st.sampled_from(
    ["sessions", "session_history", "session_shares", "comments", "users", "session_embeddings"]
)
WHO = st.sampled_from(["owner", "grantee", "grantee", "stranger", "stranger", "anon"])
READ = (
    "select id, user_id, prompt, status, ir_version, current_ir from public.sessions where id = %s"
)


class SqlAttacker:
    """Rules of an attacker with a SQL connection; the machine provides the model and checks."""

    ids = Bundle("ids")
    # Provided by the machine.
    conn: Conn
    model: Model
    uid: dict[str, uuid.UUID]

    if TYPE_CHECKING:  # the machine's own methods

        def check(self, ok: bool, what: str) -> None: ...
        def op(self, name: str) -> None: ...
        def standing(self, actor: str, sid: uuid.UUID) -> None: ...
        def actor_for(self, who: str, sid: uuid.UUID, salt: int) -> str: ...
        def as_seen(self, row: Any) -> tuple[Any, ...]: ...
        def expected(self, session: Any) -> tuple[Any, ...]: ...

    # -- a fresh attacker session ----------------------------------------------------------

    def _attacker(self, actor: str) -> tuple[psycopg.Connection[Any], list[str]]:
        """A new session as postgres; each request then sets the actor's role and claims, as
        the store does."""
        url = make_conninfo(self.conn.info.dsn, password=self.conn.info.password)
        conn: psycopg.Connection[Any] = psycopg.connect(url, autocommit=True)
        notices: list[str] = []
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        return conn, notices

    def _act(self, conn: psycopg.Connection[Any], actor: str) -> None:
        role = "anon" if actor == "anon" else "authenticated"
        claims: dict[str, str] = {"role": role}
        if actor != "anon":
            claims.update(sub=str(self.uid[actor]), aud="authenticated")
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        conn.execute(
            "select pg_catalog.set_config('request.jwt.claims', %s, true)", (json.dumps(claims),)
        )

    @staticmethod
    def _try(
        conn: psycopg.Connection[Any], statement: Any, params: Any = None
    ) -> tuple[str | None, list[Any]]:
        try:
            with conn.transaction():
                cur = conn.execute(statement, params)
                return None, list(cur.fetchall()) if cur.description else []
        except psycopg.Error as exc:
            return exc.sqlstate, []

    def _want_read(self, actor: str, sid: uuid.UUID) -> list[tuple[Any, ...]]:
        if actor != "anon" and self.model.may_read(actor, sid):
            return [self.expected(self.model.sessions[sid])]
        return []

    def _check_read(
        self, actor: str, sid: uuid.UUID, state: str | None, rows: list[Any], how: str
    ) -> None:
        if actor == "anon":
            self.check(state is not None, f"anon read sessions {how}")
            return
        # A refusal hides nothing the model lets the actor see: the attacker only hurt themself.
        if state is None:
            seen = [self.as_seen(r) for r in rows]
            self.check(seen == self._want_read(actor, sid), f"{actor} read {sid} {how}")

    # -- rules ----------------------------------------------------------------------------------

    @rule(who=WHO, salt=st.integers(0, 5), sid=ids)
    def attack_with_temp_shadows(self, who: str, salt: int, sid: uuid.UUID) -> None:
        """pg_temp.uuid, .jsonb and .text shadows whose checks call a spy, then a read."""
        actor = self.actor_for(who, sid, salt)
        self.op("SQL attack: pg_temp shadows, then read")
        self.standing(actor, sid)
        role = "anon" if actor == "anon" else "authenticated"
        conn, notices = self._attacker(actor)
        try:
            with conn.transaction(force_rollback=True):
                self._act(conn, actor)
                planted = self._try(conn, SPY)[0] is None
                for name, real in SHADOWED_TYPES.items():
                    if planted:
                        self._try(
                            conn,
                            sql.SQL(
                                "create domain pg_temp.{} as {} check (pg_temp.red_team_spy({}))"
                            ).format(sql.Identifier(name), sql.SQL(real), sql.Literal(name)),
                        )
                state, rows = self._try(conn, READ, (sid,))
        finally:
            conn.close()
        spies = [n.split("|") for n in notices if n.startswith("red-team-spy|")]
        escalated = sorted({f"{s[1]} as {s[2]}" for s in spies if len(s) > 2 and s[2] != role})
        self.check(not escalated, f"{actor}'s pg_temp shadow ran with more privilege: {escalated}")
        self._check_read(actor, sid, state, rows, "under pg_temp shadows")

    @rule(who=WHO, salt=st.integers(0, 5), sid=ids, leak=st.booleans())
    def attack_with_on_conflict(self, who: str, salt: int, sid: uuid.UUID, leak: bool) -> None:
        """INSERT … ON CONFLICT (id) DO UPDATE … WHERE on the session: the WHERE must never see
        a row the actor may not read, nor lock one the actor may not write."""
        actor = self.actor_for(who, sid, salt)
        self.op("SQL attack: ON CONFLICT DO UPDATE WHERE")
        self.standing(actor, sid)
        where = sql.SQL(
            "pg_catalog.set_config('red_team.leak', pg_catalog.row_to_json(s.*)::text, true)"
            " is null"
            if leak
            else "false"
        )
        statement = sql.SQL(
            "insert into public.sessions as s (id, prompt) values (%s, 'red team')"
            " on conflict (id) do update set prompt = excluded.prompt where {}"
        ).format(where)
        conn, _ = self._attacker(actor)
        try:
            with conn.transaction(force_rollback=True):
                self._act(conn, actor)
                state, _ = self._try(conn, statement, (sid,))
                _, got = self._try(conn, "select pg_catalog.current_setting('red_team.leak', true)")
                locked = False
                try:
                    with self.conn.transaction(force_rollback=True):
                        self.conn.execute(
                            "select 1 from public.sessions where id = %s for update nowait", (sid,)
                        )
                except psycopg.errors.LockNotAvailable:
                    locked = True
        finally:
            conn.close()
        leaked = bool(got and got[0][0])
        readable = actor != "anon" and self.model.may_read(actor, sid)
        writable = actor != "anon" and self.model.may_write_ir(actor, sid)
        self.check(
            readable or not leaked, f"{actor} read a hidden session through ON CONFLICT ({state})"
        )
        self.check(writable or not locked, f"{actor} locked a session they may not write ({state})")

    @rule(actor=st.sampled_from(["alice", "bob", "carol", "anon"]), table=TABLES, mode=LOCKS)
    def attack_with_table_lock(self, actor: str, table: str, mode: str) -> None:
        """A lock mode that would block other users' reads, writes or vacuum is refused."""
        self.op("SQL attack: LOCK TABLE")
        conn, _ = self._attacker(actor)
        try:
            with conn.transaction(force_rollback=True):
                self._act(conn, actor)
                state, _ = self._try(
                    conn,
                    sql.SQL("lock table {} in {} mode nowait").format(
                        sql.Identifier("public", table), sql.SQL(mode)
                    ),
                )
        finally:
            conn.close()
        self.check(state not in (None, "55P03"), f"{actor} locked public.{table} in {mode} mode")

    @rule(who=WHO, salt=st.integers(0, 5), sid=ids, setting=SETTINGS)
    def attack_with_settings(
        self, who: str, salt: int, sid: uuid.UUID, setting: tuple[str, str]
    ) -> None:
        """A setting the schema reads or the server honours, then a read: no wider view."""
        actor = self.actor_for(who, sid, salt)
        self.op("SQL attack: set_config, then read")
        self.standing(actor, sid)
        conn, _ = self._attacker(actor)
        try:
            with conn.transaction(force_rollback=True):
                self._act(conn, actor)
                self._try(conn, "select pg_catalog.set_config(%s, %s, false)", setting)
                state, rows = self._try(conn, READ, (sid,))
        finally:
            conn.close()
        self._check_read(actor, sid, state, rows, f"after setting {setting[0]}")
