"""Hostile input gets a clear, typed error and leaves the database exactly as it was.

Three fronts:

- the session store, with every kind of bad value it can be handed (oversized, blank or
  non-text text, NUL characters, lone surrogates, non-object or non-JSON IRs, JSON nested
  deeper than 100 levels, NaN and infinities, bad ids and versions, someone else's session);
- every SQL function the API roles may execute, found in the catalog, each argument in turn
  given values its type cannot hold or the function must refuse, sent as the API sends them
  (text cast to the parameter's type), plus raw invalid UTF-8 on the wire;
- hypothesis: random JSON documents and near-JSON text through the store and through
  `update_session_ir`.

"Clear and typed" means a `StoreError` subclass that says what is wrong (never the bare
`StoreError` of an unforeseen SQLSTATE, never a driver exception), and, over SQL, an SQLSTATE
the store maps to such a subclass. "Unchanged" means equal row counts and checksums of every app
table, equal grants and an equal catalog (see `support.snapshot`). SQL metacharacters are data,
not errors: they are stored verbatim.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from lift_db.local.target import connect
from lift_db.store import (
    EMBEDDING_DIMENSIONS,
    InvalidInputError,
    NewSession,
    NotFoundError,
    PermissionDeniedError,
    PostgresSessionStore,
    PromptSession,
    SessionStore,
    StoreError,
    VersionConflictError,
)
from lift_db.store.postgres.sqlstate import map_error
from tests.reliability import figures
from tests.reliability.support import (
    EXPOSED_SCHEMAS,
    FUZZ_EXAMPLES,
    Conn,
    Function,
    as_role,
    executable,
    functions,
    history_violations,
    snapshot,
)

TYPED = (InvalidInputError, NotFoundError, PermissionDeniedError, VersionConflictError)
SQL_METACHARACTERS = [
    "'); drop table public.sessions; --",
    "' or '1'='1",
    '"; select pg_sleep(10); --',
    "$$; drop schema public cascade; $$",
    "\\'; \\x00",
    "%s %(x)s {} {0}",
    "/* unclosed comment",
]


def deep(levels: int, leaf: object = "leaf") -> dict[str, Any]:
    node: Any = leaf
    for _ in range(levels):
        node = {"d": node}
    return {"root": node}


@dataclass
class World:
    """A user with a session (two IR versions), someone else's session, and the store."""

    conn: Conn
    factory: PostgresSessionStore
    user: uuid.UUID
    other: uuid.UUID
    mine: PromptSession
    theirs: PromptSession

    @property
    def store(self) -> SessionStore:
        return self.factory.for_user(self.user)

    def fresh(self) -> PromptSession:
        current = self.store.get(self.mine.id)
        assert current is not None
        return current


@pytest.fixture
def world(db_url: str, api_users: Callable[[str], uuid.UUID]) -> Iterator[World]:
    user, other = api_users("hostile"), api_users("bystander")
    factory = PostgresSessionStore(db_url, max_size=2)
    mine = factory.for_user(user).create(NewSession(prompt="mine", current_ir={"v": 1}))
    mine = factory.for_user(user).update(mine.with_ir({"v": 2}), change_description="two")
    theirs = factory.for_user(other).create(NewSession(prompt="theirs", current_ir={"t": 1}))
    with connect(db_url) as conn:
        yield World(conn, factory, user, other, mine, theirs)
    factory.close()


# -- the store -----------------------------------------------------------------------------------

StoreCall = Callable[[World], object]


