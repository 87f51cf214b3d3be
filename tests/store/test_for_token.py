"""for_token: verify a Supabase access token, then act with its role and complete claims, as
PostgREST does; a refused token raises AuthenticationError before any query runs."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, cast

import jwt
import pytest

from lift_db.store import (
    AsyncPostgresSessionStore,
    AuthenticationError,
    InMemorySessionStore,
    NewSession,
    PermissionDeniedError,
    PostgresSessionStore,
    SessionStoreFactory,
    TokenVerifier,
    make_store,
)
from lift_db.store.postgres._base import Operation, Steps, one
from lift_db.store.postgres.store import PostgresSessionView
from tests.conftest import run_lift_db
from tests.store.conftest import Blocking, EventLoopThread, database_url

SECRET = "a-test-secret-of-at-least-thirty-two-characters"
ADA = uuid.UUID("a0da0da0-0000-4000-8000-000000000001")


def token(user: uuid.UUID | None, secret: str = SECRET, **over: Any) -> str:
    claims: dict[str, Any] = {
        "sub": str(user),
        "role": "authenticated",
        "aud": "authenticated",
        "exp": int(time.time()) + 600,
        "email": f"{user}@store.test",
        "app_metadata": {"provider": "email", "tier": "pro"},
        "session_id": str(uuid.uuid4()),
    }
    if user is None:
        claims = {"iss": "supabase-demo", "role": "anon", "exp": int(time.time()) + 600}
    claims.update(over)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, "HS256")


@pytest.fixture(scope="module")
def pg_tokens() -> Iterator[PostgresSessionStore]:
    store = PostgresSessionStore(
        database_url(), max_size=2, verifier=TokenVerifier(jwt_secret=SECRET)
    )
    yield store
    store.close()


@pytest.fixture(scope="module")
def async_tokens(event_loop_thread: EventLoopThread) -> Iterator[AsyncPostgresSessionStore]:
    store = event_loop_thread.run(
        AsyncPostgresSessionStore.connect(
            database_url(), max_size=2, verifier=TokenVerifier(jwt_secret=SECRET)
        )
    )
    yield store
    event_loop_thread.run(store.close())


@pytest.fixture(params=["memory", "postgres", "async"])
def factory(
    request: pytest.FixtureRequest, auth_users: Callable[[], uuid.UUID]
) -> Iterator[tuple[SessionStoreFactory, Callable[[], uuid.UUID]]]:
    if request.param == "memory":
        memory = InMemorySessionStore(verifier=TokenVerifier(jwt_secret=SECRET))
        yield memory, memory.add_user
    elif request.param == "postgres":
        yield request.getfixturevalue("pg_tokens"), auth_users
    else:
        loop = request.getfixturevalue("event_loop_thread")
        blocking = Blocking(request.getfixturevalue("async_tokens"), loop)
        yield cast(SessionStoreFactory, blocking), auth_users


def database_identity(view: object) -> tuple[str, dict[str, Any], str | None]:
    """What the database sees inside one of the view's transactions."""
    assert isinstance(view, PostgresSessionView)

    def steps() -> Steps[tuple[str, dict[str, Any], str | None]]:
        row = yield one(
            "select current_user::text, current_setting('request.jwt.claims'), auth.uid()::text"
        )
        return row[0], json.loads(row[1]), row[2]

    return view._run(Operation("identity", steps))


def test_a_users_token_acts_with_its_role_and_complete_claims(
    pg_tokens: PostgresSessionStore, auth_users: Callable[[], uuid.UUID]
) -> None:
    uid = auth_users()
    access_token = token(uid)
    view = pg_tokens.for_token(access_token)
    role, claims, acting = database_identity(view)
    assert role == "authenticated"
    assert claims == jwt.decode(access_token, SECRET, ["HS256"], audience="authenticated")
    assert claims["app_metadata"] == {"provider": "email", "tier": "pro"}
    assert acting == str(uid)


def test_an_anon_token_acts_as_anon(pg_tokens: PostgresSessionStore) -> None:
    role, claims, acting = database_identity(pg_tokens.for_token(token(None)))
    assert (role, claims["role"], acting) == ("anon", "anon", None)


