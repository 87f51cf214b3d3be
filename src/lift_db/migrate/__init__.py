"""The migration runner: `supabase/migrations/*.sql` applied as `supabase db push` applies them.

Public modules:
- `runner`: applies migration files with their history and checksums, under an advisory lock;
- `commands`: what `lift-db migrate` and `lift-db reset` do to a target database;
- `lockfile`: `supabase/migrations.lock`, every migration with its checksum (`lift-db lock`);
- `new_migration`: `lift-db new NAME`, a new migration file with the project's header.
"""
