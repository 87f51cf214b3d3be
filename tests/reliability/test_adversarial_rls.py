"""Adversarial isolation: random sequences of operations by several users and anon, checked
against a reference model of who may do what.

Hypothesis drives a state machine. Three signed-in users and `anon` create, read, list, update,
write IR versions, roll back, delete and read the history of sessions (their own, each other's,
and ids that never existed), try to hand sessions to someone else, forge history and rename
each other's profiles. Each operation goes either through SQL as the API role, the way PostgREST
runs a request, or through the session store, as the app does. The model is deliberately small:
a session belongs to its owner, who may do everything to it; nobody else may see or touch it;
`anon` may do nothing; the service role sees everything.

After every operation the test checks the answer the actor got (a permitted operation must
succeed, and return exactly the model's data; a forbidden one must be refused or find nothing)
and then that the database, read as its owner role, holds exactly what the model holds: nobody
ever read, changed or deleted a row they had no right to.

LIFT_FUZZ_EXAMPLES sequences of up to LIFT_FUZZ_STEPS operations each (see docs/reliability.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from psycopg.types.json import Jsonb

from lift_db import stack
from lift_db.project import Project
from lift_db.store import (
    NewSession,
    NotFoundError,
    PermissionDeniedError,
    PostgresSessionStore,
    PromptSession,
    SessionStatus,
    SessionStore,
    VersionConflictError,
)
from lift_db.target import connect
from tests.conftest import ScratchFactory
from tests.reliability import figures
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

TEXT = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1, max_size=30
)
PROMPTS = TEXT.filter(lambda t: bool(t.strip()))
IRS = st.dictionaries(
    st.sampled_from(["entities", "effects", "n", "'; drop", "name"]),
    st.integers(-5, 5) | TEXT | st.lists(st.integers(0, 3), max_size=3),
    max_size=3,
)
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


# The rules of the model. Sharing (viewers, editors) extends these three.
def may_read(actor: str, session: Session | None) -> bool:
    return session is not None and actor == session.owner


def may_write(actor: str, session: Session | None) -> bool:
    return session is not None and actor == session.owner


def may_delete(actor: str, session: Session | None) -> bool:
    return session is not None and actor == session.owner


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


class IsolationMachine(RuleBasedStateMachine):
    ids = Bundle("ids")

    def __init__(self) -> None:
        super().__init__()
        self.conn, self.factory = _Shared.get()
        self.uid = {name: create_auth_user(self.conn, f"rls-{name}") for name in USERS}
        self.name_of = {uid: name for name, uid in self.uid.items()}
        self.sessions: dict[uuid.UUID, Session] = {}
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
        known = self.sessions.get(sid)
        owner = self.uid[known.owner] if known else self.uid[actor]
        now = datetime.now(UTC)
        return PromptSession(
            id=sid, user_id=owner, prompt=known.prompt if known else "guess",
            status="active", current_ir=known.current_ir if known else None,
            ir_version=known.ir_version if known else 0, holes=[], assists=[],
            created_at=now, updated_at=now,
        )  # fmt: skip

    # -- rules -----------------------------------------------------------------------------------

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
    ) -> uuid.UUID:
        self.op("create")
        sid = uuid.uuid4()
        if actor == "anon":
            state = self.refused(actor, "insert into public.sessions (id, prompt) values (%s, %s)",
                                 (sid, prompt))  # fmt: skip
            self.check(state == REFUSED, f"anon created a session ({state})")
            return sid
        owner = next(u for u in USERS if u != actor) if for_other else actor
        if channel == "sql":
            statement = (
                "insert into public.sessions (id, user_id, prompt, current_ir)"
                " values (%s, %s, %s, %s) returning id"
            )
            params = (sid, self.uid[owner], prompt, None if ir is None else Jsonb(ir))
            if for_other:
                state = self.refused(actor, statement, params)
                self.check(state == REFUSED, f"{actor} created a session for {owner} ({state})")
                return sid
            rows = self.sql(actor, statement, params)
            self.check(rows == [(sid,)], f"{actor} could not create a session")
        else:
            new = NewSession(prompt=prompt, current_ir=ir, id=sid,
                             user_id=self.uid[owner] if for_other else None)  # fmt: skip
            if for_other:
                try:
                    self.store(actor).create(new)
                except PermissionDeniedError:
                    return sid
                raise Violation(f"{actor} created a session for {owner} through the store")
            made = self.store(actor).create(new)
            self.check(made.id == sid and made.user_id == self.uid[actor], "store create")
        self.sessions[sid] = Session(sid, actor, prompt, "active", [] if ir is None else [ir])
        return sid

    @rule(actor=st.sampled_from(ACTORS), channel=st.sampled_from(["sql", "store"]), sid=ids)
    def read(self, actor: str, channel: str, sid: uuid.UUID) -> None:
        self.op("read")
        session = self.sessions.get(sid)
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
        if may_read(actor, session):
            assert session is not None
            self.check(seen == [self.expected(session)], f"{actor} misread their session")
        else:
            self.check(seen == [], f"{actor} read a session that is not theirs")

    @rule(actor=st.sampled_from(ACTORS), channel=st.sampled_from(["sql", "store"]))
    def list_sessions(self, actor: str, channel: str) -> None:
        self.op("list")
        query = "select id, user_id, prompt, status, ir_version, current_ir from public.sessions"
        if actor == "anon":
            state = self.refused(actor, query)
            self.check(state == REFUSED, f"anon listed sessions ({state})")
            return
        if channel == "sql":
            seen = sorted(self.as_seen(r) for r in self.sql(actor, query))
        else:
            seen = sorted(self.as_seen(s) for s in self.store(actor).list_all())
        mine = sorted(self.expected(s) for s in self.sessions.values() if may_read(actor, s))
        self.check(seen == mine, f"{actor}'s list is not exactly their sessions")

    @rule(
        actor=st.sampled_from(ACTORS),
        channel=st.sampled_from(["sql", "store"]),
        sid=ids,
        prompt=PROMPTS,
        status=STATUSES,
    )
    def update_fields(
        self, actor: str, channel: str, sid: uuid.UUID, prompt: str, status: SessionStatus
    ) -> None:
        self.op("update prompt and status")
        session = self.sessions.get(sid)
        statement = "update public.sessions set prompt = %s, status = %s where id = %s"
        allowed = actor != "anon" and may_write(actor, session)
        if actor == "anon":
            state = self.refused(actor, statement, (prompt, status, sid))
            self.check(state == REFUSED, f"anon updated sessions ({state})")
            return
        if channel == "sql":
            count = self.sql(actor, statement, (prompt, status, sid))[0][1]
            self.check(count == (1 if allowed else 0), f"{actor} updated {count} rows of {sid}")
        else:
            target = self.store(actor).get(sid) if allowed else self.guess(sid, actor)
            assert target is not None
            changed = replace(target, prompt=prompt, status=status)
            try:
                self.store(actor).update(changed)
            except NotFoundError:
                self.check(not allowed, f"{actor} could not update their session")
                return
            self.check(allowed, f"{actor} updated a session that is not theirs")
        if allowed:
            assert session is not None
            session.prompt, session.status = prompt, status

    @rule(
        actor=st.sampled_from(ACTORS),
        channel=st.sampled_from(["sql", "store"]),
        sid=ids,
        ir=IRS,
        version=st.sampled_from(["read", "stale", "unchecked"]),
    )
    def write_ir(
        self, actor: str, channel: str, sid: uuid.UUID, ir: dict[str, Any], version: str
    ) -> None:
        self.op("write an IR version")
        session = self.sessions.get(sid)
        allowed = actor != "anon" and may_write(actor, session)
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
            target = store.get(sid) if allowed else self.guess(sid, actor)
            assert target is not None
            if version == "stale":
                target = replace(target, ir_version=current + 1)
            try:
                store.update(target.with_ir(ir))
                outcome = "ok"
            except VersionConflictError:
                outcome = "conflict"
            except NotFoundError:
                outcome = "not found"
            wanted = ("ok" if version != "stale" else "conflict") if allowed else "not found"
            if allowed and target.current_ir == ir and version != "stale":
                wanted = "ok"  # the same IR: the store writes no version
                self.check(outcome == wanted, f"{actor} store update of the same IR: {outcome}")
                return
            self.check(outcome == wanted, f"{actor} store IR write: {outcome}, expected {wanted}")
        if allowed and version != "stale":
            assert session is not None
            session.versions.append(ir)

    @rule(
        actor=st.sampled_from(ACTORS),
        channel=st.sampled_from(["sql", "store"]),
        sid=ids,
        to_version=st.integers(0, 4),
    )
    def rollback(self, actor: str, channel: str, sid: uuid.UUID, to_version: int) -> None:
        self.op("roll back")
        session = self.sessions.get(sid)
        allowed = actor != "anon" and may_write(actor, session)
        exists = session is not None and 1 <= to_version <= session.ir_version
        if channel == "sql" or actor == "anon":
            state = self.refused(actor, "select public.rollback_session(%s, %s)", (sid, to_version))
            wanted = REFUSED if actor == "anon" else None if allowed and exists else "PT404"
            self.check(state == wanted, f"{actor} rollback_session: {state}, expected {wanted}")
        else:
            try:
                self.store(actor).rollback(sid, to_version)
                outcome = "ok"
            except NotFoundError:
                outcome = "not found"
            wanted = "ok" if allowed and exists else "not found"
            self.check(outcome == wanted, f"{actor} store rollback: {outcome}, expected {wanted}")
        if allowed and exists:
            assert session is not None
            session.versions.append(session.versions[to_version - 1])

    @rule(actor=st.sampled_from(ACTORS), channel=st.sampled_from(["sql", "store"]), sid=ids)
    def delete(self, actor: str, channel: str, sid: uuid.UUID) -> None:
        self.op("delete")
        session = self.sessions.get(sid)
        allowed = actor != "anon" and may_delete(actor, session)
        statement = "delete from public.sessions where id = %s"
        if actor == "anon":
            state = self.refused(actor, statement, (sid,))
            self.check(state == REFUSED, f"anon deleted sessions ({state})")
            return
        if channel == "sql":
            count = self.sql(actor, statement, (sid,))[0][1]
            self.check(count == (1 if allowed else 0), f"{actor} deleted {count} rows of {sid}")
        else:
            try:
                self.store(actor).delete(sid)
                self.check(allowed, f"{actor} deleted a session that is not theirs")
            except NotFoundError:
                self.check(not allowed, f"{actor} could not delete their session")
        if allowed:
            del self.sessions[sid]

    @rule(actor=st.sampled_from(ACTORS), status=STATUSES)
    def update_everything(self, actor: str, status: str) -> None:
        """PATCH /sessions without a filter: only the update policy stands between the actor
        and everyone's rows (no WHERE clause brings the select policy in)."""
        self.op("update every session in reach")
        statement = "update public.sessions set status = %s"
        if actor == "anon":
            state = self.refused(actor, statement, (status,))
            self.check(state == REFUSED, f"anon updated sessions ({state})")
            return
        mine = [s for s in self.sessions.values() if may_write(actor, s)]
        count = self.sql(actor, statement, (status,))[0][1]
        self.check(count == len(mine), f"{actor} updated {count} sessions, owns {len(mine)}")
        for session in mine:
            session.status = status

    @rule(actor=st.sampled_from(ACTORS), data=st.data())
    def delete_everything(self, actor: str, data: st.DataObject) -> None:
        """DELETE /sessions without a filter, as rarely as a user would."""
        if data.draw(st.integers(0, 5), label="rarely") != 0:
            return
        self.op("delete every session in reach")
        statement = "delete from public.sessions"
        if actor == "anon":
            state = self.refused(actor, statement)
            self.check(state == REFUSED, f"anon deleted sessions ({state})")
            return
        mine = [s.id for s in self.sessions.values() if may_delete(actor, s)]
        count = self.sql(actor, statement)[0][1]
        self.check(count == len(mine), f"{actor} deleted {count} sessions, owns {len(mine)}")
        for sid in mine:
            del self.sessions[sid]

    @rule(actor=st.sampled_from(ACTORS), channel=st.sampled_from(["sql", "store"]), sid=ids)
    def read_history(self, actor: str, channel: str, sid: uuid.UUID) -> None:
        self.op("read history")
        session = self.sessions.get(sid)
        query = ("select version, ir_snapshot from public.session_history"
                 " where session_id = %s order by version")  # fmt: skip
        if actor == "anon":
            state = self.refused(actor, query, (sid,))
            self.check(state == REFUSED, f"anon read history ({state})")
            return
        allowed = may_read(actor, session)
        want = list(enumerate(session.versions, start=1)) if allowed and session else []
        if channel == "sql":
            self.check(self.sql(actor, query, (sid,)) == want, f"{actor} history of {sid}")
        else:
            try:
                got = [(h.version, h.ir_snapshot) for h in self.store(actor).history(sid)]
            except NotFoundError:
                self.check(not allowed, f"{actor} could not read their history")
                return
            self.check(allowed and got == want, f"{actor} store history of {sid}")

    @rule(actor=st.sampled_from(ACTORS), sid=ids, to=st.sampled_from(USERS))
    def hand_over(self, actor: str, sid: uuid.UUID, to: str) -> None:
        self.op("hand a session to someone else")
        state = self.refused(
            actor, "update public.sessions set user_id = %s where id = %s", (self.uid[to], sid)
        )
        self.check(state == REFUSED, f"{actor} changed a session's owner ({state})")

    @rule(actor=st.sampled_from(ACTORS), sid=ids)
    def forge_history(self, actor: str, sid: uuid.UUID) -> None:
        self.op("forge history")
        state = self.refused(
            actor,
            "insert into public.session_history (session_id, version, ir_snapshot)"
            " values (%s, 1000, '{}')",
            (sid,),
        )
        self.check(state == REFUSED, f"{actor} wrote history ({state})")

    @rule(actor=st.sampled_from(ACTORS), whose=st.sampled_from(USERS), name=PROMPTS)
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

    @rule(actor=st.sampled_from(ACTORS), name=PROMPTS)
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

    @rule(actor=st.sampled_from(ACTORS), whose=st.sampled_from(USERS))
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
        session = self.sessions.get(sid)
        want = None if session is None else self.expected(session)
        self.check((got and self.as_seen(got)) == want, "the service role misread a session")

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
        self.check(seen == sorted(self.expected(s) for s in self.sessions.values()),
                   "the sessions differ from the model")  # fmt: skip
        history = self.conn.execute(
            "select h.session_id, h.version, h.ir_snapshot from public.session_history as h"
            " join public.sessions as s on s.id = h.session_id where s.user_id = any(%s)"
            " order by 1, 2",
            (users,),
        ).fetchall()
        want = sorted(
            (s.id, n, ir) for s in self.sessions.values() for n, ir in enumerate(s.versions, 1)
        )
        self.check(sorted(history) == want, "the histories differ from the model")
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
        "create policy leak on public.sessions for delete to authenticated using (true)",
        "create policy leak on public.users for update to authenticated using (true)",
        "grant select on public.session_history to anon;"
        " create policy leak on public.session_history for select to anon using (true)",
    ],
    ids=["read others' sessions", "delete others' sessions", "rename others", "anon history"],
)
def test_the_machine_finds_a_hole_in_isolation(
    scratch_db: ScratchFactory, project: Project, hole: str
) -> None:
    target = scratch_db()
    stack.migrate(project, target, lambda _: None)
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