def _store_cases() -> list[tuple[str, type[StoreError], StoreCall]]:
    big = "x" * 20_001
    huge = "y" * 5_000_000
    nan, inf = math.nan, math.inf
    cases: list[tuple[str, type[StoreError], StoreCall]] = []

    def create(**kw: Any) -> StoreCall:
        fields: dict[str, Any] = {"prompt": "p", **kw}
        return lambda w: w.store.create(NewSession(**fields))

    def update(description: str | None = None, **kw: Any) -> StoreCall:
        return lambda w: w.store.update(replace(w.fresh(), **kw), change_description=description)

    def ir(value: object) -> StoreCall:
        return lambda w: w.store.update(w.fresh().with_ir(value))  # type: ignore[arg-type]

    text_values: list[tuple[str, object]] = [
        ("oversized", big),
        ("5 MB", huge),
        ("empty", ""),
        ("blank", " \t\n "),
        ("NUL", "a\x00b"),
        ("lone surrogate", "a\ud800b"),
        ("not text", 42),
        ("bytes", b"prompt"),
    ]
    for label, value in text_values:
        cases.append((f"create: prompt {label}", InvalidInputError, create(prompt=value)))
        cases.append((f"update: prompt {label}", InvalidInputError, update(prompt=value)))
    for label, value in [
        ("oversized", "d" * 1001),
        ("NUL", "\x00"),
        ("lone surrogate", "\udfff"),
        ("not text", ["list"]),
    ]:
        cases.append(
            (f"update: description {label}", InvalidInputError, update(description=value))  # type: ignore[arg-type]
        )
        cases.append(
            (
                f"create: description {label}",
                InvalidInputError,
                create(current_ir={"a": 1}, change_description=value),
            )
        )
    irs: list[tuple[str, object]] = [
        ("a list", [1, 2]),
        ("a string", "ir"),
        ("a number", 42),
        ("true", True),
        ("101 levels deep", deep(101)),
        ("5,000 levels deep", deep(5_000)),
        ("NaN", {"x": nan}),
        ("Infinity", {"x": [1, inf]}),
        ("-Infinity deep inside", deep(50, -inf)),
        ("a NUL in a key", {"a\x00": 1}),
        ("a NUL in a value", {"a": ["b\x00"]}),
        ("a lone surrogate", {"a": "\ud834"}),
        ("a non-text key", {1: "one"}),
        ("a set", {"a": {1, 2}}),
        ("bytes", {"a": b"\xff"}),
        ("an object", {"a": object()}),
    ]
    for label, value in irs:
        cases.append((f"update: IR {label}", InvalidInputError, ir(value)))
        cases.append((f"create: IR {label}", InvalidInputError, create(current_ir=value)))
    cases.append(("update: IR removed", InvalidInputError, ir(None)))
    for label, value in [("NaN", [nan]), ("deep", [deep(120)]), ("not a list", {"h": 1})]:
        cases.append((f"update: holes {label}", InvalidInputError, update(holes=value)))
        cases.append((f"create: assists {label}", InvalidInputError, create(assists=value)))
    for status in ["paused", "", None, "ACTIVE", "active'; --"]:
        cases.append((f"update: status {status!r}", InvalidInputError, update(status=status)))
        cases.append((f"create: status {status!r}", InvalidInputError, create(status=status)))
    bad_ids: list[object] = [
        "not-a-uuid",
        "",
        "'; drop table public.sessions; --",
        "00000000-0000-0000-0000-00000000000g",
        "x" * 10_000,
        42,
        None,
        b"\x00" * 16,
    ]
    for bad in bad_ids:
        for op, call in _id_calls(bad):
            cases.append((f"{op}: id {bad!r:.40}", InvalidInputError, call))
        if bad is not None:  # no id: the store makes one
            cases.append((f"create: id {bad!r:.40}", InvalidInputError, create(id=bad)))
    unknown = uuid.uuid4()
    cases += [
        ("delete: unknown session", NotFoundError, lambda w: w.store.delete(unknown)),
        ("history: unknown session", NotFoundError, lambda w: w.store.history(unknown)),
        ("rollback: unknown session", NotFoundError, lambda w: w.store.rollback(unknown, 1)),
        ("delete: someone else's", NotFoundError, lambda w: w.store.delete(w.theirs.id)),
        ("history: someone else's", NotFoundError, lambda w: w.store.history(w.theirs.id)),
        ("rollback: someone else's", NotFoundError, lambda w: w.store.rollback(w.theirs.id, 1)),
        (
            "update: someone else's",
            NotFoundError,
            lambda w: w.store.update(w.theirs.with_ir({"stolen": True})),
        ),
        ("update: give it away", PermissionDeniedError, update(user_id=uuid.uuid4())),
        (
            "create: for someone else",
            PermissionDeniedError,
            lambda w: w.store.create(NewSession(prompt="p", user_id=w.other)),
        ),
        (
            "create: an id that exists (someone else's)",
            InvalidInputError,
            lambda w: w.store.create(NewSession(prompt="p", id=w.theirs.id)),
        ),
        ("update: stale version", VersionConflictError, update(ir_version=1)),
        ("update: negative version", VersionConflictError, update(ir_version=-1)),
        ("rollback: version -1", NotFoundError, lambda w: w.store.rollback(w.mine.id, -1)),
        ("rollback: version 0", NotFoundError, lambda w: w.store.rollback(w.mine.id, 0)),
        ("rollback: version 2^40", InvalidInputError, lambda w: w.store.rollback(w.mine.id, 2**40)),
        ("rollback: version '1'", InvalidInputError, lambda w: w.store.rollback(w.mine.id, "1")),  # type: ignore[arg-type]
        ("rollback: version True", InvalidInputError, lambda w: w.store.rollback(w.mine.id, True)),
        (
            "rollback: expected version 2^40",
            InvalidInputError,
            lambda w: w.store.rollback(w.mine.id, 1, expected_version=2**40),
        ),
        (
            "rollback: expected version -1",
            InvalidInputError,
            lambda w: w.store.rollback(w.mine.id, 1, expected_version=-1),
        ),
        (
            "rollback: stale expected version",
            VersionConflictError,
            lambda w: w.store.rollback(w.mine.id, 1, expected_version=1),
        ),
        ("list: limit -1", InvalidInputError, lambda w: w.store.list_all(limit=-1)),
    ]
    cases += _sharing_cases() + _event_cases() + _embedding_cases()
    return cases