def test_a_token_user_owns_what_they_create_and_sees_no_one_elses(
    factory: tuple[SessionStoreFactory, Callable[[], uuid.UUID]],
) -> None:
    store, new_user = factory
    ann_id, bob_id = new_user(), new_user()
    ann, bob = store.for_token(token(ann_id)), store.for_token(token(bob_id))
    made = ann.create(NewSession(prompt="ann's"))
    assert made.user_id == ann_id
    assert bob.get(made.id) is None
    assert [s.id for s in ann.list_all()] == [made.id]
    assert store.for_user(ann_id).get(made.id) == made


def test_an_anonymous_caller_is_refused_sessions(
    factory: tuple[SessionStoreFactory, Callable[[], uuid.UUID]],
) -> None:
    """anon has no privilege on the store's tables: the database refuses it (42501)."""
    store, new_user = factory
    owned = store.for_user(new_user()).create(NewSession(prompt="someone's"))
    anon = store.for_token(token(None))
    with pytest.raises(PermissionDeniedError):
        anon.get(owned.id)
    with pytest.raises(PermissionDeniedError):
        anon.list_all()
    with pytest.raises(PermissionDeniedError, match="anonymous caller"):
        anon.create(NewSession(prompt="mine?"))


REFUSED: dict[str, tuple[Callable[[uuid.UUID], str], str]] = {
    "expired": (lambda uid: token(uid, exp=int(time.time()) - 5), "expired"),
    "not yet valid": (lambda uid: token(uid, nbf=int(time.time()) + 600), "not_yet_valid"),
    "wrong secret": (
        lambda uid: token(uid, secret="another-secret-of-thirty-two-characters"),
        "bad_signature",
    ),
    "forged payload": (
        lambda uid: ".".join(
            [token(uid).split(".")[0], token(uuid.uuid4()).split(".")[1], token(uid).split(".")[2]]
        ),
        "bad_signature",
    ),
    "service_role": (lambda uid: token(uid, role="service_role"), "forbidden_role"),
    "unsigned": (
        lambda uid: jwt.encode({"sub": str(uid), "role": "authenticated"}, "", "none"),
        "bad_algorithm",
    ),
    "other audience": (lambda uid: token(uid, aud="somebody-else"), "bad_audience"),
    "not a token": (lambda uid: "not-a-token", "malformed"),
}


