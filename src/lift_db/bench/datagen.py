"""Set-based generation of the benchmark's data, straight into the schema the migrations built.

Every value is a pure function of a row number (`bench.u(i, salt)` hashes it), so a run at a
given scale always produces the same rows and any slice of them can be generated on its own:
that is what lets the generator work in chunks and report progress, with no per-row round trip.

Shape of the data (the default scale in brackets):
- users [1,000]: inserted into auth.users as Supabase Auth does; the migration's trigger creates
  their public.users profiles.
- sessions [100,000]: owners follow a power law (user k of n owns a share close to
  (k/n)^(2/3) - ((k-1)/n)^(2/3); the head user holds about 1% at the default scale, the median
  user about 84 sessions); status 50% active, 35% finalized, 15% abandoned; created over the past
  365 days; 1 to 9 IR versions each (uniform, mean 5).
- session_shares (when sharing exists): 5% of sessions, each with one other user, 70% viewers
  and 30% editors.
- session_history [500,000]: every version of every session, the last equal to the session's
  current IR. IRs are 0.5 to 1 kB JSON objects shaped like lift-sys IRs (intent, entities with
  fields and relations, constraints, holes).

Sessions and their history are loaded with triggers off (`session_replication_role = replica`,
local superuser): the rows are exactly those the versioning triggers would have written, and
writing 500,000 versions through 400,000 UPDATEs would take longer than every measurement.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, LiteralString

from lift_db.bench.database import BenchDatabase, Conn, one
from lift_db.bench.progress import Progress
from lift_db.bench.scale import Scale

# A fixed "now" keeps generated timestamps identical from run to run.
ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)
CHUNKS = 10

HELPERS: LiteralString = r"""
create schema if not exists bench;
grant usage on schema bench to postgres, authenticated, service_role;
-- The app's role reads what the benchmark builds here (query vectors, copies).
alter default privileges in schema bench grant select on tables to postgres;

-- Uniform in [0, 1), a pure function of (row number, salt).
create or replace function bench.u(i bigint, salt bigint) returns double precision
language sql immutable parallel safe
as $$ select (pg_catalog.hashint8extended(i, salt) & 2147483647)::float8 / 2147483648.0 $$;

create or replace function bench.user_uuid(k bigint) returns uuid
language sql immutable parallel safe
as $$ select md5('lift-bench-user-' || k)::uuid $$;

create or replace function bench.session_uuid(i bigint) returns uuid
language sql immutable parallel safe
as $$ select md5('lift-bench-session-' || i)::uuid $$;

-- Power-law owners: user 1 is the heaviest.
create or replace function bench.owner_of(i bigint, users integer) returns integer
language sql immutable parallel safe
as $$ select 1 + least(users - 1, floor(users * power(bench.u(i, 1), 1.5))::integer) $$;

create or replace function bench.versions_of(i bigint, max_versions integer) returns integer
language sql immutable parallel safe
as $$ select 1 + floor(max_versions * bench.u(i, 2))::integer $$;

create or replace function bench.status_of(i bigint) returns text
language sql immutable parallel safe
as $$
  select case when bench.u(i, 3) < 0.50 then 'active'
              when bench.u(i, 3) < 0.85 then 'finalized'
              else 'abandoned' end
$$;

create or replace function bench.created_of(i bigint, anchor timestamptz) returns timestamptz
language sql immutable parallel safe
as $$ select anchor - interval '365 days' * bench.u(i, 4) $$;

create or replace function bench.synthetic_prompt(i bigint) returns text
language sql immutable parallel safe
as $$
  select format(
    'Build a %s where %s can %s, with %s and a weekly summary for the team lead (#%s).',
    (array['task tracker', 'invoice generator', 'recipe planner', 'support desk',
           'inventory manager', 'booking system', 'habit tracker', 'expense report tool'])
      [1 + (i % 8)::integer],
    (array['freelancers', 'small teams', 'students', 'clinic staff', 'shop owners'])
      [1 + ((i / 8) % 5)::integer],
    (array['create and assign items', 'approve requests', 'share boards',
           'import spreadsheets', 'track deadlines', 'export reports'])
      [1 + ((i / 40) % 6)::integer],
    (array['email reminders', 'role-based access', 'an audit log', 'CSV export',
           'a calendar view', 'offline mode', 'dark mode'])[1 + ((i / 240) % 7)::integer],
    i)
$$;

create or replace function bench.synthetic_ir(i bigint, v integer) returns jsonb
language sql immutable parallel safe
as $$
  select jsonb_build_object(
    'ir_schema', 'lift-ir/1',
    'intent', (array['task tracker', 'invoice generator', 'recipe planner', 'support desk',
                     'inventory manager', 'booking system', 'habit tracker',
                     'expense report tool'])[1 + (i % 8)::integer],
    'revision', v,
    'entities', (
      select jsonb_agg(jsonb_build_object(
        'name', (array['User', 'Project', 'Task', 'Invoice', 'Item', 'Order', 'Comment', 'Tag',
                       'Booking', 'Payment'])[1 + ((i + e) % 10)::integer],
        'fields', jsonb_build_array('id', 'created_at', 'name', 'status',
                                    'field_' || ((i * 31 + e * 7 + v) % 101)),
        'relations', jsonb_build_array(
          jsonb_build_object('to', 'User', 'kind', 'many_to_one', 'required', e % 2 = 0))))
        from generate_series(1, 2 + ((i + v) % 4)::integer) as e),
    'constraints', jsonb_build_array('owners edit their own items',
                                     'names are unique per project'),
    'holes', jsonb_build_array(jsonb_build_object(
      'id', 'h' || v, 'kind', 'type', 'question', 'Which currency should totals use?')))