def _embedding_cases() -> list[tuple[str, type[StoreError], StoreCall]]:
    size = EMBEDDING_DIMENSIONS
    good = [0.1] * size

    def at_first(value: object) -> list[object]:
        return [value, *good[1:]]

    embeddings: list[tuple[str, object]] = [
        ("3 dimensions", [0.1, 0.2, 0.3]),
        ("one too many", [*good, 0.1]),
        ("empty", []),
        ("a string", "[0.1, 0.2]"),
        ("bytes", b"\x00" * size * 4),
        ("None", None),
        ("NaN", at_first(math.nan)),
        ("Infinity", at_first(math.inf)),
        ("beyond float4", at_first(1e39)),
        ("beyond float", at_first(10**400)),
        ("a bool", at_first(True)),
        ("a numeric string", at_first("0.1")),
        ("the zero vector", [0.0] * size),
    ]
    cases: list[tuple[str, type[StoreError], StoreCall]] = []
    for label, value in embeddings:
        cases += [
            (
                f"set_embedding: {label}",
                InvalidInputError,
                _with(
                    value, lambda w, e: w.store.set_embedding(w.mine.id, e, model="m", ir_version=1)
                ),
            ),
            (
                f"search_similar: {label}",
                InvalidInputError,
                _with(value, lambda w, e: w.store.search_similar(e)),
            ),
        ]
    for model in ["", "   ", "m" * 201, "a\x00b", "\udc00", None, 42]:
        cases.append(
            (
                f"set_embedding: model {model!r:.30}",
                InvalidInputError,
                _with(
                    model,
                    lambda w, m: w.store.set_embedding(w.mine.id, good, model=m, ir_version=1),
                ),
            )
        )
    for version in [0, -1, 2**31, True, "1", 1.0]:
        cases.append(
            (
                f"set_embedding: ir_version {version!r}",
                InvalidInputError,
                _with(
                    version,
                    lambda w, v: w.store.set_embedding(w.mine.id, good, model="m", ir_version=v),
                ),
            )
        )
    for limit in [0, 101, -1, True, "5", 2**40]:
        cases.append(
            (
                f"search_similar: limit {limit!r}",
                InvalidInputError,
                _with(limit, lambda w, n: w.store.search_similar(good, limit=n)),
            )
        )
    for threshold in [math.nan, math.inf, 2, -1.5, "0.5", True, None]:
        cases.append(
            (
                f"search_similar: min_similarity {threshold!r}",
                InvalidInputError,
                _with(threshold, lambda w, t: w.store.search_similar(good, min_similarity=t)),
            )
        )
    cases += [
        (
            "set_embedding: a version the session never had",
            NotFoundError,
            lambda w: w.store.set_embedding(w.mine.id, good, model="m", ir_version=99),
        ),
        (
            "set_embedding: someone else's session",
            NotFoundError,
            lambda w: w.store.set_embedding(w.theirs.id, good, model="m", ir_version=1),
        ),
        (
            "set_embedding: session 'x'",
            InvalidInputError,
            lambda w: w.store.set_embedding("x", good, model="m", ir_version=1),
        ),
        ("get_embedding: session 'x'", InvalidInputError, lambda w: w.store.get_embedding("x")),
    ]
    return cases


