-- Why: a client that loses the answer to a create (the connection dropped, the server restarted
-- or failed over mid-call) cannot know whether the session exists, and a plain retry would make
-- a second one. A create may now carry an idempotency key: the first create of a user with a
-- key makes the session, and every later create of that user with the same key finds it instead
-- (INSERT … ON CONFLICT DO NOTHING, then a read of the user's own row).
--
-- Keys are per user. The unique key leads with user_id, which a BEFORE INSERT trigger binds to
-- the caller before the conflict check (the rule of 20261130200000), so a key another user
-- chose never collides with the caller's, and proposing it reveals nothing: the caller's row
-- is either inserted or is the caller's own. The key is written once, at creation: API roles
-- may insert it and read it on their own rows (RLS), never update it. Its size is capped like
-- every API-writable column (private.column_limits; the insert below regenerates the check).

-- On a live project, wait briefly for locks and then fail, rather than queue behind traffic.
set lock_timeout = '5s';
set statement_timeout = '60s';

alter table public.sessions add column idempotency_key text;

comment on column public.sessions.idempotency_key is
'Chosen by the client at creation so that a retried create returns the first session; unique '
'per user, never updated.';

-- No existing row has a key, so the partial index is empty and builds in one scan; migrations
-- run in a transaction, where CREATE INDEX CONCURRENTLY cannot.
-- squawk-ignore require-concurrent-index-creation
create unique index sessions_user_id_idempotency_key_key
on public.sessions using btree (user_id, idempotency_key)
where idempotency_key is not null;

grant select (idempotency_key), insert (idempotency_key) on table public.sessions
to authenticated;
grant select (idempotency_key), insert (idempotency_key), update (idempotency_key)
on table public.sessions to service_role;

insert into private.column_limits (table_schema, table_name, column_name, max_bytes, max_depth)
values ('public', 'sessions', 'idempotency_key', 200, null);

-- A guard (100-199 in docs/migrations.md); the name sorts before the older sessions_check_limits,
-- so the caller's key is checked first.
create trigger sessions_100_key_belongs_to_caller
before insert on public.sessions
for each row execute function private.require_caller_key('user_id:caller');