$$;
"""

USERS: LiteralString = """
insert into auth.users (instance_id, id, aud, role, email, raw_app_meta_data, raw_user_meta_data,
                        created_at, updated_at, last_sign_in_at)
select '00000000-0000-0000-0000-000000000000', bench.user_uuid(k), 'authenticated',
       'authenticated', format('user%%s@bench.lift-sys.dev', k),
       '{"provider": "email", "providers": ["email"]}',
       jsonb_build_object('full_name', format('Bench User %%s', k)),
       %(anchor)s - interval '400 days', %(anchor)s - interval '1 day',
       %(anchor)s - interval '1 day'
  from generate_series(1, %(users)s::integer) as k
"""

SESSIONS: LiteralString = """
insert into public.sessions (id, user_id, prompt, status, ir_version, current_ir, metadata,
                             created_at, updated_at)
select bench.session_uuid(i), bench.user_uuid(bench.owner_of(i, %(users)s)),
       bench.synthetic_prompt(i), bench.status_of(i), x.nv, bench.synthetic_ir(i, x.nv),
       '{"holes": [], "assists": []}', x.c, x.c + x.nv * interval '7 minutes'
  from generate_series(%(lo)s::bigint, %(hi)s::bigint) as i,
       lateral (select bench.versions_of(i, %(max_versions)s) as nv,
                       bench.created_of(i, %(anchor)s) as c) as x
"""

HISTORY: LiteralString = """
insert into public.session_history (session_id, version, ir_snapshot, change_description,
                                    created_at)
select bench.session_uuid(i), v, bench.synthetic_ir(i, v),
       case when v = 1 then 'first IR' else format('refinement %%s', v) end,
       bench.created_of(i, %(anchor)s) + v * interval '7 minutes'
  from generate_series(%(lo)s::bigint, %(hi)s::bigint) as i,
       generate_series(1, bench.versions_of(i, %(max_versions)s)) as v
"""

# 5% of sessions are shared with one other user (70% viewer, 30% editor), where sharing exists.
SHARES: LiteralString = """
insert into public.session_shares (session_id, user_id, role, created_at, updated_at)
select bench.session_uuid(i),
       bench.user_uuid(1 + (bench.owner_of(i, %(users)s) - 1
                            + 1 + floor((%(users)s - 1) * bench.u(i, 41))::integer) %% %(users)s),
       case when bench.u(i, 42) < 0.7 then 'viewer' else 'editor' end,
       bench.created_of(i, %(anchor)s) + interval '1 day',
       bench.created_of(i, %(anchor)s) + interval '1 day'
  from generate_series(1, %(sessions)s::bigint) as i
 where bench.u(i, 40) < 0.05
"""

COUNTS: LiteralString = """
select (select count(*) from public.users),
       (select count(*) from public.sessions),
       (select count(*) from public.session_history)
"""


@dataclass(frozen=True)
class CoreData:
    users: int
    sessions: int
    history: int
    shares: int | None = None  # None: the schema has no sharing

    def as_dict(self) -> dict[str, int]:
        out = {"users": self.users, "sessions": self.sessions, "history_rows": self.history}
        if self.shares is not None:
            out["session_shares"] = self.shares
        return out


def chunks(total: int, parts: int = CHUNKS) -> Iterator[tuple[int, int]]:
    """Inclusive 1-based ranges covering 1..total in at most `parts` pieces."""
    size = max(1, -(-total // parts))
    for lo in range(1, total + 1, size):
        yield lo, min(total, lo + size - 1)


def install_helpers(conn: Conn) -> None:
    with conn.transaction():
        conn.execute(HELPERS)


def generate_core(db: BenchDatabase, scale: Scale, progress: Progress) -> CoreData:
    params: dict[str, Any] = {
        "anchor": ANCHOR,
        "users": scale.users,
        "max_versions": scale.max_versions,
    }
    with db.connect(admin=True) as conn:
        install_helpers(conn)
        with conn.transaction():
            conn.execute(USERS, params)
        progress.say(f"users: {scale.users:,} (profiles by the auth trigger)")
        # Triggers off for the bulk load: the rows are the ones the triggers would write.
        conn.execute("set session_replication_role = replica")
        for what, statement, total in (
            ("sessions", SESSIONS, scale.sessions),
            ("history of sessions", HISTORY, scale.sessions),
        ):
            for lo, hi in chunks(total):
                with conn.transaction():
                    conn.execute(statement, {**params, "lo": lo, "hi": hi})
                progress.step(what, hi, total)
        shares: int | None = None
        if one(conn, "select pg_catalog.to_regclass('public.session_shares') is not null")[0]:
            if scale.users > 1:
                with conn.transaction():
                    conn.execute(SHARES, {**params, "sessions": scale.sessions})
            shares = int(one(conn, "select count(*) from public.session_shares")[0])
            progress.say(f"session shares: {shares:,}")
            conn.execute("vacuum (analyze) public.session_shares")
        conn.execute("reset session_replication_role")
        conn.execute("vacuum (analyze) auth.users, public.users")
        conn.execute("vacuum (analyze) public.sessions, public.session_history")
        row = one(conn, COUNTS)
    data = CoreData(users=int(row[0]), sessions=int(row[1]), history=int(row[2]), shares=shares)
    progress.say(
        f"loaded {data.users:,} users, {data.sessions:,} sessions, {data.history:,} history rows"
    )
    return data