def _with(value: Any, call: Callable[[World, Any], object]) -> StoreCall:
    return lambda w: call(w, value)


def _sharing_cases() -> list[tuple[str, type[StoreError], StoreCall]]:
    cases: list[tuple[str, type[StoreError], StoreCall]] = []
    for role in ["owner", "admin", "", None, "VIEWER", "viewer'; --", 1]:
        cases.append(
            (
                f"share: role {role!r}",
                InvalidInputError,
                _with(role, lambda w, r: w.store.share(w.mine.id, w.other, r)),
            )
        )
    for bad in ["not-a-uuid", "", None, 42, "'; drop table public.session_shares; --"]:
        cases += [
            (
                f"share: user {bad!r}",
                InvalidInputError,
                _with(bad, lambda w, b: w.store.share(w.mine.id, b)),
            ),
            (
                f"share: session {bad!r}",
                InvalidInputError,
                _with(bad, lambda w, b: w.store.share(b, w.other)),
            ),
            (
                f"unshare: user {bad!r}",
                InvalidInputError,
                _with(bad, lambda w, b: w.store.unshare(w.mine.id, b)),
            ),
            (
                f"shares: session {bad!r}",
                InvalidInputError,
                _with(bad, lambda w, b: w.store.shares(b)),
            ),
        ]
    cases += [
        ("share: with oneself", InvalidInputError, lambda w: w.store.share(w.mine.id, w.user)),
        (
            "share: with nobody who exists",
            InvalidInputError,
            lambda w: w.store.share(w.mine.id, uuid.uuid4()),
        ),
        ("share: someone else's", NotFoundError, lambda w: w.store.share(w.theirs.id, w.other)),
        ("unshare: not shared", NotFoundError, lambda w: w.store.unshare(w.mine.id, w.other)),
        ("unshare: someone else's", NotFoundError, lambda w: w.store.unshare(w.theirs.id, w.user)),
        ("shares: someone else's", NotFoundError, lambda w: w.store.shares(w.theirs.id)),
        (
            "shared with me: limit -1",
            InvalidInputError,
            lambda w: w.store.list_shared_with_me(limit=-1),
        ),
        (
            "shared with me: limit '3'",
            InvalidInputError,
            lambda w: w.store.list_shared_with_me(limit="3"),  # type: ignore[arg-type]
        ),
        (
            "shared with me: as the service",
            InvalidInputError,
            lambda w: w.factory.service().list_shared_with_me(),
        ),
    ]
    return cases


def _event_cases() -> list[tuple[str, type[StoreError], StoreCall]]:
    cases: list[tuple[str, type[StoreError], StoreCall]] = []
    for event_type in ["", "A", "x" * 65, "bad type!", "a\x00b", "1st", None, 42, "é"]:
        cases.append(
            (
                f"record_event: type {event_type!r:.30}",
                InvalidInputError,
                _with(event_type, lambda w, t: w.store.record_event(t)),
            )
        )
    for label, data in [
        ("a list", [1]),
        ("NaN", {"x": math.nan}),
        ("101 levels", deep(101)),
        ("a NUL", {"x": "\x00"}),
        ("a lone surrogate", {"x": "\ud800"}),
        ("65 kB", {"x": "y" * 70_000}),
        ("a numeric prompt_type", {"prompt_type": 3}),
    ]:
        cases.append(
            (
                f"record_event: data {label}",
                InvalidInputError,
                _with(data, lambda w, d: w.store.record_event("probe", event_data=d)),
            )
        )
    for latency in [-1, 2**31, True, "5", 1.5]:
        cases.append(
            (
                f"record_event: latency {latency!r}",
                InvalidInputError,
                _with(latency, lambda w, v: w.store.record_event("probe", latency_ms=v)),
            )
        )
    cases += [
        (
            "record_event: someone else's session",
            NotFoundError,
            lambda w: w.store.record_event("probe", session_id=w.theirs.id),
        ),
        (
            "record_event: as someone else",
            PermissionDeniedError,
            lambda w: w.store.record_event("probe", user_id=w.other),
        ),
        (
            "record_event: session 'x'",
            InvalidInputError,
            lambda w: w.store.record_event("probe", session_id="x"),
        ),
        ("events: limit -1", InvalidInputError, lambda w: w.store.events(limit=-1)),
        ("events: session 'x'", InvalidInputError, lambda w: w.store.events(session_id="x")),
    ]
    return cases


