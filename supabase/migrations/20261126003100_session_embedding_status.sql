-- Why: an embedding describes the IR it was computed from; once the session's IR moves on, search
-- ranks the session by an IR it no longer has. That must be visible, to the app (to show it or to
-- re-embed) and to an embedding job (service_role: which embeddings to recompute). This view puts
-- each embedding next to its session's current IR version. It is security_invoker, so it shows
-- exactly the embeddings and sessions the caller may read: their RLS applies as if queried
-- directly.

-- On a live project, wait briefly for locks (auth.users, referenced tables) and then fail, rather
-- than queue behind traffic and block it; the file rolls back whole and can simply be re-run.
-- Session-level on purpose: the CLI pipelines a file without a transaction block, where SET
-- LOCAL does nothing, and both the CLI and lift-db run RESET ALL between files.
set lock_timeout = '5s';
set statement_timeout = '60s';

create view public.session_embedding_status
with (security_invoker = true)
as
select
  e.session_id,
  e.model,
  e.ir_version,
  s.ir_version as current_ir_version,
  e.created_at,
  e.updated_at,
  e.ir_version <> s.ir_version as is_stale
from public.session_embeddings as e
inner join public.sessions as s on e.session_id = s.id;

comment on view public.session_embedding_status is
  'Each readable embedding with its session''s current IR version; is_stale: the IR has changed '
  'since the embedding was computed.';

-- API access: read-only, for those who may read the underlying rows. anon gets nothing.
revoke all on table public.session_embedding_status from anon, authenticated, service_role;
grant select on table public.session_embedding_status to authenticated, service_role;
