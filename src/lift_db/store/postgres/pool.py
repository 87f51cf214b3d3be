"""Connection-pool settings of the Postgres stores, from arguments or the environment.

An app in a container (Modal, Cloud Run, …) keeps a small pool per process, in front of
Supabase's transaction pooler (port 6543), which multiplexes every process's connections onto a
few server connections:

- `min_size` (LIFT_DB_POOL_MIN_SIZE, default 1): connections opened at start and kept; 1 makes
  a cold start cheap.
- `max_size` (LIFT_DB_POOL_MAX_SIZE, 8): the most concurrent calls per process; more wait.
- `max_lifetime` (LIFT_DB_POOL_MAX_LIFETIME, 1800 s): a connection is replaced after this, so
  none outlives a pooler restart or a DNS change for long.
- `max_idle` (LIFT_DB_POOL_MAX_IDLE, 300 s): idle connections above min_size close after this.
- `timeout` (LIFT_DB_POOL_TIMEOUT, 30 s): how long a call waits for a connection before
  StoreUnavailableError.
- `check` (LIFT_DB_POOL_CHECK, false): test each connection as it is taken out of the pool.
- `slow_statement_ms` (LIFT_DB_SLOW_STATEMENT_MS, 500): statements slower than this are logged
  as warnings on the `lift_db.store` logger.
- `prepare` (LIFT_DB_POOL_PREPARE, `auto`): server-side prepared statements. `auto` prepares
  the store's statements on a connection that reaches PostgreSQL itself and none through a
  pooler; `always` and `never` decide for every connection.

`check` costs a round trip on every call; leave it off when the app is the only thing that can
break its connections and turn it on where connections die silently (idle timeouts of a NAT or
load balancer shorter than max_idle).

A prepared statement is parsed, analysed and planned once per connection; only its parameters
travel afterwards. That planning is most of what Row Level Security costs a short statement
(the policies' `(select auth.uid())` and shared-access halves are planned with it), so on a
direct connection preparing removes most of the policies' price (measured in
docs/performance.md). A transaction-mode pooler hands each transaction whichever server
connection is free, where a statement prepared on another one does not exist: Supavisor's
transaction mode refuses them, PgBouncer before 1.21 too. `auto` tells a direct connection
without configuration: a pooler answers a connection with a backend key of its own, so the
process id the connection was given is not the one the server reports (`pg_backend_pid()`);
then nothing is prepared, in a pooler's session mode too. `always` is for a pooler known to keep
a client's prepared statements: Supavisor's session mode, or PgBouncer 1.22+ with
`max_prepared_statements` (earlier versions mishandle the `DEALLOCATE ALL` psycopg sends after
every rolled-back transaction).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from lift_db.store.errors import StoreError

ENV_PREFIX = "LIFT_DB_POOL_"
SLOW_STATEMENT_ENV = "LIFT_DB_SLOW_STATEMENT_MS"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
PREPARE_CHOICES = ("auto", "always", "never")


@dataclass(frozen=True)
class PoolSettings:
    min_size: int = 1
    max_size: int = 8
    max_lifetime: float = 1800.0
    max_idle: float = 300.0
    timeout: float = 30.0
    check: bool = False
    slow_statement_ms: float = 500.0
    prepare: str = "auto"

    def __post_init__(self) -> None:
        if not 0 <= self.min_size <= self.max_size or self.max_size < 1:
            raise StoreError(
                f"pool sizes must satisfy 0 <= min_size <= max_size, max_size >= 1; got "
                f"min_size={self.min_size}, max_size={self.max_size}"
            )
        for name in ("max_lifetime", "max_idle", "timeout"):
            if not getattr(self, name) > 0:
                raise StoreError(f"pool setting {name} must be more than 0 seconds")
        if not self.slow_statement_ms >= 0:
            raise StoreError("slow_statement_ms must be 0 or more")
        if self.prepare not in PREPARE_CHOICES:
            raise StoreError(
                f"pool setting prepare must be one of {', '.join(PREPARE_CHOICES)}; "
                f"got {self.prepare!r}"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PoolSettings:
        """Defaults, overridden by LIFT_DB_POOL_<NAME> and LIFT_DB_SLOW_STATEMENT_MS."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = ENV_PREFIX + f.name.upper()
            if f.name == "slow_statement_ms":
                key = SLOW_STATEMENT_ENV
            raw = env.get(key, "").strip()
            if raw:
                values[f.name] = _parse(key, raw, type(f.default))
        return cls(**values)

    def with_overrides(self, **overrides: float | int | bool | str | None) -> PoolSettings:
        """These settings with every argument that is not None replacing its field."""
        given: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, **given) if given else self


def _parse(key: str, raw: str, kind: type) -> int | float | bool | str:
    if kind is str:
        return raw.lower()
    try:
        if kind is bool:
            lowered = raw.lower()
            if lowered not in _TRUE | _FALSE:
                raise ValueError(raw)
            return lowered in _TRUE
        if kind is int:
            return int(raw)
        return float(raw)
    except ValueError:
        raise StoreError(f"{key}={raw!r} is not a valid {kind.__name__}") from None
