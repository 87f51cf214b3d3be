"""Every SQL statement the Postgres store sends: literal text, values only as parameters.

Keeping them whole here (no string building anywhere) is what guarantees that no value is ever
interpolated into SQL, and lets a reviewer read the store's entire database surface at once.
"""

from __future__ import annotations

from typing import LiteralString

# What PostgREST does at the start of every request: the role, the claims, and the role's own
# settings (ROLE_SETTINGS: statement_timeout and the like, which a role gets only at login
# otherwise), each for this transaction alone. The claims' `sub` is also set on its own, as
# `request.jwt.claim.sub`, which auth.uid() reads before the claims: the JSON is then parsed
# once here rather than each time a policy, a trigger or a check evaluates auth.uid() (an
# update through RLS evaluates it about seven times). Parameters: role, claims, claims again,
# setting names, setting values.
ACT_AS: LiteralString = """
select set_config('role', %s, true),
       set_config('request.jwt.claims', %s, true),
       set_config('request.jwt.claim.sub', coalesce(%s::jsonb ->> 'sub', ''), true),
       (select count(set_config(s.name, s.value, true))
          from unnest(%s::text[], %s::text[]) as s (name, value))
"""

# Which server process serves the connection: compared with the one the connection was given, to
# tell a direct connection from one through a pooler (PoolSettings.prepare = auto).
SERVER_PID: LiteralString = "select pg_catalog.pg_backend_pid()"

# The settings ALTER ROLE … SET gave a role (this database's over every database's), limited to
# those any user may set. Read once per store and role, as PostgREST reads them at startup.
ROLE_SETTINGS: LiteralString = """
select split_part(c.setting, '=', 1) as name,
       substr(c.setting, strpos(c.setting, '=') + 1) as value
  from pg_catalog.pg_db_role_setting as s
 cross join lateral unnest(s.setconfig) with ordinality as c (setting, position)
  join pg_catalog.pg_settings as p on p.name = split_part(c.setting, '=', 1)
 where s.setrole = (select r.oid from pg_catalog.pg_roles as r where r.rolname = %s)
   and s.setdatabase in (
     0, (select d.oid from pg_catalog.pg_database as d where d.datname = current_database())
   )
   and p.context = 'user'
 order by s.setdatabase, c.position
"""

SET_CHANGE_DESCRIPTION: LiteralString = "select set_config('lift.change_description', %s, true)"

# The database generates the id: API roles may not propose a key value (one that collided with a
# row they cannot see would let INSERT … ON CONFLICT read or lock that row), so the id comes back
# through RETURNING.
CREATE_SESSION: LiteralString = """
insert into public.sessions (user_id, prompt, status, current_ir, metadata)
values (coalesce(%s, auth.uid()), %s, %s, %s, %s)
returning id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
"""

# service_role only (it reads every row anyway): a caller-chosen id, for imports and restores.
CREATE_SESSION_WITH_ID: LiteralString = """
insert into public.sessions (id, user_id, prompt, status, current_ir, metadata)
values (%s, %s, %s, %s, %s, %s)
returning id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
"""

GET_SESSION: LiteralString = """
select id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
  from public.sessions
 where id = %s
"""

LOCK_SESSION: LiteralString = """
select id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
  from public.sessions
 where id = %s
   for update
"""

# One UPDATE per call, never two: a second UPDATE of a row the transaction already changed
# re-checks the row's foreign key (FOR KEY SHARE on the owner's profile), and a writer that holds
# the session and then waits for the profile deadlocks with an account deletion, which holds
# the profile and waits for the session. The row lock of LOCK_SESSION makes the version check
# and this write one step, as update_session_ir does.
UPDATE_FIELDS: LiteralString = """
update public.sessions
   set prompt = %s, status = %s, metadata = %s
 where id = %s
returning id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
"""

# An editor writes the IR alone (the owner's fields are the owner's).
UPDATE_IR: LiteralString = """
update public.sessions
   set current_ir = %s
 where id = %s
returning id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
"""

