-- Why: pgvector backs semantic search over IRs. Supabase keeps every extension in schema
-- `extensions`, out of the API's `public`. UUIDs come from core gen_random_uuid(), so neither
-- pgcrypto nor uuid-ossp is needed.
create extension if not exists vector with schema extensions;
