-- Demo data for local development (`lift-db reset`, `supabase db reset`). Never deployed.
--
-- Two users who can sign in on a local Supabase stack with the password `lift-sys-demo`:
--   ada@demo.lift-sys.dev    three sessions (active, finalized, abandoned)
--   grace@demo.lift-sys.dev  two sessions, one of them rolled back
-- Ada shares her Fibonacci session with Grace (viewer) and her log parser (editor); they comment
-- on it, cache a repository or two, keep preferences and leave analytics events behind.
-- They are inserted as Supabase Auth (GoTrue) inserts them: a user row, then an email identity.
-- Their profiles in public.users come from the database's own trigger, and every IR version below
-- goes through public.update_session_ir / rollback_session, so the histories are exactly what
-- the app would have produced.

insert into auth.users (
  instance_id, id, aud, role, email, encrypted_password, email_confirmed_at, confirmation_token,
  recovery_token, email_change, raw_app_meta_data, raw_user_meta_data, created_at, updated_at,
  last_sign_in_at
) values
  (
    '00000000-0000-0000-0000-000000000000', 'a0da0da0-0000-4000-8000-000000000001',
    'authenticated', 'authenticated', 'ada@demo.lift-sys.dev',
    '$2a$10$Ajmyf6Ge8n33PHY7nhzqeOn16AlCxSd/SmCU2vcWbbcM6UYbOoSWi', now(), '', '', '',
    '{"provider": "email", "providers": ["email"]}',
    '{"sub": "a0da0da0-0000-4000-8000-000000000001", "email": "ada@demo.lift-sys.dev",
      "email_verified": true, "phone_verified": false, "full_name": "Ada Demo"}',
    now() - interval '14 days', now() - interval '1 day', now() - interval '1 day'
  ),
  (
    '00000000-0000-0000-0000-000000000000', 'a0da0da0-0000-4000-8000-000000000002',
    'authenticated', 'authenticated', 'grace@demo.lift-sys.dev',
    '$2a$10$Ajmyf6Ge8n33PHY7nhzqeOn16AlCxSd/SmCU2vcWbbcM6UYbOoSWi', now(), '', '', '',
    '{"provider": "email", "providers": ["email"]}',
    '{"sub": "a0da0da0-0000-4000-8000-000000000002", "email": "grace@demo.lift-sys.dev",
      "email_verified": true, "phone_verified": false, "full_name": "Grace Demo"}',
    now() - interval '7 days', now() - interval '2 hours', now() - interval '2 hours'
  );

-- Auth on the platform reads these token columns as strings; NULL makes sign-in fail. They
-- exist only on a real stack, so they are set where present.
do $$
declare
  token_column text;
begin
  foreach token_column in array array['email_change_token_new', 'email_change_token_current',
                                      'phone_change', 'phone_change_token',
                                      'reauthentication_token']
  loop
    if exists (
      select from information_schema.columns as c
       where c.table_schema = 'auth' and c.table_name = 'users' and c.column_name = token_column
    ) then
      execute format(
        'update auth.users set %1$I = coalesce(%1$I, %2$L) where id in (%3$L, %4$L)',
        token_column, '', 'a0da0da0-0000-4000-8000-000000000001',
        'a0da0da0-0000-4000-8000-000000000002'
      );
    end if;
  end loop;
end
$$;

insert into auth.identities (
  provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at
)
select
  u.id::text as provider_id,
  u.id as user_id,
  jsonb_build_object(
    'sub', u.id::text, 'email', u.email, 'email_verified', true, 'phone_verified', false
  ) as identity_data,
  'email' as provider,
  u.last_sign_in_at,
  u.created_at,
  u.updated_at
from auth.users as u
where u.id in ('a0da0da0-0000-4000-8000-000000000001', 'a0da0da0-0000-4000-8000-000000000002');