def _id_calls(bad: Any) -> list[tuple[str, StoreCall]]:
    def get(w: World) -> object:
        return w.store.get(bad)

    def delete(w: World) -> object:
        w.store.delete(bad)
        return None

    def history(w: World) -> object:
        return w.store.history(bad)

    def rollback(w: World) -> object:
        return w.store.rollback(bad, 1)

    def for_user(w: World) -> object:
        return w.factory.for_user(bad)

    return [
        ("get", get),
        ("delete", delete),
        ("history", history),
        ("rollback", rollback),
        ("for_user", for_user),
    ]


STORE_CASES = _store_cases()


def test_the_store_refuses_hostile_values_with_typed_errors_and_changes_nothing(
    world: World,
) -> None:
    failures: list[str] = []
    before = snapshot(world.conn)
    for label, expected, call in STORE_CASES:
        try:
            call(world)
        except expected as exc:
            if not str(exc).strip():
                failures.append(f"{label}: {type(exc).__name__} without a message")
        except Exception as exc:
            failures.append(
                f"{label}: {type(exc).__name__} ({exc!s:.120}), not {expected.__name__}"
            )
        else:
            failures.append(f"{label}: accepted, expected {expected.__name__}")
        after = snapshot(world.conn)
        if after != before:
            failures.append(f"{label}: the database changed")
            before = after
    figures.add("hostile input: store calls tried", len(STORE_CASES))
    figures.add("hostile input: violations found", len(failures))
    assert failures == [], "\n".join(failures)


def test_sql_metacharacters_are_stored_verbatim_and_change_nothing_else(world: World) -> None:
    before = snapshot(world.conn)
    for text in SQL_METACHARACTERS:
        made = world.store.create(
            NewSession(
                prompt=text, current_ir={text: [text]}, holes=[text], change_description=text
            )
        )
        again = world.store.get(made.id)
        assert again == made
        assert (made.prompt, made.current_ir, made.holes) == (text, {text: [text]}, [text])
        assert world.store.history(made.id)[0].change_description == text
        world.store.delete(made.id)
    assert snapshot(world.conn) == before
    figures.add("hostile input: store calls tried", 4 * len(SQL_METACHARACTERS))


# -- every SQL function the API may execute ------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    label: str
    text: str | None  # sent as a text parameter cast to the argument's type
    acceptable: bool = False  # a value the function may legitimately take


