"""Pick the session store from the environment, as lift-sys's rollback plan asks.

`USE_SUPABASE=false` selects the in-memory fallback (sessions do not survive a restart);
otherwise `DATABASE_URL` names the PostgreSQL database (for example the Supabase pooler URL).
The pool takes its settings from `LIFT_DB_POOL_*` (see lift_db.store.postgres.pool). To act as
the user of an access token (`for_token`), the store needs the project's JWT secret
(`SUPABASE_JWT_SECRET`, for HS256 tokens) and/or its signing keys (`SUPABASE_JWKS`: the JWKS URL
`https://<project>.supabase.co/auth/v1/.well-known/jwks.json`, or a JSON file), or the same as
arguments.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lift_db.store._log import logger
from lift_db.store.errors import StoreError
from lift_db.store.memory import InMemorySessionStore
from lift_db.store.postgres import PoolSettings, PostgresSessionStore
from lift_db.store.protocol import SessionStoreFactory
from lift_db.store.tokens import TokenVerifier

_FALSE = {"0", "false", "no", "off"}
JWT_SECRET_ENV = "SUPABASE_JWT_SECRET"  # noqa: S105 (the variable's name, not a secret)
JWKS_ENV = "SUPABASE_JWKS"
Jwks = Mapping[str, Any] | str | Path


def make_store(
    env: Mapping[str, str] | None = None,
    *,
    jwt_secret: str | None = None,
    jwks: Jwks | None = None,
    settings: PoolSettings | None = None,
) -> SessionStoreFactory:
    """The store the environment asks for. Arguments win over the environment."""
    env = os.environ if env is None else env
    verifier = token_verifier(env, jwt_secret=jwt_secret, jwks=jwks)
    if not use_database(env):
        logger.warning("USE_SUPABASE is off: sessions are kept in memory and lost on exit")
        return InMemorySessionStore(verifier=verifier)
    return PostgresSessionStore(
        database_url(env), settings=settings or PoolSettings.from_env(env), verifier=verifier
    )


def use_database(env: Mapping[str, str]) -> bool:
    return env.get("USE_SUPABASE", "true").strip().lower() not in _FALSE


def database_url(env: Mapping[str, str]) -> str:
    url = env.get("DATABASE_URL", "").strip()
    if not url:
        raise StoreError(
            "DATABASE_URL is not set: set it to the database URL, or set USE_SUPABASE=false "
            "for the in-memory store"
        )
    return url


def token_verifier(
    env: Mapping[str, str], *, jwt_secret: str | None = None, jwks: Jwks | None = None
) -> TokenVerifier | None:
    """A verifier for the configured secret and keys; None when neither is configured (then
    for_token refuses every token)."""
    secret = jwt_secret or env.get(JWT_SECRET_ENV, "").strip() or None
    keys = jwks if jwks is not None else (env.get(JWKS_ENV, "").strip() or None)
    if secret is None and keys is None:
        return None
    return TokenVerifier(jwt_secret=secret, jwks=keys)