-- Sessions. created_at is spread over the past days so that "newest first" means something.
-- Version 1 of each IR takes its description from the setting the history trigger reads.
select set_config('lift.change_description', 'first draft from the prompt', true);
insert into public.sessions (id, user_id, prompt, status, current_ir, metadata, created_at) values
  (
    '5e550000-0000-4000-8000-00000000a001', 'a0da0da0-0000-4000-8000-000000000001',
    'Write a function that returns the n-th Fibonacci number, fast for n up to 10,000.',
    'active',
    '{"intent": {"summary": "Compute the n-th Fibonacci number"},
      "signature": {"name": "fibonacci", "parameters": [{"name": "n", "type": "int"}],
                    "returns": "int"},
      "effects": [], "assertions": []}',
    '{"holes": [{"id": "H1", "kind": "constraint", "question": "Is n ever negative?"}],
      "assists": []}',
    now() - interval '3 days'
  ),
  (
    '5e550000-0000-4000-8000-00000000a002', 'a0da0da0-0000-4000-8000-000000000001',
    'Parse ISO-8601 dates from a log file and count entries per day.',
    'active',
    '{"intent": {"summary": "Count log entries per day"},
      "signature": {"name": "entries_per_day", "parameters": [{"name": "path", "type": "str"}],
                    "returns": "dict[date, int]"},
      "effects": ["reads file"], "assertions": []}',
    '{"holes": [], "assists": [{"kind": "example", "text": "2026-11-26T10:00:00Z"}]}',
    now() - interval '10 days'
  ),
  (
    '5e550000-0000-4000-8000-00000000a003', 'a0da0da0-0000-4000-8000-000000000001',
    'A tiny key-value store with expiry.',
    'active',
    '{"intent": {"summary": "In-memory key-value store"},
      "signature": {"name": "KVStore", "parameters": [], "returns": "KVStore"},
      "effects": [], "assertions": []}',
    '{}',
    now() - interval '12 days'
  ),
  (
    '5e550000-0000-4000-8000-00000000b001', 'a0da0da0-0000-4000-8000-000000000002',
    'Validate that a string is a well-formed email address.',
    'active',
    '{"intent": {"summary": "Validate email addresses"},
      "signature": {"name": "is_valid_email", "parameters": [{"name": "s", "type": "str"}],
                    "returns": "bool"},
      "effects": [], "assertions": []}',
    '{"holes": [{"id": "H1", "kind": "policy", "question": "Accept quoted local parts?"}],
      "assists": []}',
    now() - interval '5 days'
  ),
  (
    '5e550000-0000-4000-8000-00000000b002', 'a0da0da0-0000-4000-8000-000000000002',
    'Merge two sorted lists into one sorted list.',
    'active',
    '{"intent": {"summary": "Merge sorted lists"},
      "signature": {"name": "merge", "parameters": [{"name": "a", "type": "list[int]"},
                                                    {"name": "b", "type": "list[int]"}],
                    "returns": "list[int]"},
      "effects": [], "assertions": []}',
    '{}',
    now() - interval '1 day'
  );
select set_config('lift.change_description', '', true);

-- Ada's Fibonacci session: three refinements, still active.
select public.update_session_ir(
  '5e550000-0000-4000-8000-00000000a001',
  '{"intent": {"summary": "Compute the n-th Fibonacci number"},
    "signature": {"name": "fibonacci", "parameters": [{"name": "n", "type": "int"}],
                  "returns": "int"},
    "effects": [], "assertions": ["n >= 0"]}',
  1, 'resolve H1: n is never negative'
);
select public.update_session_ir(
  '5e550000-0000-4000-8000-00000000a001',
  '{"intent": {"summary": "Compute the n-th Fibonacci number in O(log n)"},
    "signature": {"name": "fibonacci", "parameters": [{"name": "n", "type": "int"}],
                  "returns": "int"},
    "effects": [], "assertions": ["n >= 0", "fibonacci(0) == 0", "fibonacci(1) == 1"]}',
  2, 'add base cases; ask for logarithmic time'
);
select public.update_session_ir(
  '5e550000-0000-4000-8000-00000000a001',
  '{"intent": {"summary": "Compute the n-th Fibonacci number in O(log n)"},
    "signature": {"name": "fibonacci", "parameters": [{"name": "n", "type": "int"}],
                  "returns": "int"},
    "effects": [],
    "assertions": ["n >= 0", "n <= 10000", "fibonacci(0) == 0", "fibonacci(1) == 1"]}',
  3, 'bound n at 10,000'
);
update public.sessions set metadata = '{"holes": [], "assists": []}'
 where id = '5e550000-0000-4000-8000-00000000a001';

-- Ada's log parser: two versions, finalized.
select public.update_session_ir(
  '5e550000-0000-4000-8000-00000000a002',
  '{"intent": {"summary": "Count log entries per UTC day"},
    "signature": {"name": "entries_per_day", "parameters": [{"name": "path", "type": "str"}],
                  "returns": "dict[date, int]"},
    "effects": ["reads file"], "assertions": ["days are UTC"]}',
  1, 'days are counted in UTC'
);
update public.sessions set status = 'finalized'
 where id = '5e550000-0000-4000-8000-00000000a002';

-- Ada's key-value store: abandoned after one change.
select public.update_session_ir(
  '5e550000-0000-4000-8000-00000000a003',
  '{"intent": {"summary": "In-memory key-value store with per-key expiry"},
    "signature": {"name": "KVStore", "parameters": [], "returns": "KVStore"},
    "effects": ["reads clock"], "assertions": []}',
  1, 'add expiry'
);
update public.sessions set status = 'abandoned'
 where id = '5e550000-0000-4000-8000-00000000a003';

-- Grace's validator: a detour, then a rollback to version 2.
select public.update_session_ir(
  '5e550000-0000-4000-8000-00000000b001',
  '{"intent": {"summary": "Validate email addresses (RFC 5321 subset)"},
    "signature": {"name": "is_valid_email", "parameters": [{"name": "s", "type": "str"}],
                  "returns": "bool"},
    "effects": [], "assertions": ["quoted local parts are rejected"]}',
  1, 'resolve H1: reject quoted local parts'
);
select public.update_session_ir(
  '5e550000-0000-4000-8000-00000000b001',
  '{"intent": {"summary": "Validate email addresses and check the domain resolves"},
    "signature": {"name": "is_valid_email", "parameters": [{"name": "s", "type": "str"}],
                  "returns": "bool"},
    "effects": ["network"], "assertions": ["quoted local parts are rejected"]}',
  2, 'try a DNS check'
);
select public.rollback_session(
  '5e550000-0000-4000-8000-00000000b001', 2, 3, 'rollback to version 2: no network access'
);
update public.sessions set metadata = '{"holes": [], "assists": []}'
 where id = '5e550000-0000-4000-8000-00000000b001';