def hostile_values(
    type_name: str, arg_name: str, has_default: bool, dimensions: int | None = None
) -> list[Hostile]:
    values = [Hostile("null", None, acceptable=has_default)]
    if type_name == "uuid":
        values += [
            Hostile("not a uuid", "not-a-uuid"),
            Hostile("empty", ""),
            Hostile("injection", "'); drop table public.sessions; --"),
            Hostile("bad digit", "00000000-0000-0000-0000-00000000000g"),
            Hostile("10 kB", "a" * 10_000),
            Hostile("unknown", str(uuid.uuid4())),
        ]
    elif type_name == "jsonb":
        values += [
            Hostile("array", "[1, 2]"),
            Hostile("string", '"ir"'),
            Hostile("number", "42"),
            Hostile("json null", "null"),
            Hostile("truncated", '{"a": '),
            Hostile("NaN", '{"a": NaN}'),
            Hostile("Infinity", '{"a": Infinity}'),
            Hostile("numeric overflow", '{"a": 1e999999}'),
            Hostile("NUL escape", '{"a": "\\u0000"}'),
            Hostile("lone surrogate escape", '{"a": "\\ud800"}'),
            Hostile("101 levels", '{"a": ' + "[" * 101 + "]" * 101 + "}"),
            Hostile("5,000 levels", '{"a": ' + "[" * 5_000 + "]" * 5_000 + "}"),
            Hostile("200,000 levels", '{"a": ' + "[" * 200_000 + "]" * 200_000 + "}"),
        ]
    elif type_name in ("integer", "bigint", "smallint"):
        values += [
            Hostile("NaN", "NaN"),
            Hostile("Infinity", "Infinity"),
            Hostile("-1", "-1"),
            Hostile("2^31", "2147483648"),
            Hostile("2^63", "9223372036854775808"),
            Hostile("fraction", "1.5"),
            Hostile("empty", ""),
            Hostile("injection", "1; drop table public.sessions"),
        ]
    elif type_name == "text":
        values += [
            Hostile("1,001 characters", "d" * 1_001, acceptable="description" not in arg_name),
            Hostile("5 MB", "d" * 5_000_000, acceptable="description" not in arg_name),
            *(Hostile(f"metacharacters {m!r}", m, acceptable=True) for m in SQL_METACHARACTERS),
        ]
    elif type_name.endswith("vector"):
        size = dimensions or 3
        values += [
            Hostile("NaN", "[NaN]"),
            Hostile("Infinity", "[Infinity]"),
            Hostile("empty", "[]"),
            Hostile("one dimension too few", vector(size - 1)),
            Hostile("one dimension too many", vector(size + 1)),
            Hostile("NaN in the right size", vector(size, first="NaN")),
            Hostile("Infinity in the right size", vector(size, first="-Infinity")),
            Hostile("beyond float4", vector(size, first="1e39")),
            Hostile("the zero vector", vector(size, fill="0")),
            Hostile("not a vector", "vector"),
        ]
    elif type_name in ("double precision", "real", "numeric"):
        values += [
            Hostile("NaN", "NaN"),
            Hostile("Infinity", "Infinity"),
            Hostile("-Infinity", "-Infinity"),
            Hostile("overflow", "1e999"),
            Hostile("out of range", "2"),
            Hostile("garbage", "'; garbage"),
        ]
    else:
        values.append(Hostile("garbage", "'; garbage"))
    return values


def vector(size: int, *, fill: str = "0.1", first: str | None = None) -> str:
    parts = [fill] * size
    if first is not None:
        parts[0] = first
    return "[" + ",".join(parts) + "]"


def vector_dimensions(conn: Conn) -> int | None:
    """The dimension of the app's vector columns (the type modifier), if any."""
    row = conn.execute(
        "select a.atttypmod from pg_attribute as a join pg_class as c on c.oid = a.attrelid"
        " where c.relnamespace = 'public'::regnamespace and a.atttypmod > 0"
        "   and a.atttypid = to_regtype('extensions.vector') limit 1"
    ).fetchone()
    return int(row[0]) if row else None


def baseline(function: Function, world: World) -> list[str | None]:
    """Arguments the function accepts, so that each hostile value is the only fault."""
    version = world.fresh().ir_version
    args: list[str | None] = []
    for type_name, name in zip(function.arg_types, function.arg_names, strict=False):
        if type_name == "uuid":
            args.append(str(world.mine.id))
        elif type_name == "jsonb":
            args.append('{"baseline": true}')
        elif type_name in ("integer", "bigint", "smallint"):
            args.append(str(version) if "expected" in name else "1")
        elif type_name == "text":
            args.append("baseline")
        elif type_name.endswith("vector"):
            args.append(vector(vector_dimensions(world.conn) or 3))
        elif type_name in ("double precision", "real", "numeric"):
            args.append("0")
        else:
            args.append(None)
    return args


def call_as_owner(
    conn: Conn, world: World, function: Function, args: list[str | bytes | None]
) -> psycopg.Error | None:
    placeholders = sql.SQL(", ").join(
        sql.SQL("{}::{}").format(sql.Placeholder(), sql.SQL(t)) for t in function.arg_types
    )
    query = sql.SQL("select {}({})").format(
        sql.Identifier(function.schema, function.name), placeholders
    )
    try:
        with as_role(conn, "authenticated", world.user):
            conn.execute(query, args)
    except psycopg.Error as exc:
        return exc
    return None


