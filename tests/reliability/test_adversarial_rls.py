"""Adversarial isolation: random sequences of operations by several users and anon, checked
against a reference model of who may do what.

Hypothesis drives a state machine. Three signed-in users and `anon` create, read, list, update,
write IR versions, roll back, delete and read the history of sessions (their own, each other's,
and ids that never existed), share and unshare them as viewer or editor, try to hand sessions
to someone else, forge history, rename each other's profiles, write sessions' embeddings and
search by similarity. Each operation goes either through SQL as the API role, the way PostgREST
runs a request, or through the session store, as the app does. The model is deliberately small:
the owner may do everything to a session; a viewer may read it and its history; an editor may
also write its IR (never its prompt, status, holes or assists, never delete, share or embed it);
a similarity search finds only sessions the searcher may read; nobody else may see or touch a
session; `anon` may do nothing; the service role sees everything.

After every operation the test checks the answer the actor got (a permitted operation must
succeed, and return exactly the model's data; a forbidden one must be refused or find nothing)
and then that the database, read as its owner role, holds exactly what the model holds: nobody
ever read, changed or deleted a row they had no right to.

A SQL-level attacker (tests/reliability/sql_attacker.py) plays too: it plants pg_temp shadows,
tries INSERT … ON CONFLICT DO UPDATE … WHERE on sessions, takes table locks and sets settings
before reading, and its answers are checked against the same model.

LIFT_FUZZ_EXAMPLES sequences of up to LIFT_FUZZ_STEPS operations each (see docs/reliability.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from psycopg.types.json import Jsonb

from lift_db.local.project import Project
from lift_db.local.target import connect
from lift_db.migrate import commands
from lift_db.store import (
    EMBEDDING_DIMENSIONS,
    NewSession,
    NotFoundError,
    PostgresSessionStore,
    PromptSession,
    SessionStatus,
    SessionStore,
    StoreError,
)
from tests.conftest import ScratchFactory
from tests.reliability import figures
from tests.reliability.sql_attacker import SqlAttacker
from tests.reliability.support import (
    FUZZ_EXAMPLES,
    FUZZ_STEPS,
    Conn,
    act_as,
    create_auth_user,
    database_url,
    delete_auth_users,
)

USERS = ("alice", "bob", "carol")
ACTORS = (*USERS, "anon")
REFUSED = "42501"
# INSERT … ON CONFLICT naming a session id: the WHERE clause runs on the conflicting row.
LEAK_BY_KEY = (
    "insert into public.sessions (id, prompt) values (%s, 'x')"
    " on conflict (id) do update set prompt = excluded.prompt"
    " where set_config('x.leak', row_to_json(sessions.*)::text, true) is null"
)
LOCK_BY_KEY = (
    "insert into public.sessions (id, prompt) values (%s, 'x')"
    " on conflict (id) do update set prompt = excluded.prompt where false"
)
NOT_FOUND = "PT404"

TEXT = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1, max_size=30
)
PROMPTS = TEXT.filter(lambda t: bool(t.strip()))
IRS = st.dictionaries(
    st.sampled_from(["entities", "effects", "n", "'; drop", "name"]),
    st.integers(-5, 5) | TEXT | st.lists(st.integers(0, 3), max_size=3),
    max_size=3,
)
# Who acts on a session, resolved against the model so that owners, grantees and strangers all
# get their turn (actors drawn at random would mostly be strangers).
WHO = st.sampled_from(["owner", "owner", "grantee", "grantee", "stranger", "anon"])
SALT = st.integers(0, 5)


def unit(axis: int) -> str:
    """A unit vector along one axis, in pgvector's text form."""
    parts = ["0"] * EMBEDDING_DIMENSIONS
    parts[axis] = "1"
    return "[" + ",".join(parts) + "]"


STATUS_VALUES: tuple[SessionStatus, ...] = ("active", "finalized", "abandoned")
STATUSES = st.sampled_from(STATUS_VALUES)


class Violation(AssertionError):
    """Someone could do what the model forbids, or could not do what it permits."""


@dataclass
class Session:
    id: uuid.UUID
    owner: str
    prompt: str
    status: str = "active"
    versions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ir_version(self) -> int:
        return len(self.versions)

    @property
    def current_ir(self) -> dict[str, Any] | None:
        return self.versions[-1] if self.versions else None


@dataclass
class Model:
    """Who may do what: the owner everything, a viewer reads, an editor also writes the IR."""

    sessions: dict[uuid.UUID, Session] = field(default_factory=dict)
    shares: dict[tuple[uuid.UUID, str], str] = field(default_factory=dict)  # (session, user): role
    embeddings: dict[uuid.UUID, tuple[int, str, int]] = field(
        default_factory=dict
    )  # axis, model, v

    def access(self, actor: str, sid: uuid.UUID) -> str | None:
        session = self.sessions.get(sid)
        if session is None or actor == "anon":
            return None
        if session.owner == actor:
            return "owner"
        return self.shares.get((sid, actor))

    def may_read(self, actor: str, sid: uuid.UUID) -> bool:
        return self.access(actor, sid) is not None

    def may_write_ir(self, actor: str, sid: uuid.UUID) -> bool:
        return self.access(actor, sid) in ("owner", "editor")

    def owns(self, actor: str, sid: uuid.UUID) -> bool:
        return self.access(actor, sid) == "owner"

    def forget(self, sid: uuid.UUID) -> None:
        del self.sessions[sid]
        self.embeddings.pop(sid, None)
        for key in [k for k in self.shares if k[0] == sid]:
            del self.shares[key]


