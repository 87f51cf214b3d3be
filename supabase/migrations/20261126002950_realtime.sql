-- Why: collaborators watch a session change while someone else edits it. Supabase Realtime
-- streams a table's changes to subscribers when the table belongs to publication
-- supabase_realtime; it checks each change against the subscriber's RLS (SELECT policies), so a
-- user is sent changes of sessions, history and comments they may read, and nothing else.
--
-- Replica identity stays DEFAULT (the primary key) on all three, on purpose:
--   * With RLS enabled, Realtime sends only the primary key in `old` records anyway, so FULL
--     would buy subscribers nothing.
--   * FULL would write the whole old row, large IR JSON included, to the WAL on every update and
--     delete of a session: more WAL and replication traffic for data no one receives.
--   * Realtime does not filter DELETE events by RLS. With DEFAULT, a delete carries only the
--     primary key (a random uuid, or session_id and version), never a prompt, IR or comment body.
--   * session_history is append-only: its updates and deletes (cascades) need no old values.
-- The cost, accepted: subscription filters on DELETE events can only use primary-key columns;
-- clients that track comments of a session match deletes by comment id.
-- analytics_events stays out: it is write-heavy and nobody watches it live.

-- On a live project, wait briefly for locks and then fail, rather than queue behind traffic and
-- block it; the file rolls back whole and can simply be re-run. Session-level on purpose: the CLI
-- pipelines a file without a transaction block, where SET LOCAL does nothing, and both the CLI
-- and lift-db run RESET ALL between files.
set lock_timeout = '5s';
set statement_timeout = '60s';

-- Stated, not changed: every one of them has a primary key and already uses it.
alter table public.sessions replica identity default;
alter table public.session_history replica identity default;
alter table public.comments replica identity default;

alter publication supabase_realtime add table public.sessions, public.session_history,
  public.comments;
