"""The PostgreSQL stores: sync on ConnectionPool, async on AsyncConnectionPool, one set of
operations (`_base`), statements (`queries`), row mappers (`rows`) and SQLSTATE mapping
(`sqlstate`)."""

from lift_db.store.postgres.pool import PoolSettings
from lift_db.store.postgres.store import PostgresSessionStore, PostgresSessionView

__all__ = ["PoolSettings", "PostgresSessionStore", "PostgresSessionView"]