class _Shared:
    """One connection and one store for every example (opening them per example costs more
    than the operations)."""

    url: str | None = None  # another database than the suite's (the machine's own test)
    conn: Conn | None = None
    store: PostgresSessionStore | None = None
    counting = True

    @classmethod
    def get(cls) -> tuple[Conn, PostgresSessionStore]:
        url = cls.url or database_url()
        if cls.conn is None or cls.conn.closed:
            cls.conn = connect(url)
        if cls.store is None:
            cls.store = PostgresSessionStore(url, max_size=2)
        return cls.conn, cls.store

    @classmethod
    def close(cls) -> None:
        if cls.store is not None:
            cls.store.close()
            cls.store = None
        if cls.conn is not None:
            cls.conn.close()
            cls.conn = None


@pytest.fixture(scope="module", autouse=True)
def _shared_resources() -> Iterator[None]:
    yield
    _Shared.close()


class IsolationMachine(SqlAttacker, RuleBasedStateMachine):
    ids = Bundle("ids")

    def __init__(self) -> None:
        super().__init__()
        self.conn, self.factory = _Shared.get()
        self.uid = {name: create_auth_user(self.conn, f"rls-{name}") for name in USERS}
        self.name_of = {uid: name for name, uid in self.uid.items()}
        self.model = Model()
        self.profiles: dict[str, str | None] = dict.fromkeys(USERS)
        self.last_operation = "setup"
        self.count("adversarial RLS: sequences run")
        if _Shared.counting:
            figures.add("adversarial RLS: violations found", 0)

    def teardown(self) -> None:
        delete_auth_users(self.conn, list(self.uid.values()))

    # -- helpers -------------------------------------------------------------------------------

    def count(self, figure: str) -> None:
        if _Shared.counting:
            figures.add(figure, 1)

    def check(self, ok: bool, what: str) -> None:
        self.count("adversarial RLS: checks made")
        if not ok:
            self.count("adversarial RLS: violations found")
            raise Violation(f"after {self.last_operation}: {what}")

    def op(self, name: str) -> None:
        self.count("adversarial RLS: operations tried")
        self.last_operation = name

    def sql(
        self, actor: str, statement: str, params: tuple[Any, ...] = ()
    ) -> list[tuple[Any, ...]]:
        """One API request as the actor; returns the rows, raises the database's refusal."""
        role = "anon" if actor == "anon" else "authenticated"
        with self.conn.transaction():
            act_as(self.conn, role, self.uid.get(actor))
            cur = self.conn.execute(statement, params)
            return list(cur.fetchall()) if cur.description else [("rowcount", cur.rowcount)]

    def refused(self, actor: str, statement: str, params: tuple[Any, ...] = ()) -> str | None:
        try:
            self.sql(actor, statement, params)
        except psycopg.Error as exc:
            return exc.sqlstate
        return None

    def store(self, actor: str) -> SessionStore:
        return self.factory.for_user(self.uid[actor])

    def outcome(self, call: Callable[[], object]) -> str:
        """What a store call came to: ok, or the store error it raised."""
        try:
            call()
        except StoreError as exc:
            return type(exc).__name__
        return "ok"

    def as_seen(self, row: PromptSession | tuple[Any, ...]) -> tuple[Any, ...]:
        if isinstance(row, PromptSession):
            return (row.id, self.name_of.get(row.user_id), row.prompt, row.status,
                    row.ir_version, row.current_ir)  # fmt: skip
        sid, owner, prompt, status, version, ir = row
        return (sid, self.name_of.get(owner), prompt, status, version, ir)

    @staticmethod
    def expected(session: Session) -> tuple[Any, ...]:
        return (session.id, session.owner, session.prompt, session.status,
                session.ir_version, session.current_ir)  # fmt: skip

    def guess(self, sid: uuid.UUID, actor: str) -> PromptSession:
        """What an attacker can put together for a session they cannot read."""
        known = self.model.sessions.get(sid)
        owner = self.uid[known.owner] if known else self.uid[actor]
        now = datetime.now(UTC)
        return PromptSession(
            id=sid, user_id=owner, prompt=known.prompt if known else "guess",
            status="active", current_ir=known.current_ir if known else None,
            ir_version=known.ir_version if known else 0, holes=[], assists=[],
            created_at=now, updated_at=now,
        )  # fmt: skip

    def actor_for(self, who: str, sid: uuid.UUID, salt: int) -> str:
        session = self.model.sessions.get(sid)
        if who == "anon":
            return "anon"
        if who == "owner" and session is not None:
            return session.owner
        grantees = sorted(u for (s, u) in self.model.shares if s == sid)
        if who == "grantee" and grantees:
            return grantees[salt % len(grantees)]
        others = [u for u in USERS if session is None or u != session.owner]
        return others[salt % len(others)]

    def standing(self, actor: str, sid: uuid.UUID) -> None:
        """Count whose operations were tried on a session: owner, editor, viewer or stranger."""
        who = "anon" if actor == "anon" else self.model.access(actor, sid) or "stranger"
        self.count(f"adversarial RLS: operations on a session by its {who}")

    def refusal(self, actor: str, sid: uuid.UUID) -> str:
        """The store's answer to a change the actor may not make: hidden, or forbidden."""
        return "NotFoundError" if self.model.access(actor, sid) is None else "PermissionDeniedError"

    # -- sessions ----------------------------------------------------------------------------------

    @initialize(target=ids)
    def seed(self) -> MultipleResults[uuid.UUID]:
        """Two sessions each; each user's first shared with the next user as viewer and the one
        after as editor; and an id that never existed."""
        made = []
        for n, owner in enumerate(USERS):
            for k in range(2):
                ir = {"seed": k}
                statement = (
                    "insert into public.sessions (prompt, current_ir) values (%s, %s) returning id"
                )
                sid = self.sql(owner, statement, (f"{owner} {k}", Jsonb(ir)))[0][0]
                self.model.sessions[sid] = Session(sid, owner, f"{owner} {k}", "active", [ir])
                made.append(sid)
            first = made[-2]
            for offset, role in ((1, "viewer"), (2, "editor")):
                whom = USERS[(n + offset) % len(USERS)]
                self.sql(owner, "insert into public.session_shares (session_id, user_id, role)"
                         " values (%s, %s, %s)", (first, self.uid[whom], role))  # fmt: skip
                self.model.shares[(first, whom)] = role
        return multiple(*made, uuid.uuid4())

    @rule(
        target=ids,
        actor=st.sampled_from(ACTORS),
        channel=st.sampled_from(["sql", "store"]),
        prompt=PROMPTS,
        ir=st.none() | IRS,
        for_other=st.booleans(),
    )
    def create(
        self, actor: str, channel: str, prompt: str, ir: dict[str, Any] | None, for_other: bool
    ) -> uuid.UUID | MultipleResults[uuid.UUID]:
        self.op("create")
        if actor == "anon":
            state = self.refused(actor, "insert into public.sessions (prompt) values (%s)",
                                 (prompt,))  # fmt: skip
            self.check(state == REFUSED, f"anon created a session ({state})")
            return multiple()
        owner = next(u for u in USERS if u != actor) if for_other else actor
        if channel == "sql":
            statement = (
                "insert into public.sessions (user_id, prompt, current_ir)"
                " values (%s, %s, %s) returning id"
            )
            params = (self.uid[owner], prompt, None if ir is None else Jsonb(ir))
            if for_other:
                state = self.refused(actor, statement, params)
                self.check(state == REFUSED, f"{actor} created a session for {owner} ({state})")
                return multiple()
            rows = self.sql(actor, statement, params)
            self.check(len(rows) == 1, f"{actor} could not create a session")
            sid: uuid.UUID = rows[0][0]
        else:
            new = NewSession(prompt=prompt, current_ir=ir,
                             user_id=self.uid[owner] if for_other else None)  # fmt: skip
            made: list[PromptSession] = []
            result = self.outcome(lambda: made.append(self.store(actor).create(new)))
            wanted = "PermissionDeniedError" if for_other else "ok"
            self.check(result == wanted, f"{actor} store create for {owner}: {result}")
            if for_other:
                return multiple()
            sid = made[0].id
        self.model.sessions[sid] = Session(sid, actor, prompt, "active", [] if ir is None else [ir])
        return sid

    @rule(who=WHO, salt=SALT, channel=st.sampled_from(["sql", "store"]), sid=ids)
    def read(self, who: str, salt: int, channel: str, sid: uuid.UUID) -> None:
        actor = self.actor_for(who, sid, salt)
        self.op("read")
        self.standing(actor, sid)
        query = ("select id, user_id, prompt, status, ir_version, current_ir"
                 " from public.sessions where id = %s")  # fmt: skip
        if actor == "anon":
            state = self.refused(actor, query, (sid,))
            self.check(state == REFUSED, f"anon read sessions ({state})")
            return
        if channel == "sql":
            seen = [self.as_seen(r) for r in self.sql(actor, query, (sid,))]
        else:
            got = self.store(actor).get(sid)
            seen = [] if got is None else [self.as_seen(got)]
        if self.model.may_read(actor, sid):
            want = [self.expected(self.model.sessions[sid])]
            self.check(seen == want, f"{actor} misread a session they may read")
        else:
            self.check(seen == [], f"{actor} read a session they may not read")

    def list_sessions(self, actor: str, channel: str) -> None:
        self.op("list")
        query = "select id, user_id, prompt, status, ir_version, current_ir from public.sessions"
        if actor == "anon":
            state = self.refused(actor, query)
            self.check(state == REFUSED, f"anon listed sessions ({state})")
            return
        readable = {sid for sid in self.model.sessions if self.model.may_read(actor, sid)}
        owned = {sid for sid in readable if self.model.owns(actor, sid)}
        if channel == "sql":
            seen = sorted(self.as_seen(r) for r in self.sql(actor, query))
            want = readable
        else:
            store = self.store(actor)
            seen = sorted(self.as_seen(s) for s in store.list_all())
            want = owned
            shared = sorted(self.as_seen(s) for s in store.list_shared_with_me())
            self.check(
                shared == sorted(self.expected(self.model.sessions[i]) for i in readable - owned),
                f"{actor}'s shared-with-me list is not exactly what was shared with them",
            )
        self.check(
            seen == sorted(self.expected(self.model.sessions[i]) for i in want),
            f"{actor}'s list is not exactly what they may read",
        )

    @rule(
        who=WHO,
        salt=SALT,
        channel=st.sampled_from(["sql", "store"]),
        sid=ids,
        prompt=PROMPTS,
        status=STATUSES,
    )
    def update_fields(
        self, who: str, salt: int, channel: str, sid: uuid.UUID, prompt: str, status: SessionStatus
    ) -> None:
        actor = self.actor_for(who, sid, salt)
        self.op("update prompt and status")
        self.standing(actor, sid)
        statement = "update public.sessions set prompt = %s, status = %s where id = %s"
        if actor == "anon":
            state = self.refused(actor, statement, (prompt, status, sid))
            self.check(state == REFUSED, f"anon updated sessions ({state})")
            return
        access = self.model.access(actor, sid)
        session = self.model.sessions.get(sid)
        unchanged = session is not None and (session.prompt, session.status) == (prompt, status)
        if channel == "sql":
            state = self.refused(actor, statement, (prompt, status, sid))
            if access == "editor" and not unchanged:
                self.check(state == REFUSED, f"editor {actor} changed owner fields ({state})")
                return
            self.check(state is None, f"{actor} update of prompt and status failed: {state}")
            landed = (
                "select count(*) from public.sessions where id = %s and prompt = %s and status = %s"
            )
            count = self.sql(actor, landed, (sid, prompt, status))[0][0]
            if access in ("owner", "editor"):
                self.check(count == 1, f"{actor}'s permitted update did not land")
        else:
            store = self.store(actor)
            target = store.get(sid) if access else self.guess(sid, actor)
            assert target is not None
            result = self.outcome(
                lambda: store.update(replace(target, prompt=prompt, status=status))
            )
            if access == "owner" or (access == "editor" and unchanged):
                wanted = "ok"
            else:
                wanted = self.refusal(actor, sid)
            self.check(result == wanted, f"{actor} ({access}) store update: {result}")
        if access == "owner":
            assert session is not None
            session.prompt, session.status = prompt, status

    @rule(
        who=WHO,
        salt=SALT,
        channel=st.sampled_from(["sql", "store"]),
        sid=ids,
        ir=IRS,
        version=st.sampled_from(["read", "stale", "unchecked"]),
    )
    def write_ir(
        self, who: str, salt: int, channel: str, sid: uuid.UUID, ir: dict[str, Any], version: str
    ) -> None:
        actor = self.actor_for(who, sid, salt)
        self.op("write an IR version")
        self.standing(actor, sid)
        session = self.model.sessions.get(sid)
        allowed = self.model.may_write_ir(actor, sid)
        current = session.ir_version if session else 0
        expected = {"read": current, "stale": current + 1, "unchecked": None}[version]
        if channel == "sql" or actor == "anon":
            state = self.refused(
                actor, "select public.update_session_ir(%s, %s, %s)", (sid, Jsonb(ir), expected)
            )
            if actor == "anon":
                self.check(state == REFUSED, f"anon wrote an IR ({state})")
                return
            wanted = None if allowed and version != "stale" else "PT409" if allowed else "PT404"
            self.check(state == wanted, f"{actor} update_session_ir: {state}, expected {wanted}")
        else:
            store = self.store(actor)
            readable = self.model.may_read(actor, sid)
            target = store.get(sid) if readable else self.guess(sid, actor)
            assert target is not None
            if version == "stale":
                target = replace(target, ir_version=current + 1)
            result = self.outcome(lambda: store.update(target.with_ir(ir)))
            if not allowed:
                wanted = self.refusal(actor, sid)
            elif version == "stale":
                wanted = "VersionConflictError"
            else:
                wanted = "ok"
            self.check(result == wanted, f"{actor} store IR write: {result}, expected {wanted}")
            if allowed and version != "stale" and target.current_ir == ir:
                return  # the same IR again: the store writes no version
        if allowed and version != "stale":
            assert session is not None
            session.versions.append(ir)

    @rule(
        who=WHO,
        salt=SALT,
        channel=st.sampled_from(["sql", "store"]),
        sid=ids,
        to_version=st.integers(0, 4),
    )
    def rollback(self, who: str, salt: int, channel: str, sid: uuid.UUID, to_version: int) -> None:
        actor = self.actor_for(who, sid, salt)
        self.op("roll back")
        self.standing(actor, sid)
        session = self.model.sessions.get(sid)
        allowed = self.model.may_write_ir(actor, sid)
        exists = session is not None and 1 <= to_version <= session.ir_version
        if channel == "sql" or actor == "anon":
            state = self.refused(actor, "select public.rollback_session(%s, %s)", (sid, to_version))
            wanted = REFUSED if actor == "anon" else None if allowed and exists else "PT404"
            self.check(state == wanted, f"{actor} rollback_session: {state}, expected {wanted}")
        else:
            result = self.outcome(lambda: self.store(actor).rollback(sid, to_version))
            if not allowed:
                wanted = self.refusal(actor, sid)
            else:
                wanted = "ok" if exists else "NotFoundError"
            self.check(result == wanted, f"{actor} store rollback: {result}, expected {wanted}")
        if allowed and exists:
            assert session is not None
            session.versions.append(session.versions[to_version - 1])

    @rule(who=WHO, salt=SALT, channel=st.sampled_from(["sql", "store"]), sid=ids)
    def delete(self, who: str, salt: int, channel: str, sid: uuid.UUID) -> None:
        actor = self.actor_for(who, sid, salt)
        self.op("delete")
        self.standing(actor, sid)
        statement = "select public.delete_session(%s)"
        if actor == "anon":
            state = self.refused(actor, statement, (sid,))
            self.check(state == REFUSED, f"anon deleted sessions ({state})")
            return
        allowed = self.model.owns(actor, sid)
        if channel == "sql":
            # Never through the table: table-level DELETE would let the role LOCK the table.
            table = self.refused(actor, "delete from public.sessions where id = %s", (sid,))
            self.check(table == REFUSED, f"{actor} deleted {sid} through the table ({table})")
            state = self.refused(actor, statement, (sid,))
            hidden = self.model.access(actor, sid) is None
            wanted = None if allowed else NOT_FOUND if hidden else REFUSED
            self.check(state == wanted, f"{actor} deleted {sid}: {state}, expected {wanted}")
        else:
            result = self.outcome(lambda: self.store(actor).delete(sid))
            wanted = "ok" if allowed else self.refusal(actor, sid)
            self.check(result == wanted, f"{actor} store delete: {result}, expected {wanted}")
        if allowed:
            self.model.forget(sid)

    def update_everything(self, actor: str, status: str) -> None:
        """PATCH /sessions without a filter: only the update policy and the editors' guard stand
        between the actor and everyone's rows (no WHERE clause brings the select policy in)."""
        self.op("update every session in reach")
        statement = "update public.sessions set status = %s"
        if actor == "anon":
            state = self.refused(actor, statement, (status,))
            self.check(state == REFUSED, f"anon updated sessions ({state})")
            return
        reach = [s for s in self.model.sessions.values() if self.model.may_write_ir(actor, s.id)]
        blocked = any(s.status != status and not self.model.owns(actor, s.id) for s in reach)
        state = self.refused(actor, statement, (status,))
        if blocked:  # the guard refuses the whole statement
            self.check(state == REFUSED, f"{actor} changed the status of an edited session")
            return
        self.check(state is None, f"{actor}'s update of their own sessions failed: {state}")
        for session in reach:
            session.status = status

    def delete_everything(self, actor: str) -> None:
        """DELETE /sessions without a filter: no API role deletes through the table any more
        (table-level DELETE would let it LOCK the table against everyone)."""
        self.op("delete every session in reach")
        state = self.refused(actor, "delete from public.sessions")
        self.check(state == REFUSED, f"{actor} deleted through the table ({state})")

    @rule(who=WHO, salt=SALT, sid=ids, lock=st.booleans())
    def propose_key(self, who: str, salt: int, sid: uuid.UUID, lock: bool) -> None:
        """INSERT … ON CONFLICT naming an existing id: its WHERE clause would read (or, with
        WHERE false, lock) the conflicting row before RLS refused the update."""
        actor = self.actor_for(who, sid, salt)
        self.op("propose a session id")
        self.standing(actor, sid)
        state = self.refused(actor, LOCK_BY_KEY if lock else LEAK_BY_KEY, (sid,))
        self.check(state == REFUSED, f"{actor} proposed the id of {sid} ({state})")

    @rule(who=WHO, salt=SALT, channel=st.sampled_from(["sql", "store"]), sid=ids)
    def read_history(self, who: str, salt: int, channel: str, sid: uuid.UUID) -> None:
        actor = self.actor_for(who, sid, salt)
        self.op("read history")
        self.standing(actor, sid)
        query = ("select version, ir_snapshot from public.session_history"
                 " where session_id = %s order by version")  # fmt: skip
        if actor == "anon":
            state = self.refused(actor, query, (sid,))
            self.check(state == REFUSED, f"anon read history ({state})")
            return
        allowed = self.model.may_read(actor, sid)
        versions = self.model.sessions[sid].versions if allowed else []
        want = list(enumerate(versions, start=1))
        if channel == "sql":
            self.check(self.sql(actor, query, (sid,)) == want, f"{actor} history of {sid}")
            return
        try:
            got = [(h.version, h.ir_snapshot) for h in self.store(actor).history(sid)]
        except NotFoundError:
            self.check(not allowed, f"{actor} could not read a history they may read")
            return
        self.check(allowed and got == want, f"{actor} store history of {sid}")

    # -- sharing -----------------------------------------------------------------------------------

    @rule(
        who=WHO,
        salt=SALT,
        channel=st.sampled_from(["sql", "store"]),
        sid=ids,
        whom=st.sampled_from(USERS),
        role=st.sampled_from(["viewer", "editor"]),
    )
    def share(
        self, who: str, salt: int, channel: str, sid: uuid.UUID, whom: str, role: str
    ) -> None:
        actor = self.actor_for(who, sid, salt)
        self.op("share")
        self.standing(actor, sid)
        statement = (
            "insert into public.session_shares (session_id, user_id, role) values (%s, %s, %s)"
            " on conflict (session_id, user_id) do update set role = excluded.role"
        )
        params = (sid, self.uid[whom], role)
        owns = self.model.owns(actor, sid)
        to_owner = owns and whom == actor
        if channel == "sql" or actor == "anon":
            state = self.refused(actor, statement, params)
            wanted = None if owns and not to_owner else "22023" if to_owner else REFUSED
            self.check(state == wanted, f"{actor} shared {sid} with {whom}: {state}")
        else:
            result = self.outcome(lambda: self.store(actor).share(sid, self.uid[whom], role))  # type: ignore[arg-type]
            if not owns:
                wanted = self.refusal(actor, sid)
            else:
                wanted = "InvalidInputError" if to_owner else "ok"
            self.check(result == wanted, f"{actor} store share: {result}, expected {wanted}")
        if owns and not to_owner:
            self.model.shares[(sid, whom)] = role

    @rule(
        who=WHO,
        salt=SALT,
        channel=st.sampled_from(["sql", "store"]),
        sid=ids,
        whom=st.sampled_from(USERS),
    )
    def unshare(self, who: str, salt: int, channel: str, sid: uuid.UUID, whom: str) -> None:
        actor = self.actor_for(who, sid, salt)
        self.op("unshare")
        self.standing(actor, sid)
        owns = self.model.owns(actor, sid)
        existed = (sid, whom) in self.model.shares
        statement = "select public.delete_session_share(%s, %s)"
        if actor == "anon":
            state = self.refused(actor, statement, (sid, self.uid[whom]))
            self.check(state == REFUSED, f"anon unshared ({state})")
            return
        # The owner revokes any share; a grantee leaves (removes their own).
        hidden = self.model.access(actor, sid) is None
        allowed = not hidden and (owns or whom == actor)
        if channel == "sql":
            state = self.refused(actor, statement, (sid, self.uid[whom]))
            present = None if existed else NOT_FOUND
            wanted = present if allowed else NOT_FOUND if hidden else REFUSED
            self.check(
                state == wanted, f"{actor} unshared {sid} with {whom}: {state}, expected {wanted}"
            )
        else:
            result = self.outcome(lambda: self.store(actor).unshare(sid, self.uid[whom]))
            present = "ok" if existed else "NotFoundError"
            wanted = present if allowed else self.refusal(actor, sid)
            self.check(result == wanted, f"{actor} store unshare: {result}, expected {wanted}")
        if allowed and existed:
            del self.model.shares[(sid, whom)]

    @rule(who=WHO, salt=SALT, channel=st.sampled_from(["sql", "store"]), sid=ids)
    def read_shares(self, who: str, salt: int, channel: str, sid: uuid.UUID) -> None:
        actor = self.actor_for(who, sid, salt)
        self.op("read shares")
        self.standing(actor, sid)
        query = "select user_id, role from public.session_shares where session_id = %s"
        if actor == "anon":
            state = self.refused(actor, query, (sid,))
            self.check(state == REFUSED, f"anon read shares ({state})")
            return
        owns = self.model.owns(actor, sid)
        want = sorted(
            (who, role)
            for (s, who), role in self.model.shares.items()
            if s == sid and (owns or who == actor)
        )
        if channel == "sql":
            rows = self.sql(actor, query, (sid,))
            got = sorted((self.name_of[u], role) for u, role in rows)
        else:
            try:
                got = sorted(
                    (self.name_of[h.user_id], h.role) for h in self.store(actor).shares(sid)
                )
            except NotFoundError:
                self.check(not self.model.may_read(actor, sid), f"{actor} could not see shares")
                return
        self.check(got == want, f"{actor} sees shares {got} of {sid}, expected {want}")

    # -- embeddings and similarity search -------------------------------------------------------

    @rule(
        who=WHO,
        salt=SALT,
        channel=st.sampled_from(["sql", "store"]),
        sid=ids,
        axis=st.integers(0, 7),
        model=st.sampled_from(["model-a", "model-b"]),
    )
    def embed(
        self, who: str, salt: int, channel: str, sid: uuid.UUID, axis: int, model: str
    ) -> None:
        """Write a session's embedding (a unit vector along one axis): the owner's alone."""
        actor = self.actor_for(who, sid, salt)
        self.op("embed")
        self.standing(actor, sid)
        session = self.model.sessions.get(sid)
        version = max(session.ir_version, 1) if session else 1
        has_ir = session is not None and session.ir_version >= 1
        owns = self.model.owns(actor, sid)
        if channel == "sql" or actor == "anon":
            state = self.refused(
                actor,
                "insert into public.session_embeddings (session_id, embedding, model, ir_version)"
                " values (%s, %s::extensions.vector, %s, %s) on conflict (session_id) do update"
                " set embedding = excluded.embedding, model = excluded.model,"
                " ir_version = excluded.ir_version",
                (sid, unit(axis), model, version),
            )
            if actor == "anon":
                wanted: set[str | None] = {REFUSED}
            elif not self.model.may_read(actor, sid):
                wanted = {"PT404", REFUSED}  # the guard does not find it, or RLS refuses
            elif not owns:
                wanted = {REFUSED}
            else:
                wanted = {None} if has_ir else {"PT404"}
            self.check(state in wanted, f"{actor} embedded {sid}: {state}, expected {wanted}")
        else:
            vector = [0.0] * EMBEDDING_DIMENSIONS
            vector[axis] = 1.0
            result = self.outcome(
                lambda: self.store(actor).set_embedding(
                    sid, vector, model=model, ir_version=version
                )
            )
            if not owns:
                wanted_outcome = self.refusal(actor, sid)
            else:
                wanted_outcome = "ok" if has_ir else "NotFoundError"
            self.check(result == wanted_outcome, f"{actor} store embed: {result}")
        if owns and has_ir:
            self.model.embeddings[sid] = (axis, model, version)

    @rule(
        actor=st.sampled_from(ACTORS),
        axis=st.integers(0, 7),
        channel=st.sampled_from(["sql", "store"]),
    )
    def search(self, actor: str, axis: int, channel: str) -> None:
        """match_sessions never returns a session the actor may not read."""
        self.op("search by similarity")
        query = "select session_id from public.match_sessions(%s::extensions.vector, 100, -1)"
        if actor == "anon":
            state = self.refused(actor, query, (unit(axis),))
            self.check(state == REFUSED, f"anon searched ({state})")
            return
        if channel == "sql":
            found = {r[0] for r in self.sql(actor, query, (unit(axis),))}
        else:
            vector = [0.0] * EMBEDDING_DIMENSIONS
            vector[axis] = 1.0
            found = {r.session_id for r in self.store(actor).search_similar(vector, limit=100)}
        # Everyone outside this game is a stranger to its fresh users: every hit must be a
        # session of the game the actor may read, with an embedding.
        readable = {sid for sid in self.model.embeddings if self.model.may_read(actor, sid)}
        self.check(found <= readable, f"{actor} found sessions they may not read")

    # -- ownership, history, profiles -------------------------------------------------------------

    @rule(who=WHO, salt=SALT, sid=ids, to=st.sampled_from(USERS))
    def hand_over(self, who: str, salt: int, sid: uuid.UUID, to: str) -> None:
        actor = self.actor_for(who, sid, salt)
        self.op("hand a session to someone else")
        state = self.refused(
            actor, "update public.sessions set user_id = %s where id = %s", (self.uid[to], sid)
        )
        self.check(state == REFUSED, f"{actor} changed a session's owner ({state})")

    @rule(who=WHO, salt=SALT, sid=ids)
    def forge_history(self, who: str, salt: int, sid: uuid.UUID) -> None:
        actor = self.actor_for(who, sid, salt)
        self.op("forge history")
        state = self.refused(
            actor,
            "insert into public.session_history (session_id, version, ir_snapshot)"
            " values (%s, 1000, '{}')",
            (sid,),
        )
        self.check(state == REFUSED, f"{actor} wrote history ({state})")

    def rename(self, actor: str, whose: str, name: str) -> None:
        self.op("rename a profile")
        statement = "update public.users set display_name = %s where id = %s"
        if actor == "anon":
            state = self.refused(actor, statement, (name, self.uid[whose]))
            self.check(state == REFUSED, f"anon renamed a profile ({state})")
            return
        count = self.sql(actor, statement, (name, self.uid[whose]))[0][1]
        self.check(count == (1 if actor == whose else 0), f"{actor} renamed {whose}: {count}")
        if actor == whose:
            self.profiles[whose] = name

    def rename_everyone(self, actor: str, name: str) -> None:
        """PATCH /users without a filter: only the actor's own profile may change."""
        self.op("rename every profile in reach")
        statement = "update public.users set display_name = %s"
        if actor == "anon":
            state = self.refused(actor, statement, (name,))
            self.check(state == REFUSED, f"anon renamed profiles ({state})")
            return
        count = self.sql(actor, statement, (name,))[0][1]
        self.check(count == 1, f"{actor} renamed {count} profiles")
        self.profiles[actor] = name

    def read_profile(self, actor: str, whose: str) -> None:
        self.op("read a profile")
        query = "select display_name from public.users where id = %s"
        if actor == "anon":
            state = self.refused(actor, query, (self.uid[whose],))
            self.check(state == REFUSED, f"anon read a profile ({state})")
            return
        rows = self.sql(actor, query, (self.uid[whose],))
        want = [(self.profiles[whose],)] if actor == whose else []
        self.check(rows == want, f"{actor} read {whose}'s profile: {rows}")

    @rule(sid=ids)
    def service_reads(self, sid: uuid.UUID) -> None:
        self.op("service role reads")
        got = self.factory.service().get(sid)
        session = self.model.sessions.get(sid)
        want = None if session is None else self.expected(session)
        self.check((got and self.as_seen(got)) == want, "the service role misread a session")

    # -- operations on everything in reach -------------------------------------------------------

    @rule(
        actor=st.sampled_from(ACTORS),
        action=st.sampled_from(["list", "list", "update all", "delete all"]),
        channel=st.sampled_from(["sql", "store"]),
        status=STATUSES,
        salt=SALT,
    )
    def act_on_everything_in_reach(
        self, actor: str, action: str, channel: str, status: str, salt: int
    ) -> None:
        if action == "list":
            self.list_sessions(actor, channel)
        elif action == "update all":
            self.update_everything(actor, status)
        elif salt == 3:  # deleting everything one owns is rare, and would empty the game
            self.delete_everything(actor)

    @rule(
        actor=st.sampled_from(ACTORS),
        action=st.sampled_from(["rename", "rename all", "read"]),
        whose=st.sampled_from(USERS),
        name=PROMPTS,
    )
    def act_on_profiles(self, actor: str, action: str, whose: str, name: str) -> None:
        if action == "rename":
            self.rename(actor, whose, name)
        elif action == "rename all":
            self.rename_everyone(actor, name)
        else:
            self.read_profile(actor, whose)

    # -- the database holds exactly the model ----------------------------------------------------

    @invariant()
    def database_matches_the_model(self) -> None:
        users = list(self.uid.values())
        rows = self.conn.execute(
            "select id, user_id, prompt, status, ir_version, current_ir from public.sessions"
            " where user_id = any(%s)",
            (users,),
        ).fetchall()
        seen = sorted(self.as_seen(r) for r in rows)
        want_sessions = sorted(self.expected(s) for s in self.model.sessions.values())
        self.check(seen == want_sessions, "the sessions differ from the model")
        history = self.conn.execute(
            "select h.session_id, h.version, h.ir_snapshot from public.session_history as h"
            " join public.sessions as s on s.id = h.session_id where s.user_id = any(%s)"
            " order by 1, 2",
            (users,),
        ).fetchall()
        want = sorted(
            (s.id, n, ir)
            for s in self.model.sessions.values()
            for n, ir in enumerate(s.versions, 1)
        )
        self.check(sorted(history) == want, "the histories differ from the model")
        shares = self.conn.execute(
            "select sh.session_id, sh.user_id, sh.role from public.session_shares as sh"
            " where sh.user_id = any(%(u)s)"
            "    or sh.session_id in (select id from public.sessions where user_id = any(%(u)s))",
            {"u": users},
        ).fetchall()
        got_shares = {(sid, self.name_of[u]): role for sid, u, role in shares}
        self.check(got_shares == self.model.shares, "the shares differ from the model")
        embedded = self.conn.execute(
            "select e.session_id, e.model, e.ir_version,"
            "       array_position(e.embedding::real[], 1::real) - 1"
            "  from public.session_embeddings as e"
            "  join public.sessions as s on s.id = e.session_id where s.user_id = any(%s)",
            (users,),
        ).fetchall()
        got_embeddings = {sid: (axis, model, v) for sid, model, v, axis in embedded}
        self.check(got_embeddings == self.model.embeddings, "the embeddings differ from the model")
        profiles: dict[uuid.UUID, str | None] = dict(
            self.conn.execute(
                "select id, display_name from public.users where id = any(%s)", (users,)
            ).fetchall()
        )
        self.check(
            {self.name_of[k]: v for k, v in profiles.items()} == self.profiles,
            "the profiles differ from the model",
        )


