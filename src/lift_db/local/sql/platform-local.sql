-- Logins of the local server only: the Supabase CLI's local stack has the same roles with the
-- same known password, and the local server listens on the loopback interface alone. Applied
-- after platform.sql by `lift-db` on its own server, never on a database named by --db-url.

-- `postgres` owns the app's objects but is not a superuser: a migration that needs superuser
-- fails here as it would on the platform.
alter role postgres nosuperuser createdb createrole login replication bypassrls
  password 'postgres';
alter role authenticator login password 'postgres';
alter role supabase_auth_admin login;
