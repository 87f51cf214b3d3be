-- Why: the API accepted an IR or metadata nested thousands of levels deep. PostgreSQL stores
-- such a document, but clients cannot read it back: Python's json (and with it the session
-- store) gives up beyond about 1,000 levels, so a single such row broke every read that
-- included it, service-wide listings too. The store already refuses more than 100 levels; now
-- the database holds every writer (PATCH, RPC, direct SQL) to the same limit. The history
-- copies current_ir, so it inherits the bound.
--
-- jsonb_path_exists(doc, 'strict $.**{101}') is true when some value sits 101 levels below the
-- root; the walk stops at that depth, so the check costs at most one pass over the document.

-- On a live project, wait briefly for locks (auth.users, referenced tables) and then fail, rather
-- than queue behind traffic and block it; the file rolls back whole and can simply be re-run.
-- Session-level on purpose: the CLI pipelines a file without a transaction block, where SET
-- LOCAL does nothing, and both the CLI and lift-db run RESET ALL between files.
set lock_timeout = '5s';
set statement_timeout = '60s';

-- Added NOT VALID: new writes are checked at once, and the existing rows are validated by the
-- next migration, in its own transaction, so that this one holds its lock only for an instant.
alter table public.sessions
  add constraint sessions_current_ir_depth
  check (not jsonb_path_exists(current_ir, 'strict $.**{101}')) not valid;

alter table public.sessions
  add constraint sessions_metadata_depth
  check (not jsonb_path_exists(metadata, 'strict $.**{101}')) not valid;