IsolationMachine.TestCase.settings = settings(
    max_examples=FUZZ_EXAMPLES,
    stateful_step_count=FUZZ_STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestIsolation = IsolationMachine.TestCase


# -- the machine catches what it is there to catch -----------------------------------------------


@pytest.mark.parametrize(
    "hole",
    [
        "create policy leak on public.sessions for select to authenticated using (true)",
        "grant delete on table public.sessions to authenticated;"
        " create policy leak on public.sessions for delete to authenticated using (true)",
        "grant insert (id) on table public.sessions to authenticated",
        "create policy leak on public.users for update to authenticated using (true)",
        "grant select on public.session_history to anon;"
        " create policy leak on public.session_history for select to anon using (true)",
        "drop policy sessions_update_own_or_editor on public.sessions;"
        " create policy leak on public.sessions for update to authenticated"
        " using (user_id = (select auth.uid()) or id in (select private.shared_session_ids()))",
        "alter table public.sessions disable trigger sessions_guard_shared_edits",
        # The key trigger refuses a share of someone else's session before the policy would.
        "create policy leak on public.session_shares for insert to authenticated with check (true);"
        " alter table public.session_shares disable trigger session_shares_key_belongs_to_caller",
        "grant delete on public.sessions to authenticated",
        "grant insert (id) on public.sessions to authenticated",
        "create or replace function private.shared_session_ids(with_role text default null)"
        " returns setof uuid language sql stable security definer set search_path = '' as $$"
        " select sh.session_id from public.session_shares as sh"
        " where sh.user_id = (select auth.uid())::uuid"
        " and (shared_session_ids.with_role is null or sh.role = shared_session_ids.with_role) $$",
        "create policy leak on public.sessions for select to authenticated"
        " using (pg_catalog.current_setting('lift.change_description', true) = 'forged')",
    ],
    ids=[
        "read others' sessions",
        "delete others' sessions",
        "propose session ids",
        "rename others",
        "anon history",
        "viewers write",
        "editors change status",
        "anyone shares",
        "lock sessions",
        "choose session ids",
        "definer resolves pg_temp",
        "a policy trusts a setting",
    ],
)
def test_the_machine_finds_a_hole_in_isolation(
    scratch_db: ScratchFactory, project: Project, hole: str
) -> None:
    target = scratch_db()
    commands.migrate(project, target, lambda _: None)
    with connect(target.url) as conn:
        conn.execute(hole)
    _Shared.close()
    _Shared.url, _Shared.counting = target.url, False
    try:
        with pytest.raises(Violation):
            run_state_machine_as_test(
                IsolationMachine,
                settings=settings(
                    max_examples=200,
                    stateful_step_count=40,
                    deadline=None,
                    phases=[Phase.generate],
                    database=None,
                    suppress_health_check=list(HealthCheck),
                ),
            )
    finally:
        _Shared.close()
        _Shared.url, _Shared.counting = None, True
