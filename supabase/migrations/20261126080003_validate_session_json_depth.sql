-- Why: the previous migration added the JSON depth checks NOT VALID, so that adding them took
-- only a brief lock. Validating them here scans existing sessions under a lock that lets reads
-- and writes go on; a row deeper than 100 levels fails this migration and names the constraint,
-- to be fixed (rolled back to a readable version) before it is run again.

-- On a live project, wait briefly for locks (auth.users, referenced tables) and then fail, rather
-- than queue behind traffic and block it; the file rolls back whole and can simply be re-run.
-- Session-level on purpose: the CLI pipelines a file without a transaction block, where SET
-- LOCAL does nothing, and both the CLI and lift-db run RESET ALL between files.
set lock_timeout = '5s';
set statement_timeout = '60s';

alter table public.sessions validate constraint sessions_current_ir_depth;

alter table public.sessions validate constraint sessions_metadata_depth;
