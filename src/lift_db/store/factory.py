"""Pick the session store from the environment, as lift-sys's rollback plan asks.

`USE_SUPABASE=false` selects the in-memory fallback (sessions do not survive a restart);
otherwise `DATABASE_URL` names the PostgreSQL database (for example the Supabase pooler URL).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from lift_db.store.errors import StoreError
from lift_db.store.memory import InMemorySessionStore
from lift_db.store.postgres import PostgresSessionStore
from lift_db.store.protocol import SessionStoreFactory

_FALSE = {"0", "false", "no", "off"}


def make_store(env: Mapping[str, str] | None = None) -> SessionStoreFactory:
    env = os.environ if env is None else env
    use_db = env.get("USE_SUPABASE", "true").strip().lower() not in _FALSE
    if not use_db:
        return InMemorySessionStore()
    url = env.get("DATABASE_URL", "").strip()
    if not url:
        raise StoreError(
            "DATABASE_URL is not set: set it to the database URL, or set USE_SUPABASE=false "
            "for the in-memory store"
        )
    return PostgresSessionStore(url)