@pytest.mark.parametrize("kind", ["postgres", "async"])
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_refused_token_is_an_authentication_error_and_runs_no_query(
    case: str,
    kind: str,
    request: pytest.FixtureRequest,
    auth_users: Callable[[], uuid.UUID],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_token, reason = REFUSED[case]
    bad = make_token(auth_users())
    store = request.getfixturevalue("pg_tokens" if kind == "postgres" else "async_tokens")

    def no_connection(*args: object, **kwargs: object) -> None:
        raise AssertionError("a connection was taken for a refused token")

    monkeypatch.setattr(store._pool, "getconn", no_connection)
    monkeypatch.setattr(store._pool, "connection", no_connection)
    with pytest.raises(AuthenticationError) as refused:
        store.for_token(bad)
    assert refused.value.reason == reason


@pytest.mark.parametrize("kind", ["memory", "postgres"])
def test_a_store_without_keys_refuses_every_token(kind: str) -> None:
    env = {"USE_SUPABASE": "false"} if kind == "memory" else {"DATABASE_URL": database_url()}
    store = make_store(env)
    try:
        with pytest.raises(AuthenticationError, match="verifies no tokens") as refused:
            store.for_token(token(uuid.uuid4()))
        assert refused.value.reason == "unconfigured"
    finally:
        store.close()


def status_value(stdout: str, label: str) -> str:
    [line] = [line for line in stdout.splitlines() if line.startswith(f"{label}: ")]
    return line.removeprefix(f"{label}: ")


@pytest.mark.usefixtures("local_server")
def test_the_local_stacks_tokens_verify_with_the_keys_status_prints() -> None:
    """`lift-db status` prints what `supabase status` does; its JWT secret, given to the store
    through the environment, verifies the tokens `lift-db token` mints for the local stack."""
    status = run_lift_db("status")
    assert status.returncode == 0, status.stderr
    secret = status_value(status.stdout, "JWT secret")
    anon_key = status_value(status.stdout, "anon key")
    service_key = status_value(status.stdout, "service_role key")
    assert jwt.decode(anon_key, secret, ["HS256"])["role"] == "anon"
    assert jwt.decode(service_key, secret, ["HS256"])["role"] == "service_role"
    minted = run_lift_db("token", "--user", "ada@demo.lift-sys.dev")
    assert minted.returncode == 0, minted.stderr

    store = make_store(
        {"DATABASE_URL": status_value(status.stdout, "DB URL"), "SUPABASE_JWT_SECRET": secret}
    )
    try:
        ada = store.for_token(minted.stdout.strip())
        sessions = ada.list_all()
        assert sessions
        assert {s.user_id for s in sessions} == {ADA}
        with pytest.raises(PermissionDeniedError):
            store.for_token(anon_key).list_all()
        with pytest.raises(AuthenticationError) as refused:
            store.for_token(service_key)
        assert refused.value.reason == "forbidden_role"
    finally:
        store.close()


def test_a_token_signed_with_the_projects_signing_keys_verifies_through_its_jwks(
    auth_users: Callable[[], uuid.UUID],
) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    public.update(kid="project-1", alg="ES256", use="sig")
    uid = auth_users()
    claims = jwt.decode(token(uid), SECRET, ["HS256"], audience="authenticated")
    signed = jwt.encode(claims, private, algorithm="ES256", headers={"kid": "project-1"})
    store = make_store({"DATABASE_URL": database_url()}, jwks={"keys": [public]})
    try:
        made = store.for_token(signed).create(NewSession(prompt="signed with ES256"))
        assert made.user_id == uid
        with pytest.raises(AuthenticationError) as refused:
            store.for_token(token(uid))  # HS256, and this store has no secret
        assert refused.value.reason == "unknown_key"
    finally:
        store.close()


def test_the_sub_setting_always_repeats_the_claims_own_sub(
    pg_tokens: PostgresSessionStore, auth_users: Callable[[], uuid.UUID]
) -> None:
    """auth.uid() reads `request.jwt.claim.sub` before the claims; the store sets it from the
    very claims it sets, so the two can never name different users (none: empty)."""
    uid = auth_users()

    def seen(view: object) -> tuple[str, str | None, str | None]:
        assert isinstance(view, PostgresSessionView)

        def steps() -> Steps[tuple[str, str | None, str | None]]:
            row = yield one(
                "select current_setting('request.jwt.claim.sub'),"
                " current_setting('request.jwt.claims')::jsonb ->> 'sub', auth.uid()::text"
            )
            return row[0], row[1], row[2]

        return view._run(Operation("sub", steps))

    assert seen(pg_tokens.for_token(token(uid))) == (str(uid), str(uid), str(uid))
    assert seen(pg_tokens.for_user(uid)) == (str(uid), str(uid), str(uid))
    assert seen(pg_tokens.for_token(token(None))) == ("", None, None)
    assert seen(pg_tokens.service()) == ("", None, None)


def test_a_sub_left_on_the_connection_never_speaks_for_the_caller(
    auth_users: Callable[[], uuid.UUID],
) -> None:
    """A session-level `request.jwt.claim.sub` (left by anything that shared the connection, as
    a pooler's other clients do) would come first in auth.uid(); the store's own, set for each
    transaction, replaces it."""
    alice, bob = auth_users(), auth_users()
    with PostgresSessionStore(database_url(), min_size=1, max_size=1) as store:
        with store._pool.connection() as conn:
            conn.execute("select set_config('request.jwt.claim.sub', %s, false)", (str(bob),))
        mine = store.for_user(alice).create(NewSession(user_id=alice, prompt="alice's"))
        assert mine.user_id == alice
        _, _, acting = database_identity(store.for_user(alice))
        assert acting == str(alice)