# Assigning current_ir is what writes a version (and its history row, with the description of
# SET_CHANGE_DESCRIPTION).
UPDATE_FIELDS_AND_IR: LiteralString = """
update public.sessions
   set prompt = %s, status = %s, metadata = %s, current_ir = %s
 where id = %s
returning id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
"""

# Null parameters switch a filter off; the planner sees their values (unnamed statements are
# planned per execution), so the (user_id, status, created_at) index still serves the query.
# The explicit owner filter spares the policy from running on every row.
# Sessions with no owner filter of the store's own: every user's for service_role (it bypasses
# RLS), what the policies show for a token's anon or other role. A status of null means any;
# run with CUSTOM_PLANS, so that a prepared statement is planned for the status it is given.
LIST_SESSIONS: LiteralString = """
select id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
  from public.sessions
 where (%(status)s::text is null or status = %(status)s::text)
 order by created_at desc, id desc
 limit %(limit)s
"""

# A user's own sessions, one statement per filter, so that a prepared statement's generic plan
# (made once per connection, for any parameters) can use the index that matches it.
LIST_OWN_SESSIONS: LiteralString = """
select id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
  from public.sessions
 where user_id = %s
 order by created_at desc, id desc
 limit %s
"""

LIST_OWN_SESSIONS_BY_STATUS: LiteralString = """
select id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
  from public.sessions
 where user_id = %s
   and status = %s
 order by created_at desc, id desc
 limit %s
"""

# The select policy's owner half, `user_id = (select auth.uid())`, and the list's own
# `user_id = $1` are one condition, but the planner multiplies their selectivities, expects
# one row, and ORs the policy's halves into a bitmap scan of every session the user owns or
# was shared, sorted afterwards (measured 2.1x the same list without RLS at 100,000 sessions).
# Without bitmap scans it walks the (user_id[, status], created_at) index in order and stops at
# the page's end; the shared half is then never evaluated for the user's own rows. For this
# transaction only: a list with no owner filter needs the bitmap scan for the shared half.
OWN_LIST_SETTINGS: tuple[tuple[str, str], ...] = (("enable_bitmapscan", "off"),)

# For a statement whose null parameters switch a filter off (`%s is null or …`): one generic
# plan would have to serve every combination and could use no index for any; plan each call.
CUSTOM_PLANS: tuple[tuple[str, str], ...] = (("plan_cache_mode", "force_custom_plan"),)

# API roles have no table-level DELETE (it would let them LOCK whole tables): a signed-in user
# deletes through the schema's functions, which apply the delete policies' rules and fail alike
# for a missing row and one the caller cannot see (PT404). service_role deletes directly.
DELETE_SESSION: LiteralString = "select public.delete_session(%s)"

SERVICE_DELETE_SESSION: LiteralString = "delete from public.sessions where id = %s returning id"

SESSION_EXISTS: LiteralString = "select 1 from public.sessions where id = %s"

HISTORY: LiteralString = """
select session_id, version, ir_snapshot, change_description, created_at, author_id
  from public.session_history
 where session_id = %s
 order by version
"""

ROLLBACK: LiteralString = """
select id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
  from public.rollback_session(%s, %s, %s, %s)
"""

# The embedding travels as pgvector's text form. An embedding computed from an older IR version
# than the stored one is refused by the database (PT409), so a late writer cannot replace it.
SET_EMBEDDING: LiteralString = """
insert into public.session_embeddings (session_id, embedding, model, ir_version)
values (%s, %s::extensions.vector, %s, %s)
on conflict (session_id) do update
   set embedding = excluded.embedding, model = excluded.model, ir_version = excluded.ir_version
"""

GET_EMBEDDING: LiteralString = """
select session_id, model, ir_version, current_ir_version, created_at, updated_at
  from public.session_embedding_status
 where session_id = %s
"""