def api_functions(conn: Conn) -> list[Function]:
    present = [
        str(r[0])
        for r in conn.execute(
            "select nspname from pg_namespace where nspname = any(%s)", (list(EXPOSED_SCHEMAS),)
        ).fetchall()
    ]
    return [
        f
        for f in functions(conn, present)
        if f.kind == "f" and (executable(conn, "authenticated", f) or executable(conn, "anon", f))
    ]


def classify(exc: psycopg.Error) -> str | None:
    """None when the error is clear and typed; otherwise what is wrong with it."""
    mapped = map_error(exc)
    if not isinstance(mapped, TYPED):
        return f"untyped {exc.sqlstate}: {exc.diag.message_primary}"
    if not (exc.diag.message_primary or "").strip():
        return f"{exc.sqlstate} without a message"
    return None


def test_every_api_function_refuses_hostile_arguments(world: World) -> None:
    conn = world.conn
    offered = api_functions(conn)
    assert any(f.name == "update_session_ir" for f in offered)
    dimensions = vector_dimensions(conn)
    failures: list[str] = []
    tried = 0
    for function in offered:
        first_default = len(function.arg_types) - function.defaults
        for position, (type_name, name) in enumerate(
            zip(function.arg_types, function.arg_names, strict=False)
        ):
            hostile = hostile_values(type_name, name, position >= first_default, dimensions)
            for value in hostile:
                args: list[str | bytes | None] = list(baseline(function, world))
                args[position] = value.text
                before = snapshot(conn)
                error = call_as_owner(conn, world, function, args)
                tried += 1
                label = f"{function.signature} {name}={value.label}"
                if error is not None:
                    problem = classify(error)
                    if problem:
                        failures.append(f"{label}: {problem}")
                    if snapshot(conn) != before:
                        failures.append(f"{label}: refused, but the database changed")
                elif not value.acceptable:
                    failures.append(f"{label}: accepted")
                else:
                    after = snapshot(conn)
                    if (after.privileges, after.catalog) != (before.privileges, before.catalog):
                        failures.append(f"{label}: accepted and changed the catalog")
                    if history_violations(conn):
                        failures.append(f"{label}: accepted and broke a history")
    figures.add("hostile input: SQL function calls tried", tried)
    figures.add("hostile input: violations found", len(failures))
    assert failures == [], "\n".join(failures)