-- Grace's merge: one refinement, finalized.
select public.update_session_ir(
  '5e550000-0000-4000-8000-00000000b002',
  '{"intent": {"summary": "Merge sorted lists, keeping duplicates"},
    "signature": {"name": "merge", "parameters": [{"name": "a", "type": "list[int]"},
                                                  {"name": "b", "type": "list[int]"}],
                  "returns": "list[int]"},
    "effects": [], "assertions": ["len(result) == len(a) + len(b)"]}',
  1, 'keep duplicates'
);
update public.sessions set status = 'finalized'
 where id = '5e550000-0000-4000-8000-00000000b002';

-- Collaboration: Ada shares two sessions with Grace, and they discuss the Fibonacci IR.
insert into public.session_shares (session_id, user_id, role) values
  ('5e550000-0000-4000-8000-00000000a001', 'a0da0da0-0000-4000-8000-000000000002', 'viewer'),
  ('5e550000-0000-4000-8000-00000000a002', 'a0da0da0-0000-4000-8000-000000000002', 'editor');
insert into public.comments (session_id, version, author_id, body) values
  ('5e550000-0000-4000-8000-00000000a001', 2, 'a0da0da0-0000-4000-8000-000000000002',
   'Is O(log n) worth it below n = 10,000? Fast doubling is simple enough, I suppose.'),
  ('5e550000-0000-4000-8000-00000000a001', 4, 'a0da0da0-0000-4000-8000-000000000001',
   'Bounded n at 10,000 so the result fits what callers expect.'),
  ('5e550000-0000-4000-8000-00000000a001', null, 'a0da0da0-0000-4000-8000-000000000002',
   'Looks ready to finalize to me.');

-- Repositories, favourites and preferences.
insert into public.repositories (id, user_id, owner, name, default_branch, is_private, metadata)
values
  ('4e900000-0000-4000-8000-00000000a001', 'a0da0da0-0000-4000-8000-000000000001', 'ada-lab',
   'analytical-engine', 'main', true, '{"language": "Python", "stargazers_count": 3}'),
  ('4e900000-0000-4000-8000-00000000a002', 'a0da0da0-0000-4000-8000-000000000001', 'python',
   'cpython', 'main', false, '{"language": "Python", "stargazers_count": 65000}'),
  ('4e900000-0000-4000-8000-00000000b001', 'a0da0da0-0000-4000-8000-000000000002', 'grace-lab',
   'compiler', 'trunk', true, '{"language": "COBOL", "stargazers_count": 1}');
insert into public.favourite_repositories (user_id, repository_id) values
  ('a0da0da0-0000-4000-8000-000000000001', '4e900000-0000-4000-8000-00000000a001');
insert into public.user_preferences (user_id, settings) values
  ('a0da0da0-0000-4000-8000-000000000001',
   '{"theme": "dark", "default_repository": "ada-lab/analytical-engine"}'),
  ('a0da0da0-0000-4000-8000-000000000002', '{"theme": "light"}');

-- Analytics: IR generations with their latency, and how sessions ended.
insert into public.analytics_events (session_id, user_id, event_type, event_data, latency_ms,
                                     created_at)
values
  ('5e550000-0000-4000-8000-00000000a001', 'a0da0da0-0000-4000-8000-000000000001', 'ir_generated',
   '{"prompt_type": "function"}', 1840, now() - interval '3 days'),
  ('5e550000-0000-4000-8000-00000000a002', 'a0da0da0-0000-4000-8000-000000000001', 'ir_generated',
   '{"prompt_type": "data_processing"}', 2410, now() - interval '10 days'),
  ('5e550000-0000-4000-8000-00000000a002', 'a0da0da0-0000-4000-8000-000000000001',
   'session_finalized', '{"prompt_type": "data_processing"}', null, now() - interval '9 days'),
  ('5e550000-0000-4000-8000-00000000a003', 'a0da0da0-0000-4000-8000-000000000001',
   'session_abandoned', '{"prompt_type": "class"}', null, now() - interval '11 days'),
  ('5e550000-0000-4000-8000-00000000b001', 'a0da0da0-0000-4000-8000-000000000002', 'ir_generated',
   '{"prompt_type": "function"}', 960, now() - interval '5 days'),
  ('5e550000-0000-4000-8000-00000000b002', 'a0da0da0-0000-4000-8000-000000000002',
   'session_finalized', '{"prompt_type": "function"}', null, now() - interval '1 day');

-- What the daily maintenance job does: a partition for this month and the next three, and one
-- for every month of the events above.
select private.maintain_analytics_events_partitions(3);