SEARCH_SIMILAR: LiteralString = """
select session_id, similarity, is_stale
  from public.match_sessions(%s::extensions.vector, %s, %s)
"""

# The caller's standing on a session it can see: its owner, and the caller's share role if any.
# No row: the session does not exist for the caller.
SESSION_ACCESS: LiteralString = """
select s.user_id,
       (select sh.role
          from public.session_shares as sh
         where sh.session_id = s.id
           and sh.user_id = auth.uid()) as share_role
  from public.sessions as s
 where s.id = %s
"""

SHARE: LiteralString = """
insert into public.session_shares (session_id, user_id, role)
values (%s, %s, %s)
on conflict (session_id, user_id) do update set role = excluded.role
returning session_id, user_id, role, created_at, updated_at
"""

# The owner revokes any share; a grantee removes their own (leaves the session).
UNSHARE: LiteralString = "select public.delete_session_share(%s, %s)"

SERVICE_UNSHARE: LiteralString = """
delete from public.session_shares
 where session_id = %s
   and user_id = %s
returning user_id
"""

SHARES: LiteralString = """
select session_id, user_id, role, created_at, updated_at
  from public.session_shares
 where session_id = %s
 order by created_at, user_id
"""

LIST_SHARED_WITH_ME: LiteralString = """
select s.id, s.user_id, s.prompt, s.status, s.current_ir, s.ir_version, s.metadata, s.created_at,
       s.updated_at
  from public.sessions as s
  join public.session_shares as sh on sh.session_id = s.id
 where sh.user_id = auth.uid()
 order by s.created_at desc, s.id desc
 limit %s
"""

RECORD_EVENT: LiteralString = """
insert into public.analytics_events (session_id, user_id, event_type, event_data, latency_ms)
values (%s, coalesce(%s, auth.uid()), %s, %s, %s)
returning id, session_id, user_id, event_type, event_data, latency_ms, created_at
"""

# Null parameters switch its filters off: run with CUSTOM_PLANS.
LIST_EVENTS: LiteralString = """
select id, session_id, user_id, event_type, event_data, latency_ms, created_at
  from public.analytics_events
 where (%(user_id)s::uuid is null or user_id = %(user_id)s::uuid)
   and (%(session_id)s::uuid is null or session_id = %(session_id)s::uuid)
 order by created_at desc, id desc
 limit %(limit)s
"""

# With an idempotency key: the first create of an owner with the key inserts; a later one (a
# retry) inserts nothing and FIND_BY_IDEMPOTENCY_KEY returns the first session. The key's owner
# column is bound to the caller before the conflict check, so only the caller's own rows can
# conflict.
CREATE_SESSION_ONCE: LiteralString = """
insert into public.sessions (user_id, prompt, status, current_ir, metadata, idempotency_key)
values (coalesce(%s, auth.uid()), %s, %s, %s, %s, %s)
on conflict (user_id, idempotency_key) where idempotency_key is not null do nothing
returning id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
"""

CREATE_SESSION_WITH_ID_ONCE: LiteralString = """
insert into public.sessions (id, user_id, prompt, status, current_ir, metadata, idempotency_key)
values (%s, %s, %s, %s, %s, %s, %s)
on conflict (user_id, idempotency_key) where idempotency_key is not null do nothing
returning id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
"""

FIND_BY_IDEMPOTENCY_KEY: LiteralString = """
select id, user_id, prompt, status, current_ir, ir_version, metadata, created_at, updated_at
  from public.sessions
 where user_id = coalesce(%s, auth.uid())
   and idempotency_key = %s
"""

# Where the primary's WAL ends once a write committed: a replica that replayed this far shows
# the write (read-your-writes). Read after the commit, so the commit record lies before it.
WAL_INSERT_POSITION: LiteralString = "select pg_catalog.pg_current_wal_insert_lsn()::text as lsn"

# How far a standby has replayed (null on a primary).
REPLAYED_POSITION: LiteralString = "select pg_catalog.pg_last_wal_replay_lsn()::text as lsn"