def test_invalid_utf8_on_the_wire_is_refused(world: World) -> None:
    """Bytes that are not UTF-8, sent raw in the statement as a client could send them."""
    before = snapshot(world.conn)
    raw = [b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\x80"]
    for blob in raw:
        for query in [
            b"select public.update_session_ir('%s'::uuid, '{\"a\": \"" % str(world.mine.id).encode()
            + blob
            + b"\"}'::jsonb)",
            b"select public.update_session_ir('%s'::uuid, '{}'::jsonb, null, '"
            % str(world.mine.id).encode()
            + blob
            + b"')",
        ]:
            with (
                pytest.raises(psycopg.Error) as caught,
                as_role(world.conn, "authenticated", world.user),
            ):
                world.conn.execute(query)
            assert classify(caught.value) is None, caught.value
    assert snapshot(world.conn) == before
    figures.add("hostile input: SQL function calls tried", 2 * len(raw))


def test_an_ir_nested_deeper_than_clients_can_read_is_refused_by_the_database(
    world: World,
) -> None:
    """PostgreSQL parses JSON nested thousands of levels deep, but Python's json (and so the
    session store and any Python client) cannot read it back beyond ~1,000 levels: one such row
    would break every listing that includes it. The database holds IR and metadata to the
    store's limit of 100 levels, whichever way they are written."""
    sid = world.mine.id
    too_deep = '{"a": ' + "[" * 2_000 + "]" * 2_000 + "}"
    writes = [
        ("update_session_ir", "select public.update_session_ir(%s, %s::jsonb)", (sid, too_deep)),
        (
            "PATCH current_ir",
            "update public.sessions set current_ir = %s::jsonb where id = %s",
            (too_deep, sid),
        ),
        (
            "PATCH metadata",
            "update public.sessions set metadata = %s::jsonb where id = %s",
            ('{"holes": [' + too_deep + "]}", sid),
        ),
        (
            "POST a session",
            "insert into public.sessions (prompt, current_ir) values ('deep', %s::jsonb)",
            (too_deep,),
        ),
    ]
    before = snapshot(world.conn)
    for label, statement, params in writes:
        with (
            pytest.raises(
                psycopg.errors.ProgramLimitExceeded, match="nested deeper than 100 levels"
            ),
            as_role(world.conn, "authenticated", world.user),
        ):
            world.conn.execute(statement, params)
        assert snapshot(world.conn) == before, label
    # The limit is the store's: 100 levels are fine, and read back.
    ok = world.store.update(world.fresh().with_ir(deep(99)))
    assert world.store.get(sid) == ok


# -- hypothesis ----------------------------------------------------------------------------------

POISON = st.sampled_from(
    [math.nan, math.inf, -math.inf, "\x00", "a\x00b", "\ud800", "x\udfffy", b"bytes", {1, 2}]
)
PLAIN = st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.text(max_size=20)


@st.composite
def poisoned_json(draw: st.DrawFn) -> dict[str, Any]:
    """A JSON-like object with one value (or key) no JSON column can hold, somewhere inside."""
    tree = draw(
        st.recursive(
            PLAIN,
            lambda kids: (
                st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=3)
            ),
            max_leaves=12,
        )
    )
    poison = draw(POISON)
    depth = draw(st.integers(0, 6))
    as_key = draw(st.booleans()) and isinstance(poison, str)
    node: Any = {poison: tree} if as_key else {"payload": [tree, poison]}
    for n in range(depth):
        node = {f"k{n}": node} if n % 2 else [node]
    return {"ir": node}


@settings(
    max_examples=FUZZ_EXAMPLES * 3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ir=poisoned_json(), where=st.sampled_from(["create", "update", "holes"]))
def test_fuzz_the_store_with_poisoned_json(world: World, ir: dict[str, Any], where: str) -> None:
    before = snapshot(world.conn)
    current = world.fresh()
    calls: dict[str, Callable[[], object]] = {
        "create": lambda: world.store.create(NewSession(prompt="fuzz", current_ir=ir)),
        "update": lambda: world.store.update(current.with_ir(ir)),
        "holes": lambda: world.store.update(replace(current, holes=[ir])),
    }
    with pytest.raises(InvalidInputError):
        calls[where]()
    assert snapshot(world.conn) == before
    figures.add("hostile input: fuzzed store calls", 1)


JSONISH = st.lists(
    st.sampled_from(
        ['{', '}', '[', ']', ',', ':', '"a"', '"\\u0000"', '"\\ud800"', "NaN", "Infinity",
         "-0", "1e999999", "1e-999999", "null", "true", "'", "\\", '"', "0x10", "01"]
    )
    | st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=4),
    max_size=30,
).map("".join)  # fmt: skip


@settings(
    max_examples=FUZZ_EXAMPLES * 5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=JSONISH | st.builds(lambda body: "{" + body + "}", JSONISH))
def test_fuzz_update_session_ir_with_near_json(world: World, text: str) -> None:
    """Whatever text arrives as `ir`, it is either a JSON object (stored exactly as parsed) or
    refused with a typed error and nothing written."""
    conn = world.conn
    sid = world.mine.id
    before = snapshot(conn)
    error = None
    try:
        with as_role(conn, "authenticated", world.user):
            conn.execute("select public.update_session_ir(%s, %s::jsonb)", (sid, text))
    except psycopg.Error as exc:
        error = exc
    figures.add("hostile input: fuzzed SQL function calls", 1)
    if error is not None:
        assert classify(error) is None, f"{text!r}: {classify(error)}"
        assert snapshot(conn) == before
        return
    with as_role(conn, "authenticated", world.user):
        row = conn.execute(
            "select current_ir = %s::jsonb, jsonb_typeof(%s::jsonb) from public.sessions"
            " where id = %s",
            (text, text, sid),
        ).fetchone()
    assert row == (True, "object"), f"{text!r} was stored as something else"
    assert history_violations(conn) == []
